/**
 * The host thread's part of a relayed link (ring_link.ts): it moves bytes between a worker's rings
 * and a transport that needs the event loop (NatsTransport), and does nothing else.
 *
 *   worker ── up ring ──▶ hub (host bell rung) ── transport.send(tag = destination) ──▶ NATS
 *   NATS ──▶ transport handler ── down ring (worker's bell rung, poll word raised) ──▶ worker
 *
 * One hub serves every relayed node of the process through one host bell. It drains the up rings
 * whenever the bell moves, and after it has moved it keeps looking for HOST_POLL_US on later turns
 * of the event loop before it sleeps (Atomics.waitAsync): a node that has just sent a request
 * usually sends its next message soon after. A down ring with no room keeps the message in order
 * in a queue, sent when the worker frees space (it rings the host bell then).
 *
 * With the process's count of running threads (the core gauge's buffer, runtime/core_gauge.ts),
 * the hub counts as a running thread while it is awake, as a worker does while it computes or
 * spins. Its nodes' workers then stop spinning
 * while the hub needs a core: two nodes of one process waiting at a barrier over NATS on 2 cores
 * used to spin on both while their messages waited for the host thread (bench:sync: 2-node barrier
 * 5.1× the raw round trip, 2.4–3.2× with the hub counted).
 */
import { Bell } from "./bell.js";
import { RingReader, RingWriter } from "./ring.js";
import { relayedLink } from "./ring_network.js";
import type { RingLinkSpec, WakeWord } from "./ring_link.js";
import type { Transport } from "./transport.js";

/** Microseconds the hub keeps polling the up rings after activity before it sleeps. */
export const HOST_POLL_US = 50;
/** Longest single sleep of the hub, in ms (it re-checks `stopped`). */
const MAX_SLEEP_MS = 1000;

class Relay {
  readonly up: RingReader;
  readonly down: RingWriter;
  readonly workerBell: Bell;
  private readonly wake: Int32Array | undefined;
  private readonly wakeIndex: number;
  private readonly waiting: Uint8Array[] = [];
  /** Messages moved each way. */
  readonly counters = { up: 0, down: 0 };

  constructor(
    readonly transport: Transport,
    rings: { up: SharedArrayBuffer; down: SharedArrayBuffer; workerBell: SharedArrayBuffer; wake?: WakeWord; running?: SharedArrayBuffer },
    /** Called when a message came in for the worker: the hub is busy. */
    private readonly arrived: () => void,
  ) {
    this.up = new RingReader(rings.up);
    this.down = new RingWriter(rings.down);
    this.workerBell = new Bell(rings.workerBell, rings.running);
    this.wake = rings.wake && new Int32Array(rings.wake.buffer);
    this.wakeIndex = rings.wake?.index ?? 0;
    transport.listen((bytes) => this.toWorker(bytes));
  }

  /** Sends what the worker published; true if there was anything. */
  pumpUp(): boolean {
    if (!this.up.ready) return false;
    const wanted = this.up.drain((to, bytes) => {
      this.counters.up++;
      this.transport.send(to, bytes);
    });
    if (wanted) this.workerBell.ring();
    return true;
  }

  /** Retries messages the down ring had no room for. */
  flushDown(): void {
    if (this.waiting.length === 0) return;
    let sent = 0;
    while (sent < this.waiting.length && this.down.write(0, this.waiting[sent]!)) sent++;
    if (sent === 0) return;
    this.waiting.splice(0, sent);
    this.notify();
  }

  private toWorker(bytes: Uint8Array): void {
    this.counters.down++;
    this.arrived();
    if (this.waiting.length > 0 || !this.down.write(0, bytes)) {
      this.waiting.push(bytes.slice());
      return;
    }
    this.notify();
  }

  private notify(): void {
    if (this.wake) Atomics.store(this.wake, this.wakeIndex, 1);
    this.workerBell.ring();
  }
}

export interface RelayHubOptions {
  /**
   * The process's count of running threads (Int32 slot 0, as bells count them), which its nodes'
   * workers read before they spin (runtime/core_gauge.ts). The hub counts in it while it relays,
   * so that waiting workers leave it a core. @default none
   */
  running?: SharedArrayBuffer;
}

export class RelayHub {
  readonly bell: Bell;
  private readonly relays: Relay[] = [];
  /** A view of RelayHubOptions.running's count. */
  private readonly running: Int32Array | undefined;
  private stopped = false;
  private loopDone: Promise<void> | undefined;
  /** A message came in from the transport since the loop last looked. */
  private arrived = false;
  private readonly onArrival = (): void => {
    this.arrived = true;
    this.bell.ring();
  };

  constructor(options: RelayHubOptions = {}) {
    this.running = options.running && new Int32Array(options.running, 0, 1);
    this.bell = new Bell(undefined, options.running);
  }

  /**
   * Relays node `nodeId` (whose worker is yet to start) over `transport`; returns the worker's
   * link spec. `wake` is the node's poll word.
   */
  add(transport: Transport, options: { wake?: WakeWord; ringBytes?: number } = {}): RingLinkSpec {
    const { spec, rings } = relayedLink(transport.nodeId, transport.nodeCount, { hostBell: this.bell.buffer, ringBytes: options.ringBytes, maxPayload: transport.maxPayload, wake: options.wake, running: this.running?.buffer as SharedArrayBuffer | undefined });
    this.relays.push(new Relay(transport, rings, this.onArrival));
    return spec;
  }

  /** Messages moved for the node of `transport`, each way. */
  counters(transport: Transport): { up: number; down: number } {
    return this.relays.find((r) => r.transport === transport)?.counters ?? { up: 0, down: 0 };
  }

  start(): void {
    this.loopDone ??= this.loop();
  }

  /**
   * Stops relaying, after sending what the workers published last: a node's final messages (its
   * acknowledgement of the final barrier) may still wait in its ring when its worker has already
   * reported, and the job's other nodes wait for them.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.bell.ring();
    await this.loopDone;
    for (const r of this.relays) r.pumpUp();
  }

  /**
   * Counted in the gauge from its start to its end, except while it sleeps: whoever rings the
   * sleeping hub's bell (a worker that published, or a message that came in from the transport)
   * counts it at once (bell.ts), else it counts itself as it wakes.
   */
  private async loop(): Promise<void> {
    this.count(1);
    let pollUntil = 0;
    while (!this.stopped) {
      const seen = this.bell.seq;
      let moved = this.arrived;
      this.arrived = false;
      for (const r of this.relays) {
        r.flushDown();
        if (r.pumpUp()) moved = true;
      }
      const now = performance.now();
      if (moved) pollUntil = now + HOST_POLL_US / 1000;
      if (moved || now < pollUntil) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        continue;
      }
      this.count(-1);
      if (!(await this.bell.sleepAsync(seen, MAX_SLEEP_MS))) this.count(1);
    }
    this.count(-1);
  }

  /** The hub starts (1) or stops (-1) using a CPU. */
  private count(delta: number): void {
    if (this.running) Atomics.add(this.running, 0, delta);
  }
}
