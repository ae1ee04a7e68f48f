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
 * rejects with the error its caller built. Receivers must therefore treat a repeated request as
 * the same request: every exchange carries the request id of the node that started it.
 *
 * Dropped and counted, never thrown: bytes the codec rejects, messages of another job or for
 * another node, replies nobody waits for, kinds nobody handles. A handler that throws is a bug;
 * its error is kept and thrown by the next {@link Endpoint.check}.
 */
import type { PagePort } from "./coherence.js";
import { CodecError, decodeMessage, encodeMessage, type DecodeContext, type Message, type MessageInit, type MessageKind } from "./codec.js";
import { ProtocolClosedError } from "./errors.js";
import type { Transport } from "../transport/transport.js";

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
}

interface PendingCall extends CallOptions {
  last?: Message;
  resolve(reply: Message): void;
  reject(error: Error): void;
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
}

export class Endpoint {
  readonly node: number;
  readonly nodeCount: number;
  readonly job: number;
  readonly retryMs: number;
  readonly counters: EndpointCounters = { dropped: 0, malformed: 0, misdelivered: 0, stale: 0, retries: 0 };
  private readonly decodeContext: DecodeContext;
  private readonly handlers = new Map<number, (msg: Message) => void>();
  private readonly pending = new Map<number, PendingCall>();
  private nextId = 1;
  private closed = false;
  private failure: Error | undefined;

  constructor(
    private readonly transport: Transport,
    port: PagePort,
    options: EndpointOptions,
  ) {
    this.node = transport.nodeId;
    this.nodeCount = transport.nodeCount;
    this.job = options.job;
    this.retryMs = options.retryMs;
    this.decodeContext = { nodeCount: this.nodeCount, pageSize: port.pageSize, firstPage: port.firstPage, pageCount: port.pageCount };
    transport.listen((bytes) => this.receive(bytes));
  }

  /** Sets the handler of `kind` (one per kind). */
  on(kind: MessageKind, handler: (msg: Message) => void): void {
    this.handlers.set(kind, handler);
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
      this.transport.send(to, this.encode(to, out));
    } catch (error) {
      this.fail(error);
    }
  }

  /**
   * Sends `out` (with a fresh request id unless it carries one) and resends it until a reply
   * arrives or `timeoutMs` passes.
   */
  call(to: number, out: Outgoing, options: CallOptions): Promise<Message> {
    return new Promise<Message>((resolve, reject) => {
      if (this.closed) return reject(new ProtocolClosedError(this.node));
      const request = out.request || this.nextRequest();
      let bytes: Uint8Array;
      try {
        bytes = this.encode(to, { ...out, request });
      } catch (error) {
        return reject(error);
      }
      const deadline = Date.now() + options.timeoutMs;
      let interval = this.retryMs;
      let timer: NodeJS.Timeout | undefined;
      let first = true;
      const settle = () => {
        clearTimeout(timer);
        if (this.pending.get(request) === entry) this.pending.delete(request);
      };
      const entry: PendingCall = {
        ...options,
        resolve: (reply) => {
          settle();
          resolve(reply);
        },
        reject: (error) => {
          settle();
          reject(error);
        },
      };
      const transmit = () => {
        const left = deadline - Date.now();
        if (left <= 0) return entry.reject(options.timeout(entry.last));
        if (!first) this.counters.retries++;
        first = false;
        try {
          this.transport.send(to, bytes);
        } catch (error) {
          return entry.reject(error as Error);
        }
        timer = setTimeout(transmit, Math.min(interval, left));
        interval = Math.min(interval * 2, this.retryMs * 8);
      };
      this.pending.set(request, entry);
      transmit();
    });
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
    this.failure ??= error instanceof Error ? error : new Error(String(error));
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
    for (const entry of [...this.pending.values()]) entry.reject(new ProtocolClosedError(this.node));
    this.pending.clear();
  }

  private encode(to: number, out: Outgoing): Uint8Array {
    return encodeMessage({ ...out, job: this.job, source: this.node, target: to });
  }

  private receive(bytes: Uint8Array): void {
    if (this.closed) return;
    let msg: Message;
    try {
      msg = decodeMessage(bytes, this.decodeContext);
    } catch (error) {
      if (!(error instanceof CodecError)) this.fail(error);
      this.counters.malformed++;
      this.counters.dropped++;
      return;
    }
    if (msg.job !== this.job || msg.target !== this.node) return this.dropMisdelivered();
    try {
      this.route(msg);
    } catch (error) {
      this.fail(error);
    }
  }

  private route(msg: Message): void {
    const call = this.pending.get(msg.request);
    if (call) {
      if (call.replies.includes(msg.kind) && (!call.accept || call.accept(msg))) return call.resolve(msg);
      if (call.progress?.includes(msg.kind)) {
        call.last = msg;
        return;
      }
    }
    const handler = this.handlers.get(msg.kind);
    if (handler) return handler(msg);
    this.dropStale();
  }
}
