/**
 * Diffs that travel with an lrc lock grant (Keleher's lazy hybrid): the granter adds its own diffs
 * of the intervals the acquirer lacks, when they are few, and the acquirer brings up to date at
 * once every page whose pending notices those diffs cover, instead of invalidating it and fetching
 * the same diffs on its first access:
 *
 *   B ── LockGrant({vt_B, intervals A lacks, diffs of B's own among them}) ──▶ A
 *   A: notices learnt (pages invalidated); a page whose pending notices are all B's intervals
 *      with their diffs here gets them applied in happens-before order and is read-only again
 *   (without: A ── LrcDiffRequest ──▶ B, A ◀── LrcDiffReply ── B at A's first access)
 *
 * A lock passed between two nodes that both update the data it protects then costs the grant
 * alone: half the messages of a handoff. It is what the fault would have done, done earlier: the
 * acquirer is parked in lock(), and the diffs are exactly those its access would fetch from B.
 * A page with a notice of a third node, a stale page (after a collection), or a diff B no longer
 * holds is left to the fault path. Per page, all of B's diffs or none; at most GRANT_DIFF_BYTES in
 * all, so a grant stays small, and at most GRANT_DIFF_PAGES pages looked at, so a node that wrote
 * many pages in the interval does not make diffs at every grant that nobody may ask for.
 */
import { Protection } from "../../abi.js";
import type { PagePort } from "../coherence.js";
import { hbOrder } from "../release/intervals.js";
import { applyWordDiff, type WordDiff } from "../release/word_diff.js";
import { forEachPage, grantDiff, grantWordDiff, type GrantDiff, type IntervalRecord } from "../release/wire.js";
import type { LrcPages } from "./pages.js";

/** Most diff bytes one grant carries. */
export const GRANT_DIFF_BYTES = 8 << 10;
/** Most pages whose diffs one grant makes and looks at. */
export const GRANT_DIFF_PAGES = 16;

export class GrantDiffs {
  constructor(
    private readonly port: PagePort,
    private readonly pages: LrcPages,
    private readonly self: number,
    /** This node's diff of `page` in its closed interval `interval`; undefined when unknown. */
    private readonly diffOf: (page: number, interval: number) => WordDiff | undefined,
    private readonly counters: { diffsSent: number; diffBytes: number; diffsApplied: number },
  ) {}

  /** The diffs of this node's own intervals among `records`, page by page, within the bound. */
  attach(records: readonly IntervalRecord[]): GrantDiff[] | undefined {
    const intervalsOf = new Map<number, number[]>();
    for (const r of records) {
      if (r.n !== this.self) continue;
      forEachPage(r.p, (page) => {
        const list = intervalsOf.get(page);
        if (list) list.push(r.i);
        else intervalsOf.set(page, [r.i]);
      });
    }
    const out: GrantDiff[] = [];
    let bytes = 0;
    let looked = 0;
    for (const [page, intervals] of intervalsOf) {
      if (looked++ === GRANT_DIFF_PAGES || bytes >= GRANT_DIFF_BYTES) break;
      const diffs: WordDiff[] = [];
      for (const i of intervals) {
        const diff = this.diffOf(page, i);
        if (!diff) break;
        diffs.push(diff);
      }
      if (diffs.length < intervals.length) continue;
      const size = diffs.reduce((sum, d) => sum + d.bytes.byteLength, 0);
      if (bytes + size > GRANT_DIFF_BYTES) continue;
      bytes += size;
      diffs.forEach((d, k) => out.push(grantDiff(page, intervals[k]!, d)));
    }
    if (out.length === 0) return undefined;
    this.counters.diffsSent += out.length;
    this.counters.diffBytes += bytes;
    return out;
  }

  /** Applies a grant's diffs from node `from` to the pages they bring up to date (parked). */
  apply(from: number, entries: readonly GrantDiff[]): void {
    const byPage = new Map<number, Map<number, GrantDiff>>();
    for (const e of entries) {
      let intervals = byPage.get(e[0]);
      if (!intervals) byPage.set(e[0], (intervals = new Map()));
      intervals.set(e[1], e);
    }
    for (const [page, intervals] of byPage) {
      const pending = this.pages.pendingOf(page);
      if (!pending || this.pages.staleSource(page) !== undefined) continue;
      if (!pending.every((n) => n.node === from && intervals.has(n.index))) continue;
      const bytes = this.port.page(page);
      for (const n of [...pending].sort(hbOrder)) applyWordDiff(bytes, grantWordDiff(intervals.get(n.index)!), true);
      this.counters.diffsApplied += pending.length;
      this.pages.applied(page);
      if (this.port.protection(page) === Protection.None) this.port.setProtection(page, Protection.ReadOnly);
    }
  }
}
