/**
 * Lock managers: lock `id` is managed by node `id % nodeCount`. One holder, a FIFO queue of
 * waiters (so every waiter is granted after at most queue-length releases: no starvation), and a
 * generation number per grant so a release names exactly the grant it ends.
 *
 *   node k ── LockAcquire(id, request r) ──▶ manager        free: grant at once
 *   node k ◀── LockGrant(id, generation g, r)               held: k waits in the queue
 *   (repeat acquire while queued)  ◀── LockWait(holder)
 *   node k ── LockRelease(id, g, request r') ──▶ manager  ──▶ LockGrant to the next in the queue
 *   node k ◀── LockReleased(id, r')
 *
 * Idempotent: a repeated acquire from the holder resends its grant (the first was lost); from a
 * queued node it only reports progress; one older than the node's last released acquire is
 * stale. A repeated or stale release (wrong generation) changes nothing and is acknowledged.
 */
import { MessageKind, type Message } from "./codec.js";
import type { Endpoint } from "./endpoint.js";

interface Waiter {
  node: number;
  request: number;
}

interface LockState {
  holder: (Waiter & { generation: number }) | null;
  queue: Waiter[];
  generation: number;
  /** Per node, the request id of its last released acquire. */
  released: Map<number, number>;
}

export class LockManager {
  private readonly locks = new Map<number, LockState>();

  constructor(private readonly endpoint: Endpoint) {}

  /** The node that manages lock `id`. */
  static managerOf(id: number, nodeCount: number): number {
    return id % nodeCount;
  }

  onAcquire(msg: Message): void {
    const id = msg.arg;
    if (LockManager.managerOf(id, this.endpoint.nodeCount) !== this.endpoint.node) return this.endpoint.dropMisdelivered();
    const lock = this.state(id);
    const { source: node, request } = msg;
    if (lock.holder?.node === node && lock.holder.request === request) {
      this.endpoint.dropStale();
      return this.grant(id, lock.holder.node, lock.holder.request, lock.holder.generation);
    }
    if (lock.queue.some((w) => w.node === node && w.request === request)) {
      this.endpoint.dropStale();
      this.endpoint.send(node, { kind: MessageKind.LockWait, arg: id, request, body: { holder: lock.holder!.node } });
      return;
    }
    if (request <= (lock.released.get(node) ?? 0)) return this.endpoint.dropStale();
    lock.queue.push({ node, request });
    this.next(id, lock);
  }

  onRelease(msg: Message): void {
    const id = msg.arg;
    if (LockManager.managerOf(id, this.endpoint.nodeCount) !== this.endpoint.node) return this.endpoint.dropMisdelivered();
    const lock = this.state(id);
    const holder = lock.holder;
    if (holder && holder.node === msg.source && holder.generation === msg.version) {
      lock.released.set(holder.node, holder.request);
      lock.holder = null;
      this.next(id, lock);
    } else {
      this.endpoint.dropStale();
    }
    this.endpoint.send(msg.source, { kind: MessageKind.LockReleased, arg: id, request: msg.request });
  }

  private next(id: number, lock: LockState): void {
    if (lock.holder) return;
    const waiter = lock.queue.shift();
    if (!waiter) return;
    lock.generation = lock.generation >= 0xffffffff ? 1 : lock.generation + 1;
    lock.holder = { ...waiter, generation: lock.generation };
    this.grant(id, waiter.node, waiter.request, lock.generation);
  }

  private grant(id: number, node: number, request: number, generation: number): void {
    this.endpoint.send(node, { kind: MessageKind.LockGrant, arg: id, version: generation, request });
  }

  private state(id: number): LockState {
    let lock = this.locks.get(id);
    if (!lock) {
      lock = { holder: null, queue: [], generation: 0, released: new Map() };
      this.locks.set(id, lock);
    }
    return lock;
  }
}
