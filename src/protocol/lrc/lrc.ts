/**
 * lrc — lazy release consistency with multiple writers (TreadMarks: Keleher, Cox, Dwarkadas,
 * Zwaenepoel, 1994). Several nodes may write one page at once; memory is made consistent only at
 * synchronisation, and only for the node that synchronises.
 *
 * Execution is split into intervals at every lock acquire, lock release and barrier; vector times
 * say which intervals a node has seen (release/intervals.ts). A write fault makes a twin of the page and
 * makes it read-write; when the interval ends its pages become read-only, and each page's diff (the
 * words it changed) is made lazily (lrc/pages.ts).
 *
 * Lock acquire (the SyncService's token locks, token_locks.ts, with this protocol's LockNotices):
 * the grant carries the write notices the acquirer lacks.
 *   A ── LockAcquire(id, {vt_A}) ──▶ manager(id) ── LockForward(A, vt_A) ──▶ B (last requester)
 *   B ── LockGrant(id, {vt_B, intervals A lacks}) ──▶ A: every page named is invalidated
 *   A lock this node held last is taken again with no message: no other node has released it
 *   since, so there is nothing new to learn through it.
 *
 * Barrier (barrier_manager.ts, node 0, through the SyncService's BarrierExchange):
 *   each node ── BarrierArrive({…, lrc: {vt, its own new intervals, gc?}}) ──▶ node 0
 *   node 0 ── BarrierRelease({…, lrc: {vt, the intervals that node lacks, gc}}) ──▶ each node
 *
 * Access miss on page p with write notices pending from writers W1 … Wk:
 *   node ── LrcDiffRequest([p, run of Wi's intervals]…) ──▶ Wi        (to every Wi at once)
 *   node ◀── LrcDiffReply([p, last interval of the run, merged diff]…) ── Wi
 *                                                     (a prefix when large: the node asks again)
 *   the notices of p, sorted in happens-before order, are grouped into runs of one writer that
 *   can be applied as one (release/intervals.ts mergeableRuns); each run comes as one diff merged by
 *   its writer; the runs are applied in order (several writers of one page merge: race-free
 *   writers change disjoint words); then p is read-only, or twinned and read-write for a write.
 *   Read-ahead (release/sweep.ts): a miss that continues a forward sweep also brings in the following
 *   pages whose writers are asked anyway, and a write fault that continues one twins the following
 *   up-to-date pages this node wrote in its last intervals, so a sweep costs a few faults.
 *
 * Access miss on a stale page p (left so by a collection, below): first the whole page from the
 * node the collection named (lrc/fetch.ts), then the diffs of p's pending notices as above.
 *   node ── LrcPageRequest(p) ──▶ source;  node ◀── LrcPageReply(p, bytes) ── source
 *
 * Single-writer pages (`singleWriter`, on by default): right after every barrier, every node
 * holds the same records of the epoch that just ended, so all agree on the pages one node alone
 * wrote in it. That node (the owner) keeps such a page writable with no twin: no write fault, no
 * diff and no notice while it is alone with the page (a stencil's own rows cost nothing per
 * sweep). Every other node drops the page's pending notices and holds it stale naming the owner,
 * as a collection does (below): its next access takes the whole page from the owner, which then
 * write-protects it, so that its later writes fault, twin and are noticed as any page's. The
 * owner's copy is complete: it validated the page before writing it, and nobody else wrote it
 * since. A copy the owner serves after its own barrier arrival, before it took its pages, went
 * to a node that already left the barrier: that page is not taken. Why the whole page is right
 * for a race-free reader is the collection's argument below.
 *   owner ── (writes p, no fault) ...   reader ── LrcPageRequest(p) ──▶ owner (p read-only now)
 * Under allocation placement the same holds from the start: a collective allocation's block k is
 * node k's (placement.ts), which writes it with no fault or twin, and every other node holds it
 * stale naming node k. Nobody has written a fresh page, so node k's copy (zeros) is complete. A
 * node behind the others may be asked for a page of its block before it allocates it: it serves
 * its zeros, which are right, and does not take that page at its allocation (the asker holds a
 * copy, so the page's writes must be noticed). A stencil's initialisation of its own rows then
 * costs nothing, as under ivy, instead of a twin, a notice and a classification per page.
 *
 * Garbage collection: when a node holds more than `gcBytes` of diffs, twins and records, its
 * barrier arrival says so; the release tells every node to collect. Right after that barrier every
 * node holds every interval record since the previous collection, the same set everywhere, so for
 * every page p they name the same writers W(p). A node in W(p) fetches p's pending diffs (its copy
 * ends complete). A node outside W(p) with notices of p pending drops them unapplied and marks p
 * stale, naming max(W(p)) as its source; a later collection that finds p written again names a new
 * source, otherwise the mark stays. Then all meet at one more barrier (nobody asks for a diff
 * after it) and drop every diff, closed twin and interval record.
 *   Why a race-free program still reads what it must: the source validated p at the collection,
 * so its copy then held every write to p made before it. A stale node that touches p later first
 * takes the source's bytes, then applies the notices it learnt since, in happens-before order. The
 * source's bytes may already hold writes made after the collection: those the node has notices of
 * are written again by their diffs (a diff sets words to their written values, and the diffs are
 * applied in happens-before order, so the newest known write of a word wins); those it has no
 * notice of are concurrent with it, and a race-free node does not read those words until it
 * synchronises, which brings their notices and invalidates p again. The node's own later diffs
 * hold only the words it writes, never the words it took from the source.
 *
 * Guarantee: a program free of data races (every conflicting pair of accesses ordered by locks or
 * barriers) sees sequential consistency. A racy program does not; lrc is not linearizable (a read
 * may return an old value long after another node's write). Not covered: crashed nodes; writes to
 * different bytes of one 32-bit word by different nodes between synchronisations (a race here).
 */
