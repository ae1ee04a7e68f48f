/**
 * The synchronisation service every protocol shares: barriers (manager on node 0, see
 * barrier_manager.ts), locks (token_locks.ts: the token stays with the node that held the lock
 * last; manager of lock id = id % nodeCount) and the collective-allocation check (alloc_log.ts),
 * over one node's {@link Endpoint}.
 *
 *   barrier():  arrive ──▶ node 0 … ◀── release                 (retried; waits at most timeoutMs)
 *               without a manager (peer_barriers.ts; over NATS, and in one process when
 *               every node has a core):
 *               arrive ──▶ every other node; released here once all arrivals are
 *   lock(id):   token here: no message; else acquire ──▶ id % N ── forward ──▶ last requester
 *               … ◀── grant from it                              (retried; waits at most timeoutMs)
 *   unlock(id): local; sends the grant to a node waiting for the lock, if one is
 *   finish():   the final barrier; node 0 then lingers until every node confirmed its release
 *
 * Protocols may exchange state through every barrier with a {@link BarrierExchange} (lrc: vector
 * times and write notices ride on arrive and release), and through every lock handoff with
 * {@link LockNotices} (lrc: the grant carries the write notices the acquirer lacks); ivy, migrate
 * and diff are sequentially consistent and need neither.
 *
 * Every call returns a Future (future.ts): the steps run inside the handling of the messages
 * that complete them, in the node's own thread.
 *
 * Not covered: a node that crashes while holding a lock or before a barrier (the others time out
 * with SyncTimeoutError, naming it at a barrier, the lock's manager at a lock).
 */
import { AllocLog } from "./alloc_log.js";
import { BarrierManager } from "./barrier_manager.js";
import { BarrierFlag, MessageKind, type ArriveBody, type BarrierWaitBody, type Message, type ReleaseBody } from "./codec.js";
import type { Endpoint } from "./endpoint.js";
import { AllocationMismatchError, BarrierCountError, SyncTimeoutError } from "./errors.js";
import { flow, Future, wait, type Flow } from "./future.js";
import type { LrcArrival, LrcRelease } from "./release/wire.js";
import { PeerBarriers } from "./peer_barriers.js";
import { TokenLocks, type LockCounters, type LockNotices, type LockPages } from "./token_locks.js";

/** The reply kinds of this file's exchanges: one array, not one per exchange. */
const BARRIER_RELEASE_REPLIES: readonly MessageKind[] = [MessageKind.BarrierRelease];

/**
 * State a protocol sends through every barrier: each node's arrival carries `arrive()`, the
 * manager turns all arrivals into one part per node with `release()`, and each node hands its part
 * to `released()` (kernel parked) before barrier() returns. `release` must be a pure function of
 * the arrivals: a repeated arrive gets the remembered part again.
 */
export interface BarrierExchange {
  arrive(final: boolean): LrcArrival;
  release(arrivals: readonly LrcArrival[]): LrcRelease[];
  released(part: LrcRelease): Future<void> | void;
}

/**
 * Checkpoints at barriers (src/checkpoint/): node 0's manager asks `due()` as it releases each
 * barrier but the final one, and a number it returns travels in every node's release; each node
 * hears it through `released()` (kernel parked) before barrier() returns.
 */
export interface CheckpointSignal {
  due(): number | undefined;
  released(checkpoint: number): void;
}

export interface SyncOptions {
  timeoutMs: number;
  checkpoints?: CheckpointSignal;
  exchange?: BarrierExchange;
  /** What travels with a lock from node to node (lrc). */
  notices?: LockNotices;
  /** Pages whose ownership moves with a lock (ivy, diff: lock_pages.ts). */
  lockPages?: LockPages;
  /**
   * Barriers without a manager (peer_barriers.ts): a barrier then costs one hop instead of two
   * (protocols ask for it over links that leave the process, and kernel runs of one process when
   * every node has a core, ProtocolTuning.peerBarriers). Ignored with checkpoints, and above
   * MAX_PEER_BARRIER_NODES nodes. @default false
   */
  peerBarriers?: boolean;
}

/** The node that manages every barrier. */
export const BARRIER_MANAGER = 0;

/**
 * Most nodes whose barriers go without a manager (SyncOptions.peerBarriers): each node sends an
 * arrival to every other, N(N-1) messages a barrier against the manager's 2(N-1), which wider
 * jobs would pay for in every node's CPU.
 */
export const MAX_PEER_BARRIER_NODES = 8;

export class SyncService {
  private readonly allocs = new AllocLog();
  private readonly barriers: BarrierManager | undefined;
  private readonly peers: PeerBarriers | undefined;
  private readonly locks: TokenLocks;
  private epoch = 0;

