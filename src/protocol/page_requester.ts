/**
 * The requester role of migrate, ivy and diff (page_protocol.ts): a fault asks each missing page's
 * manager, installs the reply inside its handling (the kernel is parked in the fault), and confirms
 * the transaction to the manager afterwards.
 *
 *   R ── ReadRequest / WriteRequest(page, version R holds) ──▶ M   (… the holder answers R)
 *   R: install(reply) — the fault's Future settles here
 *   R ── Confirm ──▶ M ── ConfirmAck ──▶ R                       (off the fault's path)
 *
 * Confirms wait in a ConfirmQueue until the node's next poll or wait, and go as one message per
 * manager, however many pages the fault brought; they go at once before the node asks for a page
 * whose Confirm is still queued (its manager would hold the request), and before a sync call
 * (PageRequester.flush). A fault on several pages, or with pages read ahead
 * (read_ahead.ts), asks for all of them at once.
 *
 * It is a part of the protocol object, separate so that the protocol's other roles (manager,
 * copy holder, sync) do not share its state: the protocol supplies how a reply is installed.
 */
import { Access, Protection } from "../abi.js";
import type { PagePort } from "./coherence.js";
import { confirmsPayload, MessageKind, type ConfirmEntry, type Message } from "./codec.js";
import { ConfirmQueue, type QueuedConfirm } from "./confirm_queue.js";
import type { Endpoint } from "./endpoint.js";
import { PageTimeoutError, UnallocatedPageError } from "./errors.js";
import { all, DONE, flow, Future, wait, type Flow } from "./future.js";
import type { Placement } from "./placement.js";
import { checkFaultRange } from "./protocol_options.js";
import { NO_PAGES, READ_AHEAD_PAGES, ReadAhead, StrideAhead } from "./read_ahead.js";
import type { Scheduler } from "./scheduler.js";

/** What the protocol tells its requester. */
export interface RequesterRoles {
  /** A read fault asks for write access (the page moves instead of being copied). */
  readsMove: boolean;
  /** Reply kinds this protocol's holders send. */
  dataKinds: readonly MessageKind[];
  /** `install` only copies a reply's payload, never keeps it (Endpoint CallOptions.borrows). */
  installBorrows?: boolean;
  /** The node that manages `page` now. */
  managerOf(page: number): number;
  /** Installs a fault's reply (PageData, DiffData or Grant); runs while the kernel is parked. */
  install(page: number, reply: Message, write: boolean): void;
}

export interface RequesterOptions {
  port: PagePort;
  endpoint: Endpoint;
  scheduler: Scheduler;
  placement: Placement;
  /** Bound on a fault, in ms. */
  timeoutMs: number;
  /** Per region page: the version of the copy this node holds or last held (the protocol's). */
  versions: Uint32Array;
  /** The protocol's counters this role adds to. */
  counters: { pageRequests: number; upgrades: number; rangeHolds: number; readAhead: number };
  /** Read ahead of read and of write faults. @default true */
  readAhead?: boolean;
}

export class PageRequester {
  /** Read-ahead of read and of write faults, each on its own (read_ahead.ts); absent when off. */
  private readonly readAheadOf: ReadAhead | undefined;
  private readonly writeAhead: ReadAhead | undefined;
  /** Strided read-ahead of read and of write faults (read_ahead.ts), beside the two above. */
  private readonly readStride: StrideAhead | undefined;
  private readonly writeStride: StrideAhead | undefined;
  /** Confirm messages sent and not yet acknowledged (or failed). */
  private unconfirmed = 0;
  /** What {@link confirmed} handed out, resolved when `unconfirmed` reaches 0. */
  private allConfirmed: Future<void> | undefined;
  /** Confirms of installed pages, sent off the fault's path (confirm_queue.ts). */
  private readonly confirmQueue: ConfirmQueue;
  private readonly port: PagePort;
  private readonly endpoint: Endpoint;
  private readonly scheduler: Scheduler;
  private readonly node: number;

  constructor(
    private readonly options: RequesterOptions,
    private readonly roles: RequesterRoles,
  ) {
    ({ port: this.port, endpoint: this.endpoint, scheduler: this.scheduler } = options);
    this.node = this.endpoint.node;
    this.confirmQueue = new ConfirmQueue(
      this.scheduler,
      () => this.endpoint.isClosed,
      (manager, entries, count) => this.confirm(manager, entries, count),
    );
    if (options.readAhead ?? true) {
      // Where a read moves the page (migrate), reading ahead would take pages other nodes are
      // reading too, all at once: matmul's shared matrix on 8 nodes went from seconds to 40 s.
      const lastPage = this.port.firstPage + this.port.pageCount - 1;
      if (!roles.readsMove) {
        this.readAheadOf = new ReadAhead(lastPage, READ_AHEAD_PAGES + 1);
        this.readStride = new StrideAhead(lastPage, READ_AHEAD_PAGES + 1);
      }
      this.writeAhead = new ReadAhead(lastPage, READ_AHEAD_PAGES + 1);
      this.writeStride = new StrideAhead(lastPage, READ_AHEAD_PAGES + 1);
    }
  }

  fault(first: number, last: number, access: Access): Future<void> {
    try {
      this.checkFault(first, last);
    } catch (error) {
      return Future.rejected(error);
    }
    const ahead = this.aheadPages(first, last, access);
    if (first === last && ahead.length === 0) return this.faultOne(first, access);
    this.options.counters.readAhead += ahead.length;
    return flow(this.faultRange(first, last, access, ahead));
  }

  /** Sends the queued Confirms now (before a sync call or the end). */
  flush(): void {
    this.confirmQueue.flush();
  }

