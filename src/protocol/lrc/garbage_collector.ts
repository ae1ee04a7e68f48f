/**
 * Garbage collection of lrc's history (lrc.ts explains why it is safe): a node that holds more
 * than `gcBytes` of diffs, twins and interval records asks for a collection at its barrier
 * arrival; right after a release that asks for one, every node brings up to date the pages it
 * wrote, leaves the others stale, meets the others at one more barrier and drops the history.
 *
 * Separate from the protocol class because it is the one place that decides when history may be
 * dropped, and it spans two barriers: the one that asks and the one it adds.
 */
import { wait, type Flow } from "../future.js";
import type { IntervalStore } from "../release/intervals.js";
import { PREFETCH_PAGES } from "../release/sweep.js";
import type { SyncService } from "../sync.js";
import { fetchAndApply, type FetchContext } from "./fetch.js";
import type { LrcPages } from "./pages.js";

export class GarbageCollector {
  private requested = false;
  private collecting = false;

  constructor(
    private readonly store: IntervalStore,
    private readonly pages: LrcPages,
    private readonly fetchContext: FetchContext,
    /** Its barrier() is the one every node meets at before dropping (nobody asks for a diff after it). */
    private readonly sync: SyncService,
    private readonly gcBytes: number,
    private readonly counters: { stalePages: number; gcRuns: number },
  ) {}

  /** Bytes of diffs, twins, notices and records this node holds, against `gcBytes`. */
  heldBytes(): number {
    return this.pages.bytes + this.store.bytes;
  }

  /**
   * At a barrier arrival, the interval closed: whether this node asks for a collection. Over the
   * bound it first encodes its kept copies into diffs, which may bring it under.
   */
  arrived(final: boolean): boolean {
    if (!final && this.heldBytes() > this.gcBytes) this.pages.compact();
    return !final && !this.collecting && this.heldBytes() > this.gcBytes;
  }

  /** A barrier release: `gc` when some node asked for a collection. */
  released(gc: boolean): void {
    if (gc && !this.collecting) this.requested = true;
  }

  /** Whether the barrier just passed asked for a collection. */
  get due(): boolean {
    return this.requested;
  }

  /**
   * Right after a barrier whose release asked for it: bring up to date the pages this node wrote
   * since the last collection, leave the others with pending notices stale (see lrc.ts), wait
   * until every node has (nobody will ask for a diff after that), drop the history.
   */
  *collect(): Flow<void> {
    this.requested = false;
    this.collecting = true;
    try {
      const writers = this.store.writers();
      const validate: number[] = [];
      for (const page of this.pages.pendingPages().sort((a, b) => a - b)) {
        const w = writers.get(page);
        if (!w || w.self) validate.push(page);
        else {
          this.pages.markStale(page, w.last);
          this.counters.stalePages++;
        }
      }
      for (let k = 0; k < validate.length; k += PREFETCH_PAGES) yield* fetchAndApply(this.fetchContext, validate.slice(k, k + PREFETCH_PAGES), "read");
      yield* wait(this.sync.barrier());
      this.pages.collect();
      this.store.collect();
      this.counters.gcRuns++;
    } finally {
      this.collecting = false;
    }
  }
}
