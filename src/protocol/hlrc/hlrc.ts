/**
 * hlrc — home-based lazy release consistency (Zhou, Iftode & Li, OSDI 1996). The same intervals,
 * vector times and write notices as lrc (lrc/lrc.ts, release/intervals.ts), and the same
 * guarantee; what differs is where the writes go. Every page has a home (placement.ts: the
 * allocation's block, or the region's round-robin), whose copy is the master:
 *
 *   write fault, home:      the page is read-write; no twin (writes land in the master copy)
 *   write fault, elsewhere: twin := copy of the page; the page is read-write
 *   interval closes (lock, unlock, barrier): written pages become read-only; each page written
 *     away from its home is diffed against its twin at once, and the interval's diffs go to their
 *     homes, one message per home; the writer keeps nothing
 *       writer ── HlrcFlush(interval i, previous interval flushed to that home, diffs) ──▶ home
 *       writer ◀── HlrcFlushAck(i) ── home          (the writer resends until it comes)
 *     the home applies one writer's flushes in the order made (`arg` names the one before)
 *   write notices travel with lock grants and barrier releases as in lrc; a notice of another
 *     node's write invalidates the page (at its home too, until that writer's flush is applied)
 *   access miss on p away from its home: the whole page from the home, in one exchange
 *       node ── HlrcPageRequest([p, pages read ahead], need) ──▶ home(p)
 *       node ◀── HlrcPageReply(the pages) ── home(p)
 *     `need` names, per writer, the newest interval whose writes the copy must hold (the notices
 *     of the pages, and this node's own last flush to that home); the home answers once it has
 *     applied those flushes.
 *   over links that leave the process (NATS) and in one process with more nodes than cores, a lock grant from a page's home carries the master
 *     copies of pages its notices name (grant_pages.ts): the acquirer's access then sends nothing;
 *     and a home arriving at a barrier pushes the pages it wrote to the nodes that fetched them
 *     (pushes.ts): their misses after the barrier install the pushed copy and send nothing
 *
 * No diff history, so no garbage collection of diffs; interval records are dropped one barrier
 * after they were made (every node has them by then, and none asks for older ones).
 *
 * A page only its home has a copy of needs no write notices: a node that has no copy fetches the
 * master copy, which holds every write. So the home writes its pages without faults until another
 * node first fetches one; from then on that page is tracked (read-only at the start of each of
 * the home's intervals, so its writes fault once and get notices). A Jacobi node's own rows stay
 * untracked; only the rows its neighbours read cost a fault per interval.
 *
 * Guarantee: as lrc's — a program free of data races sees sequential consistency; a racy one
 * does not, and hlrc is not linearizable. Not covered: crashed nodes; writes to different bytes
 * of one 32-bit word by different nodes between synchronisations.
 */
import { Access, Protection } from "../../abi.js";
import type { Coherence, PagePort, ProtocolStats } from "../coherence.js";
import { MessageKind, type DecodeContext } from "../codec.js";
import { Endpoint } from "../endpoint.js";
import { UnallocatedPageError } from "../errors.js";
import { flow, Future, wait, type Flow } from "../future.js";
import { createPlacement, type Placement } from "../placement.js";
import { checkedTimings, checkFaultRange, type ProtocolOptions } from "../protocol_options.js";
import { LoopScheduler } from "../scheduler.js";
import { SyncService } from "../sync.js";
import { IntervalStore, maxVt, releaseParts } from "../release/intervals.js";
import { forEachPage, type IntervalRecord, type LrcArrival, type LrcRelease } from "../release/wire.js";
import { FaultPath } from "./faults.js";
import { FetchRole } from "./fetch.js";
import type { LockGrantBody } from "../sync_wire.js";
import { GrantPagesRole } from "./grant_pages.js";
import { HomeRole, MAX_HELD } from "./home.js";
import { PushRole } from "./pushes.js";
import { WriterRole } from "./writer.js";

export type HlrcOptions = ProtocolOptions;

/**
 * Composes hlrc's roles on one node: the writer (writer.ts: twins, diffs, flushes), the home
 * (home.ts: master copies, applying flushes, serving pages), the fetch role (fetch.ts: write
 * notices, fetching pages) and the fault path (faults.ts: what a fault opens). It owns what ties
 * them to synchronisation: closing intervals, learning notices, and dropping old records.
 */