import { Access, Protection } from "../../abi.js";
import type { Coherence, PagePort, ProtocolStats } from "../coherence.js";
import { MessageKind, type DecodeContext } from "../codec.js";
import { Endpoint } from "../endpoint.js";
import { InvalidProtocolOptionError } from "../errors.js";
import { flow, Future, wait, type Flow } from "../future.js";
import { LoopScheduler } from "../scheduler.js";
import { IntervalStore, maxVt, noticeOf, releaseParts } from "../release/intervals.js";
import { ByteArena } from "../release/arena.js";
import { fetchAndApply, serveDiffs, servePage, type FetchContext } from "./fetch.js";
import { PREFETCH_PAGES, REOPEN_PAGES, Sweep } from "../release/sweep.js";
import { LrcPages } from "./pages.js";
import { forEachPage, pageRuns, type IntervalRecord, type LrcArrival, type LrcRelease } from "../release/wire.js";
import { createPlacement, type Placement } from "../placement.js";
import { checkedTimings, checkFaultRange, type ProtocolOptions } from "../protocol_options.js";
import { SyncService } from "../sync.js";

/** Bytes of diffs, twins and interval records a node holds before it asks for a collection. */
export const DEFAULT_GC_BYTES = 32 << 20;

export type LrcOptions = ProtocolOptions;

