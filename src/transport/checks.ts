/**
 * Argument checks shared by the transports, so both reject the same mistakes with the same errors.
 */
import { InvalidTransportOptionError, PayloadTooLargeError, UnknownNodeError } from "./errors.js";

/** NATS' default `max_payload`; the local transport enforces it too, so oversized messages fail early. */
export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

export function checkNodeCount(nodeCount: number): void {
  if (!Number.isInteger(nodeCount) || nodeCount < 1) {
    throw new InvalidTransportOptionError("nodeCount", nodeCount, "an integer of at least 1");
  }
}

/** A node id given as an option (this node's own id). */
export function checkNodeId(nodeId: number, nodeCount: number): void {
  if (!Number.isInteger(nodeId) || nodeId < 0 || nodeId >= nodeCount) {
    throw new InvalidTransportOptionError("nodeId", nodeId, `an integer in 0..${nodeCount - 1}`);
  }
}

/** A message's destination. */
export function checkTarget(to: number, nodeCount: number): void {
  if (!Number.isInteger(to) || to < 0 || to >= nodeCount) throw new UnknownNodeError(to, nodeCount);
}

export function checkTimeout(timeoutMs: number): void {
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new InvalidTransportOptionError("timeoutMs", timeoutMs, "a positive number of milliseconds");
  }
}

export function checkPayload(bytes: Uint8Array, maxPayload: number, to: number): void {
  if (bytes.byteLength > maxPayload) throw new PayloadTooLargeError(bytes.byteLength, maxPayload, to);
}

/** Reports an error thrown by a message handler: by default it becomes an uncaught exception. */
export type HandlerErrorHook = (error: unknown, nodeId: number) => void;

export const rethrowLater: HandlerErrorHook = (error) => {
  setImmediate(() => {
    throw error;
  });
};
