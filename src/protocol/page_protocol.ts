/**
 * What migrate, ivy and diff share on every node: the requester role (a fault asks the page's
 * manager, installs the reply, confirms), the copy-holder role (invalidation), the manager role
 * (directory.ts), the sync service, and the Coherence plumbing. Each protocol adds how a holder
 * answers a forward and how a requester installs a reply. When two roles of one exchange fall on
 * one node (a requester that manages the page, a manager that owns it), the message between them
 * stays inside that node (Endpoint's loopback) and never reaches the transport.
 *
 * Every node keeps, per page, the version of the copy it holds (or last held). Versions rise by
 * one per write transaction of the page, so a message about an older version is recognisably
 * stale:
 * - a forward is served only by the node whose version equals the forward's (a repeat of a
 *   served forward resends the same bytes, which the requester drops as a reply nobody waits for);
 * - an invalidation drops only copies no newer than its version.
 *
 * Parking: a fault's reply is installed inside `fault` (the kernel is parked). Incoming
 * invalidations and forwards that lower a protection or must read a page the kernel may be
 * writing run under `port.whenParked`; reading a page the kernel can only read needs no parking.
 * Messages that reach a node before `start` are held and handled right after it.
 *
 * A fault on one page completes inside the handling of its reply (the Future it returned settles
 * there); a fault on several pages asks for all of them at once.
 */
import { Access, Protection } from "../abi.js";
import type { Coherence, PagePort, ProtocolStats } from "./coherence.js";
import { MessageKind, readU32Payload, type Message } from "./codec.js";
import { Directory, type DirectoryEntry } from "./directory.js";
import { ConfirmQueue } from "./confirm_queue.js";
import { Endpoint } from "./endpoint.js";
import { PageTimeoutError, UnallocatedPageError } from "./errors.js";
import { all, DONE, flow, Future, wait, type Flow } from "./future.js";
import { ReadAhead } from "./read_ahead.js";
import { LoopScheduler, type Scheduler, type TimerHandle } from "./scheduler.js";
import { createPlacement, type Placement } from "./placement.js";
import { checkedTimings, checkFaultRange, type ProtocolOptions } from "./protocol_options.js";
export { checkedTimings, checkFaultRange, defaultRetryMs, type ProtocolOptions, type ProtocolTuning } from "./protocol_options.js";
import { SyncService } from "./sync.js";

/** Messages held before `start`; more are dropped (their senders retry). */
const MAX_EARLY = 10_000;

export interface PageRoles {
  /** The node that manages `page` under the "region" placement. */
  managerOf(page: number): number;
  /** Initial directory entry of a page this node manages. */
  initialEntry(page: number, manager: number): DirectoryEntry;
  /** A read fault asks for write access (the page moves instead of being copied). */
  readsMove: boolean;
  /** Reply kinds this protocol's holders send. */
  dataKinds: readonly MessageKind[];
  /**
   * A page this node was given for writing is not given away again for this many ms (Mirage's
   * window), so its kernel gets work done with it before another node takes it. @default 0
   */
  holdMs?: number;
  /** `install` only copies a reply's payload, never keeps it (Endpoint CallOptions.borrows). */
  installBorrows?: boolean;
}

export abstract class PageProtocol implements Coherence {
  protected readonly port: PagePort;
  protected readonly endpoint: Endpoint;
  protected readonly sync: SyncService;
  protected readonly directory: Directory;
  protected readonly node: number;
  protected readonly timeoutMs: number;
  protected readonly scheduler: Scheduler;
  /** Per region page (index page - firstPage): the version of the copy this node holds or last held. */
  protected readonly versions: Uint32Array;
  protected readonly counters = { invalidations: 0, pagesSent: 0, diffsSent: 0, diffBytes: 0, pageRequests: 0, upgrades: 0, rangeHolds: 0, readAhead: 0, holds: 0 };
  /** Read-ahead of read and of write faults, each on its own (read_ahead.ts); absent when off. */
  private readonly readAheadOf: ReadAhead | undefined;
  private readonly writeAhead: ReadAhead | undefined;
  private started = false;
  private early: (() => void)[] = [];
  /** Confirms sent and not yet acknowledged. */
  private readonly confirms = new Set<Future<void>>();
  /** Confirms of installed pages, sent off the fault's path (confirm_queue.ts). */
  private readonly confirmQueue: ConfirmQueue;
  /** Forwards waiting for the kernel to park or for a hold to end, so a repeat does not queue the same work twice. */
  private readonly forwardsWaiting = new Set<string>();
  /** See PageRoles.holdMs. */
  protected readonly holdMs: number;
  /** Per region page: scheduler.now() when this node last installed it for writing. */
  protected readonly installedAt: Float64Array;
  /** Forwards held by holdForward, and the timer that ends the hold. */
  private held: Message[] = [];
  private heldTimer: TimerHandle | undefined;
  /** A held forward is being handled again: it is served now. */
  protected releasing = false;
  private readonly placement: Placement;
  /** Requests for pages this node will manage once its kernel has allocated them (placement.ts). */
  private unplaced: Message[] = [];

