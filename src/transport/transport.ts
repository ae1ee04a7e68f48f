/**
 * The transport seam: moving bytes between the nodes of one job. Bytes only, so the message
 * codec runs on every transport. Adapters: `LocalTransport` (all nodes in one process, the
 * embedded default) and `NatsTransport` (one node per OS process over nats-server).
 *
 * Delivery is at most once and ordered only per sender (what NATS gives); protocols must not
 * assume more. Every request has a timeout.
 */

/** Called for each incoming message; `reply` is set when the sender used {@link Transport.request}. */
export type MessageHandler = (bytes: Uint8Array, reply?: (bytes: Uint8Array) => void) => void;

/**
 * What a protocol's endpoint needs of a transport: one-way messages to and from the other nodes.
 * A kernel worker's ring link (ring_link.ts) is one; every {@link Transport} is one too.
 */
export interface Link {
  readonly nodeId: number;
  readonly nodeCount: number;
  /**
   * Fire-and-forget delivery to node `to` (may be this node). Here and in `request` and `reply`
   * the bytes are copied at the call, so the caller may reuse its buffer (or shared memory) at once.
   *
   * `deferrable`: the receiver need not stop computing for this message; it is handled at the
   * receiver's next poll, fault or sync call that happens anyway (a ring link does not raise the
   * receiver's poll word for it, and still wakes a receiver that sleeps). A hint: a link may
   * deliver it like any other. @default false
   */
  send(to: number, bytes: Uint8Array, deferrable?: boolean): void;
  /** Sets the one handler for messages addressed to this node. */
  listen(handler: MessageHandler): void;
  /** Largest message it carries, in bytes (NATS' max_payload); larger ones must be split by the caller. */
  readonly maxPayload?: number;
  /**
   * True when every message handed to the handler is a fresh copy nobody else holds, which the
   * receiver may keep without copying it again (LocalTransport). @default false: the bytes may be
   * a view into a buffer the transport reuses.
   */
  readonly handsOverBytes?: boolean;
  /**
   * True when the bytes handed to the handler are a view that is valid only until the handler
   * returns (a ring's record, whose space is reused after): a receiver that keeps any of them must
   * copy them. @default false
   */
  readonly lendsBytes?: boolean;
  /**
   * True when a message to another node leaves this process through a socket (NATS, relayed or
   * not): each one then costs wake-ups of several threads and a server hop, far more than encoding
   * a few KiB more, so a protocol may send data ahead that the receiver would otherwise ask for
   * (hlrc/grant_pages.ts). @default false: nodes of one process, where a message costs microseconds
   */
  readonly leavesProcess?: boolean;
  /**
   * Whether messages that have arrived are still waiting to be handed to handlers in this
   * process, behind the one being handled now (LocalTransport: the rest of the delivery under
   * way). A handler that can choose may then leave work that should follow them for later.
   * @default absent: unknown, taken as none
   */
  backlog?(): boolean;
  /** Messages and bytes this node has sent (requests, replies and sends). */
  readonly counters: { messages: number; bytes: number };
}

/** A link that also runs request/reply exchanges itself, and is closed by its owner. */
export interface Transport extends Link {
  /** Request/reply; rejects with a `TransportTimeoutError` naming the node after `timeoutMs`. */
  request(to: number, bytes: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
  close(): Promise<void>;
}
