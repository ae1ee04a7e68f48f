/**
 * Barriers without a manager, for links that leave the process (NATS), and for the nodes of one
 * process when each has a core of its own (ProtocolTuning.peerBarriers; cluster.ts). Each
 * node sends its arrival to every other node and, once it holds every node's arrival of the epoch,
 * computes the release itself, with the function the manager applies (barrier_manager.ts
 * releaseOf): the release is a pure function of the arrivals, so every node reaches the same.
 *
 *   node k at epoch e:  ── BarrierArrive(e, flags, body) ──▶ every other node
 *   every arrival of e here: the release is computed here, and the kernel goes on
 *   some still missing after retryMs (then 2×, 4×, 8×): ── BarrierArrive(e, flags | Repeat) ──▶ each
 *   node j, a Repeat of an epoch j arrived at: ── BarrierArrive(e, flags) ──▶ the sender, again
 *   final barrier: once released, ── BarrierDone(e) ──▶ every other node; finish() lingers,
 *     answering repeats, until every other node's Done is here (resending its own with Repeat to
 *     those still missing, who answer with theirs), or timeoutMs passes
 *
 * With a manager a barrier costs the last node to arrive two hops (its arrival, then the release)
 * and the others one; here the last node leaves at once and the others one hop after it arrived.
 * Over NATS, where a hop took 330 µs in the median and 1 ms on average while both cores computed
 * (2-node Jacobi), that is most of a barrier. It sends N(N-1) arrivals instead of 2(N-1) messages,
 * so it is for few nodes (sync.ts MAX_PEER_BARRIER_NODES), not for wide jobs; and in one process
 * for nodes that spin on their own cores, where an arrival costs no wake-up.
 *
 * A node is at most one epoch ahead of another (it cannot pass barrier e+1 without the other's
 * arrival at e+1), so arrivals of the epoch after the one this node waits in are kept until it
 * gets there, and its own arrivals of the last few epochs are kept to answer repeats.
 *
 * Not used with checkpoints: one node (the manager) decides at a release whether every node
 * takes one.
 */
import { releaseOf, type Arrival } from "./barrier_manager.js";
import { BarrierFlag, MessageKind, type ArriveBody, type Message, type ReleaseBody } from "./codec.js";
import type { Endpoint } from "./endpoint.js";
import { SyncTimeoutError } from "./errors.js";
import { Future } from "./future.js";
import type { TimerHandle } from "./scheduler.js";
import type { BarrierExchange } from "./sync.js";

/** Own arrivals kept to answer repeats. */
const REMEMBERED = 4;

/** What a node learns when a barrier releases: the flags and body a manager's release carries. */
export interface PeerRelease {
  flags: number;
  body: ReleaseBody;
}

/** A wait for the other nodes' arrivals (at a barrier) or Dones (lingering after the final one). */
interface Wait {
  epoch: number;
  deadline: number;
  timer: TimerHandle | undefined;
  unwatch: () => void;
  /** Who is still missing. */
  missing: () => number[];
  /** Sends to a missing node again. */
  resend: (node: number) => void;
  timeout: (missing: number[]) => Error | undefined;
  settle: (error?: Error) => void;
}

export class PeerBarriers {
  /** The last epoch released here (0: none). */
  private released = 0;
  /** Arrivals (index = node) of the epochs not yet released: the one this node waits in, and the next. */
  private readonly arrivals = new Map<number, (Arrival | undefined)[]>();
  /** This node's own arrivals of the last few epochs, to send again to a node that lacks one. */
  private readonly own = new Map<number, Arrival>();
  private waiting: Wait | undefined;
  /** The nodes whose BarrierDone came, per final epoch. */
  private readonly dones = new Map<number, Set<number>>();
  private lingering: Wait | undefined;

  constructor(
    private readonly endpoint: Endpoint,
    private readonly timeoutMs: number,
    private readonly exchange?: BarrierExchange,
  ) {}

  /** This node arrives at barrier `epoch`: resolves with the release once every node has arrived. */
  arrive(epoch: number, flags: number, body: ArriveBody): Future<PeerRelease> {
    const { endpoint } = this;
    const me = endpoint.node;
    const arrival: Arrival = { request: 0, flags, body };
    this.own.set(epoch, arrival);
    this.own.delete(epoch - REMEMBERED);
    for (let to = 0; to < endpoint.nodeCount; to++) if (to !== me) this.sendArrival(to, epoch, 0);
    const slot = this.slot(epoch);
    slot[me] = arrival;
    const done = new Future<PeerRelease>();
    if (!slot.includes(undefined)) {
      done.resolve(this.release(epoch));
      return done;
    }
    this.waiting = this.startWait(epoch, {
      missing: () => this.missingArrivals(epoch),
      resend: (node) => this.sendArrival(node, epoch, BarrierFlag.Repeat),
      timeout: (missing) => SyncTimeoutError.peerBarrier(epoch, missing, this.timeoutMs),
      settle: (error) => {
        this.waiting = undefined;
        if (error) done.reject(error);
        else done.resolve(this.release(epoch));
      },
    });
    return done;
  }