export class LrcProtocol implements Coherence {
  private readonly port: PagePort;
  private readonly endpoint: Endpoint;
  private readonly sync: SyncService;
  private readonly store: IntervalStore;
  private readonly pages: LrcPages;
  private readonly node: number;
  private readonly gcBytes: number;
  private readonly singleWriter: boolean;
  private readonly counters = {
    intervals: 0,
    writeNotices: 0,
    twins: 0,
    diffsCreated: 0,
    diffsApplied: 0,
    gcRuns: 0,
    invalidations: 0,
    diffRequests: 0,
    diffsSent: 0,
    diffBytes: 0,
    prefetched: 0,
    writeAhead: 0,
    reopened: 0,
    stalePages: 0,
    pagesFetched: 0,
    pagesSent: 0,
    ownedPages: 0,
    sharedPages: 0,
  };
  /** What fetchAndApply (lrc/fetch.ts) works with. */
  private readonly fetchContext: FetchContext;
  /** Read-ahead of misses (pages fetched) and of write faults (pages twinned), each on its own. */
  private readonly missAhead: Sweep;
  private readonly writeAhead: Sweep;
  /** Vector time after the previous barrier: every node has every interval up to it. */
  private lastBarrier: number[];
  /** The vector time after the barrier before it: the intervals in between are the last epoch's. */
  private epochStart: number[];
  /**
   * Pages this node served whole since its last barrier arrival, until it took its single-writer
   * pages: a node that left the barrier first may already hold a copy, so they are not taken.
   */
  private servedAtBarrier: Set<number> | undefined;
  /** Allocation placement, when single-writer pages are on and the run places by allocation: a block's pages start as its node's. */
  private readonly placement: Placement | undefined;
  /** Pages this node served before its kernel allocated them: not taken at the allocation (see the file comment). */
  private readonly servedUnplaced = new Set<number>();
  private gcDue = false;
  private collecting = false;
  private started = false;
  private early: (() => void)[] = [];

  constructor(options: LrcOptions) {
    const { port, transport, timeoutMs } = options;
    const { retryMs, syncTimeoutMs } = checkedTimings(options);
    const gcBytes = options.gcBytes ?? DEFAULT_GC_BYTES;
    if (!(gcBytes === Infinity || (Number.isInteger(gcBytes) && gcBytes >= 0))) throw new InvalidProtocolOptionError("gcBytes", gcBytes, "a byte count of at least 0");
    this.port = port;
    this.node = transport.nodeId;
    this.gcBytes = gcBytes;
    this.singleWriter = options.singleWriter ?? true;
    if (this.singleWriter && options.placement === "allocation") this.placement = createPlacement("allocation", { ...port, nodeCount: transport.nodeCount }, () => -1);
    this.store = new IntervalStore(this.node, transport.nodeCount);
    const lastPage = port.firstPage + port.pageCount - 1;
    this.missAhead = new Sweep(lastPage);
    this.writeAhead = new Sweep(lastPage);
    const decodeContext: DecodeContext = { nodeCount: transport.nodeCount, pageSize: port.pageSize, firstPage: port.firstPage, pageCount: port.pageCount };
    this.lastBarrier = this.store.vt.slice();
    this.epochStart = this.store.vt.slice();
    this.pages = new LrcPages(port, this.counters, this.singleWriter, Math.min(gcBytes, 64 << 20));
    this.endpoint = new Endpoint(transport, port, { job: options.job, retryMs, scheduler: options.scheduler ?? new LoopScheduler() });
    this.fetchContext = { endpoint: this.endpoint, port, pages: this.pages, decodeContext, replies: new ByteArena(), timeoutMs, counters: this.counters };
    this.sync = new SyncService(this.endpoint, {
      timeoutMs: syncTimeoutMs,
      checkpoints: options.checkpoints,
      exchange: {
        arrive: (final) => this.arrival(final),
        release: releaseParts,
        released: (part) => this.onRelease(part),
      },
      notices: {
        closeInterval: () => this.closeInterval(),
        vt: () => this.store.vt.slice(),
        // Every lrc acquire carries its vector time; one without knows nothing and gets everything.
        grantFor: (vt) => ({ vt: this.store.vt.slice(), intervals: this.store.missing(vt ?? new Array<number>(transport.nodeCount).fill(0)) }),
        apply: (grant) => this.learn(grant.intervals ?? []),
      },
    });
    const diffOf = (page: number, interval: number) => (interval <= this.store.vt[this.node] ? this.pages.diffOf(page, interval) : undefined);
    this.endpoint.on(MessageKind.LrcDiffRequest, (m) => this.afterStart(() => serveDiffs(this.endpoint, m, diffOf, port.pageSize, this.counters)));
    this.endpoint.on(MessageKind.LrcPageRequest, (m) =>
      this.afterStart(() => {
        this.counters.pagesSent++;
        this.servedAtBarrier?.add(m.page);
        if (this.placement?.pending(m.page)) this.servedUnplaced.add(m.page);
        if (this.pages.owns(m.page)) {
          this.pages.share(m.page);
          this.counters.sharedPages++;
        }
        servePage(this.endpoint, this.port, m);
      }),
    );
  }

