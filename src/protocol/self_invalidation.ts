/**
 * Self-invalidation at barriers for migrate, ivy and diff (after Lebeck & Wood's dynamic
 * self-invalidation): a node drops, as it arrives at a barrier, the read-only copies it expects
 * another node to write next, and tells their managers, so that the writer's upgrade finds no
 * other holder and needs no invalidation round trip.
 *
 *   R, at a barrier: copy of p (read-only, version v) → None, keeping its bytes
 *   R ── Relinquish(p, v, request of the read that installed it) ──▶ M: holders −= R
 *        (sent before R's arrival, so on the links the barrier uses it reaches M first)
 *   W, after the barrier: WriteRequest(p) ──▶ M, W its only holder → Grant, no Invalidate
 *
 * Which copies: a read copy of a page whose previous copy here an invalidation took (a producer's
 * page read by a consumer: a stencil's neighbour row, read every phase and rewritten the next).
 * The guess is checked: when the page is read again at the version it was dropped at, nobody wrote
 * it in between, and it is no longer dropped until an invalidation takes a copy again. A page read
 * again and again that nobody writes is kept.
 *
 * Safety does not depend on the guess or on delivery. The copy is gone before the message leaves;
 * the manager removes the node only while the entry is still at `version`, the node's last
 * completed transaction on the page is the read named, and none of its own is current or queued
 * (directory.ts onRelinquish). A Relinquish lost, or dropped as stale, leaves the node a holder
 * with no access: the next invalidation finds nothing to drop, and a read of it gets a Grant,
 * whose bytes are the ones kept, still current since no write transaction came between.
 */
import type { ConfirmEntry } from "./codec.js";

/** Copies dropped at one barrier, at most (the Relinquish messages carry up to 64 each). */
export const MAX_RELINQUISHED = 64;

export class SelfInvalidation {
  /** Per region page: 1 when the last copy here was invalidated (or dropped and then rewritten). */
  private readonly rewritten: Uint8Array;
  /** Per region page: 1 + the version this node dropped its copy at; 0 when it did not. */
  private readonly droppedAt: Uint32Array;
  /** Read copies installed since the last barrier of pages marked rewritten. */
  private candidates: ConfirmEntry[] = [];

  constructor(
    private readonly firstPage: number,
    pageCount: number,
  ) {
    this.rewritten = new Uint8Array(pageCount);
    this.droppedAt = new Uint32Array(pageCount);
  }

  /** An invalidation took this node's copy of `page`. */
  invalidated(page: number): void {
    this.rewritten[page - this.firstPage] = 1;
  }

  /** A read fault installed `page` at `version`, by transaction `request`. */
  installed(page: number, version: number, request: number): void {
    const i = page - this.firstPage;
    const dropped = this.droppedAt[i]!;
    if (dropped !== 0) {
      this.droppedAt[i] = 0;
      // Read again at the version it was dropped at: nobody wrote it, the drop was wasted.
      if (dropped - 1 === version) this.rewritten[i] = 0;
    }
    if (this.rewritten[i] === 1 && this.candidates.length < MAX_RELINQUISHED) this.candidates.push({ page, version, request, access: 0 });
  }

  /**
   * At a barrier: the copies to drop, those of the candidates `stillHeld` accepts (the copy is
   * still the read-only one installed), each recorded as dropped. Empties the candidates.
   */
  take(stillHeld: (entry: ConfirmEntry) => boolean): ConfirmEntry[] {
    const candidates = this.candidates;
    if (candidates.length === 0) return candidates;
    this.candidates = [];
    const taken: ConfirmEntry[] = [];
    // Newest first: a page installed twice since the last barrier is named once, by its last read.
    for (let k = candidates.length - 1; k >= 0; k--) {
      const e = candidates[k]!;
      const i = e.page - this.firstPage;
      if (this.droppedAt[i] !== 0 || !stillHeld(e)) continue;
      this.droppedAt[i] = e.version + 1;
      taken.push(e);
    }
    return taken;
  }
}
