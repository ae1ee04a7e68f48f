/**
 * The barrier manager, on node 0. Epochs number the barriers 1, 2, 3, … on every node.
 *
 *   node k ── BarrierArrive(epoch e, request r, allocation log) ──▶ manager
 *   (repeat arrive, not all here yet)  ◀── BarrierWait(missing nodes)
 *   all N arrived: compare the allocation logs, then to every node k:
 *   node k ◀── BarrierRelease(e, request r_k, {mismatch?})
 *   final barrier only: node k ── BarrierDone(e) ──▶ manager, which resends the release to
 *   nodes not yet done, so it can stop serving without stranding a node whose release was lost.
 *
 * Idempotent: a repeated arrive for the current epoch only refreshes the request id; a repeated
 * arrive for a released epoch gets the release again (the first one was lost). A node cannot be
 * two epochs ahead of another, so remembering the last few releases is enough.
 *
 * With a {@link BarrierExchange} (lrc), each release also carries that node's part of the
 * exchange, computed once from all arrivals and remembered with the release. With a
 * {@link CheckpointSignal}, a release may name a checkpoint every node takes after it.
 */
import { compareArrivals } from "./alloc_log.js";
import { BarrierFlag, MessageKind, type ArriveBody, type Message, type ReleaseBody } from "./codec.js";
import type { Endpoint } from "./endpoint.js";
import { Future } from "./future.js";
import type { TimerHandle } from "./scheduler.js";
import type { LrcRelease } from "./release/wire.js";
import type { BarrierExchange, CheckpointSignal } from "./sync.js";

/** One node's arrival at a barrier. */
export interface Arrival {
  request: number;
  flags: number;
  body: ArriveBody;
}

/**
 * The release of a barrier, from every node's arrival (index = node): a pure function of them, so
 * that the manager and, without one, every node itself (peer_barriers.ts) reach the same. Final
 * when every node arrived at its final barrier; `finished` names the nodes that did while others
 * called barrier(); `parts` is each node's part of the exchange.
 */
export function releaseOf(arrivals: readonly Arrival[], exchange?: BarrierExchange): { flags: number; body: ReleaseBody; parts?: LrcRelease[] } {
  const nodes = arrivals.length;
  const bodies: ArriveBody[] = new Array<ArriveBody>(nodes);
  const finished: number[] = [];
  for (let n = 0; n < nodes; n++) {
    bodies[n] = arrivals[n]!.body;
    if (arrivals[n]!.flags & BarrierFlag.Final) finished.push(n);
  }
  const flags = finished.length === nodes ? BarrierFlag.Final : 0;
  const mismatch = compareArrivals(bodies);
  const body: ReleaseBody = mismatch ? { mismatch } : {};
  // Some nodes left run while others wait at a barrier: their barrier counts differ.
  if (flags === 0 && finished.length > 0) body.finished = finished;
  return exchange ? { flags, body, parts: exchange.release(bodies.map((b) => b.lrc!)) } : { flags, body };
}

interface Released {
  body: ReleaseBody;
  flags: number;
  /** Per node, the request id of its arrival. */
  requests: number[];
  /** Per node, its part of the exchange. */
  parts?: LrcRelease[];
  /** Nodes that acknowledged a final release. */
  done: Set<number>;
  onDone?: () => void;
}

/** Releases remembered for repeated arrivals. */
const REMEMBERED = 4;

export class BarrierManager {
  private epoch = 1;
  /**
   * Per node, its arrival at the current barrier. An array used again for every barrier, not a Map
   * made anew: a 2-node barrier loop allocated 6.7 KB per barrier on node 0, Maps and their
   * iterators among the largest parts, and collecting it cost ~3 µs a barrier.
   */
  private readonly arrivals: (Arrival | undefined)[];
  private arrived = 0;
  private readonly released = new Map<number, Released>();

