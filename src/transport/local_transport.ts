/**
 * @fileoverview The in-process transport: every node of a job lives in this process and talks
 * through one {@link LocalNetwork}. It is the embedded default and the transport most protocol
 * tests run on, so it behaves like a wire, not like a function call:
 *
 *   node 0 send(1, bytes)          network                               node 1 handler
 *   ── check, count ────────────▶  copy bytes (the sender may reuse its buffer)
 *                                  intercept(0, 1, copy, "send") → deliver | drop | {delayMs}
 *                                  FIFO queue ── drained on setImmediate ──▶ handler(copy)
 *                                       ▲                                        │ send
 *                                       └──── joins the drain under way ◀────────┘
 *
 * - Asynchronous: a handler never runs inside `send`, `request` or `reply`.
 * - One turn per exchange: a message sent by a handler while the queue is drained joins that
 *   drain (after everything queued before it), so a request, its forwards and the reply cost one
 *   turn of the event loop instead of one turn per hop. After {@link TURN_BUDGET} deliveries the
 *   rest waits for the next turn, so nodes that keep answering each other cannot starve timers
 *   and I/O. Promise callbacks a handler triggers run after the drain, and what they send waits
 *   for the next turn, as it would on NATS.
 * - Ordered per sender: one FIFO queue for the whole network keeps every sender's messages in the
 *   order sent (and, stronger than NATS, in one global order) unless the intercept delays one.
 * - Delivered bytes are a fresh copy that, like the NATS parser's output, is a view at a nonzero
 *   offset into a larger buffer, so a decoder that ignores `byteOffset` fails here as it would there.
 *   Nobody else holds that copy, so the receiver may keep it (`handsOverBytes`). Small messages
 *   are carved from a shared slab (wire_copies.ts), large ones get a buffer each.
 * - Like NATS: a message to a node that is not listening (or closed) is dropped, and a request to
 *   one rejects with `NoRespondersError`; a request or reply lost in flight (intercept "drop")
 *   makes `request` reject with `TransportTimeoutError` after its timeout. Messages larger than
 *   `maxPayload` (NATS' 1 MiB default) are rejected, so they fail here before they fail on NATS.
 *
 * Not covered: reordering other than by delaying a message; duplication; corruption other than
 * an intercept writing into the bytes it is handed.
 */
import {
  DEFAULT_MAX_PAYLOAD,
  checkNodeCount,
  checkPayload,
  checkTarget,
  checkTimeout,
  rethrowLater,
  type HandlerErrorHook,
} from "./checks.js";
import {
  DuplicateReplyError,
  InvalidTransportOptionError,
  NoRespondersError,
  TransportClosedError,
  TransportTimeoutError,
} from "./errors.js";
import type { MessageHandler, Transport } from "./transport.js";
import { WireCopies } from "./wire_copies.js";
export { SLAB_MESSAGE_BYTES } from "./wire_copies.js";

export type MessageKind = "send" | "request" | "reply";

/** What happens to one message: delivered in order, lost, or delivered `delayMs` later (overtaken). */
export type InterceptVerdict = "deliver" | "drop" | { delayMs: number };

/** Test hook: sees every message (a copy it may inspect or alter) and decides its fate. */
export type Intercept = (from: number, to: number, bytes: Uint8Array, kind: MessageKind) => InterceptVerdict;

export interface LocalNetworkOptions {
  /** Largest message in bytes. @default 1048576 (NATS' default max_payload) */
  maxPayload?: number;
  /** Drop, delay or reorder messages in flight. @default undefined (deliver everything) */
  intercept?: Intercept;
  /** Called when a message handler throws. @default rethrow as an uncaught exception */
  onHandlerError?: HandlerErrorHook;
}

interface Envelope {
  from: number;
  to: number;
  bytes: Uint8Array;
  kind: MessageKind;
  /** Matches a reply to its request; 0 for plain sends. */
  requestId: number;
}

/** A place in the queue: `reached` runs when delivery gets there (see {@link LocalTransport.flush}). */
interface Marker {
  reached(): void;
}

/** Fills a delivered slot so the queue does not keep the message's bytes alive. */
const EMPTY_SLOT: Marker = { reached() {} };

function isMarker(item: Envelope | Marker): item is Marker {
  return (item as Envelope).bytes === undefined;
}

interface Pending {
  resolve(bytes: Uint8Array): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}


/** Deliveries one drain makes before leaving the rest of the queue to the next turn of the event loop. */
export const TURN_BUDGET = 256;

