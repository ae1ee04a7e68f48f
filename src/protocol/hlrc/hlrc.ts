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
import { MessageKind, type DecodeContext, type Message } from "../codec.js";
import { Endpoint } from "../endpoint.js";
import { PageTimeoutError, UnallocatedPageError } from "../errors.js";
import { all, flow, Future, wait, type Flow } from "../future.js";
import { createPlacement, type Placement } from "../placement.js";
import { checkedTimings, checkFaultRange, type ProtocolOptions } from "../protocol_options.js";
import { LoopScheduler } from "../scheduler.js";
import { SyncService } from "../sync.js";
import { ByteArena } from "../release/arena.js";
import { PageCopies } from "../release/copies.js";
import { IntervalStore, maxVt, releaseParts } from "../release/intervals.js";
import { PREFETCH_PAGES, REOPEN_PAGES, Sweep } from "../release/sweep.js";
import { encodeIntervalDiffs, forEachPage, pageRuns, type IntervalDiff, type IntervalRecord, type LrcArrival, type LrcRelease } from "../release/wire.js";
import { encodeWritten, samePage } from "../release/word_diff.js";
import { MAX_PAGES_PAYLOAD } from "../codec_checks.js";
import type { HlrcPageRequestBody } from "./wire.js";
import { HomeRole, MAX_HELD } from "./home.js";

export type HlrcOptions = ProtocolOptions;

