/**
 * One node's end of the wire, shared by the sync service and the coherence protocol of that node:
 * encodes and sends messages, decodes and validates every incoming one, routes it by kind, and
 * runs the request/reply exchanges that survive a lost message.
 *
 *   call(to, msg)   send ──────────▶        (lost)
 *                   retryMs later: send ──────────▶ handler ──▶ reply (same request id)
 *                   ◀──────────────────────────────────────────
 *                   resolve with the reply; a second copy of the reply finds no pending call
 *                   and is dropped (counted as stale)
 *
 * Retries back off (retryMs, 2×, 4×, 8× at most) and stop at the call's deadline, where the call
 * rejects with the error its caller built (call_table.ts keeps the calls and their one timer).
 * Receivers must therefore treat a repeated request as the same request: every exchange carries
 * the request id of the node that started it.
 *
 * Dropped and counted, never thrown: bytes the codec rejects, messages of another job or for
 * another node, replies nobody waits for, kinds nobody handles. A handler that throws is a bug;
 * its error is kept and thrown by the next {@link Endpoint.check}.
 */
import { CallTable } from "./call_table.js";
import type { PagePort } from "./coherence.js";
import { Future } from "./future.js";
import type { Scheduler } from "./scheduler.js";
import { CodecError, Field, HEADER_BYTES, KEEP_VIEW_BYTES, MessageKind, carriesJson, decodeMessage, encodeMessage, messageFrom, type DecodeContext, type Message, type MessageInit } from "./codec.js";
import { ProtocolClosedError } from "./errors.js";
import { FragmentError, Reassembly, splitMessage } from "./fragments.js";
import { Scratch } from "./scratch.js";
import { SelfQueue } from "./self_queue.js";
import { DEFAULT_MAX_PAYLOAD } from "../transport/checks.js";
import type { Link } from "../transport/transport.js";

/** A message as a protocol builds it; the endpoint adds job, source and target. */
export type Outgoing = Omit<MessageInit, "job" | "source" | "target">;

export interface CallOptions {
  /** Kinds that answer the call. */
  replies: readonly MessageKind[];
  /** Kinds that report progress (kept for the timeout error) without answering. */
  progress?: readonly MessageKind[];
  /** Further checks on a reply (e.g. same page); a reply that fails them is dropped as stale. */
  accept?: (reply: Message) => boolean;
  timeoutMs: number;
  /** Builds the error for a call that got no reply in time, from the last progress message. */
  timeout: (lastProgress: Message | undefined) => Error;
  /**
   * The reply's payload is used only inside the reply callback (installed, copied) and never
   * kept: on a transport that lends its bytes (a ring), it may then stay a view into them
   * instead of being copied. @default false
   */
  borrows?: boolean;
}

export interface EndpointCounters {
  /** Every message dropped, for any reason below. */
  dropped: number;
  malformed: number;
  /** For another job or another node. */
  misdelivered: number;
  /** Replies nobody waits for and requests already served. */
  stale: number;
  /** Retransmissions by `call`. */
  retries: number;
}

export interface EndpointOptions {
  job: number;
  /** First retransmission after this many ms. */
  retryMs: number;
  /** Runs retransmissions and messages a node sends itself (scheduler.ts). */
  scheduler: Scheduler;
}

/**
 * Kinds whose receiver need not stop computing for them (Link.send's `deferrable`), indexed by
 * kind. A node that computes serves each message that arrives at its next loop header, and such a
 * poll cost ~11 µs here (jacobi 1024x100 on ivy, 2 nodes: 500-750 polls per node and job). These
 * are handled at the receiver's next poll, fault or sync call that happens anyway:
 * - Confirm: its manager needs it only before the page's next transaction, whose request (not
 *   deferrable) comes behind it and makes the manager poll;
 * - ConfirmAck: bookkeeping of the requester, which waits for it only as it finishes;
 * - BarrierArrive: the barrier's manager releases no one before it arrives itself, and it then
 *   waits, serving what came.
 * A retransmission is never deferrable: an answer that is late comes at the latest one retry later.
 */
const DEFERRABLE_KINDS = new Uint8Array(256);
for (const kind of [MessageKind.Confirm, MessageKind.ConfirmAck, MessageKind.BarrierArrive]) DEFERRABLE_KINDS[kind] = 1;