export class LocalNetwork {
  readonly nodeCount: number;
  readonly maxPayload: number;
  /** Test hook; may be set or replaced at any time. */
  intercept: Intercept | undefined;
  /** Messages handed to a handler or a waiting request, and messages lost (intercepted, unheard, late). */
  readonly stats = { delivered: 0, dropped: 0 };
  readonly onHandlerError: HandlerErrorHook;
  private readonly nodes: LocalTransport[] = [];
  /** Messages and flush markers in order; `head` is the next one to deliver. */
  private queue: (Envelope | Marker)[] = [];
  private head = 0;
  /** Messages (not markers) in `queue` from `head` on. */
  private queuedMessages = 0;
  private scheduled = false;
  private draining = false;
  private readonly delayed = new Set<NodeJS.Timeout>();
  /** Where each message is copied for its trip. */
  private readonly copies = new WireCopies();

  constructor(nodeCount: number, options: LocalNetworkOptions = {}) {
    checkNodeCount(nodeCount);
    const maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    if (!(maxPayload === Infinity || (Number.isInteger(maxPayload) && maxPayload >= 0))) {
      throw new InvalidTransportOptionError("maxPayload", maxPayload, "a byte count of at least 0, or Infinity");
    }
    this.nodeCount = nodeCount;
    this.maxPayload = maxPayload;
    this.intercept = options.intercept;
    this.onHandlerError = options.onHandlerError ?? rethrowLater;
    for (let id = 0; id < nodeCount; id++) this.nodes.push(new LocalTransport(this, id));
  }

  /** The transport of node `nodeId` (the same object on every call). */
  transport(nodeId: number): LocalTransport {
    checkTarget(nodeId, this.nodeCount);
    return this.nodes[nodeId]!;
  }

  /** Closes every node and forgets messages still in flight. */
  async close(): Promise<void> {
    for (const timer of this.delayed) clearTimeout(timer);
    this.delayed.clear();
    const forgotten = this.queue.slice(this.head);
    this.queue = [];
    this.head = 0;
    this.queuedMessages = 0;
    for (const item of forgotten) if (isMarker(item)) item.reached();
    await Promise.all(this.nodes.map((node) => node.close()));
  }

  /** @internal Copies the bytes, applies the intercept and queues the message. */
  post(from: number, to: number, bytes: Uint8Array, kind: MessageKind, requestId: number): void {
    const envelope: Envelope = { from, to, bytes: this.copies.copy(bytes), kind, requestId };
    const verdict = this.intercept ? this.intercept(from, to, envelope.bytes, kind) : "deliver";
    if (verdict === "deliver") {
      this.enqueue(envelope);
    } else if (verdict === "drop") {
      this.stats.dropped++;
    } else if (isDelay(verdict)) {
      const timer = setTimeout(() => {
        this.delayed.delete(timer);
        this.enqueue(envelope);
      }, verdict.delayMs);
      this.delayed.add(timer);
    } else {
      throw new InvalidTransportOptionError("intercept verdict", verdict, '"deliver", "drop" or { delayMs: n >= 0 }');
    }
  }


  /** @internal Whether a message is queued behind the delivery under way (see Transport.backlog). */
  backlog(): boolean {
    return this.queuedMessages > 0;
  }

  /** @internal Calls `reached` once every message queued before it was delivered, or at close. */
  mark(reached: () => void): void {
    this.enqueue({ reached });
  }

  private enqueue(item: Envelope | Marker): void {
    this.queue.push(item);
    if (!isMarker(item)) this.queuedMessages++;
    // During a drain the item joins it; the drain's loop reaches it.
    if (!this.scheduled && !this.draining) {
      this.scheduled = true;
      setImmediate(this.drain);
    }
  }

  private readonly drain = (): void => {
    this.scheduled = false;
    this.draining = true;
    let delivered = 0;
    try {
      // Re-read this.queue each time: a handler may close the network, which empties it.
      while (this.head < this.queue.length) {
        const item = this.queue[this.head]!;
        if (isMarker(item)) {
          this.queue[this.head++] = EMPTY_SLOT;
          item.reached();
          continue;
        }
        if (delivered === TURN_BUDGET) {
          this.queue = this.queue.slice(this.head);
          this.head = 0;
          this.scheduled = true;
          setImmediate(this.drain);
          return;
        }
        this.queue[this.head++] = EMPTY_SLOT;
        this.queuedMessages--;
        delivered++;
        this.deliver(item);
      }
      this.queue = [];
      this.head = 0;
    } finally {
      this.draining = false;
      // Only if a delivery threw: what is left still gets delivered.
      if (this.head < this.queue.length && !this.scheduled) {
        this.scheduled = true;
        setImmediate(this.drain);
      }
    }
  };