  constructor(
    options: ProtocolOptions,
    protected readonly roles: PageRoles,
  ) {
    const { port, transport, timeoutMs } = options;
    const { retryMs, syncTimeoutMs } = checkedTimings(options);
    this.port = port;
    this.node = transport.nodeId;
    this.timeoutMs = timeoutMs;
    this.versions = new Uint32Array(port.pageCount);
    this.installedAt = new Float64Array(port.pageCount).fill(-Infinity);
    this.holdMs = options.holdMs ?? roles.holdMs ?? 0;
    this.scheduler = options.scheduler ?? new LoopScheduler();
    this.endpoint = new Endpoint(transport, port, { job: options.job, retryMs, scheduler: this.scheduler });
    this.confirmQueue = new ConfirmQueue(this.scheduler, () => this.endpoint.isClosed);
    this.sync = new SyncService(this.endpoint, { timeoutMs: syncTimeoutMs, checkpoints: options.checkpoints });
    this.placement = createPlacement(options.placement, { ...port, nodeCount: transport.nodeCount }, roles.managerOf);
    this.directory = new Directory(this.endpoint, { initial: (page) => roles.initialEntry(page, this.managerOf(page)) });
    if (options.readAhead ?? true) {
      // Where a read moves the page (migrate), reading ahead would take pages other nodes are
      // reading too, all at once: matmul's shared matrix on 8 nodes went from seconds to 40 s.
      if (!roles.readsMove) this.readAheadOf = new ReadAhead();
      this.writeAhead = new ReadAhead();
    }
    const managed = (handle: (m: Message) => void) => (m: Message) => this.onManaged(m, handle);
    this.endpoint.on(MessageKind.ReadRequest, managed((m) => this.directory.onRequest(m)));
    this.endpoint.on(MessageKind.WriteRequest, managed((m) => this.directory.onRequest(m)));
    this.endpoint.on(MessageKind.InvalidateAck, managed((m) => this.directory.onInvalidateAck(m)));
    this.endpoint.on(MessageKind.Confirm, managed((m) => this.directory.onConfirm(m)));
    this.endpoint.on(MessageKind.Invalidate, (m) => this.afterStart(() => this.onInvalidate(m)));
    this.endpoint.on(MessageKind.ReadForward, (m) => this.afterStart(() => this.serveForward(m, readU32Payload(m))));
    this.endpoint.on(MessageKind.WriteForward, (m) => this.afterStart(() => this.serveForward(m, readU32Payload(m))));
  }

  /** Protection of a region page before `run`. */
  protected abstract initialProtection(page: number): Protection;

  /**
   * Sets up a region page before `run`, and again when an allocation gives it its manager (see
   * reprotectPlaced): its protection, and whatever else the protocol keeps with it. Nobody has
   * touched the page yet: it holds zeros everywhere.
   */
  protected initializePage(page: number): void {
    this.port.setProtection(page, this.initialProtection(page));
  }
  /** Answers a ReadForward / WriteForward for a page this node holds at `msg.version`. */
  protected abstract serveForward(msg: Message, requesterVersion: number): void;
  /** Installs a fault's reply (PageData, DiffData or Grant); runs while the kernel is parked. */
  protected abstract install(page: number, reply: Message, write: boolean): void;
  /** Called (parked) right before an invalidation removes this node's copy. */
  protected beforeInvalidate(_page: number): void {}

  start(): void {
    const { firstPage, pageCount } = this.port;
    for (let p = firstPage; p < firstPage + pageCount; p++) this.initializePage(p);
    this.started = true;
    const early = this.early;
    this.early = [];
    for (const handle of early) handle();
  }

  fault(first: number, last: number, access: Access): Future<void> {
    try {
      this.checkFault(first, last);
    } catch (error) {
      return Future.rejected(error);
    }
    const ahead = this.aheadPages(first, last, access);
    if (first === last && ahead.length === 0) return this.faultOne(first, access);
    this.counters.readAhead += ahead.length;
    return flow(this.faultRange(first, last, access, ahead));
  }

