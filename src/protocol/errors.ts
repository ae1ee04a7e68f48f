/**
 * Errors of the protocol layer: one class per condition a caller can act on, `name` set, the
 * underlying error kept as `cause`. The codec's own error, CodecError, lives in codec.ts.
 */
import type { AllocationMismatch } from "./codec.js";

export interface ErrorCause {
  cause?: unknown;
}

/** A barrier or lock wait gave up after the protocol's timeout. */
export class SyncTimeoutError extends Error {
  override name = "SyncTimeoutError";
  constructor(
    readonly operation: "barrier" | "lock",
    /** The barrier epoch or the lock id. */
    readonly id: number,
    /** The node waited on: the one that did not arrive, the lock's holder if known, or the manager. */
    readonly node: number,
    readonly timeoutMs: number,
    message: string,
    options?: ErrorCause,
  ) {
    super(message, options);
  }

  static barrier(epoch: number, manager: number, missing: number[] | undefined, timeoutMs: number): SyncTimeoutError {
    if (missing && missing.length > 0) {
      const who = missing.length === 1 ? `node ${missing[0]}` : `nodes ${missing.join(", ")}`;
      return new SyncTimeoutError("barrier", epoch, missing[0], timeoutMs, `barrier ${epoch}: waited ${timeoutMs} ms for ${who} to arrive (barrier manager: node ${manager}); raise the timeout if ${who} is just slow`);
    }
    return new SyncTimeoutError("barrier", epoch, manager, timeoutMs, `barrier ${epoch}: no release from node ${manager} (the barrier manager) after ${timeoutMs} ms`);
  }

  /** A barrier without a manager (peer_barriers.ts) that some nodes' arrivals never reached. */
  static peerBarrier(epoch: number, missing: number[], timeoutMs: number): SyncTimeoutError {
    const who = missing.length === 1 ? `node ${missing[0]}` : `nodes ${missing.join(", ")}`;
    return new SyncTimeoutError("barrier", epoch, missing[0]!, timeoutMs, `barrier ${epoch}: waited ${timeoutMs} ms for ${who} to arrive; raise the timeout if ${who} is just slow`);
  }

  /**
   * A lock wait that got no grant. The token locks (token_locks.ts) do not know who holds the
   * lock (the grant comes from whichever node had it last), so they name the manager only.
   */
  static lock(id: number, manager: number, holder: number | undefined, timeoutMs: number): SyncTimeoutError {
    if (holder !== undefined) {
      return new SyncTimeoutError("lock", id, holder, timeoutMs, `lock ${id}: not granted within ${timeoutMs} ms; node ${holder} holds it (lock manager: node ${manager}); raise the timeout if node ${holder} holds it that long on purpose`);
    }
    return new SyncTimeoutError("lock", id, manager, timeoutMs, `lock ${id}: not granted within ${timeoutMs} ms (lock manager: node ${manager}); raise the timeout if its holder keeps it that long on purpose`);
  }
}

function describeAllocation(a: [number, number] | null): string {
  return a === null ? "no allocation" : `${a[1]} bytes at 0x${a[0].toString(16)}`;
}

/** The nodes' sharedAlloc calls differ; found at a barrier, thrown on every node. */
export class AllocationMismatchError extends Error {
  override name = "AllocationMismatchError";
  readonly node: number;
  /** 1-based index of the first allocation that differs. */
  readonly index: number;
  readonly got: [number, number] | null;
  readonly expected: [number, number] | null;
  constructor(mismatch: AllocationMismatch, options?: ErrorCause) {
    super(
      `node ${mismatch.node}: allocation #${mismatch.index} differs (${describeAllocation(mismatch.got)} vs ${describeAllocation(mismatch.expected)} on node 0); ` +
        `every node must call sharedAlloc with the same sizes in the same order`,
      options,
    );
    this.node = mismatch.node;
    this.index = mismatch.index;
    this.got = mismatch.got;
    this.expected = mismatch.expected;
  }
}

