/**
 * What a fault does under lrc (lrc.ts): an access miss brings its pages up to date (lrc/fetch.ts),
 * and the faulted pages get the access asked for, a write twinning them (LrcPages.openWrite).
 * Read-ahead (read_ahead.ts) stretches both: a miss that continues a forward sweep brings in
 * the following pages whose writers are asked anyway, a write that continues one twins the
 * following up-to-date pages, and right after a barrier the falsely shared pages this node wrote
 * lately are brought up to date and opened before the next phase faults on them.
 *
 * Separate from the protocol class because it decides page by page what to fetch and open; the
 * protocol only checks the fault and passes it on.
 */
import { Access, Protection } from "../../abi.js";
import type { PagePort } from "../coherence.js";
import { flow, type Flow, type Future } from "../future.js";
import type { IntervalStore } from "../release/intervals.js";
import { ReadAhead } from "../read_ahead.js";
import { PREFETCH_PAGES, REOPEN_PAGES } from "../release/sweep.js";
import { fetchAndApply, type FetchContext } from "./fetch.js";
import type { LrcPages } from "./pages.js";

export class PageFaults {
  /** Read-ahead of misses (pages fetched) and of write faults (pages twinned), each on its own. */
  private readonly missAhead: ReadAhead;
  private readonly writeAhead: ReadAhead;

  constructor(
    private readonly port: PagePort,
    private readonly pages: LrcPages,
    /** Its vector time names the open interval, which the pages twinned now belong to. */
    private readonly store: IntervalStore,
    private readonly fetchContext: FetchContext,
    private readonly counters: { prefetched: number; writeAhead: number; reopened: number },
  ) {
    const lastPage = port.firstPage + port.pageCount - 1;
    this.missAhead = new ReadAhead(lastPage, PREFETCH_PAGES);
    this.writeAhead = new ReadAhead(lastPage, PREFETCH_PAGES);
  }

  /** A fault on first..last (a checked range): a future when a page misses, else done at once. */
  fault(first: number, last: number, access: Access): Future<void> | void {
    for (let p = first; p <= last; p++) if (this.port.protection(p) === Protection.None) return flow(this.faultSteps(first, last, access));
    // Every page is valid here (a write to read-only pages): decided at once, no message.
    this.open(first, last, access, this.againEnd(last, access));
  }

  /**
   * Right after a barrier, the kernel still parked: the pages this node wrote in its last
   * intervals that other nodes wrote too (write notices pending: false sharing, or a shared
   * boundary) are brought up to date now, one diff request per writer, and twinned and opened,
   * so that a phase loop rewriting them starts without a fault (and without the wake-up a fault
   * costs). A page the kernel leaves unwritten gets no write notice (LrcPages.closeInterval).
   * Pages only this node writes are left to the write sweep of the first fault.
   */
  *reopenShared(): Flow<void> {
    const shared = this.pages.recentPages().filter((p) => this.pages.pendingOf(p) !== undefined && this.pages.staleSource(p) === undefined);
    if (shared.length === 0) return;
    const pages = shared.slice(0, REOPEN_PAGES);
    for (let k = 0; k < pages.length; k += PREFETCH_PAGES) yield* fetchAndApply(this.fetchContext, pages.slice(k, k + PREFETCH_PAGES), "write");
    const interval = this.openInterval();
    for (const p of pages) {
      if (this.port.protection(p) !== Protection.ReadOnly) continue;
      this.pages.openWrite(p, interval, true);
      this.counters.reopened++;
    }
  }

  /** The index the open interval gets if it writes. */
  private openInterval(): number {
    return this.store.vt[this.store.self] + 1;
  }

  /** A write to a page this node wrote lately is likely the start of the same sweep again: the run of pages it wrote lately that follows. */
  private againEnd(last: number, access: Access): number {
    return access === Access.Write ? this.pages.recentRunEnd(last, PREFETCH_PAGES) : last;
  }

  private *faultSteps(first: number, last: number, access: Access): Flow<void> {
    const misses: number[] = [];
    for (let p = first; p <= last; p++) if (this.port.protection(p) === Protection.None) misses.push(p);
    // Bring in and open the run of pages written lately that follows, not just the sweep so far.
    const again = this.againEnd(last, access);
    yield* this.validate(misses, Math.max(again, this.missAhead.next(first, last)), access);
    this.open(first, last, access, again);
  }

  /** The faulted pages, valid now, get the access asked for; a write sweep opens the pages ahead. */
  private open(first: number, last: number, access: Access, again: number): void {
    const interval = this.openInterval();
    for (let p = first; p <= last; p++) {
      if (access === Access.Write) {
        if (this.port.protection(p) !== Protection.ReadWrite) this.pages.openWrite(p, interval, false);
      } else if (this.port.protection(p) === Protection.None) {
        this.port.setProtection(p, Protection.ReadOnly);
      }
    }
    // A write sweep: the pages ahead that are up to date and that this node wrote in its last
    // intervals, or never wrote at all (a first sweep, such as an initialisation), are twinned
    // and writable now too. One the kernel does not write after all leaves no write notice (see
    // LrcPages.closeInterval).
    if (access === Access.Write) {
      const sweep = this.writeAhead.next(first, last);
      const end = Math.max(again, sweep);
      for (let p = last + 1; p <= end; p++) {
        if (this.port.protection(p) === Protection.ReadOnly && (this.pages.wroteRecently(p) || (p <= sweep && this.pages.neverOpened(p)))) {
          this.pages.openWrite(p, interval, true);
          this.counters.writeAhead++;
        }
      }
    }
  }

  /**
   * Brings `faulted` up to date (parked), with the pages up to `end` whose pending writers (and
   * stale source, if any) are among those asked anyway: one diff request per writer and one page
   * request per stale page, diffs applied per page in happens-before order.
   */
  private *validate(faulted: readonly number[], end: number, access: Access): Flow<void> {
    const stale = (p: number) => this.pages.staleSource(p);
    const must = faulted.filter((p) => this.pages.pendingOf(p) || stale(p) !== undefined);
    if (must.length === 0) return;
    const asked = new Set<number>();
    for (const p of must) {
      for (const n of this.pages.pendingOf(p) ?? []) asked.add(n.node);
      if (stale(p) !== undefined) asked.add(stale(p)!);
    }
    const batch = [...must];
    for (let p = must[must.length - 1] + 1; p <= end; p++) {
      const pending = this.pages.pendingOf(p);
      const source = stale(p);
      if (!pending && source === undefined) continue;
      if ((pending ?? []).every((n) => asked.has(n.node)) && (source === undefined || asked.has(source))) batch.push(p);
    }
    this.counters.prefetched += batch.length - must.length;
    yield* fetchAndApply(this.fetchContext, batch, access === Access.Write ? "write" : "read");
  }
}
