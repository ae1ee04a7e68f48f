/**
 * The seam between the runtime and the coherence protocols.
 *
 * The runtime calls a {@link Coherence} on every fault and sync call of its kernel, always while
 * the kernel is parked. A protocol reaches the node's memory only through the {@link PagePort} the
 * runtime implements, and changes page bytes or protections only while the kernel is parked:
 * inside a Coherence call, or inside {@link PagePort.whenParked}. That is the parking invariant.
 */
import type { Access, Protection } from "../abi.js";
import type { Transport } from "../transport/transport.js";

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
   */
  whenParked<T>(fn: () => T): Promise<T>;
  /**
   * True while the kernel waits for a fault to be resolved (asked, or being served). Work that
   * can wait, such as a resolved fault's Confirm, waits until it is false, so a kernel faulting
   * page after page gets its pages first. Absent: never busy.
   */
  busy?(): boolean;
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
  start(): Promise<void>;
  /** The kernel missed on pages first..last for `access`; resolves once all are accessible. */
  fault(first: number, last: number, access: Access): Promise<void>;
  /**
   * Optional, like `fault`, but `done` (given an error when the fault failed) may be called
   * inside the handling of the message that resolved it, or even before `faultNow` returns: the
   * runtime can then answer the kernel and take its next request without waiting for a promise
   * job or a turn of the event loop.
   */
  faultNow?(first: number, last: number, access: Access, done: (error?: unknown) => void): void;
  /**
   * Optional: whether messages for this node have arrived and wait to be handled. The runtime
   * then answers a fault only after them, while the kernel is still parked, instead of inside
   * `done`: work they bring that needs the kernel parked is served at once.
   */
  backlog?(): boolean;
  barrier(): Promise<void>;
  lock(id: number): Promise<void>;
  unlock(id: number): Promise<void>;
  /** The kernel's n-th collective allocation; checked against the other nodes at barriers. */
  allocated(address: number, bytes: number): void;
  /** After `run` returned: the final barrier. Keeps serving other nodes until all reach it. */
  finish(): Promise<void>;
  stats(): ProtocolStats;
  close(): Promise<void>;
}

export interface ProtocolContext {
  transport: Transport;
  port: PagePort;
  /** Job identifier carried in every message header. */
  job: number;
  /** Bound on every wait for another node, in milliseconds. @default 5000 */
  timeoutMs: number;
}

export type ProtocolFactory = (context: ProtocolContext) => Coherence;
