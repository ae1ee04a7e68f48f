/**
 * lrc — lazy release consistency with multiple writers (TreadMarks: Keleher, Cox, Dwarkadas,
 * Zwaenepoel, 1994). Several nodes may write one page at once; memory is made consistent only at
 * synchronisation, and only for the node that synchronises.
 *
 * Execution is split into intervals at every lock acquire, lock release and barrier; vector times
 * say which intervals a node has seen (release/intervals.ts; lrc/interval_exchange.ts sends and
 * learns them). A write fault makes a twin of the page and makes it read-write; when the interval
 * ends its pages become read-only, and each page's diff (the words it changed) is made lazily
 * (lrc/pages.ts).
 *
 * Lock acquire (the SyncService's token locks, token_locks.ts, with this protocol's LockNotices):
 * the grant carries the write notices the acquirer lacks, and B's own diffs of them when few
 * (lrc/grant_diffs.ts: Keleher's lazy hybrid).
 *   A ── LockAcquire(id, {vt_A}) ──▶ manager(id) ── LockForward(A, vt_A) ──▶ B (last requester)
 *   B ── LockGrant(id, {vt_B, intervals A lacks, B's diffs}) ──▶ A: every page named is
 *        invalidated, then brought up to date at once where B's diffs cover all its notices
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
 *   Read-ahead (read_ahead.ts, lrc/page_faults.ts): a miss that continues a forward sweep
 *   also brings in the following pages whose writers are asked anyway, and a write fault that
 *   continues one twins the following up-to-date pages this node wrote in its last intervals, so
 *   a sweep costs a few faults.
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
 * (lrc/single_writer.ts)
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
 * (lrc/garbage_collector.ts)
 *
 * Guarantee: a program free of data races (every conflicting pair of accesses ordered by locks or
 * barriers) sees sequential consistency. A racy program does not; lrc is not linearizable (a read
 * may return an old value long after another node's write). Not covered: crashed nodes; writes to
 * different bytes of one 32-bit word by different nodes between synchronisations (a race here).
 */
import { Protection, type Access } from "../../abi.js";
import type { Coherence, PagePort, ProtocolStats } from "../coherence.js";
import { MessageKind, type DecodeContext } from "../codec.js";
import { Endpoint } from "../endpoint.js";
import { InvalidProtocolOptionError } from "../errors.js";
import { flow, Future, wait, type Flow } from "../future.js";
import { LoopScheduler } from "../scheduler.js";
import { IntervalStore, releaseParts } from "../release/intervals.js";
import { ByteArena } from "../release/arena.js";
import type { LrcArrival, LrcRelease } from "../release/wire.js";
import { checkedTimings, checkFaultRange, type ProtocolOptions } from "../protocol_options.js";
import { SyncService } from "../sync.js";
import { serveDiffs, servePage, type FetchContext } from "./fetch.js";
import { GarbageCollector } from "./garbage_collector.js";
import { IntervalExchange } from "./interval_exchange.js";
import { PageFaults } from "./page_faults.js";
import { GrantDiffs } from "./grant_diffs.js";
import { LrcPages } from "./pages.js";
import { SingleWriterPages } from "./single_writer.js";

/** Bytes of diffs, twins and interval records a node holds before it asks for a collection. */
export const DEFAULT_GC_BYTES = 32 << 20;

export type LrcOptions = ProtocolOptions;

export class LrcProtocol implements Coherence {
  private readonly port: PagePort;
  private readonly endpoint: Endpoint;
  private readonly sync: SyncService;
  private readonly store: IntervalStore;
  private readonly pages: LrcPages;
  private readonly intervals: IntervalExchange;
  private readonly faults: PageFaults;
  private readonly collector: GarbageCollector;
  /** Present when single-writer pages are on. */
  private readonly singleWriters: SingleWriterPages | undefined;
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
  private started = false;
  private early: (() => void)[] = [];

  constructor(options: LrcOptions) {
    const { port, transport, timeoutMs } = options;
    const { retryMs, syncTimeoutMs } = checkedTimings(options);
    const gcBytes = options.gcBytes ?? DEFAULT_GC_BYTES;
    if (!(gcBytes === Infinity || (Number.isInteger(gcBytes) && gcBytes >= 0))) throw new InvalidProtocolOptionError("gcBytes", gcBytes, "a byte count of at least 0");
    const node = transport.nodeId;
    const singleWriter = options.singleWriter ?? true;
    this.port = port;
    this.store = new IntervalStore(node, transport.nodeCount);
    this.pages = new LrcPages(port, this.counters, singleWriter, Math.min(gcBytes, 64 << 20));
    if (singleWriter) this.singleWriters = new SingleWriterPages(port, this.pages, node, transport.nodeCount, options.placement, this.counters);
    // This node's diff of a closed interval of its own (the open one has none yet).
    const diffOf = (page: number, interval: number) => (interval <= this.store.vt[node] ? this.pages.diffOf(page, interval) : undefined);
    this.intervals = new IntervalExchange(this.store, this.pages, this.counters, new GrantDiffs(port, this.pages, node, diffOf, this.counters));
    const decodeContext: DecodeContext = { nodeCount: transport.nodeCount, pageSize: port.pageSize, firstPage: port.firstPage, pageCount: port.pageCount };
    this.endpoint = new Endpoint(transport, port, { job: options.job, retryMs, scheduler: options.scheduler ?? new LoopScheduler() });
    const fetchContext: FetchContext = { endpoint: this.endpoint, port, pages: this.pages, decodeContext, replies: new ByteArena(), timeoutMs, counters: this.counters };
    this.sync = new SyncService(this.endpoint, {
      timeoutMs: syncTimeoutMs,
      checkpoints: options.checkpoints,
      peerBarriers: options.peerBarriers ?? transport.leavesProcess === true,
      exchange: {
        arrive: (final) => this.arrival(final),
        release: releaseParts,
        released: (part) => this.onRelease(part),
      },
      notices: this.intervals,
    });
    this.collector = new GarbageCollector(this.store, this.pages, fetchContext, this.sync, gcBytes, this.counters);
    this.faults = new PageFaults(port, this.pages, this.store, fetchContext, this.counters);
    this.endpoint.on(MessageKind.LrcDiffRequest, (m) => this.afterStart(() => serveDiffs(this.endpoint, m, diffOf, port.pageSize, this.counters)));
    this.endpoint.on(MessageKind.LrcPageRequest, (m) =>
      this.afterStart(() => {
        this.counters.pagesSent++;
        this.singleWriters?.served(m.page);
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
      return this.faults.fault(first, last, access);
    });
  }

  barrier(): Future<void> {
    return flow(this.barrierSteps());
  }

  private *barrierSteps(): Flow<void> {
    this.endpoint.check();
    yield* wait(this.sync.barrier());
    this.singleWriters?.take(this.intervals.lastEpoch());
    if (this.collector.due) yield* this.collector.collect();
    yield* this.faults.reopenShared();
  }

  lock(id: number): Future<void> {
    return this.sync.lock(id);
  }

  unlock(id: number): Future<void> {
    return this.sync.unlock(id);
  }

  allocated(address: number, bytes: number): void {
    this.sync.allocated(address, bytes);
    this.singleWriters?.allocated(address, bytes);
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
      heldBytes: this.collector.heldBytes(),
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

  private arrival(final: boolean): LrcArrival {
    const { vt, intervals } = this.intervals.arrive();
    this.singleWriters?.arrived();
    return { vt, intervals, gc: this.collector.arrived(final) };
  }

  private onRelease(part: LrcRelease): void {
    this.intervals.released(part);
    this.collector.released(part.gc);
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
