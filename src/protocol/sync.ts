/**
 * The synchronisation service every protocol shares: barriers (manager on node 0, see
 * barrier_manager.ts), locks (manager of lock id = id % nodeCount, see lock_manager.ts) and the
 * collective-allocation check (alloc_log.ts), over one node's {@link Endpoint}.
 *
 *   barrier():  arrive ──▶ node 0 … ◀── release      (retried; waits at most timeoutMs)
 *   lock(id):   acquire ──▶ id % N … ◀── grant       (retried; waits at most timeoutMs)
 *   unlock(id): release ──▶ id % N, acknowledged in the background; the next lock(id), barrier()
 *               or finish() waits for that acknowledgement and throws if it failed
 *   finish():   the final barrier; node 0 then lingers until every node confirmed its release
 *
 * Protocols may exchange state through every barrier with a {@link BarrierExchange} (lrc: vector
 * times and write notices ride on arrive and release); ivy, migrate and diff are sequentially
 * consistent and need nothing there.
 *
 * Every call returns a Future (future.ts): the steps run inside the handling of the messages
 * that complete them, in the node's own thread.
 *
 * Not covered: a node that crashes while holding a lock or before a barrier (the others time out
 * with SyncTimeoutError naming it).
 */
import { AllocLog } from "./alloc_log.js";
import { BarrierManager } from "./barrier_manager.js";
import { BarrierFlag, MAX_LOCK_ID, MessageKind, type ArriveBody, type BarrierWaitBody, type LockWaitBody, type Message, type ReleaseBody } from "./codec.js";
import type { Endpoint } from "./endpoint.js";
import { AllocationMismatchError, BarrierCountError, LockUsageError, SyncTimeoutError } from "./errors.js";
import { all, flow, Future, wait, type Flow } from "./future.js";
import { LockManager } from "./lock_manager.js";
import type { LrcArrival, LrcRelease } from "./lrc_wire.js";

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

export interface SyncOptions {
  timeoutMs: number;
  exchange?: BarrierExchange;
}

/** The node that manages every barrier. */
export const BARRIER_MANAGER = 0;

export class SyncService {
  private readonly allocs = new AllocLog();
  private readonly barriers: BarrierManager | undefined;
  private readonly locks: LockManager;
  private epoch = 0;
  private readonly held = new Map<number, number>();
  private readonly releasing = new Map<number, Future<void>>();

