/**
 * One node's host side: owns the node's shared WebAssembly.Memory and the worker that runs the
 * kernel on it, serves the worker's mailbox, and lends the memory to the coherence protocol as a
 * PagePort.
 *
 * The parking invariant lives here. `parked` is true while the worker is blocked in a mailbox
 * call (fault, poll, sync, done), before the kernel starts and after it finished. Page bytes and
 * protections change only then: a Coherence call always runs parked, and whenParked() defers its
 * function until the kernel parks, raising POLL_FLAG so that it parks at the next loop header.
 */
import { Worker } from "node:worker_threads";
import { Access, NO_READ, NO_WRITE, Reply, Request, Slot, regionPages, type Layout, type Protection } from "../abi.js";
import type { Coherence, PagePort } from "../protocol/coherence.js";
import { FaultTimeoutError, KernelTrapError, SyncWaitError, WorkerExitError } from "./errors.js";
import type { KernelModule } from "./kernel_module.js";
import { serveFaults, type FaultHost } from "./fault_run.js";
import { HOST_POLL_US, MailboxHost, type CoreGauge, type MailboxRequest } from "./mailbox.js";
import { Watchdog } from "./watchdog.js";
import type { WorkerInit, WorkerReport } from "./worker.js";

export interface NodeRunOptions {
  /** Bound on one fault, in milliseconds. @default 10000 */
  faultTimeoutMs?: number;
  /** Bound on one barrier or lock call, in milliseconds. @default 120000 */
  syncTimeoutMs?: number;
  /**
   * Microseconds a worker spins on the mailbox before sleeping. The host polls for the worker's
   * next request for at most as long (and at most HOST_POLL_US), so 0 turns off both.
   * @default 300 (env DSM_SPIN_US)
   */
  spinMicros?: number;
  /**
   * Shared by the nodes of one process: a worker then spins only while the process's running
   * kernel threads and the host fit its cores (mailbox.ts). @default none: always spin
   */
  gauge?: CoreGauge;
  /**
   * Called each time the kernel parks on a request (fault, poll, sync call, allocation, done),
   * before it is served: a host may change pages then. Tests use it for chaos mode (chaos.ts).
   */
  parkHook?: (nodeId: number, request: Request) => void;
}

export interface RuntimeStats {
  readFaults: number;
  writeFaults: number;
  /** Faults the protocol resolved but a page of the range was gone again before the reply. */
  refaults: number;
  polls: number;
  barriers: number;
  locks: number;
  /** Milliseconds the kernel was blocked in faults and in sync calls (barrier, lock, unlock). */
  faultMs: number;
  syncMs: number;
}

export interface NodeResult {
  node: number;
  value: number | bigint | undefined;
  kernelMs: number;
  stats: RuntimeStats;
}

interface Deferred {
  fn: () => void;
  failed: (error: unknown) => void;
}

const WORKER_URL = new URL("./worker.js", import.meta.url);

export class KernelNode implements PagePort {
  /** The nodes of this process whose kernels run: their hosts share this thread. */
  private static readonly running = new Set<KernelNode>();
  readonly memory: WebAssembly.Memory;
  readonly pageSize: number;
  readonly firstPage: number;
  readonly pageCount: number;
  readonly stats: RuntimeStats = { readFaults: 0, writeFaults: 0, refaults: 0, polls: 0, barriers: 0, locks: 0, faultMs: 0, syncMs: 0 };
  private readonly control: Int32Array;
  private readonly table: Uint8Array;
  private readonly layout: Layout;
  private parked = true;
  /** A fault request is being served (see busy). */
  private faultServed = false;
  private queue: Deferred[] = [];
  private mailbox: MailboxHost;
  private worker?: Worker;
  private failure?: Error;
  /** Bounds the request being handled. */
  private readonly watchdog = new Watchdog();

  constructor(
    readonly kernel: KernelModule,
    readonly nodeId: number,
    readonly nodeCount: number,
  ) {
    this.layout = kernel.meta.layout;
    const { first, end } = regionPages(this.layout);
    this.pageSize = this.layout.pageSize;
    this.firstPage = first;
    this.pageCount = end - first;
    this.memory = new WebAssembly.Memory({ initial: this.layout.initialPages, maximum: this.layout.maximumPages, shared: true });
    this.control = new Int32Array(this.memory.buffer, 0, 64);
    this.table = new Uint8Array(this.memory.buffer, this.layout.tableBase, this.layout.tableBytes);
    this.mailbox = new MailboxHost(this.control);
  }

