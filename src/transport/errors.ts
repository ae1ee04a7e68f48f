/**
 * Errors of the transport layer: one class per condition a caller can act on, each with `name`
 * set and the underlying error kept as `cause`. All extend {@link TransportError}, so a caller
 * that only wants to know "the transport failed" can test for that.
 */

export interface ErrorCause {
  cause?: unknown;
}

/** Base of every transport error. */
export class TransportError extends Error {
  override name = "TransportError";
  constructor(message: string, options?: ErrorCause) {
    super(message, options);
  }
}

/** A request got no reply within its timeout (the request or the reply was lost, or the node is stuck). */
export class TransportTimeoutError extends TransportError {
  override name = "TransportTimeoutError";
  constructor(
    readonly node: number,
    readonly timeoutMs: number,
    /** What was asked, e.g. `request to dsm.job.n.2`. */
    readonly via: string,
    options?: ErrorCause,
  ) {
    super(`node ${node}: no reply after ${timeoutMs} ms (${via})`, options);
  }
}

/** A request reached no listener at all: the node is not running, not listening yet, or in another job. */
export class NoRespondersError extends TransportError {
  override name = "NoRespondersError";
  constructor(
    readonly node: number,
    readonly via: string,
    options?: ErrorCause,
  ) {
    super(`node ${node}: nobody is listening (${via}); start node ${node} in this job or wait until it listens`, options);
  }
}

/** The local transport was closed; it cannot send, reply or wait for replies any more. */
export class TransportClosedError extends TransportError {
  override name = "TransportClosedError";
  constructor(
    readonly node: number,
    options?: ErrorCause,
  ) {
    super(`node ${node}: transport is closed; create a new one to keep sending`, options);
  }
}

/** A message was addressed to a node id outside `0..nodeCount-1`. */
export class UnknownNodeError extends TransportError {
  override name = "UnknownNodeError";
  constructor(
    readonly node: number,
    readonly nodeCount: number,
    options?: ErrorCause,
  ) {
    super(`node ${node} is not in this job of ${nodeCount} nodes; use 0..${nodeCount - 1}`, options);
  }
}

/** A message is larger than the transport carries (NATS' `max_payload`, 1 MiB by default). */
export class PayloadTooLargeError extends TransportError {
  override name = "PayloadTooLargeError";
  constructor(
    readonly bytes: number,
    readonly maxPayload: number,
    /** The destination node; undefined for a NATS reply, whose requester is known only by its inbox. */
    readonly node: number | undefined,
    options?: ErrorCause,
  ) {
    super(
      `${node === undefined ? "reply" : `message to node ${node}`} of ${bytes} bytes exceeds max_payload ${maxPayload}; ` +
        `raise max_payload in the nats-server config or send smaller messages`,
      options,
    );
  }
}

/** A handler called `reply` twice for one request. */
export class DuplicateReplyError extends TransportError {
  override name = "DuplicateReplyError";
  constructor(
    readonly node: number,
    options?: ErrorCause,
  ) {
    super(`node ${node}: reply already sent for this request; reply once per request`, options);
  }
}

/** A transport option or argument is out of range (job name, node id, timeout, intercept verdict). */
export class InvalidTransportOptionError extends TransportError {
  override name = "InvalidTransportOptionError";
  constructor(
    readonly option: string,
    readonly value: unknown,
    /** What a valid value looks like. */
    readonly expected: string,
    options?: ErrorCause,
  ) {
    super(`${option} ${quote(value)} is invalid; use ${expected}`, options);
  }
}

/** A NATS request failed for a reason other than a timeout, no responders or a closed transport. */
export class TransportRequestError extends TransportError {
  override name = "TransportRequestError";
  constructor(
    readonly node: number,
    readonly via: string,
    readonly code: string,
    options?: ErrorCause,
  ) {
    super(`node ${node}: request failed with ${code} (${via})`, options);
  }
}

/** No NATS server could be reached at the given URLs. */
export class NatsConnectError extends TransportError {
  override name = "NatsConnectError";
  constructor(
    readonly servers: string[],
    readonly code: string,
    options?: ErrorCause,
  ) {
    super(
      `cannot connect to nats at ${servers.join(", ")} (${code}); ` +
        `start nats-server there, pass the right server url, or run with --transport local`,
      options,
    );
  }
}

/** The NATS server refused this client's credentials. */
export class NatsAuthError extends TransportError {
  override name = "NatsAuthError";
  constructor(
    readonly servers: string[],
    readonly code: string,
    options?: ErrorCause,
  ) {
    super(
      `nats at ${servers.join(", ")} refused the credentials (${code}); check user and pass, token or nkey seed`,
      options,
    );
  }
}

/** A credentials file (nkey seed, creds) could not be read. */
export class NatsCredentialsError extends TransportError {
  override name = "NatsCredentialsError";
  constructor(
    readonly path: string,
    reason: string,
    options?: ErrorCause,
  ) {
    super(`cannot read nats credentials file "${path}": ${reason}; check the path and its permissions`, options);
  }
}

/** The `nats-server` binary is not installed. */
export class NatsServerNotFoundError extends TransportError {
  override name = "NatsServerNotFoundError";
  constructor(options?: ErrorCause) {
    super("nats-server not found on PATH; install it (apt-get install nats-server) or run with --transport local", options);
  }
}

/** A private `nats-server` exited or did not accept connections in time. */
export class NatsServerStartError extends TransportError {
  override name = "NatsServerStartError";
  constructor(
    readonly binary: string,
    readonly port: number,
    reason: string,
    /** The last lines the server logged. */
    readonly log: string,
    options?: ErrorCause,
  ) {
    super(`${binary} on 127.0.0.1:${port} ${reason}${log ? `; it logged: ${log}` : ""}`, options);
  }
}

/** A private `nats-server` did not exit after SIGTERM and SIGKILL. */
export class NatsServerStopError extends TransportError {
  override name = "NatsServerStopError";
  constructor(
    readonly pid: number,
    readonly waitedMs: number,
    options?: ErrorCause,
  ) {
    super(`nats-server pid ${pid} did not exit within ${waitedMs} ms of SIGTERM and SIGKILL; kill it by hand`, options);
  }
}

function quote(value: unknown): string {
  if (typeof value === "string" || (typeof value === "object" && value !== null)) return JSON.stringify(value);
  return String(value);
}
