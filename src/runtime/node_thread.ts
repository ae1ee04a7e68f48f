/**
 * The host's handle on one node: it owns the node's shared WebAssembly.Memory, starts the worker
 * that runs the node (worker.ts, worker_node.ts) and waits for its report. It takes no part in
 * the node's faults, requests or synchronisation; those stay in the worker. It does three small
 * things while the node runs:
 *
 * - abort(): raises the node's abort word and poll word and rings its bell, so the worker stops
 *   at its next poll or wait (HostAbort), and terminates the worker if it has not within a grace
 *   period (a kernel built without polls, say);
 * - timer wake-ups: the worker publishes when its next timer is due (reactor.ts WAKE_AT); a coarse
 *   interval here raises the poll word once that time has passed, so a kernel that computes
 *   without messages still retransmits and gives up on time;
 * - reading the node's memory after the run (tests).
 */
import { availableParallelism } from "node:os";
import type { Worker } from "node:worker_threads";
import { Slot, type Layout } from "../abi.js";
import type { CheckpointSpec } from "../checkpoint/node_checkpoint.js";
import { Bell } from "../transport/bell.js";
import type { RingLinkSpec, WakeWord } from "../transport/ring_link.js";
import { CoreGauge, GAUGE_BYTES } from "./core_gauge.js";
import { reviveError, type RelayedError } from "./error_relay.js";
import { WorkerExitError } from "./errors.js";
import type { KernelModule, RunArgument } from "./kernel_module.js";
import { HOST_WORD_BYTES, HostWord, WAKE_AT_OFFSET } from "./reactor.js";
import { returnWorker, takeWorker } from "./worker_pool.js";
import type { ChaosSpec, NodeSpec, NodeStats, ProtocolSpec, WorkerReport } from "./node_spec.js";

export interface NodeRunOptions {
  protocol: ProtocolSpec;
  link: RingLinkSpec;
  /** Bound on one fault, in milliseconds. @default 10000 */
  faultTimeoutMs?: number;
  /** Bound on one barrier or lock call, in milliseconds. @default 120000 */
  syncTimeoutMs?: number;
  /** Microseconds a waiting worker spins before it sleeps. @default DEFAULT_SPIN_US (env DSM_SPIN_US) */
  spinMicros?: number;
  /** Shared by the nodes of one process (core_gauge.ts). @default none: spin within spinMicros always */
  gauge?: CoreGauge;
  chaos?: ChaosSpec;
  /** Checkpoints at barriers, and resuming from one. @default none */
  checkpoint?: CheckpointSpec;
  /** The job's start gate, shared by all its nodes (start_gate.ts). @default none: the kernel starts at once */
  startGate?: SharedArrayBuffer;
}

export interface NodeResult {
  node: number;
  value: number | bigint | undefined;
  kernelMs: number;
  stats: NodeStats;
  /** With a link spec asking for it: what the node sent (worker_node.ts transcript()). */
  transcript?: string[];
}

/**
 * Longest spin of a waiting worker while its process's running threads fit the cores. A reply
 * from a node that computes comes at its next loop header, usually within microseconds, and a
 * barrier waits for the slowest node's phase; spinning through either keeps the wake-up off the
 * path (reactor.ts: it costs the waker ~90 µs of system call here, and the sleeper more), and
 * costs nothing while every thread has a core.
 */
export const DEFAULT_SPIN_US = 5000;

/** How often the host looks at the worker's next timer (see the file comment). */
const WAKE_CHECK_MS = 5;
/** After abort(), a worker that has not stopped by itself is terminated this much later. */
const ABORT_GRACE_MS = 2000;

export class NodeThread {
  readonly memory: WebAssembly.Memory;
  readonly layout: Layout;
  /** The node's host words (reactor.ts). */
  readonly host = new SharedArrayBuffer(HOST_WORD_BYTES);
  /** Int32 view of the host words: `words[HostWord.DONE]` turns 1 (notified) when the node is done. */
  readonly hostWords = new Int32Array(this.host, 0, 2);
  private readonly control: Int32Array;
  private worker: Worker | undefined;
  private bell: Bell | undefined;
  private abortTimer: NodeJS.Timeout | undefined;
  private failure: Error | undefined;

  constructor(
    readonly kernel: KernelModule,
    readonly nodeId: number,
    readonly nodeCount: number,
  ) {
    this.layout = kernel.meta.layout;
    this.memory = new WebAssembly.Memory({ initial: this.layout.initialPages, maximum: this.layout.maximumPages, shared: true });
    this.control = new Int32Array(this.memory.buffer, 0, 16);
  }