  start(): void {
    const { firstPage, pageCount } = this.port;
    for (let p = firstPage; p < firstPage + pageCount; p++) this.port.setProtection(p, Protection.ReadOnly);
    this.started = true;
    const early = this.early;
    this.early = [];
    for (const handle of early) handle();
  }

  fault(first: number, last: number, access: Access): Future<void> {
    return Future.try(() => {
      this.endpoint.check();
      checkFaultRange(this.port, first, last);
      for (let p = first; p <= last; p++) if (this.port.protection(p) === Protection.None) return flow(this.faultSteps(first, last, access));
      // Every page is valid here (a write to read-only pages): decided at once, no message.
      this.open(first, last, access, this.againEnd(last, access));
    });
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
    const interval = this.store.vt[this.node] + 1;
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

  barrier(): Future<void> {
    return flow(this.barrierSteps());
  }

  private *barrierSteps(): Flow<void> {
    this.endpoint.check();
    yield* wait(this.sync.barrier());
    if (this.singleWriter) this.takeSingleWriters();
    if (this.gcDue) yield* this.collect();
    yield* this.reopenShared();
  }

  /**
   * Right after a barrier (parked), single-writer pages: every node holds the same records of the
   * epoch that just ended, so they agree on the pages one node alone wrote in it. That node keeps
   * such a page writable with no twin (LrcPages.own): no write fault, no diff, no notice while it
   * is alone with it. Every other node drops the page's pending notices and holds it stale naming
   * that node, as a collection does (file comment): its next access takes the whole page, and the
   * owner, asked for it, write-protects it then, so its writes are noticed again (LrcPages.share).
   * The owner's copy is complete: it validated the page before writing it, and no other node wrote
   * it since.
   */
  private takeSingleWriters(): void {
    const writers = new Map<number, number>();
    for (const record of this.store.since(this.epochStart)) {
      forEachPage(record.p, (page) => {
        const w = writers.get(page);
        writers.set(page, w === undefined || w === record.n ? record.n : -1);
      });
    }
    const served = this.servedAtBarrier;
    this.servedAtBarrier = undefined;
    for (const [page, writer] of writers) {
      if (writer < 0) continue;
      if (writer === this.node) {
        // A copy served after the arrival went to a node that already holds the page stale
        // naming this one: the page stays noticed, as if that node had asked a moment later.
        if (served?.has(page)) continue;
        this.pages.own(page);
        this.counters.ownedPages++;
      } else {
        this.pages.markStale(page, writer);
        this.counters.stalePages++;
      }
    }
  }

  /**
   * Right after a barrier, the kernel still parked: the pages this node wrote in its last
   * intervals that other nodes wrote too (write notices pending: false sharing, or a shared
   * boundary) are brought up to date now, one diff request per writer, and twinned and opened,
   * so that a phase loop rewriting them starts without a fault (and without the wake-up a fault
   * costs). A page the kernel leaves unwritten gets no write notice (LrcPages.closeInterval).
   * Pages only this node writes are left to the write sweep of the first fault.
   */
  private *reopenShared(): Flow<void> {
    const shared = this.pages.recentPages().filter((p) => this.pages.pendingOf(p) !== undefined && this.pages.staleSource(p) === undefined);
    if (shared.length === 0) return;
    const pages = shared.slice(0, REOPEN_PAGES);
    for (let k = 0; k < pages.length; k += PREFETCH_PAGES) yield* fetchAndApply(this.fetchContext, pages.slice(k, k + PREFETCH_PAGES), "write");
    const interval = this.store.vt[this.node] + 1;
    for (const p of pages) {
      if (this.port.protection(p) !== Protection.ReadOnly) continue;
      this.pages.openWrite(p, interval, true);
      this.counters.reopened++;
    }
  }

  lock(id: number): Future<void> {
    return this.sync.lock(id);
  }

  unlock(id: number): Future<void> {
    return this.sync.unlock(id);
  }

  allocated(address: number, bytes: number): void {
    this.sync.allocated(address, bytes);
    const placed = this.placement?.allocate(address, bytes);
    if (!placed) return;
    for (let p = placed.first; p <= placed.last; p++) {
      // Only a page untouched here: read-only since start(), no notices (a node could take a lock
      // before its allocation and learn of a page another node already wrote), not served early.
      if (this.port.protection(p) !== Protection.ReadOnly || this.pages.pendingOf(p) || this.pages.staleSource(p) !== undefined || this.servedUnplaced.delete(p)) continue;
      const owner = this.placement!.managerOf(p);
      if (owner === this.node) {
        this.pages.own(p);
        this.counters.ownedPages++;
      } else {
        this.pages.markStale(p, owner);
        this.counters.stalePages++;
      }
    }
  }

  finish(): Future<void> {
    try {
      this.endpoint.check();
    } catch (error) {
      return Future.rejected(error);
    }
    return this.sync.finish();
  }

  stats(): ProtocolStats {
    const c = this.endpoint.counters;
    return {
      ...this.counters,
      ...this.sync.lockCounters,
      heldBytes: this.heldBytes(),
      dropped: c.dropped,
      malformed: c.malformed,
      misdelivered: c.misdelivered,
      stale: c.stale,
      retries: c.retries,
    };
  }

  close(): void {
    this.endpoint.close();
  }

  /** Ends the open interval (parked); an interval that wrote pages gets a record. */
  private closeInterval(): void {
    const written = this.pages.closeInterval();
    if (written.length === 0) return;
    this.store.create(pageRuns(written));
    this.counters.intervals++;
  }

  /** Applies intervals learnt at an acquire or barrier: their write notices invalidate pages. */
  private learn(records: readonly IntervalRecord[]): void {
    for (const record of this.store.learn(records)) {
      const notice = noticeOf(record);
      forEachPage(record.p, (page) => this.pages.notice(page, notice));
    }
  }

  private heldBytes(): number {
    return this.pages.bytes + this.store.bytes;
  }

  private arrival(final: boolean): LrcArrival {
    this.closeInterval();
    this.servedAtBarrier = new Set();
    if (!final && this.heldBytes() > this.gcBytes) this.pages.compact();
    const gc = !final && !this.collecting && this.heldBytes() > this.gcBytes;
    return { vt: this.store.vt.slice(), intervals: this.store.ownSince(this.lastBarrier[this.node]), gc };
  }

  private onRelease(part: LrcRelease): void {
    this.learn(part.intervals);
    this.epochStart = this.lastBarrier;
    this.lastBarrier = maxVt(this.store.vt, part.vt);
    if (part.gc && !this.collecting) this.gcDue = true;
  }

  /**
   * Garbage collection, right after a barrier whose release asked for it: bring up to date the
   * pages this node wrote since the last collection, leave the others with pending notices stale
   * (see the file comment), wait until every node has (nobody will ask for a diff after that),
   * drop the history.
   */
  private *collect(): Flow<void> {
    this.gcDue = false;
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

  private afterStart(handle: () => void): void {
    if (this.started) return handle();
    if (this.early.length < 10_000) this.early.push(handle);
    else this.endpoint.dropStale();
  }
}

export { releaseParts };

export function createLrc(options: LrcOptions): Coherence {
  return new LrcProtocol(options);
}
