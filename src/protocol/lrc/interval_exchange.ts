/**
 * The interval records lrc (lrc.ts) sends and learns. An interval ends at every lock, unlock and
 * barrier arrival; one that wrote pages gets a record. A lock grant carries the records its
 * acquirer lacks, a barrier arrival this node's records since the last barrier, a barrier release
 * the records the node lacks; each record learnt invalidates the pages it names (LrcPages.notice).
 *
 * Separate from the protocol class because this is where vector times live: the rest of lrc
 * deals in pages and write notices. The SyncService's token locks use it as their LockNotices.
 */
import type { LockGrantBody } from "../codec.js";
import { IntervalStore, maxVt, noticeOf } from "../release/intervals.js";
import { forEachPage, pageRuns, type IntervalRecord, type LrcArrival, type LrcRelease } from "../release/wire.js";
import type { LockNotices } from "../token_locks.js";
import type { GrantDiffs } from "./grant_diffs.js";
import type { LrcPages } from "./pages.js";

export class IntervalExchange implements LockNotices {
  /** Vector time after the previous barrier: every node has every interval up to it. */
  private lastBarrier: number[];
  /** The vector time after the barrier before it: the intervals in between are the last epoch's. */
  private epochStart: number[];

  constructor(
    private readonly store: IntervalStore,
    private readonly pages: LrcPages,
    private readonly counters: { intervals: number },
    /** Diffs carried with grants (grant_diffs.ts); absent: grants carry notices only. */
    private readonly grantDiffs?: GrantDiffs,
  ) {
    this.lastBarrier = store.vt.slice();
    this.epochStart = store.vt.slice();
  }

  /** Ends the open interval (parked); an interval that wrote pages gets a record. */
  closeInterval(): void {
    const written = this.pages.closeInterval();
    if (written.length === 0) return;
    this.store.create(pageRuns(written));
    this.counters.intervals++;
  }

  vt(): number[] {
    return this.store.vt.slice();
  }

  grantFor(vt: readonly number[] | undefined): LockGrantBody {
    // Every lrc acquire carries its vector time; one without knows nothing and gets everything.
    const intervals = this.store.missing(vt ?? new Array<number>(this.store.nodeCount).fill(0));
    const diffs = this.grantDiffs?.attach(intervals);
    return diffs ? { vt: this.store.vt.slice(), intervals, diffs } : { vt: this.store.vt.slice(), intervals };
  }

  apply(grant: LockGrantBody, from: number): void {
    this.learn(grant.intervals ?? []);
    if (grant.diffs && this.grantDiffs) this.grantDiffs.apply(from, grant.diffs);
  }

  /** This node's records for a barrier arrival: the open interval ends first, so its writes are among them. */
  arrive(): Omit<LrcArrival, "gc"> {
    this.closeInterval();
    return { vt: this.store.vt.slice(), intervals: this.store.ownSince(this.lastBarrier[this.store.self]) };
  }

  /** Learns a barrier release's records; the epoch that ends with this barrier begins where the last one ended. */
  released(part: LrcRelease): void {
    this.learn(part.intervals);
    this.epochStart = this.lastBarrier;
    this.lastBarrier = maxVt(this.store.vt, part.vt);
  }

  /** The records of the epoch between the last two barriers: after a barrier, the same on every node. */
  lastEpoch(): IntervalRecord[] {
    return this.store.since(this.epochStart);
  }

  /** Applies intervals learnt at an acquire or barrier: their write notices invalidate pages. */
  private learn(records: readonly IntervalRecord[]): void {
    for (const record of this.store.learn(records)) {
      const notice = noticeOf(record);
      forEachPage(record.p, (page) => this.pages.notice(page, notice));
    }
  }
}