/** Some nodes returned from run while others still called barrier(): their barrier counts differ. */
export class BarrierCountError extends Error {
  override name = "BarrierCountError";
  constructor(
    readonly epoch: number,
    /** Nodes whose run had returned. */
    readonly finished: number[],
    readonly nodeCount: number,
  ) {
    const waiting = [...Array(nodeCount).keys()].filter((n) => !finished.includes(n));
    const list = (nodes: number[]) => (nodes.length === 1 ? `node ${nodes[0]}` : `nodes ${nodes.join(", ")}`);
    super(
      `barrier ${epoch}: ${list(finished)} returned from run while ${list(waiting)} called barrier(); every node must call barrier() the same number of times`,
    );
  }
}

/** lock/unlock used out of order by the kernel. */
export class LockUsageError extends Error {
  override name = "LockUsageError";
}

/** A page fault was not resolved within the timeout. */
export class PageTimeoutError extends Error {
  override name = "PageTimeoutError";
  constructor(
    readonly page: number,
    /** The node waited on (the page's manager). */
    readonly node: number,
    readonly access: "read" | "write",
    readonly timeoutMs: number,
    options?: ErrorCause,
  ) {
    super(`page ${page}: no reply from node ${node} after ${timeoutMs} ms (${access} fault)`, options);
  }
}

/** lrc: a writer could not give the diff of an interval it announced (its history was collected). */
export class LrcDiffMissingError extends Error {
  override name = "LrcDiffMissingError";
  constructor(
    readonly page: number,
    /** The writer asked. */
    readonly node: number,
    readonly interval: number,
  ) {
    super(`page ${page}: node ${node} has no diff for its interval ${interval}; every node must take part in every barrier's garbage collection`);
  }
}

/** lrc found its own state inconsistent (a write notice for a page being written): a bug, reported with what it found. */
export class LrcStateError extends Error {
  override name = "LrcStateError";
}

/** The locks found their own state inconsistent (a lock owed to two nodes at once): a bug, reported with what it found. */
export class LockStateError extends Error {
  override name = "LockStateError";
}

/** The runtime asked about a page outside the shared region. */
export class PageRangeError extends Error {
  override name = "PageRangeError";
  constructor(
    readonly first: number,
    readonly last: number,
    readonly regionFirst: number,
    readonly regionLast: number,
  ) {
    super(
      `pages ${first}..${last}: outside the shared region (pages ${regionFirst}..${regionLast}); only memory from sharedAlloc is shared`,
    );
  }
}

/**
 * A fault on a shared page that no allocation of this node covers, under allocation placement:
 * every node makes the same allocations, so no node manages the page and none ever will.
 */
export class UnallocatedPageError extends Error {
  override name = "UnallocatedPageError";
  constructor(
    readonly page: number,
    readonly address: number,
    readonly node: number,
  ) {
    super(
      `node ${node}: page ${page} (address 0x${address.toString(16)}) lies in the shared region but outside every sharedAlloc allocation made so far; kernels reach shared memory only through the addresses sharedAlloc returns`,
    );
  }
}

/** The protocol was closed; it sends and waits no more. */
export class ProtocolClosedError extends Error {
  override name = "ProtocolClosedError";
  constructor(readonly node: number) {
    super(`node ${node}: protocol is closed; create a new one to run again`);
  }
}

/** A protocol option out of range (timeout, retry interval, history length). */
export class InvalidProtocolOptionError extends Error {
  override name = "InvalidProtocolOptionError";
  constructor(
    readonly option: string,
    readonly value: unknown,
    readonly expected: string,
  ) {
    super(`${option} ${JSON.stringify(value)} is invalid; use ${expected}`);
  }
}

/** `createProtocol` was given a name it does not know. */
export class UnknownProtocolError extends Error {
  override name = "UnknownProtocolError";
  constructor(
    readonly protocol: string,
    readonly known: readonly string[],
  ) {
    super(`protocol ${JSON.stringify(protocol)}: unknown; use one of ${known.join(", ")}`);
  }
}
