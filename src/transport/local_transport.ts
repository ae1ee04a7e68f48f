/**
 * @fileoverview The in-process transport: every node of a job lives in this process and talks
 * through one {@link LocalNetwork}. It is the embedded default and the transport most protocol
 * tests run on, so it behaves like a wire, not like a function call:
 *
 *   node 0 send(1, bytes)          network                               node 1 handler
 *   ── check, count ────────────▶  copy bytes (the sender may reuse its buffer)
 *                                  intercept(0, 1, copy, "send") → deliver | drop | {delayMs}
 *                                  FIFO queue ── drained on setImmediate ──▶ handler(copy)
 *
 * - Asynchronous: a handler never runs inside `send`, `request` or `reply`.
 * - Ordered per sender: one FIFO queue for the whole network keeps every sender's messages in the
 *   order sent (and, stronger than NATS, in one global order) unless the intercept delays one.
 * - Delivered bytes are a fresh copy that, like the NATS parser's output, is a view at a nonzero
 *   offset into a larger buffer, so a decoder that ignores `byteOffset` fails here as it would there.
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

interface Pending {
  resolve(bytes: Uint8Array): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/** Where a delivered copy starts inside its buffer (see the file overview). */
const WIRE_OFFSET = 3;

export class LocalNetwork {
  readonly nodeCount: number;
  readonly maxPayload: number;
  /** Test hook; may be set or replaced at any time. */
  intercept: Intercept | undefined;
  /** Messages handed to a handler or a waiting request, and messages lost (intercepted, unheard, late). */
  readonly stats = { delivered: 0, dropped: 0 };
  readonly onHandlerError: HandlerErrorHook;
  private readonly nodes: LocalTransport[] = [];
  private queue: Envelope[] = [];
  private scheduled = false;
  private readonly delayed = new Set<NodeJS.Timeout>();

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
    this.queue = [];
    await Promise.all(this.nodes.map((node) => node.close()));
  }

  /** @internal Copies the bytes, applies the intercept and queues the message. */
  post(from: number, to: number, bytes: Uint8Array, kind: MessageKind, requestId: number): void {
    const envelope: Envelope = { from, to, bytes: wireCopy(bytes), kind, requestId };
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

  private enqueue(envelope: Envelope): void {
    this.queue.push(envelope);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.drain);
    }
  }

  // Only the batch present now: messages sent by handlers wait for the next turn, so two nodes
  // talking forever cannot starve timers and I/O.
  private readonly drain = (): void => {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    for (const envelope of batch) this.deliver(envelope);
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

  /** Resolves once every message sent before the call (and not delayed by the intercept) was delivered. */
  flush(): Promise<void> {
    return new Promise((resolve) => setImmediate(resolve));
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

function wireCopy(bytes: Uint8Array): Uint8Array {
  const copy = new Uint8Array(new ArrayBuffer(bytes.byteLength + WIRE_OFFSET), WIRE_OFFSET, bytes.byteLength);
  copy.set(bytes);
  return copy;
}