  /**
   * The pages after `last` that this fault brings in too (read_ahead.ts): allocated, in the
   * region, and missing the access.
   */
  private aheadPages(first: number, last: number, access: Access): number[] {
    const predictor = access === Access.Write ? this.writeAhead : this.readAheadOf;
    if (!predictor) return [];
    const end = Math.min(predictor.next(first, last), this.port.firstPage + this.port.pageCount - 1);
    const pages: number[] = [];
    for (let p = last + 1; p <= end; p++) {
      if (this.placement.pending(p)) break;
      if (!allows(this.port.protection(p), access)) pages.push(p);
    }
    return pages;
  }

  /** A fault on one page: done inside the handling of the reply. */
  private faultOne(page: number, access: Access): Future<void> {
    if (allows(this.port.protection(page), access)) return DONE;
    const write = access === Access.Write || this.roles.readsMove;
    const done = new Future<void>();
    this.acquireNow(
      page,
      write,
      this.scheduler.now() + this.timeoutMs,
      (confirm) => {
        this.confirmQueue.add(page, confirm);
        done.resolve();
      },
      (error) => done.reject(error),
    );
    return done;
  }

  /** A fault on several pages, or with pages read ahead (asked for in the first pass only). */
  private *faultRange(first: number, last: number, access: Access, ahead: readonly number[]): Flow<void> {
    const write = access === Access.Write || this.roles.readsMove;
    const deadline = this.scheduler.now() + this.timeoutMs;
    // A page installed early in a multi-page fault may be taken away again (its transaction is
    // confirmed at once) while a later page arrives; repeat until all are accessible together.
    for (let pass = 0; ; pass++) {
      const missing: number[] = [];
      for (let p = first; p <= last; p++) if (!allows(this.port.protection(p), access)) missing.push(p);
      if (pass === 0) for (const p of ahead) if (!allows(this.port.protection(p), access)) missing.push(p);
      if (missing.length === 0) return;
      if (pass > 0 && this.roles.readsMove) {
        yield* this.acquireHeld(first, last, write, deadline);
        continue;
      }
      yield* wait(all(missing.map((p) => this.acquireConfirmed(p, write, deadline))));
    }
  }

  /** Fetches and installs a page, queueing its Confirm. */
  private acquireConfirmed(page: number, write: boolean, deadline: number): Future<void> {
    const done = new Future<void>();
    this.acquireNow(
      page,
      write,
      deadline,
      (confirm) => {
        this.confirmQueue.add(page, confirm);
        done.resolve();
      },
      (error) => done.reject(error),
    );
    return done;
  }

  /** Throws what keeps a fault on first..last from being asked for at all. */
  private checkFault(first: number, last: number): void {
    this.endpoint.check();
    checkFaultRange(this.port, first, last);
    // This node has made every allocation its kernel made; a page beyond them has no manager.
    for (let p = first; p <= last; p++) if (this.placement.pending(p)) throw new UnallocatedPageError(p, p * this.port.pageSize, this.node);
  }

  barrier(): Future<void> {
    this.releaseHeld();
    try {
      this.endpoint.check();
    } catch (error) {
      return Future.rejected(error);
    }
    this.confirmQueue.flush();
    return this.sync.barrier();
  }

  lock(id: number): Future<void> {
    this.releaseHeld();
    this.confirmQueue.flush();
    return this.sync.lock(id);
  }

  unlock(id: number): Future<void> {
    this.releaseHeld();
    this.confirmQueue.flush();
    return this.sync.unlock(id);
  }

  allocated(address: number, bytes: number): void {
    this.sync.allocated(address, bytes);
    const placed = this.placement.allocate(address, bytes);
    // Nobody touched these pages yet (a kernel uses a page only after allocating it, and a node
    // that allocated it earlier asked this node, which held the request): give them the
    // protection their new manager implies. The kernel is parked in its allocation.
    if (placed && this.reprotectPlaced) {
      for (let p = placed.first; p <= placed.last; p++) this.initializePage(p);
    }
    if (this.unplaced.length > 0) {
      const held = this.unplaced;
      this.unplaced = [];
      for (const m of held) this.endpoint.redeliver(m);
    }
  }

  /** The node that manages `page` now. */
  protected managerOf(page: number): number {
    return this.placement.managerOf(page);
  }

