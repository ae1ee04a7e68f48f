/**
 * A node's control connection: JSON messages on `dsm.<job>.hello` (rendezvous) and `dsm.<job>.hb`
 * (heartbeats, results, aborts), beside the protocol's own subjects `dsm.<job>.n.<node>`.
 *
 * It is a second NATS connection of the node, made with the same client settings as its
 * NatsTransport (reconnect forever, short pings, the same credentials and TLS), so an account
 * confined to `dsm.<job>.>` covers it. Control messages are small and best effort: rendezvous
 * and heartbeats repeat themselves, so one lost message costs nothing.
 */
import { connect, ErrorCode, type NatsConnection, type NatsError } from "nats";
import { NatsAuthError, NatsConnectError } from "../transport/errors.js";
import { natsConnectionOptions } from "../transport/nats_transport.js";
import type { NatsAuth } from "../transport/nats_transport.js";
import { within } from "../time_bound.js";

export type ControlTopic = "hello" | "hb";

/** What rendezvous and heartbeats need from the network; tests give an in-memory one. */
export interface ControlChannel {
  /** Best effort: a message that cannot be sent now is dropped (the senders repeat themselves). */
  publish(topic: ControlTopic, body: object): void;
  /**
   * Calls `handler` with every decoded JSON message on the topic, this node's own included, and
   * `onError` when the server refuses the subscription or this node's messages (permissions).
   */
  subscribe(topic: ControlTopic, handler: (body: unknown) => void, onError?: (error: Error) => void): void;
  close(): Promise<void>;
}

/** `round` (a job resumed from a checkpoint, checkpointed_node.ts) keeps its rendezvous and heartbeats apart from earlier rounds'. */
export function controlSubject(job: string, topic: ControlTopic, round?: string): string {
  return round === undefined ? `dsm.${job}.${topic}` : `dsm.${job}.${round}.${topic}`;
}

export interface ControlConnectOptions {
  servers: string[];
  job: string;
  auth: NatsAuth;
  /** Client name shown by the server's monitoring. */
  name: string;
  /** @default none: the job's first round */
  round?: string;
  /** @default 2000 */
  closeTimeoutMs?: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The server refused a subscription or publication on the job's subjects. */
export class NatsPermissionError extends Error {
  override name = "NatsPermissionError";
  constructor(job: string, detail: string) {
    super(`nats refused ${detail}; these credentials do not cover job ${job}: use the job's own user, or one allowed dsm.${job}.>`);
  }
}

export class NatsControlChannel implements ControlChannel {
  private closed = false;
  private readonly errorHandlers: ((error: Error) => void)[] = [];

  private constructor(
    private readonly nc: NatsConnection,
    private readonly job: string,
    private readonly closeTimeoutMs: number,
    private readonly round: string | undefined,
  ) {
    void (async () => {
      for await (const status of nc.status()) {
        // A refused publish is reported only here, by its code.
        if (status.type === "error" && String(status.data) === ErrorCode.PermissionsViolation) {
          this.refused(`a publication on dsm.${job}. subjects (${ErrorCode.PermissionsViolation})`);
        }
      }
    })().catch(() => undefined);
  }

  /** Connects with a DSM node's client settings; rejects with NatsConnectError or NatsAuthError. */
  static async connect(options: ControlConnectOptions): Promise<NatsControlChannel> {
    const settings = natsConnectionOptions({ servers: options.servers, job: options.job, nodeId: 0, nodeCount: 1, ...options.auth }, options.servers);
    let nc: NatsConnection;
    try {
      nc = await connect({ ...settings, name: options.name });
    } catch (error) {
      const code = (error as NatsError).code ?? (error as Error).message;
      if ((error as NatsError).isAuthError?.() || code === ErrorCode.AuthenticationTimeout) throw new NatsAuthError(options.servers, code, { cause: error });
      throw new NatsConnectError(options.servers, code, { cause: error });
    }
    return new NatsControlChannel(nc, options.job, options.closeTimeoutMs ?? 2000, options.round);
  }

  publish(topic: ControlTopic, body: object): void {
    if (this.closed || this.nc.isClosed()) return;
    try {
      this.nc.publish(controlSubject(this.job, topic, this.round), encoder.encode(JSON.stringify(body)));
    } catch {
      // Closing or draining: the message is dropped like one lost on the wire.
    }
  }

  subscribe(topic: ControlTopic, handler: (body: unknown) => void, onError?: (error: Error) => void): void {
    if (onError) this.errorHandlers.push(onError);
    this.nc.subscribe(controlSubject(this.job, topic, this.round), {
      callback: (error, msg) => {
        if (error) {
          if (error.code === ErrorCode.PermissionsViolation) this.refused(error.message.replace(/^'|'$/g, "").replace(/^Permissions Violation for /, "").toLowerCase());
          return;
        }
        if (this.closed) return;
        let body: unknown;
        try {
          body = JSON.parse(decoder.decode(msg.data));
        } catch {
          return; // not JSON: not ours; the receivers validate every field of what is
        }
        handler(body);
      },
    });
  }

  private refused(detail: string): void {
    if (this.closed) return;
    const error = new NatsPermissionError(this.job, detail);
    for (const handler of this.errorHandlers) handler(error);
  }

  /** Flushes what was published (a final result, an abort), then closes; bounded. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await within(this.nc.drain().catch(() => undefined), this.closeTimeoutMs);
    if (!this.nc.isClosed()) await this.nc.close().catch(() => undefined);
  }
}
