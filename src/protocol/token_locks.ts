/**
 * The locks of every protocol. Each lock is a token that stays with the node that held it last;
 * an acquire is forwarded to the node that will pass the token on (request forwarding, as in
 * TreadMarks). Lock `id` has a manager, node id % N, that only remembers the lock's last
 * requester (the tail). The token starts at the manager.
 *
 *   lock(id), the token idle here:  no message (the node that held it last, or the manager at first)
 *   unlock(id), nobody waiting:     no message; the token stays here
 *
 *   A ── LockAcquire(id, r, {vt_A?}) ──▶ manager          tail := A; forwards to the previous tail B
 *   manager ── LockForward(id, {A, r, vt_A?}) ──▶ B       B holds or awaits the token: A is its successor
 *   B, at once if the token lies idle there, else at its unlock(id):
 *   B ── LockGrant(id, r, {vt_B?, intervals?}) ──▶ A      A holds the lock
 *
 * A message between two roles on one node (a manager that is the previous tail, or the acquirer)
 * stays inside the node. Acquires are served in the order the manager receives them: each one
 * waits only for the holds queued before it (FIFO, no starvation).
 *
 * With {@link LockNotices} (lrc), lock and unlock end an interval, acquires and forwards carry
 * the acquirer's vector time, and a grant the granter's vector time and the intervals the
 * acquirer lacks, applied before lock() returns. Without (ivy, migrate, diff are sequentially
 * consistent), the bodies carry no vector time and a grant carries nothing.
 *
 * Lost messages: the acquirer retransmits its LockAcquire until a grant comes. The manager
 * forwards a repeated (A, r) to the same predecessor again; a predecessor that already granted
 * (A, r) resends that grant, one that has queued (A, r) ignores the repeat. A node remembers, per
 * acquirer, the last request it granted, so a forward older than that is stale. Since the token
 * cannot come back to B before A has received it, B's last grant is the only one ever resent.
 *
 * Not covered: a node that crashes holding the token, or the manager (the others time out naming
 * the manager, SyncTimeoutError; a holder that keeps the lock past the waiters' timeout looks the
 * same to them). A lock whose wait timed out is not usable again: its grant may still come, and
 * finds no call waiting (the job fails with the timeout anyway).
 */
import { MAX_LOCK_ID, MessageKind, type LockAcquireBody, type LockForwardBody, type LockGrantBody, type Message } from "./codec.js";
import type { OwnedPage } from "./sync_wire.js";
import type { Endpoint } from "./endpoint.js";
import { flow, Future, wait, type Flow } from "./future.js";
import { LockStateError, LockUsageError, SyncTimeoutError } from "./errors.js";

/** The reply kinds of this file's exchanges: one array, not one per exchange. */
const LOCK_GRANT_REPLIES: readonly MessageKind[] = [MessageKind.LockGrant];

/** What the locks need from a protocol that moves memory state with the lock (lrc). */
export interface LockNotices {
  /** Ends the current interval (lock and unlock are interval boundaries). */
  closeInterval(): void;
  vt(): number[];
  /** The grant for an acquirer at vector time `vt` (undefined: it sent none, knows nothing). */
  grantFor(vt: readonly number[] | undefined): LockGrantBody;
  /** Applies a received grant's write notices (kernel parked); `from` is the granter. */
  apply(grant: LockGrantBody, from: number): void;
}

/**
 * Pages that move with a lock (ivy, diff: lock_pages.ts): the granter hands pages over in the grant
 * (kernel parked), the acquirer takes them before its lock call returns (parked).
 */
export interface LockPages {
  /** The pages lock `id`'s grant to `to` hands over, or undefined. */
  attach(id: number, to: number): OwnedPage[] | undefined;
  /** Takes the pages a grant of lock `id` from `from` handed over. */
  apply(id: number, pages: readonly OwnedPage[], from: number): void;
}

export interface LockCounters {
  /** Forwards served by this node as the lock's previous tail. */
  lockForwards: number;
  /** Locks taken with the token already here: no message. */
  localLocks: number;
  /** Locks that waited for a grant. */
  remoteLocks: number;
}

interface Successor {
  node: number;
  request: number;
  vt: number[] | undefined;
}

interface Holder {
  token: boolean;
  held: boolean;
  /** The acquirer to grant to once this node is done. */
  next: Successor | null;
  /** Per acquirer, the request id of the last grant sent to it. */
  granted: Map<number, number>;
  last: { node: number; request: number; body: LockGrantBody } | null;
}

interface Managed {
  tail: number;
  /** Per requester, its last acquire and the node it was forwarded to. */
  requests: Map<number, { request: number; pred: number; vt: number[] | undefined }>;
}

export class TokenLocks {
  readonly counters: LockCounters = { lockForwards: 0, localLocks: 0, remoteLocks: 0 };
  private readonly holders = new Map<number, Holder>();
  private readonly managed = new Map<number, Managed>();

  constructor(
    private readonly endpoint: Endpoint,
    private readonly timeoutMs: number,
    private readonly notices?: LockNotices,
    private readonly pages?: LockPages,
  ) {
    endpoint.on(MessageKind.LockAcquire, (m) => this.onAcquire(m));
    endpoint.on(MessageKind.LockForward, (m) => this.onForward(m));
  }

  /** The node that manages lock `id`. */
  static managerOf(id: number, nodeCount: number): number {
    return id % nodeCount;
  }