  /** Whether a page's initial protection depends on its manager (ivy, migrate). */
  protected get reprotectPlaced(): boolean {
    return true;
  }

  finish(): Future<void> {
    this.releaseHeld();
    this.confirmQueue.flush();
    return flow(this.finishSteps());
  }

  private *finishSteps(): Flow<void> {
    yield* wait(all([...this.confirms]));
    this.endpoint.check();
    yield* wait(this.sync.finish());
  }

  stats(): ProtocolStats {
    const c = this.endpoint.counters;
    return {
      ...this.counters,
      ...this.sync.lockCounters,
      dropped: c.dropped,
      malformed: c.malformed,
      misdelivered: c.misdelivered,
      stale: c.stale,
      retries: c.retries,
      queued: this.directory.queued,
    };
  }

  close(): void {
    this.endpoint.close();
  }

  protected index(page: number): number {
    return page - this.port.firstPage;
  }

  /** Sends a holder's reply to a forward: the whole page at `version`. */
  protected sendPage(msg: Message, write: boolean): void {
    this.endpoint.send(msg.arg, {
      kind: MessageKind.PageData,
      page: msg.page,
      version: msg.version,
      request: msg.request,
      arg: write ? 1 : 0,
      payload: this.port.page(msg.page),
    });
    this.counters.pagesSent++;
  }

  /** Runs `fn` parked; a failure is kept for the next call into the protocol. */
  protected parked(fn: () => void): void {
    this.port.whenParked(fn, (error) => this.endpoint.fail(error));
  }

  /** Runs a forward's work parked, once per forward however often the forward is repeated. */
  protected parkedForward(msg: Message, serve: () => void): void {
    const waiting = this.forwardsWaiting;
    if (waiting.size > 0 && waiting.has(forwardKey(msg))) return this.endpoint.dropStale();
    let served = false;
    this.parked(() => {
      served = true;
      if (waiting.size > 0) waiting.delete(forwardKey(msg));
      serve();
    });
    // Usually the kernel is parked and the work ran at once; otherwise remember it is waiting.
    if (!served) waiting.add(forwardKey(msg));
  }

  /**
   * Holds `msg` (a forward that would take a page away) while the kernel is still working with
   * the page (PagePort.working: at a poll or in a fault): until it reaches a barrier, a lock or
   * its end, or until `until` (a scheduler time) at the latest, which also bounds two nodes that
   * each hold a page the other faults on. False when the forward must be served now. Repeats
   * meanwhile are dropped as stale.
   */
  protected holdForward(msg: Message, until: number): boolean {
    if (this.port.working?.() !== true || this.scheduler.now() >= until) return false;
    const key = forwardKey(msg);
    if (this.forwardsWaiting.has(key)) {
      this.endpoint.dropStale();
      return true;
    }
    this.forwardsWaiting.add(key);
    this.counters.holds++;
    this.held.push(msg);
    if (this.held.length === 1) this.heldTimer = this.scheduler.at(until, this.releaseHeld);
    return true;
  }

  /** Serves the forwards held by holdForward: the kernel reached a sync call, or a hold ran out. */
  private readonly releaseHeld = (): void => {
    if (this.held.length === 0) return;
    const held = this.held;
    this.held = [];
    if (this.heldTimer) this.scheduler.cancel(this.heldTimer);
    this.heldTimer = undefined;
    for (const msg of held) {
      this.forwardsWaiting.delete(forwardKey(msg));
      this.releasing = true;
      try {
        this.endpoint.redeliver(msg);
      } finally {
        this.releasing = false;
      }
    }
  };

  /** Lowers a page to None, counting it. Only while parked. */
  protected dropCopy(page: number): void {
    if (this.port.protection(page) === Protection.None) return;
    this.port.setProtection(page, Protection.None);
    this.counters.invalidations++;
  }

  /** Hands a manager's message to `handle`, holds it until the kernel allocates the page, or drops it. */
  private onManaged(m: Message, handle: (m: Message) => void): void {
    // Held even when the region mapping names this node: the allocation may name another, and
    // a transaction started now would be undone when the allocation sets the page's protection.
    if (this.placement.pending(m.page)) {
      if (this.unplaced.length < MAX_EARLY) this.unplaced.push(m);
      else this.endpoint.dropStale();
      return;
    }
    if (this.managerOf(m.page) === this.node) return handle(m);
    this.endpoint.dropMisdelivered();
  }

