/**
 * @fileoverview The NATS transport: one node per OS process (or per connection), talking through
 * a nats-server or cluster. Every subject of a job lives under `dsm.<job>.`, so one server can
 * host many jobs and an account can be limited to `dsm.<job>.>`:
 *
 *   dsm.<job>.n.<node>        sends and requests to <node> (one subject, so per-sender order
 *                             holds across sends and requests)
 *   dsm.<job>._INBOX.<id>.*   replies (the client's request multiplexer)
 *
 *   node 0                     nats-server                    node 1 (subscribed at listen())
 *   request(1, b, 5000) ──PUB dsm.j.n.1 reply=dsm.j._INBOX..──▶ handler(b, reply)
 *                      ◀──────────────── PUB dsm.j._INBOX.. ── reply(r)
 *
 * What NATS gives and the protocols rely on: at-most-once delivery, order per publisher. A request
 * to a subject nobody subscribes to fails at once with "no responders" (mapped to
 * `NoRespondersError`); a lost request or reply shows up only as `TransportTimeoutError`.
 * Client settings are chosen for DSM nodes rather than the library defaults: reconnect forever
 * with a short wait (a lost server in a cluster costs milliseconds, not a dead node), pings every
 * 2 s with 2 outstanding (a dead connection is noticed in ~4-6 s, not minutes). A node's sends
 * to itself skip the server (delivered on the next turn of the event loop, counted as sent).
 *
 * Not covered: detecting two processes that claim the same node id in one job (both would
 * receive the node's messages); JetStream; headers.
 */
import { readFileSync } from "node:fs";
import {
  connect,
  credsAuthenticator,
  ErrorCode,
  nkeyAuthenticator,
  type Authenticator,
  type ConnectionOptions,
  type Msg,
  type NatsConnection,
  type NatsError,
  type Subscription,
  type TlsOptions,
} from "nats";
import {
  DEFAULT_MAX_PAYLOAD,
  checkNodeCount,
  checkNodeId,
  checkPayload,
  checkTarget,
  checkTimeout,
  rethrowLater,
  type HandlerErrorHook,
} from "./checks.js";
import {
  DuplicateReplyError,
  InvalidTransportOptionError,
  NatsAuthError,
  NatsConnectError,
  NatsCredentialsError,
  NoRespondersError,
  PayloadTooLargeError,
  TransportClosedError,
  TransportRequestError,
  TransportTimeoutError,
} from "./errors.js";
import type { MessageHandler, Transport } from "./transport.js";
import { bounded } from "../time_bound.js";

export type NatsTlsOptions = Pick<TlsOptions, "caFile" | "certFile" | "keyFile" | "handshakeFirst">;

export interface NatsTransportOptions {
  /** One URL or several for failover, e.g. `nats://10.0.0.1:4222`. */
  servers: string[] | string;
  /** Job name: a subject token (letters, digits, `-`, `_`); subjects live under `dsm.<job>.`. */
  job: string;
  nodeId: number;
  nodeCount: number;
  user?: string;
  pass?: string;
  token?: string;
  /** File holding an nkey seed (`SU...`). */
  nkeySeedFile?: string;
  /** A `.creds` file (JWT and nkey seed). */
  credsFile?: string;
  /** Require TLS; an empty object uses the system CAs. @default undefined (plain TCP) */
  tls?: NatsTlsOptions;
  /** Bound on the first connection's handshake. @default 5000 */
  connectTimeoutMs?: number;
  /** Client pings the server this often. @default 2000 */
  pingIntervalMs?: number;
  /** Unanswered pings before the connection counts as stale and is reconnected. @default 2 */
  maxPingOut?: number;
  /** Wait between reconnect attempts (attempts never stop). @default 250 */
  reconnectTimeWaitMs?: number;
  /** Bound on draining at close(); after it the connection is closed hard. @default 2000 */
  closeTimeoutMs?: number;
  /** Called when a message handler throws. @default rethrow as an uncaught exception */
  onHandlerError?: HandlerErrorHook;
  /** Connection events (disconnect, reconnect, error, ...). @default undefined (ignored) */
  onStatus?: (event: { type: string; data: unknown }) => void;
}

/** What a node passes to NatsTransport (and to its control connection) to authenticate. */
export type NatsAuth = Pick<NatsTransportOptions, "user" | "pass" | "token" | "nkeySeedFile" | "credsFile" | "tls">;

const JOB_TOKEN = /^[A-Za-z0-9_-]+$/;

/** The subject that carries messages to `nodeId` of `job`. */
export function nodeSubject(job: string, nodeId: number): string {
  return `dsm.${job}.n.${nodeId}`;
}