export class HlrcProtocol implements Coherence {
  private readonly port: PagePort;
  private readonly endpoint: Endpoint;
  private readonly sync: SyncService;
  private readonly store: IntervalStore;
  private readonly placement: Placement;
  private readonly node: number;
  private readonly counters = {
    intervals: 0,
    writeNotices: 0,
    twins: 0,
    diffsCreated: 0,
    diffsApplied: 0,
    flushes: 0,
    invalidations: 0,
    pagesFetched: 0,
    pagesSent: 0,
    diffsSent: 0,
    diffBytes: 0,
    prefetched: 0,
    pagesPushed: 0,
    pushesUsed: 0,
    pushesDeclined: 0,
    trackedPages: 0,
    homeWaits: 0,
    writeAhead: 0,
    reopened: 0,
  };
  private readonly writer: WriterRole;
  /** The master copies of the pages homed here. */
  private readonly home: HomeRole;
  private readonly fetcher: FetchRole;
  private readonly grantPages: GrantPagesRole;
  /** Pushes of written pages at barriers (pushes.ts; ProtocolTuning.pushes): over NATS, and in one process with more nodes than cores. */
  private readonly pushes: PushRole | undefined;
  /** Whether this node's lock grants carry pages (grant_pages.ts; ProtocolTuning.lockPages): as pushes. */
  private readonly pagesInGrants: boolean;
  private readonly faults: FaultPath;
  /** Vector time after the previous barrier, and after the one before it. */
  private lastBarrier: number[];
  private olderBarrier: number[];
  private started = false;
  private early: (() => void)[] = [];

  constructor(options: HlrcOptions) {
    const { port, transport, timeoutMs } = options;
    const { retryMs, syncTimeoutMs } = checkedTimings(options);
    this.port = port;
    this.node = transport.nodeId;
    const nodes = transport.nodeCount;
    this.store = new IntervalStore(this.node, nodes);
    this.lastBarrier = this.store.vt.slice();
    this.olderBarrier = this.store.vt.slice();
    const first = port.firstPage;
    this.placement = createPlacement(options.placement, { ...port, nodeCount: nodes }, (page) => (page - first) % nodes);
    const decodeContext: DecodeContext = { nodeCount: nodes, pageSize: port.pageSize, firstPage: port.firstPage, pageCount: port.pageCount };
    this.endpoint = new Endpoint(transport, port, { job: options.job, retryMs, scheduler: options.scheduler ?? new LoopScheduler() });
    this.sync = new SyncService(this.endpoint, {
      timeoutMs: syncTimeoutMs,
      checkpoints: options.checkpoints,
      peerBarriers: options.peerBarriers ?? transport.leavesProcess === true,
      exchange: {
        arrive: (final) => this.arrival(final),
        release: releaseParts,
        released: (part) => this.onRelease(part),
      },
      notices: {
        closeInterval: () => this.writer.closeInterval(),
        vt: () => this.store.vt.slice(),
        grantFor: (vt) => {
          const intervals = this.store.missing(vt ?? new Array<number>(nodes).fill(0));
          const grant: LockGrantBody = { vt: this.store.vt.slice(), intervals };
          const homePages = this.pagesInGrants ? this.grantPages.attach(intervals) : undefined;
          if (homePages) grant.homePages = homePages;
          return grant;
        },
        apply: (grant, from) => {
          this.learn(grant.intervals ?? []);
          if (grant.homePages) this.grantPages.apply(from, grant.homePages);
        },
      },
    });
    const { endpoint, placement, node, store, counters } = this;
    const writer = new WriterRole({ port, endpoint, placement, store, node, nodeCount: nodes, timeoutMs, counters });
    const home = new HomeRole({
      port,
      endpoint,
      placement,
      node,
      nodeCount: nodes,
      timeoutMs,
      decodeContext,
      counters,
      dirty: (page) => writer.isDirty(page),
      served: (to, pages) => this.pushes?.served(to, pages),
    });
    const pushes = (options.pushes ?? transport.leavesProcess === true) ? new PushRole({ port, endpoint, placement, node, nodeCount: nodes, timeoutMs, home, ownInterval: () => store.vt[node]!, counters }) : undefined;
    const fetcher = new FetchRole({ port, endpoint, placement, home, node, nodeCount: nodes, timeoutMs, counters, lastFlushedTo: (to) => writer.lastFlushedTo(to), pushes });
    this.pushes = pushes;
    this.writer = writer;
    this.home = home;
    this.fetcher = fetcher;
    this.grantPages = new GrantPagesRole({ placement, node, home, fetcher, ownInterval: () => store.vt[node]!, lastFlushedTo: (to) => writer.lastFlushedTo(to), counters });
    this.pagesInGrants = options.lockPages ?? transport.leavesProcess === true;
    this.faults = new FaultPath({ port, placement, writer, fetcher, counters });
    this.endpoint.on(MessageKind.HlrcPageRequest, (m) => this.afterStart(() => this.home.onPageRequest(m)));
    this.endpoint.on(MessageKind.HlrcFlush, (m) => this.afterStart(() => this.home.onFlush(m)));
    if (pushes) {
      this.endpoint.on(MessageKind.HlrcPush, (m) => this.afterStart(() => pushes.onPush(m)));
      this.endpoint.on(MessageKind.HlrcPushDecline, (m) => this.afterStart(() => pushes.onDecline(m)));
    }
  }