export class HlrcProtocol implements Coherence {
  private readonly port: PagePort;
  private readonly endpoint: Endpoint;
  private readonly sync: SyncService;
  private readonly store: IntervalStore;
  private readonly placement: Placement;
  private readonly node: number;
  private readonly nodeCount: number;
  private readonly timeoutMs: number;
  private readonly decodeContext: DecodeContext;
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
    trackedPages: 0,
    homeWaits: 0,
    writeAhead: 0,
    reopened: 0,
  };
  private readonly copies: PageCopies;
  /** An interval's diffs, between their encoding and their flush (closeInterval). */
  private readonly diffArena = new ByteArena();
  private readonly takeDiff = (bytes: number) => this.diffArena.take(bytes);
  /** Pages written in the open interval. */
  private readonly dirty = new Set<number>();
  /**
   * Twins of the open interval's pages written away from their homes, and of pages opened ahead
   * of the kernel (at their home too: there the twin only tells whether the kernel wrote it).
   */
  private readonly twins = new Map<number, Uint8Array>();
  /** Pages this node opened for writing in its last interval that wrote anything. */
  private recent = new Set<number>();
  /** Per page: writer → the newest interval of its writes this node's copy lacks. */
  private readonly need = new Map<number, Map<number, number>>();
  /** The master copies of the pages homed here (home.ts). */
  private readonly home: HomeRole;
  /** Writer role: per home, the last interval flushed to it. */
  private readonly flushed: number[];
  /** Flushes not yet acknowledged. */
  private readonly inFlight = new Set<Future<Message>>();
  private readonly missAhead: Sweep;
  private readonly writeAhead: Sweep;
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
    this.nodeCount = transport.nodeCount;
    this.timeoutMs = timeoutMs;
    this.store = new IntervalStore(this.node, this.nodeCount);
    this.copies = new PageCopies(port.pageSize);
    this.flushed = new Array<number>(this.nodeCount).fill(0);
    this.lastBarrier = this.store.vt.slice();
    this.olderBarrier = this.store.vt.slice();
    this.missAhead = new Sweep(port.firstPage + port.pageCount - 1);
    this.writeAhead = new Sweep(port.firstPage + port.pageCount - 1);
    const first = port.firstPage;
    const nodes = this.nodeCount;
    this.placement = createPlacement(options.placement, { ...port, nodeCount: nodes }, (page) => (page - first) % nodes);
    this.decodeContext = { nodeCount: nodes, pageSize: port.pageSize, firstPage: port.firstPage, pageCount: port.pageCount };
    this.endpoint = new Endpoint(transport, port, { job: options.job, retryMs, scheduler: options.scheduler ?? new LoopScheduler() });
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
        grantFor: (vt) => ({ vt: this.store.vt.slice(), intervals: this.store.missing(vt ?? new Array<number>(nodes).fill(0)) }),
        apply: (grant) => this.learn(grant.intervals ?? []),
      },
    });
    this.home = new HomeRole({
      port,
      endpoint: this.endpoint,
      placement: this.placement,
      node: this.node,
      nodeCount: nodes,
      timeoutMs,
      decodeContext: this.decodeContext,
      counters: this.counters,
      dirty: (page) => this.dirty.has(page),
    });
    this.endpoint.on(MessageKind.HlrcPageRequest, (m) => this.afterStart(() => this.home.onPageRequest(m)));
    this.endpoint.on(MessageKind.HlrcFlush, (m) => this.afterStart(() => this.home.onFlush(m)));
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
      for (let p = first; p <= last; p++) if (this.port.protection(p) === Protection.None) return flow(this.faultSteps(first, last, access));
      // Every page is valid here (a write to read-only pages): decided at once, no message.
      this.open(first, last, access, this.againEnd(last, access));
    });
  }

  /**
   * A write to a page this node wrote in its last interval is likely a sweep over them again: the
   * last of them within PREFETCH_PAGES after it. Gaps do not end the sweep unless `gaps` is false:
   * a node's rows dealt cyclically (LU) leave every third page to another node, and stopping
   * there cost a write fault per row (147,000 per node on LU 768, 8,000 without).
   */
  private againEnd(last: number, access: Access, gaps = true): number {
    let again = last;
    if (access !== Access.Write) return again;
    for (let p = last + 1; p < last + PREFETCH_PAGES; p++) {
      if (this.recent.has(p)) again = p;
      else if (!gaps) break;
    }
    return again;
  }

  private *faultSteps(first: number, last: number, access: Access): Flow<void> {
    const misses: number[] = [];
    for (let p = first; p <= last; p++) if (this.port.protection(p) === Protection.None) misses.push(p);
    // Pages are fetched for the unbroken run only: a gap is another node's page, not to be fetched.
    yield* this.validate(misses, Math.max(this.againEnd(last, access, false), this.missAhead.next(first, last)), access);
    this.open(first, last, access, this.againEnd(last, access));
  }

  /** The faulted pages, valid now, get the access asked for; a write sweep opens the pages ahead. */
  private open(first: number, last: number, access: Access, again: number): void {
    for (let p = first; p <= last; p++) {
      if (access === Access.Write) {
        if (this.port.protection(p) !== Protection.ReadWrite) this.openWrite(p, false);
      } else if (this.port.protection(p) === Protection.None) {
        this.port.setProtection(p, Protection.ReadOnly);
      }
    }
    // A write sweep: the valid pages ahead that this node wrote last time are opened now too. One
    // the kernel leaves unwritten leaves no notice (closeInterval compares it with its twin).
    if (access === Access.Write) {
      const end = Math.max(again, this.writeAhead.next(first, last));
      for (let p = last + 1; p <= end; p++) {
        if (this.port.protection(p) === Protection.ReadOnly && this.recent.has(p)) {
          this.openWrite(p, true);
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
    yield* this.reopen();
  }

  /**
   * Right after a barrier, the kernel still parked: the pages this node wrote in its last
   * interval that other nodes wrote too (invalidated by their notices: false sharing, a shared
   * boundary) are brought up to date, one request per home, and opened for writing, so that a
   * phase loop rewriting them starts without a fault per page. One the kernel leaves unwritten
   * leaves no notice. Pages only this node writes are left to the write sweep of the first fault
   * (a phase that wrote them once, e.g. an initialisation, does not twin them all again).
   */
  private *reopen(): Flow<void> {
    if (this.recent.size === 0) return;
    const pages = [...this.recent].filter((p) => this.port.protection(p) === Protection.None && !this.placement.pending(p)).sort((a, b) => a - b).slice(0, REOPEN_PAGES);
    if (pages.length === 0) return;
    yield* this.validate(pages, pages[pages.length - 1], Access.Write);
    for (const p of pages) {
      if (this.port.protection(p) !== Protection.ReadOnly) continue;
      this.openWrite(p, true);
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
    this.closeInterval();
    yield* wait(all([...this.inFlight]));
    yield* wait(this.sync.finish());
  }

  stats(): ProtocolStats {
    const c = this.endpoint.counters;
    return {
      ...this.counters,
      ...this.sync.lockCounters,
      heldBytes: this.store.bytes + this.twins.size * this.port.pageSize,
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

  private homeOf(page: number): number {
    return this.placement.managerOf(page);
  }

  /** A page nobody has touched: read-write at its home (untracked), no access elsewhere. */
  private initializePage(page: number): void {
    this.port.setProtection(page, this.homeOf(page) === this.node ? Protection.ReadWrite : Protection.None);
  }

  /**
   * Starts writing a valid page in the open interval (parked). `speculative`: opened ahead of the
   * kernel, which may not write it.
   */
  private openWrite(page: number, speculative: boolean): void {
    if (!this.dirty.has(page)) {
      this.dirty.add(page);
      if (speculative || this.homeOf(page) !== this.node) {
        this.twins.set(page, this.copies.copy(this.port.page(page)));
        this.counters.twins++;
      }
    }
    this.port.setProtection(page, Protection.ReadWrite);
  }

  /**
   * Ends the open interval (parked): its pages become read-only, the diffs of pages written away
   * from their homes go to the homes, and an interval that wrote anything gets a record.
   */
  private closeInterval(): void {
    if (this.dirty.size === 0) return;
    const written: number[] = [];
    const opened = new Set<number>();
    const byHome = new Map<number, IntervalDiff[]>();
    for (const page of this.dirty) {
      if (this.port.protection(page) === Protection.ReadWrite) this.port.setProtection(page, Protection.ReadOnly);
      // Kept for the next sweep even when unchanged (a stencil's settled interior rewrites equal
      // values): it is opened ahead again rather than faulted on alone.
      opened.add(page);
      const twin = this.twins.get(page);
      if (!twin) {
        written.push(page);
        continue;
      }
      const home = this.homeOf(page);
      if (home === this.node) {
        // Opened ahead at its home: the twin only says whether the kernel wrote it.
        if (!samePage(twin, this.port.page(page))) written.push(page);
        this.copies.release(twin);
        continue;
      }
      const diff = encodeWritten(twin, this.port.page(page), this.takeDiff);
      this.copies.release(twin);
      if (diff.bytes.byteLength === 0) continue; // written with the values it held: nothing to tell
      this.counters.diffsCreated++;
      written.push(page);
      let list = byHome.get(home);
      if (!list) byHome.set(home, (list = []));
      list.push({ page, interval: 0, diff });
    }
    this.dirty.clear();
    this.twins.clear();
    if (written.length === 0) return this.diffArena.reset();
    this.recent = opened;
    const record = this.store.create(pageRuns(written));
    this.counters.intervals++;
    for (const [home, entries] of byHome) this.flush(home, record.i, entries);
    this.diffArena.reset(); // the flushes copied the diffs
  }

  /** Sends one interval's diffs to `home`, resending until acknowledged. */
  private flush(home: number, interval: number, entries: IntervalDiff[]): void {
    for (const e of entries) e.interval = interval;
    const payload = encodeIntervalDiffs(entries);
    const previous = this.flushed[home];
    this.flushed[home] = interval;
    this.counters.flushes++;
    this.counters.diffsSent += entries.length;
    this.counters.diffBytes += payload.byteLength;
    const ack = this.endpoint.call(
      home,
      { kind: MessageKind.HlrcFlush, version: interval, arg: previous, payload },
      {
        replies: [MessageKind.HlrcFlushAck],
        accept: (m) => m.version === interval,
        timeoutMs: this.timeoutMs,
        timeout: () => new PageTimeoutError(entries[0].page, home, "write", this.timeoutMs),
      },
    );
    this.inFlight.add(ack);
    ack.then(
      () => this.inFlight.delete(ack),
      (error) => {
        this.inFlight.delete(ack);
        this.endpoint.fail(error);
      },
    );
  }

  /** Applies intervals learnt at an acquire or barrier: their write notices invalidate pages. */
  private learn(records: readonly IntervalRecord[]): void {
    for (const record of this.store.learn(records)) {
      const writer = record.n;
      const interval = record.i;
      forEachPage(record.p, (page) => this.notice(page, writer, interval));
    }
  }

  private notice(page: number, writer: number, interval: number): void {
    this.counters.writeNotices++;
    // At the home, a flush applied already holds the write.
    if (this.homeOf(page) === this.node && this.home.hasApplied(writer, interval)) return;
    let need = this.need.get(page);
    if (!need) this.need.set(page, (need = new Map()));
    if ((need.get(writer) ?? 0) < interval) need.set(writer, interval);
    if (this.port.protection(page) !== Protection.None) {
      this.port.setProtection(page, Protection.None);
      this.counters.invalidations++;
    }
  }

  private arrival(_final: boolean): LrcArrival {
    this.closeInterval();
    return { vt: this.store.vt.slice(), intervals: this.store.ownSince(this.lastBarrier[this.node]), gc: false };
  }

  private onRelease(part: LrcRelease): void {
    this.learn(part.intervals);
    // Every node passed the previous barrier, so every node has every record up to it, and no
    // lock grant will be asked for from a vector time older than it.
    this.store.collectUpTo(this.olderBarrier);
    this.olderBarrier = this.lastBarrier;
    this.lastBarrier = maxVt(this.store.vt, part.vt);
  }

  /**
   * Brings `faulted` (no access here) up to date (parked): pages homed here once the flushes their
   * notices name are applied; the others fetched from their homes, one request per home, with the
   * pages up to `end` that this node has no copy of and that the same home holds.
   */
  private *validate(faulted: readonly number[], end: number, access: Access): Flow<void> {
    const mode = access === Access.Write ? "write" : "read";
    const byHome = new Map<number, number[]>();
    for (const p of faulted) {
      const home = this.homeOf(p);
      let list = byHome.get(home);
      if (!list) byHome.set(home, (list = []));
      list.push(p);
    }
    const waits: Future<void>[] = [];
    for (const [home, pages] of byHome) {
      if (home === this.node) {
        for (const p of pages) waits.push(flow(this.untilApplied(p, mode)));
        continue;
      }
      const batch = [...pages];
      const lastAsked = pages[pages.length - 1];
      for (let p = lastAsked + 1; p <= end && batch.length < MAX_PAGES_PAYLOAD; p++) {
        if (this.port.protection(p) !== Protection.None || this.placement.pending(p) || this.homeOf(p) !== home) break;
        batch.push(p);
      }
      this.counters.prefetched += batch.length - pages.length;
      for (let k = 0; k < batch.length; k += MAX_PAGES_PAYLOAD) waits.push(this.fetch(home, batch.slice(k, k + MAX_PAGES_PAYLOAD), mode));
    }
    yield* wait(all(waits));
  }

  /** Fetches `pages` from `home` and installs them read-only. */
  private fetch(home: number, pages: number[], mode: "read" | "write"): Future<void> {
    const need = new Map<number, number>();
    // This node's own earlier writes to these pages must be in the copy it gets back.
    if (this.flushed[home] > 0) need.set(this.node, this.flushed[home]);
    for (const p of pages) for (const [w, i] of this.need.get(p) ?? []) if ((need.get(w) ?? 0) < i) need.set(w, i);
    const body: HlrcPageRequestBody = { pages, need: [...need] };
    const page = pages[0];
    const done = new Future<void>();
    this.endpoint.exchange(
      home,
      { kind: MessageKind.HlrcPageRequest, page, body },
      {
        replies: [MessageKind.HlrcPageReply],
        accept: (m) => m.page === page && m.payload.byteLength === pages.length * this.port.pageSize,
        timeoutMs: this.timeoutMs,
        timeout: () => new PageTimeoutError(page, home, mode, this.timeoutMs),
        borrows: true,
      },
      (reply) => {
        const size = this.port.pageSize;
        pages.forEach((p, k) => {
          // A page validated meanwhile (an earlier reply of an overlapping batch) keeps its copy.
          if (this.port.protection(p) !== Protection.None) return;
          this.port.page(p).set(reply.payload.subarray(k * size, (k + 1) * size));
          this.need.delete(p);
          this.port.setProtection(p, Protection.ReadOnly);
          this.counters.pagesFetched++;
        });
        done.resolve();
      },
      (error) => done.reject(error),
    );
    return done;
  }

  /** The home's own kernel: `page` is valid once the flushes its notices name are applied here. */
  private *untilApplied(page: number, mode: "read" | "write"): Flow<void> {
    const need = this.need.get(page);
    if (need) yield* wait(this.home.untilApplied(page, need, mode));
    this.need.delete(page);
    if (this.port.protection(page) === Protection.None) this.port.setProtection(page, Protection.ReadOnly);
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
