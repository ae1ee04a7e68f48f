/**
 * One node's page state under lazy release consistency (lrc.ts): twins, the diffs of its own
 * intervals, and the write notices it has received but not yet applied.
 *
 *   write fault on p in the open interval o:
 *     twin := copy of p; p read-write; p joins o's pages (o's record will carry a notice for p)
 *     a twin of p from a closed interval j was still there: j's diff is (that twin → the new
 *     twin), both copies are kept and the diff is encoded only when asked for
 *   interval closes (lock, unlock, barrier): its pages become read-only, so a twin holds the
 *     writes of exactly one interval and the next write to p faults
 *   diff asked for (p, j): encoded from j's two copies, or from j's twin and the page (which the
 *     kernel cannot be writing: it is read-only) — lazy diff creation
 *   write notice (q, k) for p arrives: the twin of p's last closed interval is diffed first (the
 *     page is about to change), p gets no access, and (q, k) waits in p's pending list until the
 *     next access miss fetches the diffs
 *   garbage collection, p not written here since the last one: p's notices are dropped unapplied
 *     and p is stale, naming the node that holds a complete copy; the next access miss fetches
 *     the whole page from it first, then the diffs of any notices received since
 *   barrier after which p was written by one node alone (lrc.ts, single-writer pages): that node
 *     owns p (read-write, no twin, no notice) until another node fetches it; the others hold it
 *     stale naming the owner
 *
 * No diff is ever taken of a page the kernel may be writing, so none needs parking. Diffs are
 * exact, word by word (release/word_diff.ts).
 */
import { Protection } from "../../abi.js";
import type { PagePort } from "../coherence.js";
import { ByteArena } from "../release/arena.js";
import { PageCopies } from "../release/copies.js";
import { encodeWritten, samePage, type WordDiff } from "../release/word_diff.js";
import { LrcStateError } from "../errors.js";
import type { WriteNotice } from "../release/intervals.js";

interface Twin {
  bytes: Uint8Array;
  /** The interval the writes since the copy belong to. */
  interval: number;
}

/** A closed interval's diff not yet encoded: the page before and after it. */
interface Snapshot {
  before: Uint8Array;
  after: Uint8Array;
}

export interface PageCounters {
  twins: number;
  diffsCreated: number;
  writeNotices: number;
  invalidations: number;
}

/** Snapshots encoded before compaction decides whether to go on, and the largest diff it goes on for, as a share of a page. */
const COMPACT_SAMPLE = 16;
const COMPACT_WORTH = 1 / 8;

/** What one pending write notice costs in memory, roughly. */
const NOTICE_BYTES = 48;

export class LrcPages {
  /** Pages written in the open interval. */
  readonly dirty = new Set<number>();
  /** Pages of the open interval twinned ahead of a write sweep, not yet known to be written. */
  private readonly speculative = new Set<number>();
  /** Pages ever opened for writing here: a write sweep over pages not among them is a first write (initialisation). */
  private readonly opened = new Set<number>();
  /** Pages of the open interval twinned ahead of a write sweep that had never been opened here. */
  private readonly firstSweep = new Set<number>();
  /** Pages opened for writing in this node's last two intervals with writes: what a write sweep will likely write again. */
  private recent: [Set<number>, Set<number>] = [new Set(), new Set()];
  private readonly twins = new Map<number, Twin>();
  /** Closed intervals' diffs kept as two copies: page → interval → snapshot. */
  private readonly snapshots = new Map<number, Map<number, Snapshot>>();
  private snapshotCount = 0;
  /** Diffs of this node's own intervals: page → interval → diff. */
  private readonly diffs = new Map<number, Map<number, WordDiff>>();
  /** Write notices received and not yet applied, per page. */
  private readonly pending = new Map<number, WriteNotice[]>();
  /** Pages whose copy here is incomplete, and the node a collection named as holding a complete one. */
  private readonly stale = new Map<number, number>();
  /** Pages only this node writes and no other node holds (see {@link own}): written with no twin and no notice. */
  private readonly owned = new Set<number>();
  private diffBytes = 0;
  private pendingCount = 0;
  /** Twins and snapshot copies, recycled. */
  private readonly copies: PageCopies;
  /** The bytes of {@link diffs}: freed when a page is owned, all reset at a collection. */
  private readonly arena: ByteArena;
  private readonly take = (bytes: number) => this.arena.take(bytes);