  /** Settles once every Confirm sent is acknowledged (or has failed). */
  confirmed(): Future<void> {
    if (this.unconfirmed === 0) return DONE;
    return (this.allConfirmed ??= new Future<void>());
  }

  /**
   * The pages this fault brings in too (read_ahead.ts): allocated, in the region, and missing the
   * access. A fault that continues a sweep of consecutive pages brings the pages after `last`;
   * any other may continue a strided sweep, which brings its pages (a consecutive sweep whose
   * reach stopped growing faults a reach apart, which is no stride).
   */
  private aheadPages(first: number, last: number, access: Access): readonly number[] {
    const write = access === Access.Write;
    const predictor = write ? this.writeAhead : this.readAheadOf;
    if (!predictor) return NO_PAGES;
    const end = predictor.next(first, last);
    let pages: number[] | undefined;
    if (end > last) {
      // A consecutive sweep: the pages after `last`, no list of candidates made.
      for (let p = last + 1; p <= end; p++) {
        if (this.options.placement.pending(p)) break;
        if (!allows(this.port.protection(p), access)) (pages ??= []).push(p);
      }
    } else {
      const candidates = (write ? this.writeStride : this.readStride)!.next(first, last);
      for (let i = 0; i < candidates.length; i++) {
        const p = candidates[i]!;
        if (this.options.placement.pending(p)) break;
        if (!allows(this.port.protection(p), access)) (pages ??= []).push(p);
      }
    }
    return pages ?? NO_PAGES;
  }

  /** A fault on one page: done inside the handling of the reply. */
  private faultOne(page: number, access: Access): Future<void> {
    if (allows(this.port.protection(page), access)) return DONE;
    const write = access === Access.Write || this.roles.readsMove;
    return this.acquireConfirmed(page, write, this.scheduler.now() + this.options.timeoutMs);
  }

  /** A fault on several pages, or with pages read ahead (asked for in the first pass only). */
  private *faultRange(first: number, last: number, access: Access, ahead: readonly number[]): Flow<void> {
    const write = access === Access.Write || this.roles.readsMove;
    const deadline = this.scheduler.now() + this.options.timeoutMs;
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
        this.confirmQueue.add(confirm);
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
    for (let p = first; p <= last; p++) if (this.options.placement.pending(p)) throw new UnallocatedPageError(p, p * this.port.pageSize, this.node);
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
    this.options.counters.rangeHolds++;
    const held: QueuedConfirm[] = [];
    try {
      for (let p = first; p <= last; p++) held.push(yield* wait(this.acquire(p, write, deadline)));
    } finally {
      for (const confirm of held) this.confirmQueue.add(confirm);
    }
  }

  /** Fetches a page (or permission) from its manager and installs it; returns its Confirm. */
  private acquire(page: number, write: boolean, deadline: number): Future<QueuedConfirm> {
    const installed = new Future<QueuedConfirm>();
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
  private acquireNow(page: number, write: boolean, deadline: number, installed: (confirm: QueuedConfirm) => void, failed: (error: Error) => void): void {
    // The manager serves this page's next transaction only after the last one's Confirm.
    if (this.confirmQueue.has(page)) this.confirmQueue.flush();
    const { counters, versions, timeoutMs } = this.options;
    const manager = this.roles.managerOf(page);
    const access = write ? 1 : 0;
    const index = page - this.port.firstPage;
    counters.pageRequests++;
    this.endpoint.exchange(
      manager,
      { kind: write ? MessageKind.WriteRequest : MessageKind.ReadRequest, page, version: versions[index] },
      {
        replies: this.roles.dataKinds,
        accept: (m) => m.page === page && m.arg === access,
        timeoutMs: Math.max(1, deadline - this.scheduler.now()),
        timeout: () => new PageTimeoutError(page, manager, write ? "write" : "read", timeoutMs),
        borrows: this.roles.installBorrows,
      },
      (reply) => {
        try {
          if (reply.kind === MessageKind.Grant) counters.upgrades++;
          this.roles.install(page, reply, write);
        } catch (error) {
          return failed(error as Error);
        }
        installed({ manager, page, request: reply.request, access, version: versions[index]! });
      },
      failed,
    );
  }

  /**
   * Tells the manager these transactions are done, in one message (the first entry in its header);
   * retried in the background, failure kept.
   */
  private confirm(manager: number, entries: readonly (ConfirmEntry | undefined)[], count: number): void {
    const { page, request, access, version } = entries[0]!;
    this.unconfirmed++;
    let counted = true;
    const settled = (): void => {
      if (!counted) return;
      counted = false;
      if (--this.unconfirmed > 0 || !this.allConfirmed) return;
      const waiting = this.allConfirmed;
      this.allConfirmed = undefined;
      waiting.resolve();
    };
    const { timeoutMs } = this.options;
    this.endpoint.exchange(
      manager,
      { kind: MessageKind.Confirm, page, request, arg: access, version, payload: count > 1 ? confirmsPayload(entries, count) : undefined },
      {
        replies: CONFIRM_REPLIES,
        accept: (m) => m.page === page && m.arg === access,
        timeoutMs,
        timeout: () => new PageTimeoutError(page, manager, access ? "write" : "read", timeoutMs),
      },
      settled,
      (error) => {
        this.endpoint.fail(error);
        settled();
      },
    );
  }
}

const CONFIRM_REPLIES: readonly MessageKind[] = [MessageKind.ConfirmAck];

/** Whether protection `p` allows `access`. */
export function allows(p: Protection, access: Access): boolean {
  return access === Access.Write ? p === Protection.ReadWrite : p !== Protection.None;
}