  lock(id: number): Future<void> {
    // The token is here: the lock is taken at once, with no message and no generator.
    try {
      this.endpoint.check();
      checkLockId(id);
      const h = this.holder(id);
      if (h.token && !h.held) {
        this.notices?.closeInterval();
        h.held = true;
        this.counters.localLocks++;
        return Future.resolved();
      }
    } catch (error) {
      return Future.rejected(error);
    }
    return flow(this.lockSteps(id));
  }

  private *lockSteps(id: number): Flow<void> {
    this.endpoint.check();
    checkLockId(id);
    const h = this.holder(id);
    if (h.held) throw new LockUsageError(`lock ${id}: already held by node ${this.endpoint.node}; call unlock(${id}) before locking it again`);
    this.notices?.closeInterval();
    if (h.token) {
      h.held = true;
      this.counters.localLocks++;
      return;
    }
    const manager = TokenLocks.managerOf(id, this.endpoint.nodeCount);
    const body: LockAcquireBody = this.notices ? { vt: this.notices.vt() } : {};
    const grant = yield* wait(
      this.endpoint.call(
        manager,
        { kind: MessageKind.LockAcquire, arg: id, body },
        {
          replies: LOCK_GRANT_REPLIES,
          accept: (m) => m.arg === id,
          timeoutMs: this.timeoutMs,
          timeout: () => SyncTimeoutError.lock(id, manager, undefined, this.timeoutMs),
        },
      ),
    );
    h.token = true;
    h.held = true;
    this.counters.remoteLocks++;
    const granted = grant.body as LockGrantBody;
    this.notices?.apply(granted, grant.source);
    if (granted.owned && this.pages) this.pages.apply(id, granted.owned, grant.source);
  }

  /** Local: passes the token to a waiting successor, if any; otherwise it stays here. */
  unlock(id: number): Future<void> {
    return Future.try(() => this.release(id));
  }

  private release(id: number): void {
    this.endpoint.check();
    checkLockId(id);
    const h = this.holder(id);
    if (!h.held) throw new LockUsageError(`lock ${id}: not held by node ${this.endpoint.node}; call lock(${id}) first`);
    this.notices?.closeInterval();
    h.held = false;
    const next = h.next;
    if (next) {
      h.next = null;
      this.grant(id, h, next);
    }
  }

  /** Manager role: remember the new tail and forward the acquire to the previous one. */
  private onAcquire(msg: Message): void {
    const id = msg.arg;
    if (TokenLocks.managerOf(id, this.endpoint.nodeCount) !== this.endpoint.node) return this.endpoint.dropMisdelivered();
    let m = this.managed.get(id);
    if (!m) this.managed.set(id, (m = { tail: this.endpoint.node, requests: new Map() }));
    const { source, request } = msg;
    const seen = m.requests.get(source);
    if (seen && seen.request === request) {
      this.endpoint.dropStale();
      return this.forward(id, seen.pred, source, request, seen.vt);
    }
    if (seen && request < seen.request) return this.endpoint.dropStale();
    const vt = (msg.body as LockAcquireBody).vt;
    const pred = m.tail;
    m.tail = source;
    m.requests.set(source, { request, pred, vt });
    this.forward(id, pred, source, request, vt);
  }

  private forward(id: number, pred: number, acquirer: number, request: number, vt: number[] | undefined): void {
    const body: LockForwardBody = vt ? { acquirer, request, vt } : { acquirer, request };
    this.endpoint.send(pred, { kind: MessageKind.LockForward, arg: id, body });
  }

  /** Token role: grant now if the token lies idle here, else when this node unlocks. */
  private onForward(msg: Message): void {
    const id = msg.arg;
    const { acquirer, request, vt } = msg.body as LockForwardBody;
    const h = this.holder(id);
    const granted = h.granted.get(acquirer);
    if (granted !== undefined && request <= granted) {
      this.endpoint.dropStale();
      if (h.last && h.last.node === acquirer && h.last.request === request) this.sendGrant(id, h.last.node, h.last.request, h.last.body);
      return;
    }
    if (h.next) {
      if (h.next.node === acquirer && h.next.request === request) return this.endpoint.dropStale();
      this.endpoint.fail(new LockStateError(`lock ${id}: node ${this.endpoint.node} was asked to pass the lock to node ${acquirer} while it still owes it to node ${h.next.node}`));
      return;
    }
    this.counters.lockForwards++;
    const successor = { node: acquirer, request, vt };
    if (h.token && !h.held) this.grant(id, h, successor);
    else h.next = successor;
  }

  private grant(id: number, h: Holder, to: Successor): void {
    const body: LockGrantBody = this.notices ? this.notices.grantFor(to.vt) : {};
    const owned = this.pages?.attach(id, to.node);
    if (owned) body.owned = owned;
    h.token = false;
    h.granted.set(to.node, to.request);
    h.last = { node: to.node, request: to.request, body };
    this.sendGrant(id, to.node, to.request, body);
  }

  private sendGrant(id: number, node: number, request: number, body: LockGrantBody): void {
    this.endpoint.send(node, { kind: MessageKind.LockGrant, arg: id, request, body });
  }

  private holder(id: number): Holder {
    let h = this.holders.get(id);
    if (!h) {
      const token = TokenLocks.managerOf(id, this.endpoint.nodeCount) === this.endpoint.node;
      this.holders.set(id, (h = { token, held: false, next: null, granted: new Map(), last: null }));
    }
    return h;
  }
}

function checkLockId(id: number): void {
  if (!Number.isInteger(id) || id < 0 || id > MAX_LOCK_ID) {
    throw new LockUsageError(`lock ${id}: lock ids must be integers from 0 to ${MAX_LOCK_ID}`);
  }
}