  private deliver(envelope: Envelope): void {
    const target = this.nodes[envelope.to]!;
    if (envelope.kind === "reply") {
      if (target.settle(envelope.requestId, envelope.bytes)) this.stats.delivered++;
      else this.stats.dropped++; // the request timed out or its node closed
      return;
    }
    if (!target.listening) {
      this.stats.dropped++;
      if (envelope.kind === "request") this.nodes[envelope.from]!.refuse(envelope.requestId, envelope.to);
      return;
    }
    this.stats.delivered++;
    target.receive(envelope);
  }
}

export class LocalTransport implements Transport {
  readonly nodeCount: number;
  readonly counters = { messages: 0, bytes: 0 };
  /** Each delivery is a fresh copy (WireCopies) that only its handler sees. */
  readonly handsOverBytes = true;
  private handler: MessageHandler | undefined;
  private closed = false;
  private nextRequestId = 1;
  private readonly pending = new Map<number, Pending>();

  /** Use {@link LocalNetwork.transport}. */
  constructor(
    private readonly network: LocalNetwork,
    readonly nodeId: number,
  ) {
    this.nodeCount = network.nodeCount;
  }

  get maxPayload(): number {
    return this.network.maxPayload;
  }

  /** @internal True while a handler is set and the transport is open. */
  get listening(): boolean {
    return !this.closed && this.handler !== undefined;
  }

  send(to: number, bytes: Uint8Array): void {
    this.checkSend(to, bytes);
    this.network.post(this.nodeId, to, bytes, "send", 0);
    this.count(bytes);
  }

  request(to: number, bytes: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    return new Promise<Uint8Array>((resolve, reject) => {
      checkTimeout(timeoutMs);
      this.checkSend(to, bytes);
      const requestId = this.nextRequestId++;
      this.network.post(this.nodeId, to, bytes, "request", requestId);
      this.count(bytes);
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(new TransportTimeoutError(to, timeoutMs, `local request from node ${this.nodeId}`));
      }, timeoutMs);
      this.pending.set(requestId, { resolve, reject, timer });
    });
  }

  listen(handler: MessageHandler): void {
    if (this.closed) throw new TransportClosedError(this.nodeId);
    this.handler = handler;
  }

  backlog(): boolean {
    return this.network.backlog();
  }

  /** Resolves once every message sent before the call (and not delayed by the intercept) was delivered. */
  flush(): Promise<void> {
    return new Promise((resolve) => this.network.mark(resolve));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.handler = undefined;
    for (const { reject, timer } of this.pending.values()) {
      clearTimeout(timer);
      reject(new TransportClosedError(this.nodeId));
    }
    this.pending.clear();
  }

  /** @internal Hands a delivered send or request to the handler. */
  receive(envelope: Envelope): void {
    const reply = envelope.kind === "request" ? this.replier(envelope.from, envelope.requestId) : undefined;
    try {
      this.handler!(envelope.bytes, reply);
    } catch (error) {
      this.network.onHandlerError(error, this.nodeId);
    }
  }

  /** @internal Resolves a waiting request; false when nobody waits for it any more. */
  settle(requestId: number, bytes: Uint8Array): boolean {
    const pending = this.pending.get(requestId);
    if (!pending) return false;
    this.pending.delete(requestId);
    clearTimeout(pending.timer);
    pending.resolve(bytes);
    return true;
  }

  /** @internal The request reached a node that is not listening. */
  refuse(requestId: number, to: number): void {
    const pending = this.pending.get(requestId);
    if (!pending) return;
    this.pending.delete(requestId);
    clearTimeout(pending.timer);
    pending.reject(new NoRespondersError(to, `local request from node ${this.nodeId}`));
  }

  private replier(to: number, requestId: number): (bytes: Uint8Array) => void {
    let sent = false;
    return (bytes) => {
      if (sent) throw new DuplicateReplyError(this.nodeId);
      this.checkSend(to, bytes);
      this.network.post(this.nodeId, to, bytes, "reply", requestId);
      sent = true;
      this.count(bytes);
    };
  }

  private checkSend(to: number, bytes: Uint8Array): void {
    if (this.closed) throw new TransportClosedError(this.nodeId);
    checkTarget(to, this.nodeCount);
    checkPayload(bytes, this.network.maxPayload, to);
  }

  private count(bytes: Uint8Array): void {
    this.counters.messages++;
    this.counters.bytes += bytes.byteLength;
  }
}

function isDelay(verdict: unknown): verdict is { delayMs: number } {
  if (typeof verdict !== "object" || verdict === null) return false;
  const delayMs = (verdict as { delayMs?: unknown }).delayMs;
  return typeof delayMs === "number" && Number.isFinite(delayMs) && delayMs >= 0;
}