  constructor(
    private readonly port: PagePort,
    private readonly counters: PageCounters,
    /** Count a first sweep's unchanged pages as written (closeInterval): only single-writer pages gain by it. */
    private readonly recordFirstSweeps = false,
    /** Bytes of diff memory kept for reuse after a collection: what one collection cycle fills (lrc's gcBytes). */
    spareDiffBytes = 32 << 20,
  ) {
    this.copies = new PageCopies(port.pageSize);
    this.arena = new ByteArena(spareDiffBytes);
  }

  /** Bytes of twins, copies, diffs and pending write notices held, for the GC bound. */
  get bytes(): number {
    return this.diffBytes + (this.twins.size + this.snapshotCount) * this.port.pageSize + this.pendingCount * NOTICE_BYTES;
  }

  /**
   * Starts writing `page` in the open interval `interval` (parked). `speculative`: the kernel has
   * not written it yet (read-ahead of a write sweep).
   */
  openWrite(page: number, interval: number, speculative: boolean): void {
    if (this.dirty.has(page)) {
      if (!speculative) this.speculative.delete(page);
      return this.port.setProtection(page, Protection.ReadWrite);
    }
    const bytes = this.copies.copyOrZero(this.port.page(page));
    if (speculative && this.recordFirstSweeps && !this.opened.has(page)) this.firstSweep.add(page);
    this.opened.add(page);
    const closed = this.twins.get(page);
    if (closed) {
      // The new twin is also the closed interval's "after": two holders.
      this.copies.hold(bytes);
      let own = this.snapshots.get(page);
      if (!own) this.snapshots.set(page, (own = new Map()));
      own.set(closed.interval, { before: closed.bytes, after: bytes });
      this.snapshotCount++;
    }
    this.twins.set(page, { bytes, interval });
    this.counters.twins++;
    this.dirty.add(page);
    if (speculative) this.speculative.add(page);
    this.port.setProtection(page, Protection.ReadWrite);
  }

  /**
   * Ends the open interval (parked): its pages become read-only; returns those written. A page
   * opened speculatively and left unchanged is dropped with its twin and gets no write notice,
   * unless it was opened here for the first time and single-writer pages are on: a first sweep
   * that writes values equal to the old ones (an initialisation writing zeros) would otherwise
   * leave its pages without a record, so never single-writer (lrc.ts), and every later sweep
   * would twin them again. Counting such a page as written at worst sends one needless notice,
   * with an empty diff.
   */
  closeInterval(): number[] {
    const written: number[] = [];
    // A sweep that rewrites equal values (a stencil's settled interior) leaves pages unchanged:
    // they stay in the sweep's pages, so the next sweep twins them ahead again instead of
    // faulting on each of them alone.
    const swept = new Set<number>();
    for (const page of this.dirty) {
      if (this.port.protection(page) === Protection.ReadWrite) this.port.setProtection(page, Protection.ReadOnly);
      swept.add(page);
      if (this.speculative.has(page) && !this.firstSweep.has(page) && this.unchanged(page)) continue;
      written.push(page);
    }
    this.dirty.clear();
    this.speculative.clear();
    this.firstSweep.clear();
    if (written.length > 0) this.recent = [this.recent[1], swept];
    return written;
  }

  /** Whether this node never opened `page` for writing (an owned page was: it was written here). */
  neverOpened(page: number): boolean {
    return !this.opened.has(page);
  }

