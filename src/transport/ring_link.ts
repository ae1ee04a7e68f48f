/**
 * A node's {@link Link} over shared-memory rings (ring.ts), for a node whose protocol runs in its
 * kernel's worker thread. Two shapes:
 *
 *   direct (the embedded transport): a ring from every node to every other; a message goes
 *   straight into the destination's ring, which rings its bell (bell.ts) and raises its poll word
 *   so a kernel that computes parks at its next loop header. No other thread takes part.
 *
 *       worker 0 ── ring 0→1 ──▶ worker 1          worker 1 ── ring 1→0 ──▶ worker 0
 *
 *   relayed (NATS): one ring to the host thread and one from it; the host moves bytes between
 *   them and its socket (ring_relay.ts). Each record's tag names the destination node.
 *
 *       worker ── ring ──▶ host thread ── NATS ──▶ … ── host thread ── ring ──▶ worker
 *
 * Receiving happens only when the owner calls {@link pump}: at a poll, or while it waits in a
 * fault or sync call. Handlers get a view into the ring, valid until they return
 * (`handsOverBytes` is false: the codec copies what it keeps).
 *
 * A full ring does not block the sender: the message waits in this link's outbox, in order, and
 * goes at the next {@link flush} (every pump flushes); the consumer rings this node's bell when
 * it frees space the link asked for.
 */
import { Bell } from "./bell.js";
import { checkTarget } from "./checks.js";
import { RingReader, RingWriter } from "./ring.js";
import type { Link, MessageHandler } from "./transport.js";

/** A word to raise (Atomics.store 1) when a message is published: the consumer's poll word. */
export interface WakeWord {
  buffer: SharedArrayBuffer;
  /** Int32 index of the word in `buffer`. */
  index: number;
}

/** One outgoing ring, with what its consumer is woken by. */
export interface OutletSpec {
  ring: SharedArrayBuffer;
  /** The consumer's bell. */
  bell: SharedArrayBuffer;
  wake?: WakeWord;
  /** The consumer's count of running threads, if it keeps one (bell.ts). */
  running?: SharedArrayBuffer;
}

/** One incoming ring, with its producer's bell (rung when space it asked for is freed). */
export interface InletSpec {
  ring: SharedArrayBuffer;
  bell: SharedArrayBuffer;
}

/** Everything a ring link is made of: plain data, so a worker can be handed it. */
export interface RingLinkSpec {
  nodeId: number;
  nodeCount: number;
  /** This node's own bell. */
  bell: SharedArrayBuffer;
  /** "direct": `out[n]` goes to node n (null for this node); "relayed": `out[0]` goes to the host. */
  route: "direct" | "relayed";
  out: (OutletSpec | null)[];
  inlets: InletSpec[];
  /** Largest message the whole path carries (the host's transport may carry less than a ring). @default the rings' limit */
  maxPayload?: number;
  /** Keep a transcript of what this node sends (tests): see RingLink.sent. @default false */
  transcript?: boolean;
}

/** Bit of a direct ring record's tag: the message was sent deferrable. */
const DEFERRABLE_TAG = 0x80000000;

class Outlet {
  readonly writer: RingWriter;
  readonly bell: Bell;
  readonly wake: Int32Array | undefined;
  readonly wakeIndex: number;
  /** Messages the ring had no room for, in order: [tag, bytes]. */
  readonly waiting: [number, Uint8Array][] = [];

  constructor(spec: OutletSpec) {
    this.writer = new RingWriter(spec.ring);
    this.bell = new Bell(spec.bell, spec.running);
    this.wake = spec.wake && new Int32Array(spec.wake.buffer);
    this.wakeIndex = spec.wake?.index ?? 0;
  }

  /** Publishes or queues; a deferrable message (its tag says) rings the bell but leaves the poll word alone. */
  send(tag: number, bytes: Uint8Array): void {
    if (this.waiting.length > 0 || !this.writer.write(tag, bytes)) {
      this.waiting.push([tag, bytes.slice()]);
      return;
    }
    if ((tag & DEFERRABLE_TAG) !== 0) this.bell.ring();
    else this.notify();
  }

  /** Publishes what waits, as far as there is room. */
  flush(): void {
    const w = this.waiting;
    let sent = 0;
    while (sent < w.length && this.writer.write(w[sent]![0], w[sent]![1])) sent++;
    if (sent === 0) return;
    w.splice(0, sent);
    this.notify();
  }

  private notify(): void {
    if (this.wake) Atomics.store(this.wake, this.wakeIndex, 1);
    this.bell.ring();
  }
}

class Inlet {
  readonly reader: RingReader;
  readonly producer: Bell;

  constructor(spec: InletSpec) {
    this.reader = new RingReader(spec.ring);
    this.producer = new Bell(spec.bell);
  }
}

