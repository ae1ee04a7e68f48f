/**
 * The seam between the runtime and the coherence protocols.
 *
 * The runtime calls a {@link Coherence} on every fault and sync call of its kernel, always while
 * the kernel is parked. A protocol reaches the node's memory only through the {@link PagePort} the
 * runtime implements, and changes page bytes or protections only while the kernel is parked:
 * inside a Coherence call, or inside {@link PagePort.whenParked}. That is the parking invariant.
 *
 * Calls that wait for other nodes return a {@link Future} (future.ts), which settles inside the
 * handling of the message that completes it: the protocol needs no event loop, so it runs in the
 * kernel's own thread as well as on the main thread.
 */
import type { Access, Protection } from "../abi.js";
import type { Link } from "../transport/transport.js";
import type { Future } from "./future.js";
import type { Scheduler } from "./scheduler.js";
import type { CheckpointSignal } from "./sync.js";

/** One node's memory, as a protocol sees it. Pages are absolute page numbers (address >> shift). */
export interface PagePort {
  readonly pageSize: number;
  /** First page of the shared region and the number of pages in it. */
  readonly firstPage: number;
  readonly pageCount: number;
  /** A live view of the page's bytes. Write to it only while parked. */
  page(page: number): Uint8Array;
  protection(page: number): Protection;
  /** Change a page's protection. Only while parked. */
  setProtection(page: number, protection: Protection): void;
  /**
   * Runs `fn` while the kernel is parked: at once if it is parked now (inside a Coherence call,
   * or before/after `run`), otherwise at the kernel's next poll point, fault or sync call.
   * What `fn` throws there goes to `failed`.
   */
  whenParked(fn: () => void, failed: (error: unknown) => void): void;
  /**
   * Whether the kernel is busy with its pages now: parked at a poll point or in a fault (it will
   * go on computing), rather than waiting at a barrier or lock or done. Absent: never busy.
   */
  working?(): boolean;
}

/** Counters a protocol keeps; the runtime adds fault counts and blocked times. */
export interface ProtocolStats {
  invalidations: number;
  pagesSent: number;
  diffsSent: number;
  diffBytes: number;
  /** Messages dropped because they were malformed, for another job, or stale. */
  dropped: number;
  [name: string]: number;
}

export interface Coherence {
  /** Before `run` (kernel parked): set the initial protection of every region page. */
  start(): void;
  /** The kernel missed on pages first..last for `access`; resolves once all are accessible. */
  fault(first: number, last: number, access: Access): Future<void>;
  barrier(): Future<void>;
  lock(id: number): Future<void>;
  unlock(id: number): Future<void>;
  /** The kernel's n-th collective allocation; checked against the other nodes at barriers. */
  allocated(address: number, bytes: number): void;
  /** After `run` returned: the final barrier. Keeps serving other nodes until all reach it. */
  finish(): Future<void>;
  stats(): ProtocolStats;
  close(): void;
}

export interface ProtocolContext {
  transport: Link;
  port: PagePort;
  /** Job identifier carried in every message header. */
  job: number;
  /** Bound on every wait for another node, in milliseconds. @default 5000 */
  timeoutMs: number;
  /** Timers and deferred work (scheduler.ts). @default a LoopScheduler: the main thread's event loop */
  scheduler?: Scheduler;
  /** Checkpoints at barriers (sync.ts). @default none */
  checkpoints?: CheckpointSignal;
}

export type ProtocolFactory = (context: ProtocolContext) => Coherence;