  constructor(
    private readonly endpoint: Endpoint,
    private readonly options: SyncOptions,
  ) {
    this.locks = new LockManager(endpoint);
    endpoint.on(MessageKind.LockAcquire, (m) => this.locks.onAcquire(m));
    endpoint.on(MessageKind.LockRelease, (m) => this.locks.onRelease(m));
    endpoint.on(MessageKind.BarrierRelease, (m) => this.onLateRelease(m));
    if (endpoint.node === BARRIER_MANAGER) {
      const barriers = new BarrierManager(endpoint, options.exchange);
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
    return flow(this.lockSteps(id));
  }

  private *lockSteps(id: number): Flow<void> {
    this.endpoint.check();
    checkLockId(id);
    if (this.held.has(id)) throw new LockUsageError(`lock ${id}: already held by node ${this.endpoint.node}; call unlock(${id}) before locking it again`);
    const releasing = this.releasing.get(id);
    if (releasing) yield* wait(releasing);
    this.endpoint.check();
    const manager = LockManager.managerOf(id, this.endpoint.nodeCount);
    const grant = yield* wait(
      this.endpoint.call(
        manager,
        { kind: MessageKind.LockAcquire, arg: id },
        {
          replies: [MessageKind.LockGrant],
          progress: [MessageKind.LockWait],
          accept: (m) => m.arg === id,
          timeoutMs: this.options.timeoutMs,
          timeout: (last) => SyncTimeoutError.lock(id, manager, last ? (last.body as LockWaitBody).holder : undefined, this.options.timeoutMs),
        },
      ),
    );
    this.held.set(id, grant.version);
  }

  unlock(id: number): Future<void> {
    return Future.try(() => this.release(id));
  }

  private release(id: number): void {
    this.endpoint.check();
    checkLockId(id);
    const generation = this.held.get(id);
    if (generation === undefined) throw new LockUsageError(`lock ${id}: not held by node ${this.endpoint.node}; call lock(${id}) first`);
    this.held.delete(id);
    const manager = LockManager.managerOf(id, this.endpoint.nodeCount);
    const done = new Future<void>();
    this.releasing.set(id, done);
    this.endpoint.exchange(
      manager,
      { kind: MessageKind.LockRelease, arg: id, version: generation },
      {
        replies: [MessageKind.LockReleased],
        accept: (m) => m.arg === id,
        timeoutMs: this.options.timeoutMs,
        timeout: () => SyncTimeoutError.unlock(id, manager, this.options.timeoutMs),
      },
      () => this.released(id, done),
      (error) => {
        this.endpoint.fail(error);
        this.released(id, done);
      },
    );
  }

  private released(id: number, done: Future<void>): void {
    if (this.releasing.get(id) === done) this.releasing.delete(id);
    done.resolve();
  }

  /** The final barrier, after `run` returned. Node 0 keeps answering until every node has it. */
  finish(): Future<void> {
    const barriers = this.barriers;
    const timeoutMs = this.options.timeoutMs;
    const steps = this.arrive(BarrierFlag.Final);
    return flow(
      (function* (): Flow<void> {
        const epoch = yield* steps;
        if (barriers) yield* wait(barriers.linger(epoch, timeoutMs));
      })(),
    );
  }

  /** Waits for background lock releases; throws the first background failure. */
  settle(): Future<void> {
    if (this.releasing.size === 0) return Future.try(() => this.endpoint.check());
    return flow(this.settleSteps());
  }

  private *settleSteps(): Flow<void> {
    yield* wait(all([...this.releasing.values()]));
    this.endpoint.check();
  }

  private *arrive(flags: number): Flow<number> {
    yield* wait(this.settle());
    const epoch = ++this.epoch;
    const body: ArriveBody = this.allocs.arrival();
    const exchange = this.options.exchange;
    if (exchange) body.lrc = exchange.arrive((flags & BarrierFlag.Final) !== 0);
    const release = yield* wait(
      this.endpoint.call(
        BARRIER_MANAGER,
        { kind: MessageKind.BarrierArrive, version: epoch, arg: flags, body },
        {
          replies: [MessageKind.BarrierRelease],
          progress: [MessageKind.BarrierWait],
          accept: (m) => m.version === epoch,
          timeoutMs: this.options.timeoutMs,
          timeout: (last) => SyncTimeoutError.barrier(epoch, BARRIER_MANAGER, last ? (last.body as BarrierWaitBody).missing : undefined, this.options.timeoutMs),
        },
      ),
    );
    if (release.arg & BarrierFlag.Final) this.endpoint.send(BARRIER_MANAGER, { kind: MessageKind.BarrierDone, version: epoch });
    const result = release.body as ReleaseBody;
    if (result.mismatch) throw new AllocationMismatchError(result.mismatch);
    if (result.finished) throw new BarrierCountError(epoch, result.finished, this.endpoint.nodeCount);
    this.allocs.markSent(body.count);
    if (exchange && result.lrc) {
      const applied = exchange.released(result.lrc);
      if (applied) yield* wait(applied);
    }
    return epoch;
  }

  /** A release nobody waits for: a repeat. Acknowledge a final one again so node 0 can stop. */
  private onLateRelease(msg: Message): void {
    this.endpoint.dropStale();
    if (msg.arg & BarrierFlag.Final && msg.version <= this.epoch) {
      this.endpoint.send(BARRIER_MANAGER, { kind: MessageKind.BarrierDone, version: msg.version });
    }
  }
}

function checkLockId(id: number): void {
  if (!Number.isInteger(id) || id < 0 || id > MAX_LOCK_ID) {
    throw new LockUsageError(`lock ${id}: lock ids must be integers from 0 to ${MAX_LOCK_ID}`);
  }
}
