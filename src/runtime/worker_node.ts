/**
 * One node as it runs in its kernel's worker thread: the kernel, its memory, its protocol and the
 * reactor that drives the protocol. Every kernel call that needs the runtime is served right here,
 * in the kernel's thread; no other thread of the process takes part in a fault, a request served
 * for another node, a barrier or a lock.
 *
 *   kernel ── __fault(first, last, access) ──▶ protocol.fault(): a Future
 *               settled at once (decided locally) ──▶ return
 *               pending ──▶ reactor.wait(): serve messages, spin or sleep on the bell, until it settles
 *             every page of the range checked again before returning; asked again if one was taken
 *   kernel ── __poll() ──▶ reactor.service(): requests of other nodes served, timers run
 *   kernel ── barrier() / lock(id) / unlock(id) ──▶ protocol call, reactor.wait()
 *   a barrier that names a checkpoint ──▶ the kernel unwinds out of `run`, the checkpoint is
 *               taken (src/checkpoint/node_checkpoint.ts), the kernel rewinds into the barrier
 *   run returned ──▶ protocol.finish() (the final barrier), reactor.wait()
 *
 * While the kernel is inside one of these calls (and before it starts, after it returns) it is
 * parked: MemoryPort.parked is true, and only then does protocol code run. What the host posts to
 * start a node, and what comes back, is plain data in node_spec.ts.
 */
import { writeSync } from "node:fs";
import { NodeCheckpoints, type NodeAccess } from "../checkpoint/node_checkpoint.js";
import { Access, FAULT_IMPORT, IMPORT_MODULE, NO_READ, NO_WRITE, POLL_IMPORT, Request, Slot } from "../abi.js";
import type { Coherence } from "../protocol/coherence.js";
import type { Future } from "../protocol/future.js";
import { createProtocol } from "../protocol/index.js";
import { kindName } from "../protocol/message_kinds.js";
import { createSolo } from "../protocol/solo.js";
import { RingLink } from "../transport/ring_link.js";
import { ChaosMemory, chaosCoherence, seededRandom } from "./chaos.js";
import { CoreGauge } from "./core_gauge.js";
import { FaultTimeoutError, KernelExitError, KernelTrapError, SharedRegionExhaustedError, SyncWaitError } from "./errors.js";
import { MemoryPort } from "./memory_port.js";
import { parmacsError } from "./parmacs_errors.js";
import { HostWord, Reactor } from "./reactor.js";
import { StartGate } from "./start_gate.js";
import { KernelOutput, WASI_MODULE, wasiImports } from "./wasi.js";
import type { RunArgument } from "./kernel_module.js";
import type { NodeSpec, NodeStats, RuntimeStats } from "./node_spec.js";

/** Microseconds on CLOCK_MONOTONIC: common to every thread and process of one machine. */
export function monotonicMicros(): number {
  return Number(process.hrtime.bigint()) / 1000;
}

export class WorkerNode {
  readonly port: MemoryPort;
  readonly link: RingLink;
  readonly reactor: Reactor;
  readonly stats: RuntimeStats = { readFaults: 0, writeFaults: 0, refaults: 0, polls: 0, barriers: 0, locks: 0, faultMs: 0, syncMs: 0, hostHops: 0, spinHits: 0, sleeps: 0, servedAtPolls: 0, servedWaiting: 0, checkpoints: 0, checkpointMs: 0, checkpointBytes: 0 };
  private coherence!: Coherence;
  private chaos: ChaosMemory | undefined;
  private readonly control: Int32Array;
  private readonly table: Uint8Array;
  private readonly gauge: CoreGauge | undefined;
  /** Where a C kernel's output goes (wasi.ts). */
  private output: KernelOutput | undefined;
  /** The first error a runtime call threw into the kernel (versus a trap of the kernel itself). */
  private failure: unknown;
  private checkpoints: NodeCheckpoints | undefined;

