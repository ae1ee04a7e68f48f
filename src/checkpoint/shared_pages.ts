/**
 * The shared pages of a checkpoint, as one node handles them: which it is responsible for (its
 * block of each collective allocation, as the "allocation" placement cuts it, placement.ts), and
 * reading or writing them through its protocol — a page is made readable (saving) or writable
 * (restoring) by the node's own faults, so whatever the protocol, the bytes are the valid ones.
 */
import { Access, NO_READ, NO_WRITE, type Layout } from "../abi.js";
import { AllocationPlacement } from "../protocol/placement.js";
import type { NodePart } from "./part.js";

/** Pages faulted at once while saving or restoring. */
export const PAGES_PER_FAULT = 64;

export interface PageAccess {
  readonly layout: Layout;
  readonly memory: WebAssembly.Memory;
  /** Makes pages first..last allow `access` through the protocol; returns once they do. */
  fault(first: number, last: number, access: Access): void;
}

/** The region pages node `nodeId` saves: its block of each allocation, ascending. */
export function responsiblePages(layout: Layout, nodeCount: number, nodeId: number, allocations: readonly [number, number][]): number[] {
  const firstPage = layout.regionBase >>> layout.pageShift;
  const placement = new AllocationPlacement(firstPage, layout.regionBytes >>> layout.pageShift, nodeCount, layout.pageShift, () => -1);
  const pages: number[] = [];
  for (const [address, bytes] of allocations) {
    const placed = placement.allocate(address, bytes);
    if (!placed) continue;
    for (let p = placed.first; p <= placed.last; p++) if (placement.managerOf(p) === nodeId) pages.push(p);
  }
  return pages;
}

/** Ascending pages as [first, last] runs of consecutive ones, at most PAGES_PER_FAULT long. */
export function* pageRanges(pages: readonly number[]): Generator<[number, number]> {
  let i = 0;
  while (i < pages.length) {
    let j = i;
    while (j + 1 < pages.length && pages[j + 1] === pages[j]! + 1 && j + 1 - i < PAGES_PER_FAULT) j++;
    yield [pages[i]!, pages[j]!];
    i = j + 1;
  }
}

/** Faults on first..last where a page forbids `access`; the kernel is parked. */
export function makeAccessible(node: PageAccess, first: number, last: number, access: Access): void {
  const { layout, memory } = node;
  const table = new Uint8Array(memory.buffer, layout.tableBase, layout.tableBytes);
  const forbidden = access === Access.Write ? NO_READ | NO_WRITE : NO_READ;
  for (let p = first; p <= last; p++) {
    if ((table[p]! & forbidden) === 0) continue;
    const end = Math.min(last, p + PAGES_PER_FAULT - 1);
    node.fault(p, end, access);
    p = end;
  }
}

/** Writes a part's pages back through the protocol, each run of pages right after making it writable. */
export function restorePages(node: PageAccess, part: NodePart): void {
  const size = node.layout.pageSize;
  for (const run of part.pages) {
    const count = run.data.length / size;
    for (let at = 0; at < count; at += PAGES_PER_FAULT) {
      const first = run.first + at;
      const last = run.first + Math.min(count, at + PAGES_PER_FAULT) - 1;
      makeAccessible(node, first, last, Access.Write);
      new Uint8Array(node.memory.buffer, first * size, (last - first + 1) * size).set(run.data.subarray(at * size, (last - run.first + 1) * size));
    }
  }
}