/** Largest send scratch: larger messages get a buffer of their own. */
const MAX_SCRATCH_BYTES = 4 << 20;

export class Endpoint {
  readonly node: number;
  readonly nodeCount: number;
  readonly job: number;
  readonly retryMs: number;
  readonly counters: EndpointCounters = { dropped: 0, malformed: 0, misdelivered: 0, stale: 0, retries: 0 };
  private readonly decodeContext: DecodeContext;
  /** For what the transport delivers: its own bytes when it hands them over. */
  private readonly receiveContext: DecodeContext;
  private readonly handlers = new Map<number, (msg: Message) => void>();
  /** Kinds whose handlers borrow the payload (see on()). */
  private readonly borrowers = new Set<number>();
  /** The transport lends its bytes (Link.lendsBytes): payloads are views until made owned. */
  private readonly lends: boolean;
  /** The buffer of the bytes being handled now, when lent. */
  private lentBuffer: ArrayBufferLike | undefined;
  /** Exchanges waiting for their reply, and their retransmissions. */
  private readonly calls: CallTable;
  readonly scheduler: Scheduler;
  /** Where fire-and-forget messages are encoded (transports copy the bytes at the call). */
  private readonly scratch: Scratch;
  private nextId = 1;
  /** Largest message the transport carries; larger ones travel in fragments (fragments.ts). */
  private readonly maxPayload: number;
  private readonly reassembly = new Reassembly();
  private nextFragmentSet = 1;
  private closed = false;
  private failure: Error | undefined;
  /** Waits that are no call (watch()), each told of a failure or the close. */
  private readonly watches = new Set<(error: Error) => void>();
  /** Messages this node sent itself, not yet handled (see {@link loopback}). */
  private readonly looped: SelfQueue;
  /** See {@link init}. */
  private readonly initScratch: MessageInit;

  constructor(
    private readonly transport: Link,
    port: PagePort,
    options: EndpointOptions,
  ) {
    this.scheduler = options.scheduler;
    this.looped = new SelfQueue((msg) => {
      if (!this.closed) this.handle(msg);
    }, this.scheduler);
    this.node = transport.nodeId;
    this.nodeCount = transport.nodeCount;
    this.job = options.job;
    this.initScratch = { kind: MessageKind.Fragment, job: this.job, source: this.node, target: 0, page: 0, version: 0, request: 0, arg: 0, payload: undefined, body: undefined };
    this.retryMs = options.retryMs;
    this.calls = new CallTable(this.scheduler, this.retryMs, (to, bytes, retry) => this.deliver(to, bytes, retry), () => this.counters.retries++);
    this.decodeContext = { nodeCount: this.nodeCount, pageSize: port.pageSize, firstPage: port.firstPage, pageCount: port.pageCount };
    this.lends = transport.lendsBytes === true && transport.handsOverBytes !== true;
    this.receiveContext = { ...this.decodeContext, keepsBytes: transport.handsOverBytes === true || this.lends };
    this.scratch = new Scratch(HEADER_BYTES + port.pageSize, MAX_SCRATCH_BYTES);
    this.maxPayload = transport.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    transport.listen((bytes) => this.receive(bytes));
  }

  /**
   * Sets the handler of `kind` (one per kind). `borrows`: the handler uses the payload only
   * while it runs (see CallOptions.borrows).
   */
  on(kind: MessageKind, handler: (msg: Message) => void, options: { borrows?: boolean } = {}): void {
    this.handlers.set(kind, handler);
    if (options.borrows) this.borrowers.add(kind);
    else this.borrowers.delete(kind);
  }

  /** A fresh request id of this node. */
  nextRequest(): number {
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
    return id;
  }

  /** Fire and forget. A failure to send is kept and thrown by the next {@link check}. */
  send(to: number, out: Outgoing): void {
    if (this.closed) return;
    try {
      this.deliver(to, this.selfMessage(to, out, out.request) ?? this.encode(to, out, out.request, this.scratch.room(HEADER_BYTES + (out.payload?.byteLength ?? 0))));
    } catch (error) {
      this.fail(error);
    }
  }

