/**
 * Which node manages each page (and, in ivy and migrate, owns it first): the data distribution.
 *
 * - `"region"`: the protocol's own fixed mapping over the whole region (ivy and diff deal pages
 *   out round-robin, migrate cuts the region into one contiguous block per node).
 * - `"allocation"`: each collective allocation is cut into one contiguous block per node, in
 *   rank order — the way kernels split their arrays (rows lo..hi of node k lie in block k), so a
 *   node's first writes to its own part of an array need no other node. Pages no allocation
 *   covers yet are managed by nobody (see below).
 *
 *   sharedAlloc(3 pages), 2 nodes:   pages a a+1 a+2 → managers 0 0 1   (⌊i·N / count⌋)
 *
 * Every node makes the same allocations in the same order (checked at barriers), so every node
 * computes the same manager for a page once it has made the allocation that covers it. A node
 * can be behind: node 1 allocates and faults on a page that node 0 will manage but has not
 * allocated yet. Node 0 must then hold the request until its kernel allocates too
 * ({@link AllocationPlacement.pending}), instead of dropping it as misdelivered or serving it
 * under the region mapping. So a page no allocation covers yet is served by nobody: kernels reach
 * shared memory only through sharedAlloc.
 */
import { InvalidProtocolOptionError } from "./errors.js";

export type PlacementName = "region" | "allocation";
export const PLACEMENTS: readonly PlacementName[] = ["region", "allocation"];

export interface Placement {
  managerOf(page: number): number;
  /**
   * Records a collective allocation; returns the pages it newly placed (first..last), or null
   * when it placed none (zero bytes, outside the region, or pages an earlier allocation placed).
   */
  allocate(address: number, bytes: number): { first: number; last: number } | null;
  /** Whether a request for `page` may be meant for this node once its kernel allocates more. */
  pending(page: number): boolean;
}

const UNPLACED = 0xffff;

export class RegionPlacement implements Placement {
  constructor(readonly managerOf: (page: number) => number) {}
  allocate(): null {
    return null;
  }
  pending(): boolean {
    return false;
  }
}

export class AllocationPlacement implements Placement {
  private readonly managers: Uint16Array;
  /** First region page no allocation has reached yet (allocations are bump-ordered). */
  private end: number;

  constructor(
    private readonly firstPage: number,
    pageCount: number,
    private readonly nodeCount: number,
    private readonly pageShift: number,
    private readonly fallback: (page: number) => number,
  ) {
    this.managers = new Uint16Array(pageCount).fill(UNPLACED);
    this.end = firstPage;
  }

  managerOf(page: number): number {
    const m = this.managers[page - this.firstPage];
    return m === undefined || m === UNPLACED ? this.fallback(page) : m;
  }

  allocate(address: number, bytes: number): { first: number; last: number } | null {
    if (bytes <= 0) return null;
    const limit = this.firstPage + this.managers.length - 1;
    const first = Math.max(Math.floor(address / 2 ** this.pageShift), this.firstPage);
    const last = Math.min(Math.floor((address + bytes - 1) / 2 ** this.pageShift), limit);
    if (last < first) return null;
    this.end = Math.max(this.end, last + 1);
    // A page an earlier allocation already placed keeps its manager: it may be in use.
    let from = first;
    while (from <= last && this.managers[from - this.firstPage] !== UNPLACED) from++;
    if (from > last) return null;
    const count = last - first + 1;
    for (let p = from; p <= last; p++) this.managers[p - this.firstPage] = Math.floor(((p - first) * this.nodeCount) / count);
    return { first: from, last };
  }

  pending(page: number): boolean {
    return page >= this.end;
  }
}

export function createPlacement(
  name: PlacementName | undefined,
  region: { firstPage: number; pageCount: number; pageSize: number; nodeCount: number },
  fallback: (page: number) => number,
): Placement {
  if (name === undefined || name === "region") return new RegionPlacement(fallback);
  if (name !== "allocation") throw new InvalidProtocolOptionError("placement", name, `one of ${PLACEMENTS.join(", ")}`);
  return new AllocationPlacement(region.firstPage, region.pageCount, region.nodeCount, Math.log2(region.pageSize), fallback);
}