  constructor(
    private readonly endpoint: Endpoint,
    private readonly options: SyncOptions,
  ) {
    this.locks = new TokenLocks(endpoint, options.timeoutMs, options.notices, options.lockPages);
    if (options.peerBarriers && !options.checkpoints && endpoint.nodeCount <= MAX_PEER_BARRIER_NODES) {
      const peers = new PeerBarriers(endpoint, options.timeoutMs, options.exchange);
      this.peers = peers;
      endpoint.on(MessageKind.BarrierArrive, (m) => peers.onArrive(m));
      endpoint.on(MessageKind.BarrierDone, (m) => peers.onDone(m));
      return;
    }
    endpoint.on(MessageKind.BarrierRelease, (m) => this.onLateRelease(m));
    if (endpoint.node === BARRIER_MANAGER) {
      const barriers = new BarrierManager(endpoint, options.exchange, options.checkpoints);
      this.barriers = barriers;
      endpoint.on(MessageKind.BarrierArrive, (m) => barriers.onArrive(m));
      endpoint.on(MessageKind.BarrierDone, (m) => barriers.onDone(m));
    }
  }

  /** Logs the kernel's next collective allocation; compared across nodes at the next barrier. */
  allocated(address: number, bytes: number): void {
    this.allocs.add(address, bytes);
  }

  /** Barriers completed (or started) so far on this node. */
  get epochs(): number {
    return this.epoch;
  }

  barrier(): Future<void> {
    return flow(this.arrive(0)) as Future<unknown> as Future<void>;
  }

  lock(id: number): Future<void> {
    return this.locks.lock(id);
  }

  unlock(id: number): Future<void> {
    return this.locks.unlock(id);
  }

  /** Forwards served, and locks taken with and without a message, on this node (for stats()). */
  get lockCounters(): LockCounters {
    return this.locks.counters;
  }

  /** The final barrier, after `run` returned. Node 0 keeps answering until every node has it. */
  finish(): Future<void> {
    const { barriers, peers } = this;
    const timeoutMs = this.options.timeoutMs;
    const steps = this.arrive(BarrierFlag.Final);
    return flow(
      (function* (): Flow<void> {
        const epoch = yield* steps;
        if (barriers) yield* wait(barriers.linger(epoch, timeoutMs));
        if (peers) yield* wait(peers.linger(epoch));
      })(),
    );
  }

  private *arrive(flags: number): Flow<number> {
    this.endpoint.check();
    const epoch = ++this.epoch;
    const body: ArriveBody = this.allocs.arrival();
    const exchange = this.options.exchange;
    if (exchange) body.lrc = exchange.arrive((flags & BarrierFlag.Final) !== 0);
    const result = this.peers ? (yield* wait(this.peers.arrive(epoch, flags, body))).body : yield* this.managed(epoch, flags, body);
    if (result.mismatch) throw new AllocationMismatchError(result.mismatch);
    if (result.finished) throw new BarrierCountError(epoch, result.finished, this.endpoint.nodeCount);
    this.allocs.markSent(body.count);
    if (result.checkpoint !== undefined) this.options.checkpoints?.released(result.checkpoint);
    if (exchange && result.lrc) {
      const applied = exchange.released(result.lrc);
      if (applied) yield* wait(applied);
    }
    return epoch;
  }

  /** A barrier through the manager: the arrival goes to it and its release comes back. */
  private *managed(epoch: number, flags: number, body: ArriveBody): Flow<ReleaseBody> {
    const release = yield* wait(
      this.endpoint.call(
        BARRIER_MANAGER,
        { kind: MessageKind.BarrierArrive, version: epoch, arg: flags, body },
        {
          replies: BARRIER_RELEASE_REPLIES,
          progress: [MessageKind.BarrierWait],
          accept: (m) => m.version === epoch,
          timeoutMs: this.options.timeoutMs,
          timeout: (last) => SyncTimeoutError.barrier(epoch, BARRIER_MANAGER, last ? (last.body as BarrierWaitBody).missing : undefined, this.options.timeoutMs),
        },
      ),
    );
    if (release.arg & BarrierFlag.Final) this.endpoint.send(BARRIER_MANAGER, { kind: MessageKind.BarrierDone, version: epoch, arg: 0 });
    return release.body as ReleaseBody;
  }

  /** A release nobody waits for: a repeat. Acknowledge a final one again so node 0 can stop. */
  private onLateRelease(msg: Message): void {
    this.endpoint.dropStale();
    if (msg.arg & BarrierFlag.Final && msg.version <= this.epoch) {
      this.endpoint.send(BARRIER_MANAGER, { kind: MessageKind.BarrierDone, version: msg.version });
    }
  }
}