  /**
   * Hands an encoded message to the transport, in fragments when larger than it carries; one to
   * this node itself (from selfMessage, or JSON bytes for loopback) goes round the transport.
   */
  private deliver(to: number, bytes: Uint8Array | Message, retry = false): void {
    if (!(bytes instanceof Uint8Array)) return this.looped.push(bytes);
    if (to === this.node) return this.loopback(bytes);
    if (bytes.byteLength <= this.maxPayload) return this.transport.send(to, bytes, !retry && DEFERRABLE_KINDS[bytes[Field.kind]!] === 1);
    const set = this.nextFragmentSet;
    this.nextFragmentSet = set >= 0xffffffff ? 1 : set + 1;
    for (const payload of splitMessage(bytes, this.maxPayload, HEADER_BYTES)) {
      this.transport.send(to, encodeMessage({ kind: MessageKind.Fragment, job: this.job, source: this.node, target: to, request: set, payload }));
    }
  }

  /**
   * Sends `out` (with a fresh request id unless it carries one) and resends it until a reply
   * arrives or `timeoutMs` passes.
   */
  call(to: number, out: Outgoing, options: CallOptions): Future<Message> {
    const reply = new Future<Message>();
    this.exchange(
      to,
      out,
      options,
      (m) => reply.resolve(m),
      (e) => reply.reject(e),
    );
    return reply;
  }

  /**
   * {@link call} with callbacks instead of a future: `onReply` runs inside the handling of the
   * reply. `onError` gets what would reject the call; it runs at once if the call cannot start
   * (closed, unencodable). Callbacks must not throw (a throw from `onReply` becomes the
   * endpoint's failure).
   */
  exchange(to: number, out: Outgoing, options: CallOptions, onReply: (reply: Message) => void, onError: (error: Error) => void): void {
    if (this.closed) return onError(new ProtocolClosedError(this.node));
    const request = out.request || this.nextRequest();
    let bytes: Uint8Array | Message;
    try {
      bytes = this.selfMessage(to, out, request) ?? this.encode(to, out, request);
    } catch (error) {
      return onError(error as Error);
    }
    this.calls.start(to, request, bytes, options, onReply, onError);
  }

  /** Whether received messages (or messages to this node itself) wait to be handled (Transport.backlog). */
  backlog(): boolean {
    return this.looped.waiting || this.transport.backlog?.() === true;
  }

  /** Routes a message received earlier again, as if it arrived now (a handler held it back). */
  redeliver(msg: Message): void {
    if (!this.closed) this.handle(msg);
  }

  /** Counts a message a handler decided to ignore as stale or duplicate. */
  dropStale(): void {
    this.counters.stale++;
    this.counters.dropped++;
  }

  /** Counts a message a handler found invalid for this node (e.g. sent to the wrong manager). */
  dropMisdelivered(): void {
    this.counters.misdelivered++;
    this.counters.dropped++;
  }

  /** Keeps the first failure of a background task; the next {@link check} throws it. */
  fail(error: unknown): void {
    if (this.closed && error instanceof Error && error.name === "TransportClosedError") return;
    if (this.failure) return;
    this.failure = error instanceof Error ? error : new Error(String(error));
    // Every exchange under way fails now with it, instead of waiting out its timeout.
    this.calls.rejectAll(this.failure);
    this.endWatches(this.failure);
  }

  /**
   * For a wait that is no request/reply call (peer_barriers.ts): `onError` gets the endpoint's
   * failure, or ProtocolClosedError at close, as a call under way would; at once if either
   * happened already. Returns the function that ends the watch.
   */
  watch(onError: (error: Error) => void): () => void {
    if (this.failure || this.closed) {
      onError(this.failure ?? new ProtocolClosedError(this.node));
      return () => undefined;
    }
    this.watches.add(onError);
    return () => this.watches.delete(onError);
  }

  private endWatches(error: Error): void {
    const watches = [...this.watches];
    this.watches.clear();
    for (const onError of watches) onError(error);
  }

  /** Throws a kept failure, or ProtocolClosedError after close. */
  check(): void {
    if (this.failure) throw this.failure;
    if (this.closed) throw new ProtocolClosedError(this.node);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Stops listening and rejects every pending call. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.looped.clear();
    this.calls.stop(new ProtocolClosedError(this.node));
    this.endWatches(new ProtocolClosedError(this.node));
  }