  onArrive(m: Message): void {
    const { endpoint } = this;
    const epoch = m.version;
    const from = m.source;
    if (from === endpoint.node) return endpoint.dropMisdelivered();
    const repeat = (m.arg & BarrierFlag.Repeat) !== 0;
    // The sender lacks this node's arrival: send it again (when this node has arrived there).
    if (repeat && this.own.has(epoch)) this.sendArrival(from, epoch, 0);
    // Released here already (a repeat, or a copy), or more than one epoch ahead (cannot be).
    if (epoch <= this.released || epoch > this.released + 2) return endpoint.dropStale();
    const slot = this.slot(epoch);
    if (slot[from] !== undefined) return endpoint.dropStale();
    slot[from] = { request: m.request, flags: m.arg & ~BarrierFlag.Repeat, body: m.body as ArriveBody };
    const wait = this.waiting;
    if (wait && wait.epoch === epoch && !slot.includes(undefined)) this.end(wait);
  }

  onDone(m: Message): void {
    const { endpoint } = this;
    const epoch = m.version;
    const own = this.own.get(epoch);
    // A Done follows a final barrier this node arrived at. It may come before this node has
    // released that barrier itself (it still lacks another node's arrival); it is kept.
    if (m.source === endpoint.node || !own || (own.flags & BarrierFlag.Final) === 0) return endpoint.dropMisdelivered();
    if (epoch < this.released || epoch > this.released + 1) return endpoint.dropStale();
    let dones = this.dones.get(epoch);
    if (!dones) this.dones.set(epoch, (dones = new Set()));
    dones.add(m.source);
    // The sender lingers without this node's Done: send it again (once released here).
    if ((m.arg & BarrierFlag.Repeat) !== 0 && epoch === this.released) this.sendDone(m.source, epoch, 0);
    const wait = this.lingering;
    if (wait && wait.epoch === epoch && dones.size === endpoint.nodeCount - 1) this.end(wait);
  }

  /**
   * After the final barrier `epoch`: resolves once every other node's Done is here, answering
   * repeats meanwhile; gives up quietly after the timeout (the nodes have all finished by then).
   */
  linger(epoch: number): Future<void> {
    const done = new Future<void>();
    const missing = () => {
      const dones = this.dones.get(epoch);
      const out: number[] = [];
      for (let n = 0; n < this.endpoint.nodeCount; n++) if (n !== this.endpoint.node && !dones?.has(n)) out.push(n);
      return out;
    };
    if (missing().length === 0) {
      done.resolve();
      return done;
    }
    this.lingering = this.startWait(epoch, {
      missing,
      resend: (node) => this.sendDone(node, epoch, BarrierFlag.Repeat),
      timeout: () => undefined,
      settle: () => {
        this.lingering = undefined;
        done.resolve();
      },
    });
    return done;
  }

  private startWait(epoch: number, how: Pick<Wait, "missing" | "resend" | "timeout" | "settle">): Wait {
    const { endpoint } = this;
    const scheduler = endpoint.scheduler;
    const wait: Wait = { epoch, deadline: scheduler.now() + this.timeoutMs, timer: undefined, unwatch: () => undefined, ...how };
    const retry = (interval: number) => {
      const now = scheduler.now();
      const missing = wait.missing();
      if (now >= wait.deadline || endpoint.isClosed) return this.end(wait, wait.timeout(missing));
      for (const node of missing) {
        endpoint.counters.retries++;
        wait.resend(node);
      }
      wait.timer = scheduler.at(now + Math.min(interval, wait.deadline - now), () => retry(Math.min(interval * 2, endpoint.retryMs * 8)));
    };
    wait.timer = scheduler.at(scheduler.now() + endpoint.retryMs, () => retry(endpoint.retryMs * 2));
    wait.unwatch = endpoint.watch((error) => this.end(wait, wait === this.lingering ? undefined : error));
    return wait;
  }

  /** Ends `wait`: released (no error), failed, or timed out. */
  private end(wait: Wait, error?: Error): void {
    if (wait.timer !== undefined) this.endpoint.scheduler.cancel(wait.timer);
    wait.timer = undefined;
    wait.unwatch();
    wait.settle(error);
  }

  /** Every node's arrival of `epoch` is here: the release, computed as the manager would. */
  private release(epoch: number): PeerRelease {
    const { endpoint } = this;
    const slot = this.arrivals.get(epoch)! as Arrival[];
    this.arrivals.delete(epoch);
    this.released = epoch;
    const { flags, body, parts } = releaseOf(slot, this.exchange);
    if (parts) body.lrc = parts[endpoint.node];
    if (flags & BarrierFlag.Final) for (let to = 0; to < endpoint.nodeCount; to++) if (to !== endpoint.node) this.sendDone(to, epoch, 0);
    return { flags, body };
  }

  private slot(epoch: number): (Arrival | undefined)[] {
    let slot = this.arrivals.get(epoch);
    if (!slot) this.arrivals.set(epoch, (slot = new Array<Arrival | undefined>(this.endpoint.nodeCount).fill(undefined)));
    return slot;
  }

  private missingArrivals(epoch: number): number[] {
    const slot = this.arrivals.get(epoch);
    const out: number[] = [];
    for (let n = 0; n < this.endpoint.nodeCount; n++) if (!slot?.[n]) out.push(n);
    return out;
  }

  private sendArrival(to: number, epoch: number, extra: number): void {
    const own = this.own.get(epoch)!;
    this.endpoint.send(to, { kind: MessageKind.BarrierArrive, version: epoch, arg: own.flags | extra, body: own.body });
  }

  private sendDone(to: number, epoch: number, flags: number): void {
    this.endpoint.send(to, { kind: MessageKind.BarrierDone, version: epoch, arg: flags });
  }
}
