/**
 * Pages that travel with an hlrc lock grant when the granter is their home: the acquirer would
 * fetch exactly these master copies from the granter at its first access after the acquire, so
 * the grant brings them along and the access costs nothing.
 *
 *   H (home of p) ── LockGrant({vt, intervals A lacks, homePages: {applied, [p, bytes]}}) ──▶ A
 *   A: notices learnt (p invalidated); p installed read-only when the bytes hold every write
 *      its notices name and A's own last flush to H
 *   (without: A ── HlrcPageRequest(p, need) ──▶ H, A ◀── HlrcPageReply ── H at A's first access)
 *
 * `applied` says, per writer, the last interval whose writes the bytes hold (H's own: its latest
 * interval; the others: the flushes H has applied). A copy lacking a write A must see (a flush
 * still on its way to H, A's own included) is not installed: A's access fetches it as before,
 * naming what it needs. H sends a page only when it already holds every write the grant's
 * notices name for it, at most GRANT_PAGES pages, and shares it as a page request would (from
 * then on its own writes to it fault and leave notices).
 *
 * Over links that leave the process (Link.leavesProcess: NATS), and in one process with more nodes
 * than cores (ProtocolTuning.lockPages, cluster.ts sendAheadInProcess). Over NATS a message costs the
 * wake-ups of four threads and a server hop, and a 2-node lock handoff over NATS went from
 * 1,379–1,453 to 1,032–1,090 µs per pair with pages in grants (bench:sync, nodes in one process).
 * Between the nodes of one process a page request costs microseconds, less than the 4 KiB page as
 * base64 inside the grant's JSON: the same handoff went from 76–112 to 137–245 µs with them.
 */
import type { Placement } from "../placement.js";
import { forEachPage, type GrantPages, type IntervalRecord } from "../release/wire.js";
import type { FetchRole } from "./fetch.js";
import type { HomeRole } from "./home.js";

/** Most pages one grant carries. */
export const GRANT_PAGES = 2;

export interface GrantPagesContext {
  placement: Placement;
  node: number;
  home: HomeRole;
  fetcher: FetchRole;
  /** This node's latest interval. */
  ownInterval: () => number;
  /** The last interval this node flushed to `home` (0: none). */
  lastFlushedTo: (home: number) => number;
  counters: { pagesSent: number };
}

export class GrantPagesRole {
  constructor(private readonly ctx: GrantPagesContext) {}

  /** The pages homed here that `records` (the intervals the acquirer lacks) wrote, within the bound. */
  attach(records: readonly IntervalRecord[]): GrantPages | undefined {
    const { placement, node, home } = this.ctx;
    const applied = home.appliedIntervals();
    applied[node] = this.ctx.ownInterval();
    // Per page homed here: whether the master copy holds every interval named for it.
    const holds = new Map<number, boolean>();
    for (const r of records) {
      forEachPage(r.p, (page) => {
        if (placement.pending(page) || placement.managerOf(page) !== node) return;
        holds.set(page, (holds.get(page) ?? true) && applied[r.n]! >= r.i);
      });
    }
    const pages: [number, string][] = [];
    for (const [page, held] of holds) {
      if (!held) continue;
      const bytes = home.share(page);
      pages.push([page, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64")]);
      if (pages.length === GRANT_PAGES) break;
    }
    if (pages.length === 0) return undefined;
    this.ctx.counters.pagesSent += pages.length;
    return { applied, pages };
  }

  /** Installs the pages of a grant from node `from` that hold what this node's copy lacks (parked). */
  apply(from: number, part: GrantPages): void {
    const { placement, node, fetcher } = this.ctx;
    // This node's own writes to `from`'s pages must be in the bytes, as a page request's `need` says.
    if (this.ctx.lastFlushedTo(from) > part.applied[node]!) return;
    for (const [page, base64] of part.pages) {
      if (placement.managerOf(page) !== from || placement.managerOf(page) === node) continue;
      const need = fetcher.needOf(page);
      if (!need) continue; // the copy here is current
      let held = true;
      for (const [writer, interval] of need) if (part.applied[writer]! < interval) held = false;
      if (held) fetcher.install(page, Buffer.from(base64, "base64"));
    }
  }
}