  private afterStart(handle: () => void): void {
    if (this.started) return handle();
    if (this.early.length < MAX_EARLY) this.early.push(handle);
    else this.endpoint.dropStale();
  }

  private onInvalidate(msg: Message): void {
    const { page } = msg;
    const i = this.index(page);
    // A copy newer than the invalidation's version came from a later transaction: keep it.
    if (this.versions[i] > msg.version) return this.endpoint.dropStale();
    const ack = () => this.endpoint.send(msg.source, { kind: MessageKind.InvalidateAck, page, version: msg.version, request: msg.request, arg: msg.arg });
    if (this.port.protection(page) === Protection.None) return ack();
    this.parked(() => {
      if (this.versions[i] <= msg.version && this.port.protection(page) !== Protection.None) {
        this.beforeInvalidate(page);
        this.dropCopy(page);
      }
      ack();
    });
  }

  /**
   * When every access moves the page (migrate), nodes that each need the same two pages at once
   * could pass them round forever: each page is confirmed, and so forwarded on, while the other is
   * still on its way. Here every page of the range is taken in ascending order and its Confirm held
   * back until all are present, so the managers start no next transaction on them meanwhile. No
   * deadlock: a node waits only while holding lower pages, and a parked node still serves forwards
   * of pages it does not hold back.
   */
  private *acquireHeld(first: number, last: number, write: boolean, deadline: number): Flow<void> {
    this.counters.rangeHolds++;
    const held: [number, () => void][] = [];
    try {
      for (let p = first; p <= last; p++) held.push([p, yield* wait(this.acquire(p, write, deadline))]);
    } finally {
      for (const [p, send] of held) this.confirmQueue.add(p, send);
    }
  }

  /** Fetches a page (or permission) from its manager and installs it; returns its Confirm. */
  private acquire(page: number, write: boolean, deadline: number): Future<() => void> {
    const installed = new Future<() => void>();
    this.acquireNow(
      page,
      write,
      deadline,
      (confirm) => installed.resolve(confirm),
      (error) => installed.reject(error),
    );
    return installed;
  }

  /** {@link acquire} with callbacks, called inside the handling of the reply. */
  private acquireNow(page: number, write: boolean, deadline: number, installed: (confirm: () => void) => void, failed: (error: Error) => void): void {
    // The manager serves this page's next transaction only after the last one's Confirm.
    if (this.confirmQueue.has(page)) this.confirmQueue.flush();
    const manager = this.managerOf(page);
    const access = write ? 1 : 0;
    this.counters.pageRequests++;
    this.endpoint.exchange(
      manager,
      { kind: write ? MessageKind.WriteRequest : MessageKind.ReadRequest, page, version: this.versions[this.index(page)] },
      {
        replies: this.roles.dataKinds,
        accept: (m) => m.page === page && m.arg === access,
        timeoutMs: Math.max(1, deadline - this.scheduler.now()),
        timeout: () => new PageTimeoutError(page, manager, write ? "write" : "read", this.timeoutMs),
        borrows: this.roles.installBorrows,
      },
      (reply) => {
        try {
          if (reply.kind === MessageKind.Grant) this.counters.upgrades++;
          this.install(page, reply, write);
        } catch (error) {
          return failed(error as Error);
        }
        const version = this.versions[this.index(page)];
        installed(() => this.confirm(manager, page, reply.request, access, version));
      },
      failed,
    );
  }

  /** Tells the manager the transaction is done; retried in the background, failure kept. */
  private confirm(manager: number, page: number, request: number, access: number, version: number): void {
    const done = new Future<void>();
    this.confirms.add(done);
    const settled = (): void => {
      this.confirms.delete(done);
      done.resolve();
    };
    this.endpoint.exchange(
      manager,
      { kind: MessageKind.Confirm, page, request, arg: access, version },
      {
        replies: [MessageKind.ConfirmAck],
        accept: (m) => m.page === page,
        timeoutMs: this.timeoutMs,
        timeout: () => new PageTimeoutError(page, manager, access ? "write" : "read", this.timeoutMs),
      },
      settled,
      (error) => {
        this.endpoint.fail(error);
        settled();
      },
    );
  }
}

/** Identifies a forward however often it is repeated. */
function forwardKey(msg: Message): string {
  return `${msg.page}:${msg.arg}:${msg.request}`;
}

/** Whether protection `p` allows `access`. */
export function allows(p: Protection, access: Access): boolean {
  return access === Access.Write ? p === Protection.ReadWrite : p !== Protection.None;
}