  constructor(
    private readonly endpoint: Endpoint,
    private readonly exchange?: BarrierExchange,
    private readonly checkpoints?: CheckpointSignal,
  ) {
    this.arrivals = new Array<Arrival | undefined>(endpoint.nodeCount).fill(undefined);
  }

  onArrive(msg: Message): void {
    const epoch = msg.version;
    const old = this.released.get(epoch);
    if (old) {
      this.endpoint.dropStale();
      this.sendRelease(msg.source, epoch, msg.request, old);
      return;
    }
    if (epoch !== this.epoch) return this.endpoint.dropStale();
    const repeated = this.arrivals[msg.source] !== undefined;
    if (!repeated) this.arrived++;
    this.arrivals[msg.source] = { request: msg.request, flags: msg.arg, body: msg.body as ArriveBody };
    if (this.arrived === this.endpoint.nodeCount) return this.release();
    if (repeated) {
      const missing: number[] = [];
      for (let n = 0; n < this.endpoint.nodeCount; n++) if (this.arrivals[n] === undefined) missing.push(n);
      this.endpoint.send(msg.source, { kind: MessageKind.BarrierWait, version: epoch, request: msg.request, body: { missing } });
    }
  }

  onDone(msg: Message): void {
    const released = this.released.get(msg.version);
    if (!released || (released.flags & BarrierFlag.Final) === 0) return this.endpoint.dropStale();
    released.done.add(msg.source);
    if (released.done.size === this.endpoint.nodeCount) released.onDone?.();
  }

  /**
   * After the final barrier `epoch`: resolves once every node acknowledged its release, resending
   * releases meanwhile; gives up quietly after `timeoutMs` (the nodes have all finished by then).
   */
  linger(epoch: number, timeoutMs: number): Future<void> {
    const released = this.released.get(epoch);
    const done = new Future<void>();
    if (!released || released.done.size === this.endpoint.nodeCount) {
      done.resolve();
      return done;
    }
    const scheduler = this.endpoint.scheduler;
    const deadline = scheduler.now() + timeoutMs;
    let timer: TimerHandle | undefined;
    const stop = () => {
      if (timer) scheduler.cancel(timer);
      released.onDone = undefined;
      done.resolve();
    };
    const resend = () => {
      if (scheduler.now() >= deadline || this.endpoint.isClosed) return stop();
      const requests = released.requests;
      for (let node = 0; node < requests.length; node++) if (!released.done.has(node)) this.sendRelease(node, epoch, requests[node]!, released);
      timer = scheduler.at(scheduler.now() + this.endpoint.retryMs, resend);
    };
    released.onDone = stop;
    timer = scheduler.at(scheduler.now() + this.endpoint.retryMs, resend);
    return done;
  }

  private release(): void {
    const nodes = this.endpoint.nodeCount;
    const requests: number[] = new Array<number>(nodes);
    for (let n = 0; n < nodes; n++) requests[n] = this.arrivals[n]!.request;
    const { flags, body, parts } = releaseOf(this.arrivals as Arrival[], this.exchange);
    this.arrivals.fill(undefined);
    this.arrived = 0;
    if (flags === 0 && !body.finished && !body.mismatch) {
      const checkpoint = this.checkpoints?.due();
      if (checkpoint !== undefined) body.checkpoint = checkpoint;
    }
    const released: Released = { body, flags, requests, done: new Set() };
    if (parts) released.parts = parts;
    this.released.set(this.epoch, released);
    this.released.delete(this.epoch - REMEMBERED);
    for (let node = 0; node < nodes; node++) this.sendRelease(node, this.epoch, requests[node]!, released);
    this.epoch++;
  }

  private sendRelease(node: number, epoch: number, request: number, released: Released): void {
    const body = released.parts ? { ...released.body, lrc: released.parts[node] } : released.body;
    this.endpoint.send(node, { kind: MessageKind.BarrierRelease, version: epoch, request, arg: released.flags, body });
  }
}
