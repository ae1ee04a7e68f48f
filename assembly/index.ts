// The kernel API: what a kernel imports from "wasm-dsm".
//
//   import { nodeId, nodeCount, sharedAlloc, barrier, lock, unlock, now } from "wasm-dsm";
//
// Every function but sharedAlloc is a host import (module "dsm"). sharedAlloc is a collective,
// deterministic bump allocator over the shared region: every node must make the same calls in
// the same order, so the same call returns the same address everywhere. The host records each
// allocation and checks at barriers that all nodes agree.

/** This node's rank, 0 ≤ nodeId() < nodeCount(). */
@external("dsm", "nodeId")
export declare function nodeId(): i32;

/** Number of nodes in the job. */
@external("dsm", "nodeCount")
export declare function nodeCount(): i32;

/** Waits until every node has reached the barrier. */
@external("dsm", "barrier")
export declare function barrier(): void;

/** Acquires lock `id` (any non-negative i32), FIFO across nodes. */
@external("dsm", "lock")
export declare function lock(id: i32): void;

/** Releases lock `id`. */
@external("dsm", "unlock")
export declare function unlock(id: i32): void;

/** Microseconds on a monotonic clock common to every node of one machine. */
@external("dsm", "now")
export declare function now(): f64;

@external("dsm", "regionBase")
declare function regionBase(): usize;

@external("dsm", "regionBytes")
declare function regionBytes(): usize;

@external("dsm", "pageSize")
declare function pageSize(): usize;

@external("dsm", "allocated")
declare function allocated(address: usize, bytes: usize): void;

let next: usize = 0;
let end: usize = 0;

/**
 * Allocates `bytes` of shared memory, page-aligned, zero-filled on first touch.
 * Collective: every node calls it with the same sizes in the same order.
 */
export function sharedAlloc(bytes: usize): usize {
  if (end == 0) {
    next = regionBase();
    end = next + regionBytes();
  }
  const page = pageSize();
  const size = (bytes + page - 1) & ~(page - 1);
  if (size > end - next) {
    abort("sharedAlloc: shared region exhausted; rebuild with a larger --shared-size");
  }
  const address = next;
  next += size;
  allocated(address, bytes);
  return address;
}