export class RingLink implements Link {
  readonly nodeId: number;
  readonly nodeCount: number;
  readonly maxPayload: number;
  readonly handsOverBytes = false;
  readonly lendsBytes = true;
  readonly counters = { messages: 0, bytes: 0 };
  /** This node's bell: rung by every producer of its inlets. */
  readonly bell: Bell;
  private readonly outlets: (Outlet | null)[];
  private readonly inlets: Inlet[];
  private readonly relayed: boolean;
  /** Relayed links hand every message to the host thread's NATS connection. */
  readonly leavesProcess: boolean;
  /** With RingLinkSpec.transcript: [the byte at offset 3 (a wasm-dsm message's kind), destination] of every send, in order. */
  readonly sent: [number, number][] | undefined;
  private handler: MessageHandler | undefined;
  /** Inlet the next pump starts at, so no peer's ring starves the others. */
  private next = 0;
  private queued = 0;

  constructor(spec: RingLinkSpec) {
    this.nodeId = spec.nodeId;
    this.nodeCount = spec.nodeCount;
    this.bell = new Bell(spec.bell);
    this.relayed = spec.route === "relayed";
    this.leavesProcess = this.relayed;
    this.sent = spec.transcript ? [] : undefined;
    this.outlets = spec.out.map((o) => (o ? new Outlet(o) : null));
    this.inlets = spec.inlets.map((i) => new Inlet(i));
    const ringLimit = Math.min(...this.outlets.filter((o): o is Outlet => o !== null).map((o) => o.writer.maxPayload));
    this.maxPayload = Math.min(ringLimit, spec.maxPayload ?? Infinity);
  }

  listen(handler: MessageHandler): void {
    this.handler = handler;
  }

  send(to: number, bytes: Uint8Array, deferrable = false): void {
    checkTarget(to, this.nodeCount);
    if (this.sent) this.sent.push([bytes[3]!, to]);
    const outlet = this.relayed ? this.outlets[0] : this.outlets[to];
    if (!outlet) throw new RangeError(`node ${this.nodeId}: no ring to node ${to}`);
    this.counters.messages++;
    this.counters.bytes += bytes.byteLength;
    // The host thread of a relayed link raises the poll word for what it brings in, whatever it is.
    // On a direct ring the tag (which the receiver does not otherwise read) marks a deferrable
    // message, so the receiver can tell what may wait (urgentWaiting).
    outlet.send(deferrable && !this.relayed ? (to | DEFERRABLE_TAG) >>> 0 : to, bytes);
    if (outlet.waiting.length > 0) this.queued++;
  }

  /** Whether a message waits in an inlet. */
  backlog(): boolean {
    // Indexed loops here and below: they run at every poll and wait, and an iterator is garbage.
    const inlets = this.inlets;
    for (let i = 0; i < inlets.length; i++) if (inlets[i]!.reader.ready) return true;
    return false;
  }

  /**
   * Whether a message waits that was not sent deferrable (Link.send): one the receiver must not
   * leave waiting while it computes. Messages that come through the host thread (relayed) count
   * as such.
   */
  urgentWaiting(): boolean {
    const inlets = this.inlets;
    for (let i = 0; i < inlets.length; i++) if (inlets[i]!.reader.hasTagWithout(DEFERRABLE_TAG)) return true;
    return false;
  }

  /** Messages waiting in outboxes for room in a ring. */
  get outbox(): number {
    let n = 0;
    const outlets = this.outlets;
    for (let i = 0; i < outlets.length; i++) n += outlets[i]?.waiting.length ?? 0;
    return n;
  }

  /**
   * Hands every waiting message to the handler, each inlet in turn, until all are empty or
   * `stop()` turns true after a message; then sends what waits in the outboxes. Returns the
   * number of messages handled.
   */
  pump(stop?: () => boolean): number {
    if (this.queued > 0) this.flush();
    const inlets = this.inlets;
    this.handled = 0;
    this.stopped = false;
    this.stop = stop;
    for (let k = 0; k < inlets.length && !this.stopped; k++) {
      const inlet = inlets[(this.next + k) % inlets.length]!;
      if (!inlet.reader.ready) continue;
      if (inlet.reader.drain(this.one)) inlet.producer.ring();
    }
    this.stop = undefined;
    this.next = inlets.length > 0 ? (this.next + 1) % inlets.length : 0;
    if (this.queued > 0) this.flush();
    return this.handled;
  }

  /** State of the pump under way, kept in fields so a pump allocates nothing. */
  private handled = 0;
  private stopped = false;
  private stop: (() => boolean) | undefined;
  private readonly one = (_tag: number, bytes: Uint8Array): boolean => {
    this.handled++;
    this.handler?.(bytes);
    return (this.stopped = this.stop !== undefined && this.stop());
  };

  /** Sends what waits in the outboxes, as far as the rings have room. */
  flush(): void {
    let left = 0;
    const outlets = this.outlets;
    for (let i = 0; i < outlets.length; i++) {
      const o = outlets[i];
      if (!o || o.waiting.length === 0) continue;
      o.flush();
      left += o.waiting.length;
    }
    this.queued = left;
  }
}