  constructor(readonly spec: NodeSpec) {
    this.port = new MemoryPort(spec.memory, spec.layout, spec.nodeId);
    this.link = new RingLink(spec.link);
    this.control = new Int32Array(spec.memory.buffer, 0, 16);
    this.table = new Uint8Array(spec.memory.buffer, spec.layout.tableBase, spec.layout.tableBytes);
    this.gauge = spec.gauge ? new CoreGauge(spec.gauge.buffer, spec.gauge.cores) : undefined;
    this.reactor = new Reactor(this.link, { poll: { words: this.control, index: Slot.POLL_FLAG }, host: spec.host, gauge: this.gauge, spinMicros: spec.spinMicros });
  }

  /** Builds the protocol (importing a test's module when the spec names one). */
  async prepare(): Promise<void> {
    const { spec } = this;
    const port = spec.chaos ? (this.chaos = new ChaosMemory(this.port, { random: seededRandom(spec.chaos.seed), privatePages: spec.chaos.privatePages }, () => this.raisePoll())) : this.port;
    const { name, module, ...tuning } = spec.protocol;
    if (spec.checkpoint) {
      this.checkpoints = new NodeCheckpoints(spec.checkpoint, this.checkpointAccess());
      await this.checkpoints.open();
    }
    const options = { ...tuning, transport: this.link, port, scheduler: this.reactor.timers, checkpoints: this.checkpoints };
    let inner: Coherence;
    if (module) inner = ((await import(module)) as { createCoherence(o: typeof options): Coherence }).createCoherence(options);
    else if (name === "solo") inner = createSolo(port, this.checkpoints);
    else inner = createProtocol(name, options);
    this.coherence = this.chaos ? chaosCoherence(inner, this.chaos) : inner;
  }

  /** Runs the kernel to completion (final barrier included); throws what stopped it. */
  async run(instantiate: (imports: WebAssembly.Imports) => WebAssembly.Exports): Promise<{ value: number | bigint | undefined; kernelMs: number }> {
    this.gauge?.enter();
    try {
      return await this.runKernel(instantiate);
    } finally {
      this.gauge?.leave();
    }
  }

  private async runKernel(instantiate: (imports: WebAssembly.Imports) => WebAssembly.Exports): Promise<{ value: number | bigint | undefined; kernelMs: number }> {
    const { spec } = this;
    this.coherence.start();
    const exports = instantiate(this.imports());
    const start = exports._start as (() => void) | undefined;
    const run = exports.run as (...args: RunArgument[]) => number | bigint | undefined;
    const checkpoints = this.checkpoints;
    checkpoints?.attach(exports, spec.programName);
    if (spec.startGate) new StartGate(spec.startGate, spec.nodeCount).pass(spec.nodeId, spec.syncTimeoutMs, () => this.reactor.checkAbort());
    let value: number | bigint | undefined;
    const t0 = performance.now();
    if (checkpoints?.resuming) checkpoints.restore();
    else if (spec.entry === "run" && typeof start === "function") this.enterKernel(start);
    // Each pass runs the kernel until it returns, or until it unwound at a checkpoint barrier.
    for (;;) {
      value = spec.entry === "main" ? this.enterKernel(() => this.runProgram(start)) : this.enterKernel(() => run(...spec.args));
      if (!checkpoints?.unwinding) break;
      const saved = await checkpoints.checkpoint();
      this.stats.checkpoints++;
      this.stats.checkpointMs += saved.ms;
      this.stats.checkpointBytes += saved.bytes;
    }
    const kernelMs = performance.now() - t0;
    this.chaos?.parked(Request.Done);
    await this.checkpoints?.settle();
    this.sync(this.coherence.finish(), "final barrier");
    await this.checkpoints?.finished();
    const done = new Int32Array(spec.host, 0, 2);
    Atomics.store(done, HostWord.DONE, 1);
    Atomics.notify(done, HostWord.DONE);
    return { value, kernelMs };
  }

