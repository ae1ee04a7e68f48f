/**
 * What crosses between a node's host and its worker thread (node_thread.ts posts a NodeSpec,
 * worker.ts posts back a WorkerReport): plain data and shared memory only, so it survives
 * postMessage. Kept apart from worker_node.ts so that the host side, the cluster and the CLI name
 * these types without importing the worker's runtime.
 */
import type { Layout } from "../abi.js";
import type { CheckpointSpec } from "../checkpoint/node_checkpoint.js";
import type { ProtocolStats } from "../protocol/coherence.js";
import type { ProtocolTuning } from "../protocol/protocol_options.js";
import type { RingLinkSpec } from "../transport/ring_link.js";
import type { RunArgument } from "./kernel_module.js";

/** Which protocol a node runs, as plain data. */
export interface ProtocolSpec extends Omit<ProtocolTuning, never> {
  /** A name createProtocol knows, or "solo" (one node, all pages local). */
  name: string;
  job: number;
  /** Bound on every wait for another node. */
  timeoutMs: number;
  /**
   * URL of a module exporting `createCoherence(options: ProtocolOptions): Coherence`, used in
   * place of `name` (tests run their own protocols this way). @default undefined
   */
  module?: string;
}

/** Chaos mode (chaos.ts) for tests, as plain data. */
export interface ChaosSpec {
  seed: number;
  /** @default true */
  privatePages?: boolean;
}

/** Everything a worker needs to run one node: plain data and shared memory, so it can be posted. */
export interface NodeSpec {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  nodeId: number;
  nodeCount: number;
  layout: Layout;
  args: RunArgument[];
  /** `run` (numbers to run(...)) or `main` (a program: args are argv[1..]); Metadata.entry. */
  entry: "run" | "main";
  /** argv[0] of a program. */
  programName: string;
  protocol: ProtocolSpec;
  link: RingLinkSpec;
  /** The node's host words (reactor.ts HostWord). */
  host: SharedArrayBuffer;
  /** Running threads of the process and its cores (core_gauge.ts); absent: spin whenever allowed. */
  gauge?: { buffer: SharedArrayBuffer; cores: number };
  /** Longest spin on the bell before sleeping, in microseconds. */
  spinMicros: number;
  /** Bound on one fault. */
  faultTimeoutMs: number;
  /** Bound on one barrier or lock call. */
  syncTimeoutMs: number;
  chaos?: ChaosSpec;
  /** Checkpoints at barriers, and resuming from one (src/checkpoint/). @default none */
  checkpoint?: CheckpointSpec;
  /** Shared by the nodes of a job in one process: their kernels start together (start_gate.ts). @default none */
  startGate?: SharedArrayBuffer;
}

export interface RuntimeStats {
  readFaults: number;
  writeFaults: number;
  /** Faults the protocol resolved but a page of the range was gone again before the kernel resumed. */
  refaults: number;
  polls: number;
  barriers: number;
  locks: number;
  /** Milliseconds the kernel was blocked in faults and in sync calls (barrier, lock, unlock). */
  faultMs: number;
  syncMs: number;
  /** Messages of this node that a host thread relayed (NATS); zero on the embedded transport. */
  hostHops: number;
  /** Waits that spun and were answered while spinning, and waits that slept. */
  spinHits: number;
  sleeps: number;
  /** Messages from other nodes handled at the kernel's poll points, and while it waited in a call. */
  servedAtPolls: number;
  servedWaiting: number;
  /** Checkpoints this node took part in (src/checkpoint/), the time the kernel waited for them, and the bytes of its parts. */
  checkpoints: number;
  checkpointMs: number;
  checkpointBytes: number;
}

export type NodeStats = RuntimeStats & ProtocolStats & { messages: number; bytes: number };

export type WorkerReport =
  | { type: "result"; value: number | bigint | undefined; kernelMs: number; stats: NodeStats; transcript?: string[] }
  | { type: "failed"; error: unknown; stats: NodeStats }
  | { type: "aborted" };