  /**
   * The header fields of `out` to `to`, in one object filled anew for every message: encodeMessage
   * and messageFrom read it and keep nothing of it, and a fresh object per message was the largest
   * single source of a node's garbage.
   */
  private init(to: number, out: Outgoing, request: number | undefined): MessageInit {
    const init = this.initScratch;
    init.kind = out.kind;
    init.target = to;
    init.page = out.page;
    init.version = out.version;
    init.request = request;
    init.arg = out.arg;
    init.payload = out.payload;
    init.body = out.body;
    return init;
  }

  /**
   * A message from this node to itself is handled as SelfQueue orders it. It is never lost and
   * costs no transport hop: over NATS a self-addressed message would travel to the server and
   * back, and on the local transport through the network's queue. This builds it without bytes
   * (messageFrom); undefined for other nodes, and for JSON kinds, which go to {@link loopback}.
   */
  private selfMessage(to: number, out: Outgoing, request: number | undefined): Message | undefined {
    return to === this.node && !carriesJson(out.kind) ? messageFrom(this.init(to, out, request), this.decodeContext) : undefined;
  }

  private encode(to: number, out: Outgoing, request: number | undefined, scratch?: Uint8Array): Uint8Array {
    return encodeMessage(this.init(to, out, request), scratch);
  }

  /** A JSON message to this node itself (see {@link selfMessage}): decoded at once, payload copied. */
  private loopback(bytes: Uint8Array): void {
    this.looped.push(decodeMessage(bytes, this.decodeContext));
  }

  private receive(bytes: Uint8Array): void {
    if (this.closed) return;
    if (this.lends) this.lentBuffer = bytes.buffer;
    this.looped.handling(this.decodeAndRoute, bytes);
    this.lentBuffer = undefined;
  }

  private readonly decodeAndRoute = (bytes: Uint8Array): void => {
    let msg: Message;
    try {
      msg = decodeMessage(bytes, this.receiveContext);
    } catch (error) {
      if (!(error instanceof CodecError)) this.fail(error);
      this.counters.malformed++;
      this.counters.dropped++;
      return;
    }
    if (msg.job !== this.job || msg.target !== this.node) return this.dropMisdelivered();
    if (msg.kind === MessageKind.Fragment) {
      if (this.lends) msg.payload = msg.payload.slice();
      return this.reassemble(msg);
    }
    this.handle(msg);
  };

  /**
   * A payload that is a view into bytes the transport lends (valid only while the message is
   * handled) becomes the message's own copy, unless its receiver borrows it.
   */
  private own(msg: Message, borrows: boolean | undefined): void {
    // Only payloads of KEEP_VIEW_BYTES or more are ever left as views by the codec.
    if (this.lends && !borrows && msg.payload.byteLength >= KEEP_VIEW_BYTES && msg.payload.buffer === this.lentBuffer) msg.payload = msg.payload.slice();
  }

  /** Routes `msg`; a handler's error is kept as the endpoint's failure (see {@link check}). */
  private handle(msg: Message): void {
    try {
      this.route(msg);
    } catch (error) {
      this.fail(error);
    }
  }

  /** Adds a fragment; a message it completes is received as if it had arrived whole. */
  private reassemble(fragment: Message): void {
    let whole: Uint8Array | undefined;
    try {
      whole = this.reassembly.add(fragment.source, fragment.request, fragment.payload);
    } catch (error) {
      if (!(error instanceof FragmentError)) throw error;
      this.counters.malformed++;
      this.counters.dropped++;
      return;
    }
    if (!whole) return;
    // A fragment never carries a fragment (the sender splits only whole messages).
    if (whole.byteLength > Field.kind && whole[Field.kind] === MessageKind.Fragment) {
      this.counters.malformed++;
      this.counters.dropped++;
      return;
    }
    this.decodeAndRoute(whole);
  }

  private route(msg: Message): void {
    const call = this.calls.waiting(msg.request);
    if (call) {
      const { replies, accept, progress } = call.options;
      if (replies.includes(msg.kind) && (!accept || accept(msg))) {
        this.calls.settle(call);
        this.own(msg, call.options.borrows);
        return call.resolve(msg);
      }
      if (progress?.includes(msg.kind)) {
        this.own(msg, false);
        call.last = msg;
        return;
      }
    }
    const handler = this.handlers.get(msg.kind);
    if (!handler) return this.dropStale();
    this.own(msg, this.borrowers.has(msg.kind));
    handler(msg);
  }
}