  /** The node's poll word: ring links raise it when they publish a message for this node. */
  get pollWord(): WakeWord {
    return { buffer: this.memory.buffer as unknown as SharedArrayBuffer, index: Slot.POLL_FLAG };
  }

  /** Runs the kernel to completion on its own worker thread (final barrier included). */
  async run(args: RunArgument[], options: NodeRunOptions): Promise<NodeResult> {
    const spinMicros = options.spinMicros ?? spinFromEnvironment() ?? DEFAULT_SPIN_US;
    const gauge = options.gauge;
    const spec: NodeSpec = {
      module: this.kernel.module,
      memory: this.memory,
      nodeId: this.nodeId,
      nodeCount: this.nodeCount,
      layout: this.layout,
      args,
      entry: this.kernel.meta.entry ?? "run",
      programName: this.kernel.meta.kernel.replace(/\.[^.]*$/, ""),
      protocol: options.protocol,
      link: options.link,
      host: this.host,
      gauge: gauge && { buffer: gauge.buffer, cores: gauge.cores },
      spinMicros,
      faultTimeoutMs: options.faultTimeoutMs ?? 10_000,
      syncTimeoutMs: options.syncTimeoutMs ?? 120_000,
      chaos: options.chaos,
      checkpoint: options.checkpoint,
      startGate: options.startGate,
    };
    this.bell = new Bell(options.link.bell);
    const worker = takeWorker();
    this.worker = worker;
    let onMessage!: (report: WorkerReport) => void;
    let onError!: (error: Error) => void;
    let onExit!: (code: number) => void;
    const report = new Promise<WorkerReport>((resolve, reject) => {
      onMessage = resolve;
      onError = (error) => reject(new WorkerExitError(this.nodeId, `failed: ${error.message}`, { cause: error }));
      onExit = (code) => reject(this.failure ?? new WorkerExitError(this.nodeId, `exited with code ${code} before reporting`));
      worker.once("message", onMessage);
      worker.once("error", onError);
      worker.once("exit", onExit);
    });
    const wakeAt = new Float64Array(this.host, WAKE_AT_OFFSET, 1);
    const waker = setInterval(() => {
      const at = wakeAt[0]!;
      if (at !== 0 && at <= performance.timeOrigin + performance.now()) Atomics.store(this.control, Slot.POLL_FLAG, 1);
    }, WAKE_CHECK_MS);
    waker.unref();
    worker.postMessage(spec);
    let reusable = false;
    try {
      const outcome = await report;
      if (outcome.type === "aborted") throw this.failure ?? new WorkerExitError(this.nodeId, "aborted by the host");
      if (outcome.type === "failed") throw reviveError(outcome.error as RelayedError);
      reusable = this.failure === undefined;
      return { node: this.nodeId, value: outcome.value, kernelMs: outcome.kernelMs, stats: outcome.stats, transcript: outcome.transcript };
    } finally {
      clearInterval(waker);
      if (this.abortTimer) clearTimeout(this.abortTimer);
      worker.off("message", onMessage).off("error", onError).off("exit", onExit);
      // A worker whose node ended normally waits for the next job; any other is done.
      if (reusable) returnWorker(worker);
      else await worker.terminate();
    }
  }

  /** Stops a running node from outside (another node failed); its run() rejects with `reason`. */
  abort(reason: Error): void {
    this.failure ??= reason;
    Atomics.store(this.hostWords, HostWord.ABORT, 1);
    Atomics.store(this.control, Slot.POLL_FLAG, 1);
    this.bell?.ring();
    if (this.worker && !this.abortTimer) {
      const worker = this.worker;
      this.abortTimer = setTimeout(() => void worker.terminate(), ABORT_GRACE_MS);
      this.abortTimer.unref();
    }
  }
}

/** DSM_SPIN_US, when set. */
export function spinFromEnvironment(): number | undefined {
  const env = process.env.DSM_SPIN_US;
  return env !== undefined && env !== "" ? Number(env) : undefined;
}

/**
 * A gauge for the nodes of this process: they spin only while the threads that run fit its cores,
 * less `reserved` cores for threads it does not count (a nats-server on this machine).
 */
export function processGauge(reserved = 0): CoreGauge {
  return new CoreGauge(new SharedArrayBuffer(GAUGE_BYTES), Math.max(0, availableParallelism() - reserved));
}