export class NatsTransport implements Transport {
  readonly counters = { messages: 0, bytes: 0 };
  readonly leavesProcess = true;
  readonly job: string;
  readonly nodeId: number;
  readonly nodeCount: number;
  private handler: MessageHandler | undefined;
  private subscription: Subscription | undefined;
  private closed = false;
  private readonly onHandlerError: HandlerErrorHook;
  private readonly closeTimeoutMs: number;

  private constructor(
    private readonly nc: NatsConnection,
    options: NatsTransportOptions,
  ) {
    this.job = options.job;
    this.nodeId = options.nodeId;
    this.nodeCount = options.nodeCount;
    this.onHandlerError = options.onHandlerError ?? rethrowLater;
    this.closeTimeoutMs = options.closeTimeoutMs ?? 2000;
    const onStatus = options.onStatus;
    if (onStatus) {
      void (async () => {
        for await (const status of nc.status()) onStatus({ type: status.type, data: status.data });
      })().catch(() => undefined);
    }
  }

  /** Connects node `nodeId` of `job`; rejects with `NatsConnectError` or `NatsAuthError`. */
  static async connect(options: NatsTransportOptions): Promise<NatsTransport> {
    const servers = typeof options.servers === "string" ? [options.servers] : [...options.servers];
    if (servers.length === 0) throw new InvalidTransportOptionError("servers", options.servers, "at least one nats server url");
    if (!JOB_TOKEN.test(options.job)) {
      throw new InvalidTransportOptionError("job", options.job, 'letters, digits, "-" and "_" only');
    }
    checkNodeCount(options.nodeCount);
    checkNodeId(options.nodeId, options.nodeCount);
    const connectionOptions = natsConnectionOptions(options, servers);
    let nc: NatsConnection;
    try {
      nc = await connect(connectionOptions);
    } catch (error) {
      const code = (error as NatsError).code ?? (error as Error).message;
      if ((error as NatsError).isAuthError?.() || code === ErrorCode.AuthenticationTimeout) {
        throw new NatsAuthError(servers, code, { cause: error });
      }
      throw new NatsConnectError(servers, code, { cause: error });
    }
    return new NatsTransport(nc, options);
  }

  /** The server's max_payload; larger messages are rejected with `PayloadTooLargeError`. */
  get maxPayload(): number {
    return this.nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD;
  }

  /** The server this node is connected to now. */
  get server(): string {
    return this.nc.getServer();
  }

  send(to: number, bytes: Uint8Array): void {
    this.checkSend(to, bytes);
    if (to === this.nodeId) {
      // A node's messages to itself (a page's manager is often the faulting node) skip the
      // server: same bytes, counted the same, delivered later and never re-entrantly.
      const copy = wireCopy(bytes);
      setImmediate(() => {
        if (!this.closed) this.dispatch(copy, undefined);
      });
    } else {
      this.publish(() => this.nc.publish(nodeSubject(this.job, to), wireCopy(bytes)));
    }
    this.count(bytes);
  }

  async request(to: number, bytes: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    checkTimeout(timeoutMs);
    this.checkSend(to, bytes);
    const subject = nodeSubject(this.job, to);
    // nats.js refuses timeouts below 1 ms and treats 0 as its 1 s default.
    const reply = this.nc.request(subject, wireCopy(bytes), { timeout: Math.max(1, Math.ceil(timeoutMs)) });
    this.count(bytes);
    try {
      return (await reply).data;
    } catch (error) {
      throw this.requestError(error, to, subject, timeoutMs);
    }
  }

  listen(handler: MessageHandler): void {
    if (this.closed) throw new TransportClosedError(this.nodeId);
    this.handler = handler;
    this.subscription ??= this.nc.subscribe(nodeSubject(this.job, this.nodeId), { callback: this.onMessage });
  }

  /**
   * Resolves once the server has processed everything this node sent before the call (including
   * the subscription made by `listen`, so peers' requests no longer meet "no responders").
   */
  async flush(timeoutMs = 5000): Promise<void> {
    if (this.closed) throw new TransportClosedError(this.nodeId);
    await bounded(this.nc.flush(), timeoutMs, () => new TransportTimeoutError(this.nodeId, timeoutMs, "flush to the nats server"));
  }