  page(page: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, page << this.layout.pageShift, this.pageSize);
  }

  protection(page: number): Protection {
    return this.table[page] as Protection;
  }

  setProtection(page: number, protection: Protection): void {
    if (!this.parked) throw new Error(`node ${this.nodeId}: page ${page} protection changed while the kernel runs (parking invariant)`);
    this.table[page] = protection;
  }

  busy(): boolean {
    return this.faultServed || this.mailbox.pending();
  }

  whenParked(fn: () => void, failed: (error: unknown) => void): void {
    if (this.parked) {
      try {
        fn();
      } catch (error) {
        failed(error);
      }
      return;
    }
    this.queue.push({ fn, failed });
    Atomics.store(this.control, Slot.POLL_FLAG, 1);
  }

  /** Runs the kernel to completion (including the final barrier) and returns its result. */
  async run(coherence: Coherence, args: (number | bigint)[], options: NodeRunOptions = {}): Promise<NodeResult> {
    coherence.start();
    const spinMicros = options.spinMicros ?? Number(process.env.DSM_SPIN_US ?? 300);
    this.mailbox.pollMicros = Math.min(HOST_POLL_US, spinMicros);
    this.mailbox.gauge = options.gauge;
    const init: WorkerInit = {
      module: this.kernel.module,
      memory: this.memory,
      nodeId: this.nodeId,
      nodeCount: this.nodeCount,
      layout: this.layout,
      args,
      spinMicros,
      gauge: options.gauge && { buffer: options.gauge.buffer, cores: options.gauge.cores },
    };
    const worker = new Worker(WORKER_URL);
    this.worker = worker;
    const report = new Promise<WorkerReport>((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", (error) => reject(new WorkerExitError(this.nodeId, `failed: ${error.message}`, { cause: error })));
      worker.once("exit", (code) => reject(new WorkerExitError(this.nodeId, `exited with code ${code} before reporting`)));
    });
    this.parked = false;
    worker.postMessage(init);
    KernelNode.running.add(this);
    const served = this.serve(coherence, options);
    try {
      const outcome = await report;
      if (outcome.type === "trap") throw new KernelTrapError(this.nodeId, outcome.message);
      if (outcome.type === "aborted") throw this.failure ?? new WorkerExitError(this.nodeId, "aborted by the host");
      await served;
      return { node: this.nodeId, value: outcome.value, kernelMs: outcome.kernelMs, stats: this.stats };
    } finally {
      this.mailbox.stop();
      KernelNode.running.delete(this);
      this.parked = true;
      await served.catch(() => undefined);
      this.watchdog.stop();
      await worker.terminate();
    }
  }

  /** Stops a running kernel from outside (another node failed); its run() rejects with `reason`. */
  async abort(reason: Error): Promise<void> {
    this.failure ??= reason;
    this.mailbox.stop();
    // A request under way (a fault, a barrier, the final barrier) gives up now, not at its timeout.
    this.watchdog.abort(reason);
    await this.worker?.terminate();
  }

  private async serve(coherence: Coherence, options: NodeRunOptions): Promise<void> {
    const faultTimeoutMs = options.faultTimeoutMs ?? 10_000;
    const syncTimeoutMs = options.syncTimeoutMs ?? 120_000;
    const faultHost = this.faultHost(options);
    let request = await this.mailbox.next();
    for (; request; request = await this.mailbox.next()) {
      if (request.kind === Request.Fault) {
        try {
          request = await serveFaults(faultHost, coherence, request, faultTimeoutMs);
        } catch {
          return; // answered Abort
        }
        if (!request) continue;
      }
      this.parked = true;
      this.faultServed = request.kind === Request.Fault;
      let done = false;
      try {
        options.parkHook?.(this.nodeId, request.kind);
        this.drain();
        done = await this.handle(coherence, request, faultTimeoutMs, syncTimeoutMs);
        this.drain();
      } catch (error) {
        this.failure ??= error as Error;
        this.mailbox.reply(request, Reply.Abort);
        this.rejectQueue(error);
        return;
      }
      this.faultServed = false;
      // The queue is empty and the kernel is about to run: lower the flag before releasing it.
      Atomics.store(this.control, Slot.POLL_FLAG, 0);
      if (!done) this.parked = false;
      this.mailbox.reply(request, Reply.Ok);
      if (done) return;
    }
  }

  /** This node as a run of faults sees it (fault_run.ts). */
  private faultHost(options: NodeRunOptions): FaultHost {
    return {
      nodeId: this.nodeId,
      stats: this.stats,
      mailbox: this.mailbox,
      watchdog: this.watchdog,
      park: (request) => {
        this.parked = true;
        this.faultServed = true;
        options.parkHook?.(this.nodeId, request.kind);
        this.drain();
      },
      drain: () => this.drain(),
      release: (request) => {
        this.faultServed = false;
        // The queue is empty and the kernel is about to run: lower the flag before releasing it.
        Atomics.store(this.control, Slot.POLL_FLAG, 0);
        this.parked = false;
        this.mailbox.reply(request, Reply.Ok);
      },
      fail: (request, error) => {
        this.faultServed = false;
        this.failure ??= error as Error;
        this.mailbox.reply(request, Reply.Abort);
        this.rejectQueue(error);
      },
      accessible: (request) => this.accessible(request),
      othersWaiting: () => this.othersWaiting(),
    };
  }

  /** Whether another node of this process has a request its host has not taken yet. */
  private othersWaiting(): boolean {
    for (const node of KernelNode.running) if (node !== this && node.mailbox.pending()) return true;
    return false;
  }

  /** Whether every page a fault request names now allows its access (see {@link resolve}). */
  private accessible(request: MailboxRequest): boolean {
    const [a0, a1, a2] = request.args;
    const forbidden = a2 === Access.Write ? NO_READ | NO_WRITE : NO_READ;
    for (let p = a0 >>> 0; p <= a1 >>> 0; p++) if ((this.table[p] & forbidden) !== 0) return false;
    return true;
  }

  private async handle(coherence: Coherence, request: MailboxRequest, faultTimeoutMs: number, syncTimeoutMs: number): Promise<boolean> {
    const [a0, a1, a2] = request.args;
    const t0 = performance.now();
    switch (request.kind) {
      case Request.Fault: {
        const access = a2 === Access.Write ? Access.Write : Access.Read;
        if (access === Access.Write) this.stats.writeFaults++;
        else this.stats.readFaults++;
        const what = access === Access.Write ? "write" : "read";
        await this.watchdog.bounded(this.resolve(coherence, request, access), faultTimeoutMs, () => new FaultTimeoutError(this.nodeId, a0 >>> 0, what, faultTimeoutMs));
        this.stats.faultMs += performance.now() - t0;
        return false;
      }
      case Request.Poll:
        this.stats.polls++;
        return false;
      case Request.Barrier:
        this.stats.barriers++;
        await this.watchdog.bounded(coherence.barrier(), syncTimeoutMs, () => new SyncWaitError(this.nodeId, "barrier", syncTimeoutMs));
        break;
      case Request.Lock:
        this.stats.locks++;
        await this.watchdog.bounded(coherence.lock(a0), syncTimeoutMs, () => new SyncWaitError(this.nodeId, `lock ${a0}`, syncTimeoutMs));
        break;
      case Request.Unlock:
        await this.watchdog.bounded(coherence.unlock(a0), syncTimeoutMs, () => new SyncWaitError(this.nodeId, `unlock ${a0}`, syncTimeoutMs));
        break;
      case Request.Alloc:
        coherence.allocated(a0 >>> 0, a1 >>> 0);
        return false;
      case Request.Done:
        await this.watchdog.bounded(coherence.finish(), syncTimeoutMs, () => new SyncWaitError(this.nodeId, "final barrier", syncTimeoutMs));
        this.stats.syncMs += performance.now() - t0;
        return true;
      default:
        throw new WorkerExitError(this.nodeId, `sent an unknown mailbox request ${request.kind}`);
    }
    this.stats.syncMs += performance.now() - t0;
    return false;
  }

  /**
   * Resolves a fault and checks the result. The kernel does not check again after `__fault`
   * returns, so every page of the range must allow the access at the moment of the reply. While
   * the protocol waited for one page, another node may have taken an earlier one (the kernel was
   * parked, so that was allowed): ask again until one pass finds the whole range accessible. The
   * check and the reply run without yielding, so nothing changes in between.
   */
  private async resolve(coherence: Coherence, request: MailboxRequest, access: Access): Promise<void> {
    const [a0, a1] = request.args;
    for (;;) {
      await coherence.fault(a0 >>> 0, a1 >>> 0, access);
      if (this.accessible(request)) return;
      this.stats.refaults++;
    }
  }

  private drain(): void {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      for (const item of batch) {
        try {
          item.fn();
        } catch (error) {
          item.failed(error);
        }
      }
    }
  }

  private rejectQueue(error: unknown): void {
    const batch = this.queue;
    this.queue = [];
    for (const item of batch) item.failed(error);
  }
}
