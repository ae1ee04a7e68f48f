/**
 * Pages whose ownership moves with a lock, for ivy, diff and migrate: the data a lock protects
 * (a counter, a queue head) goes in the grant, so the acquirer's accesses to it send nothing. A
 * lock passed between two nodes then costs one message per handoff instead of five hops (the
 * grant, a read fault's two, a write upgrade's two).
 *
 *   A holds lock L; pages it took for writing while holding L are L's (at most MAX_OWNED_PAGES)
 *   A ── LockGrant(L, owned: [p, v, bytes]) ──▶ B   when A still writes p at version v and A or B
 *                                                   manages p; A's copy of p → None, bytes kept
 *   B (parked in its lock call): p read-write at v + 1, one of L's pages in turn
 *
 * The hand-over is a write transaction completed in one step by the page's manager:
 * - A manages p: A's directory makes B the owner at v + 1 before the grant leaves, and only when
 *   no transaction of p is current or queued and A is its only holder (Directory.handOver). B
 *   then must take it, and does: nobody else holds p.
 * - B manages p: B's directory does the same as the grant arrives, with the same conditions. If
 *   they fail (another node's request came first), B leaves the bytes: its directory still names
 *   A the owner at v, and A still has them (its copy at None keeps version v's bytes), so a
 *   forward to A is answered with them, and A's own next access is granted on them.
 * Pages of a third manager stay with A.
 *
 * Over links that leave the process (NATS), and in one process with more nodes than cores, as
 * hlrc's pages in grants (ProtocolTuning.lockPages, cluster.ts sendAheadInProcess): between nodes
 * of one process that each have a core a fault costs microseconds, less than a page in base64
 * inside the grant's JSON.
 */
import { MAX_OWNED_PAGES, type OwnedPage } from "./sync_wire.js";
import type { LockPages } from "./token_locks.js";

export interface LockPagesContext {
  node: number;
  managerOf(page: number): number;
  /** Whether this node holds `page` read-write (it owns it and is writing it). */
  writing(page: number): boolean;
  /** This node's version of `page`. */
  version(page: number): number;
  /** The page's bytes (a live view). */
  bytes(page: number): Uint8Array;
  /** Directory.handOver on this node's directory. */
  handOver(page: number, from: number, version: number, to: number): boolean;
  /** Ends this node's write access to `page` and drops its copy to None, keeping the bytes (parked). */
  giveUp(page: number): void;
  /** Installs `bytes` as `page` at version + 1, read-write (parked). */
  take(page: number, version: number, bytes: Uint8Array): void;
  counters: { pagesHandedOver: number; pagesTaken: number };
}

export class LockPagesRole implements LockPages {
  /** Per lock: the pages taken for writing while it was held (the last MAX_OWNED_PAGES). */
  private readonly pagesOf = new Map<number, number[]>();
  /** The locks this node's kernel holds, innermost last. */
  private readonly held: number[] = [];

  constructor(private readonly ctx: LockPagesContext) {}

  /** The kernel calls lock(id) (it holds it once the call returns). */
  locking(id: number): void {
    this.held.push(id);
  }

  /** The kernel calls unlock(id). */
  unlocking(id: number): void {
    const at = this.held.lastIndexOf(id);
    if (at >= 0) this.held.splice(at, 1);
  }

  /** This node took `page` for writing (a write fault, or a grant): it belongs to the innermost lock held. */
  written(page: number): void {
    const id = this.held[this.held.length - 1];
    if (id !== undefined) this.remember(id, page);
  }

  /** `page` is lock `id`'s: it goes with the lock's next grant, if this node still writes it then. */
  private remember(id: number, page: number): void {
    let pages = this.pagesOf.get(id);
    if (!pages) this.pagesOf.set(id, (pages = []));
    if (pages.includes(page)) return;
    pages.push(page);
    if (pages.length > MAX_OWNED_PAGES) pages.shift();
  }

  attach(id: number, to: number): OwnedPage[] | undefined {
    const pages = this.pagesOf.get(id);
    if (!pages) return undefined;
    this.pagesOf.delete(id);
    const { ctx } = this;
    const owned: OwnedPage[] = [];
    for (const page of pages) {
      if (!ctx.writing(page)) continue;
      const manager = ctx.managerOf(page);
      const version = ctx.version(page);
      if (manager === ctx.node) {
        if (!ctx.handOver(page, ctx.node, version, to)) continue;
      } else if (manager !== to) {
        continue;
      }
      ctx.giveUp(page);
      const bytes = ctx.bytes(page);
      owned.push([page, version, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64")]);
      ctx.counters.pagesHandedOver++;
    }
    return owned.length > 0 ? owned : undefined;
  }

  apply(id: number, pages: readonly OwnedPage[], from: number): void {
    const { ctx } = this;
    for (const [page, version, base64] of pages) {
      const manager = ctx.managerOf(page);
      if (manager === ctx.node) {
        if (!ctx.handOver(page, from, version, ctx.node)) continue;
      } else if (manager !== from) {
        continue;
      }
      ctx.take(page, version, Buffer.from(base64, "base64"));
      ctx.counters.pagesTaken++;
      this.remember(id, page);
    }
  }
}