  /** Drains (delivers what already arrived, flushes what was sent), bounded by `closeTimeoutMs`. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.handler = undefined;
    try {
      await bounded(this.nc.drain(), this.closeTimeoutMs, () => new Error("drain timed out"));
    } catch {
      // A dead server cannot be drained; closing hard below is all that is left.
    }
    if (!this.nc.isClosed()) await this.nc.close().catch(() => undefined);
  }

  private readonly onMessage = (error: NatsError | null, msg: Msg): void => {
    const handler = this.handler;
    // A subscription error (a permissions violation) also arrives on nc.status(), seen by onStatus.
    if (error || !handler) return;
    this.dispatch(msg.data, msg.reply ? this.replier(msg) : undefined);
  };

  private dispatch(bytes: Uint8Array, reply: ((bytes: Uint8Array) => void) | undefined): void {
    const handler = this.handler;
    if (!handler) return;
    try {
      handler(bytes, reply);
    } catch (thrown) {
      this.onHandlerError(thrown, this.nodeId);
    }
  }

  private replier(msg: Msg): (bytes: Uint8Array) => void {
    let sent = false;
    return (bytes) => {
      if (sent) throw new DuplicateReplyError(this.nodeId);
      if (this.closed) throw new TransportClosedError(this.nodeId);
      // The requester's node id is not on the wire, only its inbox.
      if (bytes.byteLength > this.maxPayload) throw new PayloadTooLargeError(bytes.byteLength, this.maxPayload, undefined);
      this.publish(() => msg.respond(wireCopy(bytes)));
      sent = true;
      this.count(bytes);
    };
  }

  private publish(action: () => unknown): void {
    try {
      action();
    } catch (error) {
      const code = (error as NatsError).code;
      if (code === ErrorCode.ConnectionClosed || code === ErrorCode.ConnectionDraining) {
        throw new TransportClosedError(this.nodeId, { cause: error });
      }
      throw error;
    }
  }

  private requestError(error: unknown, to: number, subject: string, timeoutMs: number): Error {
    const via = `request to ${subject}`;
    const code = (error as NatsError).code;
    if (this.closed || code === ErrorCode.ConnectionClosed || code === ErrorCode.ConnectionDraining) {
      return new TransportClosedError(this.nodeId, { cause: error });
    }
    if (code === ErrorCode.Timeout) return new TransportTimeoutError(to, timeoutMs, via, { cause: error });
    if (code === ErrorCode.NoResponders) return new NoRespondersError(to, via, { cause: error });
    return new TransportRequestError(to, via, String(code ?? (error as Error).message), { cause: error });
  }

  private checkSend(to: number, bytes: Uint8Array): void {
    if (this.closed || this.nc.isClosed()) throw new TransportClosedError(this.nodeId);
    checkTarget(to, this.nodeCount);
    checkPayload(bytes, this.maxPayload, to);
  }

  private count(bytes: Uint8Array): void {
    this.counters.messages++;
    this.counters.bytes += bytes.byteLength;
  }
}

/** The nats.js client options a DSM node connects with (exported to pin them in a test). */
export function natsConnectionOptions(options: NatsTransportOptions, servers: string[]): ConnectionOptions {
  const authenticators: Authenticator[] = [];
  if (options.nkeySeedFile) {
    const seed = readCredentials(options.nkeySeedFile).toString("utf8").trim();
    authenticators.push(nkeyAuthenticator(new TextEncoder().encode(seed)));
  }
  if (options.credsFile) authenticators.push(credsAuthenticator(readCredentials(options.credsFile)));
  return {
    servers,
    name: `dsm-${options.job}-${options.nodeId}`,
    user: options.user,
    pass: options.pass,
    token: options.token,
    authenticator: authenticators.length > 0 ? authenticators : undefined,
    tls: options.tls,
    timeout: options.connectTimeoutMs ?? 5000,
    maxReconnectAttempts: -1,
    reconnectTimeWait: options.reconnectTimeWaitMs ?? 250,
    reconnectJitter: 50,
    pingInterval: options.pingIntervalMs ?? 2000,
    maxPingOut: options.maxPingOut ?? 2,
    inboxPrefix: `dsm.${options.job}._INBOX`,
    // The first server of the list first: a node lists its own host's server first, and nats.js
    // would otherwise shuffle the list and may route all of its traffic through another host.
    // The others stay for failover, in order.
    noRandomize: true,
    // Stack capture on every request costs microseconds on the fault path; our errors name the request.
    noAsyncTraces: true,
  };
}

/**
 * nats.js keeps a reference to the payload until its next flush (or until a reconnect), so a
 * caller reusing its buffer, or a view of shared Wasm memory, would change a message already
 * sent. A copy makes `send` take the bytes as they are at the call, as the local transport does.
 */
function wireCopy(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

function readCredentials(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new NatsCredentialsError(path, (error as NodeJS.ErrnoException).code ?? String(error), { cause: error });
  }
}

