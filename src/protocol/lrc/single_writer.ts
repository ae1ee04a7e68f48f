/**
 * Single-writer pages of lrc (lrc.ts explains why they are safe): which pages this node takes as
 * their only writer, with no twin, fault or notice, and which it holds stale naming their owner.
 * Pages are assigned right after every barrier, from the epoch that just ended, and, under
 * allocation placement, at every collective allocation, from the placement.
 *
 * Separate from the protocol class because it is an optimisation with state of its own (the pages
 * served around a barrier or before their allocation, which must stay noticed) that lrc runs
 * without when `singleWriter` is off.
 */
import type { PagePort } from "../coherence.js";
import { Protection } from "../../abi.js";
import { createPlacement, type Placement, type PlacementName } from "../placement.js";
import { forEachPage, type IntervalRecord } from "../release/wire.js";
import type { LrcPages } from "./pages.js";

export class SingleWriterPages {
  /**
   * Pages this node served whole since its last barrier arrival, until it took its single-writer
   * pages: a node that left the barrier first may already hold a copy, so they are not taken.
   */
  private servedAtBarrier: Set<number> | undefined;
  /** Allocation placement, when the run places by allocation: a block's pages start as its node's. */
  private readonly placement: Placement | undefined;
  /** Pages this node served before its kernel allocated them: not taken at the allocation (see lrc.ts). */
  private readonly servedUnplaced = new Set<number>();

  constructor(
    private readonly port: PagePort,
    private readonly pages: LrcPages,
    private readonly node: number,
    nodeCount: number,
    placement: PlacementName | undefined,
    private readonly counters: { ownedPages: number; stalePages: number; sharedPages: number },
  ) {
    if (placement === "allocation") this.placement = createPlacement("allocation", { ...port, nodeCount }, () => -1);
  }

  /** This node arrived at a barrier: pages it serves from now until it takes its own are noted. */
  arrived(): void {
    this.servedAtBarrier = new Set();
  }

  /** Another node asked for `page` whole: an owned page is written with notices again. */
  served(page: number): void {
    this.servedAtBarrier?.add(page);
    if (this.placement?.pending(page)) this.servedUnplaced.add(page);
    if (this.pages.owns(page)) {
      this.pages.share(page);
      this.counters.sharedPages++;
    }
  }

  /**
   * Right after a barrier (parked), with `epoch` the records of the epoch that just ended: every
   * node holds the same ones, so they agree on the pages one node alone wrote in it. That node
   * keeps such a page writable with no twin (LrcPages.own): no write fault, no diff, no notice
   * while it is alone with it. Every other node drops the page's pending notices and holds it
   * stale naming that node, as a collection does (lrc.ts): its next access takes the whole page,
   * and the owner, asked for it, write-protects it then, so its writes are noticed again
   * (LrcPages.share). The owner's copy is complete: it validated the page before writing it, and
   * no other node wrote it since.
   */
  take(epoch: readonly IntervalRecord[]): void {
    const writers = new Map<number, number>();
    for (const record of epoch) {
      forEachPage(record.p, (page) => {
        const w = writers.get(page);
        writers.set(page, w === undefined || w === record.n ? record.n : -1);
      });
    }
    const served = this.servedAtBarrier;
    this.servedAtBarrier = undefined;
    for (const [page, writer] of writers) {
      // A copy served after the arrival went to a node that already holds the page stale
      // naming this one: the page stays noticed, as if that node had asked a moment later.
      if (writer < 0 || (writer === this.node && served?.has(page))) continue;
      this.assign(page, writer);
    }
  }

  /** The kernel's collective allocation: under allocation placement, its blocks' pages go to their nodes. */
  allocated(address: number, bytes: number): void {
    const placed = this.placement?.allocate(address, bytes);
    if (!placed) return;
    for (let p = placed.first; p <= placed.last; p++) {
      // Only a page untouched here: read-only since start(), no notices (a node could take a lock
      // before its allocation and learn of a page another node already wrote), not served early.
      if (this.port.protection(p) !== Protection.ReadOnly || this.pages.pendingOf(p) || this.pages.staleSource(p) !== undefined || this.servedUnplaced.delete(p)) continue;
      this.assign(p, this.placement!.managerOf(p));
    }
  }

  /** `page` is written by `owner` alone: this node owns it, or holds it stale naming the owner. */
  private assign(page: number, owner: number): void {
    if (owner === this.node) {
      this.pages.own(page);
      this.counters.ownedPages++;
    } else {
      this.pages.markStale(page, owner);
      this.counters.stalePages++;
    }
  }
}