  /** Calls into the kernel unparked; parked again when it returns (or unwound) or fails. */
  private enterKernel<T>(call: () => T): T {
    this.port.parked = false;
    try {
      return call();
    } catch (error) {
      // A runtime call that threw unwound the kernel: report that. Anything else is the kernel's own trap.
      if (this.failure === undefined && this.checkpoints?.unwinding) throw this.checkpoints.stackTooDeep(error);
      throw this.failure ?? new KernelTrapError(this.spec.nodeId, error instanceof Error ? error.message : String(error));
    } finally {
      this.port.parked = true;
    }
  }

  /** What a checkpoint needs of this node (node_checkpoint.ts). */
  private checkpointAccess(): NodeAccess {
    const { spec } = this;
    return {
      nodeId: spec.nodeId,
      nodeCount: spec.nodeCount,
      layout: spec.layout,
      memory: spec.memory,
      fault: (first, last, access) => this.fault(first, last, access),
      barrier: () => this.sync(this.coherence.barrier(), "checkpoint barrier"),
      allocated: (address, bytes) => this.coherence.allocated(address, bytes),
      lock: (id) => this.sync(this.coherence.lock(id), `lock ${id} held at the checkpoint`),
    };
  }

  /**
   * Runs a program's `_start` (main); returns its exit status: 0 when main returned 0 (the
   * command's `_start` then returns), else the status that exit() or main's return passed to
   * proc_exit.
   */
  private runProgram(start: (() => void) | undefined): number {
    try {
      start!();
      return 0;
    } catch (error) {
      if (!(error instanceof KernelExitError) || this.failure !== error) throw error;
      this.failure = undefined;
      return error.code;
    }
  }

  /** Counters of the runtime, the protocol and the link. */
  report(): NodeStats {
    const r = this.reactor.counters;
    return {
      ...this.stats,
      spinHits: r.spinHits,
      sleeps: r.sleeps,
      servedAtPolls: r.servedAtPolls,
      servedWaiting: r.servedWaiting,
      hostHops: this.spec.link.route === "relayed" ? this.link.counters.messages : 0,
      ...this.coherence.stats(),
      messages: this.link.counters.messages,
      bytes: this.link.counters.bytes,
    };
  }

  /** With RingLinkSpec.transcript: what this node sent other nodes, as `Kind from→to` lines. */
  transcript(): string[] | undefined {
    return this.link.sent?.map(([kind, to]) => `${kindName(kind)} ${this.spec.nodeId}→${to}`);
  }

  async close(): Promise<void> {
    this.output?.flush();
    this.coherence?.close();
    await this.checkpoints?.close().catch(() => undefined);
  }

  private raisePoll(): void {
    Atomics.store(this.control, Slot.POLL_FLAG, 1);
  }

  private imports(): WebAssembly.Imports {
    const { spec } = this;
    const { layout } = spec;
    const regionEnd = layout.regionBase + layout.regionBytes;
    return {
      env: { memory: spec.memory },
      [WASI_MODULE]: this.wasi(),
      [IMPORT_MODULE]: {
        nodeId: () => spec.nodeId,
        nodeCount: () => spec.nodeCount,
        barrier: () => {
          // Rewinding after a checkpoint: the kernel is back at the barrier it passed.
          if (this.checkpoints?.rewound()) return;
          this.parkedCall(Request.Barrier, () => {
            this.stats.barriers++;
            this.sync(this.coherence.barrier(), "barrier");
          });
          this.checkpoints?.afterBarrier();
        },
        lock: (id: number) =>
          this.parkedCall(Request.Lock, () => {
            this.stats.locks++;
            this.sync(this.coherence.lock(id), `lock ${id}`);
            this.checkpoints?.locked(id);
          }),
        unlock: (id: number) =>
          this.parkedCall(Request.Unlock, () => {
            this.sync(this.coherence.unlock(id), `unlock ${id}`);
            this.checkpoints?.unlocked(id);
          }),
        now: monotonicMicros,
        regionBase: () => layout.regionBase,
        regionBytes: () => layout.regionBytes,
        pageSize: () => layout.pageSize,
        allocated: (address: number, bytes: number) =>
          this.parkedCall(Request.Alloc, () => {
            // Checked here too, for kernels in other languages than AssemblyScript (c/wasm_dsm.c relies on it).
            if ((address >>> 0) < layout.regionBase || (address >>> 0) + (bytes >>> 0) > regionEnd) throw new SharedRegionExhaustedError(spec.nodeId, bytes >>> 0, layout.regionBytes);
            this.checkpoints?.allocated(address >>> 0, bytes >>> 0);
            this.coherence.allocated(address >>> 0, bytes >>> 0);
          }),
        parmacsError: (code: number, value: number, limit: number) => {
          const error = parmacsError(spec.nodeId, code, value, limit);
          this.failure ??= error;
          throw error;
        },
        [FAULT_IMPORT]: (first: number, last: number, access: number) =>
          this.parkedCall(Request.Fault, () => {
            this.port.busy = true;
            try {
              this.fault(first >>> 0, last >>> 0, access === Access.Write ? Access.Write : Access.Read);
            } finally {
              this.port.busy = false;
            }
          }),
        [POLL_IMPORT]: () =>
          this.parkedCall(Request.Poll, () => {
            this.stats.polls++;
            this.port.busy = true;
            try {
              this.reactor.service();
            } finally {
              this.port.busy = false;
            }
          }),
      },
    };
  }