  /** Whether this node wrote `page` in one of its last two intervals that wrote anything. */
  wroteRecently(page: number): boolean {
    return this.recent[0].has(page) || this.recent[1].has(page);
  }

  /** Pages opened for writing in this node's last two intervals with writes, ascending. */
  recentPages(): number[] {
    return [...new Set([...this.recent[0], ...this.recent[1]])].sort((a, b) => a - b);
  }

  /** The last page of the run of pages from `page` on that this node wrote lately, at most `max` pages. */
  recentRunEnd(page: number, max: number): number {
    let end = page;
    while (end + 1 < page + max && this.wroteRecently(end + 1)) end++;
    return end;
  }

  /** This node's diff of `page` in its closed interval `interval`, encoded now if needed; undefined when unknown. */
  diffOf(page: number, interval: number): WordDiff | undefined {
    const stored = this.diffs.get(page)?.get(interval);
    if (stored) return stored;
    const snapshot = this.snapshots.get(page)?.get(interval);
    if (snapshot) {
      this.snapshots.get(page)!.delete(interval);
      this.snapshotCount--;
      const diff = encodeWritten(snapshot.before, snapshot.after, this.take);
      this.copies.release(snapshot.before);
      this.copies.release(snapshot.after);
      return this.store(page, interval, diff);
    }
    const twin = this.twins.get(page);
    if (twin && twin.interval === interval && !this.dirty.has(page)) {
      this.twins.delete(page);
      const diff = encodeWritten(twin.bytes, this.port.page(page), this.take);
      this.copies.release(twin.bytes);
      return this.store(page, interval, diff);
    }
    return undefined;
  }

  /**
   * `page` was written by this node alone since the last barrier, and every other node now holds
   * it stale naming this node (lrc.ts, single-writer pages): it is written from now on with no
   * twin, no write fault and no notice, and its closed intervals' diffs, which nobody will ask
   * for, are dropped. Parked, with the interval closed.
   */
  own(page: number): void {
    if (this.dirty.has(page) || this.pending.has(page)) throw new LrcStateError(`page ${page}: taken as single-writer while it is open or has notices pending; only a page complete here can be`);
    const twin = this.twins.get(page);
    if (twin) {
      this.twins.delete(page);
      this.copies.release(twin.bytes);
    }
    const own = this.snapshots.get(page);
    if (own) {
      for (const { before, after } of own.values()) {
        this.copies.release(before);
        this.copies.release(after);
      }
      this.snapshotCount -= own.size;
      this.snapshots.delete(page);
    }
    for (const diff of this.diffs.get(page)?.values() ?? []) {
      this.diffBytes -= diff.bytes.byteLength;
      this.arena.free(diff.bytes);
    }
    this.diffs.delete(page);
    this.owned.add(page);
    this.port.setProtection(page, Protection.ReadWrite);
  }

  /** Whether `page` is written here with no twin and no notice (see {@link own}). */
  owns(page: number): boolean {
    return this.owned.has(page);
  }

  /**
   * Another node takes a copy of the owned `page`: from now on its writes are noticed again. It
   * becomes read-only, so the kernel's next write faults and twins it as any page's: what it
   * writes after this copy reaches the copy's holder as a diff, what it wrote before is in the
   * copy. Parked.
   */
  share(page: number): void {
    if (this.owned.delete(page)) this.port.setProtection(page, Protection.ReadOnly);
  }

  /** Records a write notice of another node for `page` and takes this node's access away. Parked. */
  notice(page: number, notice: WriteNotice): void {
    // Another writer fetched the page from here first, which shared it; kept as a safeguard.
    this.owned.delete(page);
    if (this.dirty.has(page)) throw new LrcStateError(`page ${page}: write notice while the page is in an open interval; close the interval first`);
    const twin = this.twins.get(page);
    if (twin) this.diffOf(page, twin.interval);
    let list = this.pending.get(page);
    if (!list) this.pending.set(page, (list = []));
    list.push(notice);
    this.pendingCount++;
    this.counters.writeNotices++;
    if (this.port.protection(page) !== Protection.None) {
      this.port.setProtection(page, Protection.None);
      this.counters.invalidations++;
    }
  }

