/**
 * Locks for lazy release consistency, with request forwarding as in TreadMarks. Lock `id` has a
 * manager, node id % N, that only remembers the lock's last requester (the tail); the lock itself
 * is a token that moves from node to node, and the grant carries the write notices.
 *
 *   A ── LrcAcquire(id, r, vt_A) ──▶ manager        tail := A; forwards to the previous tail B
 *   manager ── LrcForward(id, {A, r, vt_A}) ──▶ B   B holds or awaits the token: A is its successor
 *   B, once it no longer holds the lock:
 *   B ── LrcGrant(id, r, {vt_B, intervals A lacks}) ──▶ A   A applies the write notices, holds
 *
 * The token starts at the manager. A node holding the token it no longer uses reacquires the lock
 * with no message at all; a forward that arrives meanwhile is served at the next unlock.
 *
 * Lost messages: the acquirer retransmits its LrcAcquire until a grant comes. The manager forwards
 * a repeated (A, r) to the same predecessor again; a predecessor that already granted (A, r)
 * resends that grant, one that has queued (A, r) ignores the repeat. A node remembers, per
 * acquirer, the last request it granted, so a forward older than that is stale. Since the token
 * cannot come back to B before A has received it, B's last grant is the only one ever resent.
 *
 * Not covered: a node that crashes holding a token (the others time out naming the manager).
 */
import { MAX_LOCK_ID, MessageKind, type Message } from "./codec.js";
import type { Endpoint } from "./endpoint.js";
import { flow, Future, wait, type Flow } from "./future.js";
import { LockUsageError, LrcStateError, SyncTimeoutError } from "./errors.js";
import type { LrcAcquireBody, LrcForwardBody, LrcGrantBody } from "./lrc_wire.js";

/** What the locks need from the protocol. */
export interface LockNotices {
  /** Ends the current interval (lock and unlock are interval boundaries). */
  closeInterval(): void;
  vt(): number[];
  /** The grant for an acquirer at vector time `vt`. */
  grantFor(vt: readonly number[]): LrcGrantBody;
  /** Applies a received grant's write notices (kernel parked). */
  apply(grant: LrcGrantBody): void;
}

interface Successor {
  node: number;
  request: number;
  vt: number[];
}

interface Holder {
  token: boolean;
  held: boolean;
  /** The acquirer to grant to once this node is done. */
  next: Successor | null;
  /** Per acquirer, the request id of the last grant sent to it. */
  granted: Map<number, number>;
  last: { node: number; request: number; body: LrcGrantBody } | null;
}

interface Managed {
  tail: number;
  /** Per requester, its last acquire and the node it was forwarded to. */
  requests: Map<number, { request: number; pred: number; vt: number[] }>;
}

export interface LockCounters {
  lockForwards: number;
  localLocks: number;
  remoteLocks: number;
}

export class LrcLocks {
  private readonly holders = new Map<number, Holder>();
  private readonly managed = new Map<number, Managed>();

  constructor(
    private readonly endpoint: Endpoint,
    private readonly notices: LockNotices,
    private readonly timeoutMs: number,
    private readonly counters: LockCounters,
  ) {
    endpoint.on(MessageKind.LrcAcquire, (m) => this.onAcquire(m));
    endpoint.on(MessageKind.LrcForward, (m) => this.onForward(m));
  }

  static managerOf(id: number, nodeCount: number): number {
    return id % nodeCount;
  }

  lock(id: number): Future<void> {
    return flow(this.lockSteps(id));
  }

  private *lockSteps(id: number): Flow<void> {
    this.endpoint.check();
    checkLockId(id);
    const h = this.holder(id);
    if (h.held) throw new LockUsageError(`lock ${id}: already held by node ${this.endpoint.node}; call unlock(${id}) before locking it again`);
    this.notices.closeInterval();
    if (h.token) {
      h.held = true;
      this.counters.localLocks++;
      return;
    }
    const manager = LrcLocks.managerOf(id, this.endpoint.nodeCount);
    const body: LrcAcquireBody = { vt: this.notices.vt() };
    const grant = yield* wait(
      this.endpoint.call(
        manager,
        { kind: MessageKind.LrcAcquire, arg: id, body },
        {
          replies: [MessageKind.LrcGrant],
          accept: (m) => m.arg === id,
          timeoutMs: this.timeoutMs,
          timeout: () => SyncTimeoutError.lock(id, manager, undefined, this.timeoutMs),
        },
      ),
    );
    h.token = true;
    h.held = true;
    this.counters.remoteLocks++;
    this.notices.apply(grant.body as LrcGrantBody);
  }

  unlock(id: number): Future<void> {
    return Future.try(() => this.release(id));
  }

  private release(id: number): void {
    this.endpoint.check();
    checkLockId(id);
    const h = this.holder(id);
    if (!h.held) throw new LockUsageError(`lock ${id}: not held by node ${this.endpoint.node}; call lock(${id}) first`);
    this.notices.closeInterval();
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
    if (LrcLocks.managerOf(id, this.endpoint.nodeCount) !== this.endpoint.node) return this.endpoint.dropMisdelivered();
    let m = this.managed.get(id);
    if (!m) this.managed.set(id, (m = { tail: this.endpoint.node, requests: new Map() }));
    const { source, request } = msg;
    const seen = m.requests.get(source);
    if (seen && seen.request === request) {
      this.endpoint.dropStale();
      return this.forward(id, seen.pred, source, request, seen.vt);
    }
    if (seen && request < seen.request) return this.endpoint.dropStale();
    const vt = (msg.body as LrcAcquireBody).vt;
    const pred = m.tail;
    m.tail = source;
    m.requests.set(source, { request, pred, vt });
    this.forward(id, pred, source, request, vt);
  }

  private forward(id: number, pred: number, acquirer: number, request: number, vt: number[]): void {
    const body: LrcForwardBody = { acquirer, request, vt };
    this.endpoint.send(pred, { kind: MessageKind.LrcForward, arg: id, body });
  }

  /** Token role: grant now if the token lies idle here, else when this node unlocks. */
  private onForward(msg: Message): void {
    const id = msg.arg;
    const { acquirer, request, vt } = msg.body as LrcForwardBody;
    const h = this.holder(id);
    const granted = h.granted.get(acquirer);
    if (granted !== undefined && request <= granted) {
      this.endpoint.dropStale();
      if (h.last && h.last.node === acquirer && h.last.request === request) this.sendGrant(id, h.last.node, h.last.request, h.last.body);
      return;
    }
    if (h.next) {
      if (h.next.node === acquirer && h.next.request === request) return this.endpoint.dropStale();
      this.endpoint.fail(new LrcStateError(`lock ${id}: node ${this.endpoint.node} was asked to pass the lock to node ${acquirer} while it still owes it to node ${h.next.node}`));
      return;
    }
    this.counters.lockForwards++;
    const successor = { node: acquirer, request, vt };
    if (h.token && !h.held) this.grant(id, h, successor);
    else h.next = successor;
  }

  private grant(id: number, h: Holder, to: Successor): void {
    const body = this.notices.grantFor(to.vt);
    h.token = false;
    h.granted.set(to.node, to.request);
    h.last = { node: to.node, request: to.request, body };
    this.sendGrant(id, to.node, to.request, body);
  }

  private sendGrant(id: number, node: number, request: number, body: LrcGrantBody): void {
    this.endpoint.send(node, { kind: MessageKind.LrcGrant, arg: id, request, body });
  }

  private holder(id: number): Holder {
    let h = this.holders.get(id);
    if (!h) {
      const token = LrcLocks.managerOf(id, this.endpoint.nodeCount) === this.endpoint.node;
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