  /** WASI calls of a C kernel's libc (wasi.ts); an error one throws is what the run reports. */
  private wasi(): Record<string, (...args: never[]) => unknown> {
    const { spec } = this;
    const output = (this.output = new KernelOutput(spec.nodeId, spec.entry === "main", (fd, text) => writeSync(fd, text)));
    const argv = spec.entry === "main" ? [spec.programName, ...spec.args.map(String)] : [];
    const calls = wasiImports(spec.module, { memory: spec.memory, nodeId: spec.nodeId, output, argv });
    for (const [name, call] of Object.entries(calls)) {
      calls[name] = (...args: never[]) => {
        try {
          return call(...args);
        } catch (error) {
          this.failure ??= error;
          throw error;
        }
      };
    }
    return calls;
  }

  /** Runs a kernel call parked; an error it throws unwinds the kernel and is what the run reports. */
  private parkedCall(kind: Request, call: () => void): void {
    this.port.parked = true;
    try {
      this.chaos?.parked(kind);
      call();
    } catch (error) {
      this.failure ??= error;
      throw error;
    } finally {
      this.port.parked = false;
    }
  }

  private fault(first: number, last: number, access: Access): void {
    const t0 = performance.now();
    const write = access === Access.Write;
    if (write) this.stats.writeFaults++;
    else this.stats.readFaults++;
    const timeoutMs = this.spec.faultTimeoutMs;
    const timers = this.reactor.timers;
    const deadline = timers.now() + timeoutMs;
    for (;;) {
      const done = this.coherence.fault(first, last, access);
      this.reactor.wait(done, deadline, () => new FaultTimeoutError(this.spec.nodeId, first, write ? "write" : "read", timeoutMs));
      if (done.failed) throw done.reason;
      // The kernel does not check again after the call: every page must allow the access now.
      if (this.accessible(first, last, access)) break;
      this.stats.refaults++;
    }
    this.stats.faultMs += performance.now() - t0;
  }

  private accessible(first: number, last: number, access: Access): boolean {
    const forbidden = access === Access.Write ? NO_READ | NO_WRITE : NO_READ;
    for (let p = first; p <= last; p++) if ((this.table[p]! & forbidden) !== 0) return false;
    return true;
  }

  private sync(done: Future<void>, operation: string): void {
    // Decided here (a lock whose token this node holds, an unlock): nothing to wait for or time.
    if (done.settled) {
      if (done.failed) throw done.reason;
      return;
    }
    const t0 = performance.now();
    const timeoutMs = this.spec.syncTimeoutMs;
    this.reactor.wait(done, this.reactor.timers.now() + timeoutMs, () => new SyncWaitError(this.spec.nodeId, operation, timeoutMs));
    this.stats.syncMs += performance.now() - t0;
    if (done.failed) throw done.reason;
  }
}
