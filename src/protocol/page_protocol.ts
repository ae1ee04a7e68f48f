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
 * there); a fault on several pages asks for all of them at once. The requester role lives in
 * page_requester.ts, forwards that wait for the kernel in forward_holds.ts, copies dropped and
 * pages pushed at barriers in barrier_copies.ts, pages handed over with locks in lock_pages.ts.
 */
import { Access, Protection } from "../abi.js";
import type { Coherence, PagePort, ProtocolStats } from "./coherence.js";
import { BarrierCopies } from "./barrier_copies.js";
import { confirmEntries, MessageKind, readU32Payload, type Message } from "./codec.js";
import { Directory, type DirectoryEntry } from "./directory.js";
import { Endpoint } from "./endpoint.js";
import { ForwardHolds } from "./forward_holds.js";
import { DONE, flow, Future, wait, type Flow } from "./future.js";
import { PageRequester } from "./page_requester.js";
import { LoopScheduler, type Scheduler } from "./scheduler.js";
import { createPlacement, type Placement } from "./placement.js";
import { checkedTimings, type ProtocolOptions } from "./protocol_options.js";
export { checkedTimings, checkFaultRange, defaultRetryMs, type ProtocolOptions, type ProtocolTuning } from "./protocol_options.js";
import { LockPagesRole } from "./lock_pages.js";
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
  protected readonly counters = { invalidations: 0, pagesSent: 0, diffsSent: 0, diffBytes: 0, pageRequests: 0, upgrades: 0, rangeHolds: 0, readAhead: 0, holds: 0, relinquished: 0, pagesPushed: 0, pushesUsed: 0, pushesUnused: 0, pagesHandedOver: 0, pagesTaken: 0 };
  private started = false;
  private early: (() => void)[] = [];
  /** The requester role: faults, their replies and Confirms (page_requester.ts). */
  private readonly requester: PageRequester;
  /** Forwards waiting for the kernel to park or for a hold to end (forward_holds.ts). */
  private readonly forwards: ForwardHolds;
  /** See PageRoles.holdMs. */
  protected readonly holdMs: number;
  /** Per region page: scheduler.now() when this node last installed it for writing. */
  protected readonly installedAt: Float64Array;
  private readonly placement: Placement;
  /** Requests for pages this node will manage once its kernel has allocated them (placement.ts). */
  private unplaced: Message[] = [];
  /** Copies dropped and pages pushed at barriers (barrier_copies.ts). */
  private readonly copies: BarrierCopies;
  /** Pages whose ownership moves with lock grants (lock_pages.ts); absent when off. */
  private readonly lockPages: LockPagesRole | undefined;

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
    if (options.lockPages ?? transport.leavesProcess === true) {
      this.lockPages = new LockPagesRole({
        node: this.node,
        managerOf: (page) => this.managerOf(page),
        writing: (page) => this.port.protection(page) === Protection.ReadWrite,
        version: (page) => this.versions[this.index(page)]!,
        bytes: (page) => this.port.page(page),
        handOver: (page, from, version, to) => this.directory.handOver(page, from, version, to),
        giveUp: (page) => {
          this.beforeInvalidate(page);
          this.dropCopy(page);
        },
        take: (page, version, payload) => {
          this.install(page, { kind: MessageKind.PageData, job: 0, source: this.node, target: this.node, page, version, request: 0, arg: 1, payload }, true);
          this.copies.installed(page, undefined, true);
        },
        counters: this.counters,
      });
    }
    this.sync = new SyncService(this.endpoint, {
      timeoutMs: syncTimeoutMs,
      checkpoints: options.checkpoints,
      peerBarriers: options.peerBarriers ?? transport.leavesProcess === true,
      lockPages: this.lockPages,
    });
    this.placement = createPlacement(options.placement, { ...port, nodeCount: transport.nodeCount }, roles.managerOf);
    this.directory = new Directory(this.endpoint, { initial: (page) => roles.initialEntry(page, this.managerOf(page)) });
    this.requester = new PageRequester(
      { port, endpoint: this.endpoint, scheduler: this.scheduler, placement: this.placement, timeoutMs, versions: this.versions, counters: this.counters, readAhead: options.readAhead },
      {
        readsMove: roles.readsMove,
        dataKinds: roles.dataKinds,
        installBorrows: roles.installBorrows,
        managerOf: (page) => this.managerOf(page),
        install: (page, reply, write) => {
          this.install(page, reply, write);
          this.copies.installed(page, reply, write);
          if (write) this.lockPages?.written(page);
        },
      },
    );
    this.copies = new BarrierCopies({
      port,
      endpoint: this.endpoint,
      directory: this.directory,
      versions: this.versions,
      pushes: !roles.readsMove && (options.pushes ?? transport.leavesProcess === true),
      managerOf: (page) => this.managerOf(page),
      install: (page, reply) => this.install(page, reply, false),
      drop: (page) => {
        this.beforeInvalidate(page);
        this.dropCopy(page);
      },
      endWrite: (page) => this.endPushedWrite(page),
      diffFrom: (page, base) => this.pushedDiff(page, base),
      counters: this.counters,
    });
    this.forwards = new ForwardHolds(this.endpoint, port, this.scheduler, (fn) => this.parked(fn), () => this.counters.holds++);
    const managed = (handle: (m: Message) => void) => (m: Message) => this.onManaged(m, handle);
    this.endpoint.on(MessageKind.ReadRequest, managed((m) => this.directory.onRequest(m)));
    this.endpoint.on(MessageKind.WriteRequest, managed((m) => this.directory.onRequest(m)));
    this.endpoint.on(MessageKind.InvalidateAck, managed((m) => this.directory.onInvalidateAck(m)));
    this.endpoint.on(
      MessageKind.Confirm,
      (m) =>
        this.onConfirms(
          m,
          managed((c) => {
            this.directory.onConfirm(c);
            this.copies.confirmed(c.page, c.source);
          }),
        ),
    );
    const relinquished = managed((c) => this.copies.relinquished(c));
    this.endpoint.on(MessageKind.Relinquish, (m) => {
      for (const c of confirmEntries(m)) relinquished(c);
    });
    this.endpoint.on(MessageKind.Invalidate, (m) => this.afterStart(() => this.onInvalidate(m)));
    const pushed = (m: Message) => this.afterStart(() => this.parked(() => this.copies.onPush(m)));
    this.endpoint.on(MessageKind.PagePush, pushed);
    this.endpoint.on(MessageKind.DiffPush, pushed);
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
    if (access === Access.Read && this.copies.usePushes(first, last)) return DONE;
    return this.requester.fault(first, last, access);
  }

  barrier(): Future<void> {
    this.forwards.release();
    try {
      this.endpoint.check();
    } catch (error) {
      return Future.rejected(error);
    }
    this.requester.flush();
    this.copies.atBarrier();
    return this.sync.barrier();
  }

  /** Ends this node's write access to a page it pushes (parked): read-only, like a read forward's owner. */
  protected endPushedWrite(page: number): void {
    if (this.port.protection(page) === Protection.ReadWrite) this.port.setProtection(page, Protection.ReadOnly);
  }

  /** What a push of `page` to a node holding version `base` carries: a diff from there, or null for the whole page. */
  protected pushedDiff(_page: number, _base: number): Uint8Array | null {
    return null;
  }

  lock(id: number): Future<void> {
    this.forwards.release();
    this.requester.flush();
    this.lockPages?.locking(id);
    return this.sync.lock(id);
  }

  unlock(id: number): Future<void> {
    this.forwards.release();
    this.requester.flush();
    this.lockPages?.unlocking(id);
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
    this.forwards.release();
    this.requester.flush();
    return flow(this.finishSteps());
  }

  private *finishSteps(): Flow<void> {
    yield* wait(this.requester.confirmed());
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
      relinquishApplied: this.directory.relinquished,
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
    this.forwards.serveParked(msg, serve);
  }

  /** Holds a forward while the kernel works with the page, until `until` at the latest (ForwardHolds.hold). */
  protected holdForward(msg: Message, until: number): boolean {
    return this.forwards.hold(msg, until);
  }

  /** A held forward is being handled again: it is served now. */
  protected get releasing(): boolean {
    return this.forwards.releasing;
  }

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

  /**
   * A Confirm message: each transaction it confirms (confirm_queue.ts), then one ConfirmAck. As
   * for a lone Confirm, none is answered while one of its pages waits for its allocation (held
   * until then) or is not managed here: the requester sends it again, and the entries applied
   * already are stale then.
   */
  private onConfirms(m: Message, confirm: (c: Message) => void): void {
    let applied = true;
    for (const c of confirmEntries(m)) {
      if (this.placement.pending(c.page) || this.managerOf(c.page) !== this.node) applied = false;
      confirm(c);
    }
    if (applied) this.endpoint.send(m.source, { kind: MessageKind.ConfirmAck, page: m.page, request: m.request, arg: m.arg });
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
    this.copies.invalidating(page);
    if (this.port.protection(page) === Protection.None) return ack();
    this.parked(() => {
      if (this.versions[i] <= msg.version && this.port.protection(page) !== Protection.None) {
        this.beforeInvalidate(page);
        this.dropCopy(page);
        this.copies.invalidated(page);
      }
      ack();
    });
  }
}