  start(): void {
    const { firstPage, pageCount } = this.port;
    for (let p = firstPage; p < firstPage + pageCount; p++) this.initializePage(p);
    this.started = true;
    const early = this.early;
    this.early = [];
    for (const handle of early) handle();
  }

  fault(first: number, last: number, access: Access): Future<void> {
    return Future.try(() => {
      this.endpoint.check();
      checkFaultRange(this.port, first, last);
      for (let p = first; p <= last; p++) if (this.placement.pending(p)) throw new UnallocatedPageError(p, p * this.port.pageSize, this.node);
      return this.faults.fault(first, last, access);
    });
  }

  barrier(): Future<void> {
    return flow(this.barrierSteps());
  }

  private *barrierSteps(): Flow<void> {
    this.endpoint.check();
    yield* wait(this.sync.barrier());
    yield* this.faults.reopen();
  }

  lock(id: number): Future<void> {
    return this.sync.lock(id);
  }

  unlock(id: number): Future<void> {
    return this.sync.unlock(id);
  }

  allocated(address: number, bytes: number): void {
    this.sync.allocated(address, bytes);
    const placed = this.placement.allocate(address, bytes);
    // Nobody has touched these pages yet (a kernel uses a page only after allocating it, and a
    // request from a node ahead was held): their home has them, the others fetch them.
    if (placed) for (let p = placed.first; p <= placed.last; p++) this.initializePage(p);
    this.home.allocated();
  }

  finish(): Future<void> {
    return flow(this.finishSteps());
  }

  private *finishSteps(): Flow<void> {
    this.endpoint.check();
    // The last interval's diffs reach their homes before the final barrier, so no flush is
    // still being resent when the nodes close.
    this.writer.closeInterval();
    yield* wait(this.writer.acknowledged());
    yield* wait(this.sync.finish());
  }

  stats(): ProtocolStats {
    const c = this.endpoint.counters;
    return {
      ...this.counters,
      ...this.sync.lockCounters,
      heldBytes: this.store.bytes + this.writer.twinBytes,
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

  /** A page nobody has touched: read-write at its home (untracked), no access elsewhere. */
  private initializePage(page: number): void {
    this.port.setProtection(page, this.placement.managerOf(page) === this.node ? Protection.ReadWrite : Protection.None);
  }

  /** Applies intervals learnt at an acquire or barrier: their write notices invalidate pages. */
  private learn(records: readonly IntervalRecord[]): void {
    for (const record of this.store.learn(records)) {
      const writer = record.n;
      const interval = record.i;
      forEachPage(record.p, (page) => this.fetcher.notice(page, writer, interval));
    }
  }

  private arrival(final: boolean): LrcArrival {
    this.writer.closeInterval();
    const intervals = this.store.ownSince(this.lastBarrier[this.node]);
    // Sent before the arrival, so they reach each node before this node's arrival does (order per
    // sender), and so before that node's release when this node manages the barrier or there is
    // no manager (peer_barriers.ts).
    if (!final) this.pushes?.atArrival(intervals);
    return { vt: this.store.vt.slice(), intervals, gc: false };
  }

  private onRelease(part: LrcRelease): void {
    this.learn(part.intervals);
    // Every node passed the previous barrier, so every node has every record up to it, and no
    // lock grant will be asked for from a vector time older than it.
    this.store.collectUpTo(this.olderBarrier);
    this.olderBarrier = this.lastBarrier;
    this.lastBarrier = maxVt(this.store.vt, part.vt);
  }

  private afterStart(handle: () => void): void {
    if (this.started) return handle();
    if (this.early.length < MAX_HELD) this.early.push(handle);
    else this.endpoint.dropStale();
  }
}

export function createHlrc(options: HlrcOptions): Coherence {
  return new HlrcProtocol(options);
}