  /** Notices of `page` not yet applied (undefined when its copy is current). */
  pendingOf(page: number): readonly WriteNotice[] | undefined {
    return this.pending.get(page);
  }

  /** The pending notices of `page` were applied. */
  applied(page: number): void {
    this.pendingCount -= this.pending.get(page)?.length ?? 0;
    this.pending.delete(page);
  }

  /**
   * Garbage collection, `page` not written here since the last one: its notices are dropped
   * unapplied, it keeps no access, and its complete copy is at `source` (parked).
   */
  markStale(page: number, source: number): void {
    if (this.dirty.has(page)) throw new LrcStateError(`page ${page}: marked stale while in an open interval; close the interval first`);
    this.owned.delete(page);
    this.applied(page);
    this.stale.set(page, source);
    if (this.port.protection(page) !== Protection.None) this.port.setProtection(page, Protection.None);
  }

  /** The node holding a complete copy of `page`, when the copy here is stale; else undefined. */
  staleSource(page: number): number | undefined {
    return this.stale.get(page);
  }

  /** `page` was installed whole from its stale source. */
  fresh(page: number): void {
    this.stale.delete(page);
  }

  /** Pages with notices not yet applied. */
  pendingPages(): number[] {
    return [...this.pending.keys()];
  }

  /**
   * Encodes the closed intervals kept as two copies into their diffs, when that pays: the first
   * {@link COMPACT_SAMPLE} show whether diffs are small (scattered writes, where compaction can
   * spare a garbage collection) or about a page each (a stencil rewriting whole pages, where it
   * would only delay a collection that drops them anyway: jacobi 2048², 2 nodes, 20 sweeps spent
   * 0.5 s of 3 s compacting). Returns whether it compacted everything.
   */
  compact(): boolean {
    let sampled = 0;
    let sampleBytes = 0;
    for (const [page, own] of this.snapshots) {
      for (const interval of [...own.keys()]) {
        const diff = this.diffOf(page, interval);
        if (sampled === COMPACT_SAMPLE) continue;
        sampleBytes += diff?.bytes.byteLength ?? 0;
        if (++sampled === COMPACT_SAMPLE && sampleBytes > COMPACT_SAMPLE * this.port.pageSize * COMPACT_WORTH) return false;
      }
    }
    return true;
  }

  /** Drops every diff, copy and closed interval's twin: nobody will ask for them (garbage collection). */
  collect(): void {
    if (this.pending.size > 0) throw new LrcStateError(`${this.pending.size} page(s) still have unapplied write notices; validate them before collecting`);
    for (const [page, twin] of [...this.twins]) {
      if (this.dirty.has(page)) continue;
      this.twins.delete(page);
      this.copies.release(twin.bytes);
    }
    for (const own of this.snapshots.values()) {
      for (const { before, after } of own.values()) {
        this.copies.release(before);
        this.copies.release(after);
      }
    }
    this.snapshots.clear();
    this.snapshotCount = 0;
    this.diffs.clear();
    this.arena.reset();
    this.diffBytes = 0;
  }

  private store(page: number, interval: number, diff: WordDiff): WordDiff {
    let own = this.diffs.get(page);
    if (!own) this.diffs.set(page, (own = new Map()));
    own.set(interval, diff);
    this.diffBytes += diff.bytes.byteLength;
    this.counters.diffsCreated++;
    return diff;
  }

  /** Whether a speculative twin shows `page` unwritten; if so the twin is dropped. */
  private unchanged(page: number): boolean {
    const twin = this.twins.get(page)!;
    if (!samePage(twin.bytes, this.port.page(page))) return false;
    this.twins.delete(page);
    this.copies.release(twin.bytes);
    return true;
  }
}
