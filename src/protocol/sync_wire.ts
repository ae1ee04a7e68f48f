/**
 * The JSON bodies of the sync kinds (barrier arrive and release, barrier and lock waits) and
 * their validators, which the codec's kind table (codec.ts) runs on every decoded message.
 */
import type { DecodeContext } from "./codec.js";
import { validateLrcBarrierPart, type LrcArrival, type LrcRelease } from "./lrc_wire.js";
import { isNode, isObject, isPair, isU32 } from "./wire_checks.js";

export interface ArriveBody {
  /** Allocations so far, and an FNV-1a hash of all of them. */
  count: number;
  hash: number;
  /** Index of `entries[0]` in the log: the count at the previous barrier. */
  first: number;
  /** [address, bytes] of the allocations since the previous barrier. */
  entries: [number, number][];
  /** lrc only: vector time and new intervals. */
  lrc?: LrcArrival;
}
export interface AllocationMismatch {
  node: number;
  /** 1-based index of the first allocation that differs. */
  index: number;
  /** [address, bytes] on `node`, and on node 0; null when that node made no such allocation. */
  got: [number, number] | null;
  expected: [number, number] | null;
}
export interface ReleaseBody {
  mismatch?: AllocationMismatch;
  /** Nodes that reached the final barrier (run returned) while the others called barrier(). */
  finished?: number[];
  /** lrc only: the intervals this node lacks (one per node). */
  lrc?: LrcRelease;
}
export interface BarrierWaitBody {
  /** Nodes the manager has not heard from for this epoch. */
  missing: number[];
}
export interface LockWaitBody {
  holder: number;
}

export function validateArrive(body: unknown, ctx: DecodeContext): string | undefined {
  if (!isObject(body) || !isU32(body.count) || !isU32(body.hash) || !isU32(body.first) || !Array.isArray(body.entries)) {
    return "arrive body needs count, hash, first and entries";
  }
  if (!body.entries.every(isPair)) return "arrive entries must be [address, bytes] pairs";
  if (body.first + body.entries.length !== body.count) return `arrive entries ${body.first}+${body.entries.length} do not add up to count ${body.count}`;
  return validateLrcBarrierPart(body.lrc, ctx);
}

export function validateRelease(body: unknown, ctx: DecodeContext): string | undefined {
  if (!isObject(body)) return "release body must be an object";
  const lrc = validateLrcBarrierPart(body.lrc, ctx);
  if (lrc) return lrc;
  if (body.finished !== undefined && !(Array.isArray(body.finished) && body.finished.every((n) => isNode(n, ctx)))) {
    return "release finished must list node ids";
  }
  if (body.mismatch === undefined) return undefined;
  const m = body.mismatch;
  if (!isObject(m) || !isNode(m.node, ctx) || !isU32(m.index) || m.index < 1) return "release mismatch needs node and index";
  if (!(m.got === null || isPair(m.got)) || !(m.expected === null || isPair(m.expected))) return "release mismatch got/expected must be [address, bytes] or null";
  return undefined;
}

export function validateWait(body: unknown, ctx: DecodeContext): string | undefined {
  if (!isObject(body) || !Array.isArray(body.missing) || !body.missing.every((n) => isNode(n, ctx))) return "wait body needs missing node ids";
  return undefined;
}

export function validateLockWait(body: unknown, ctx: DecodeContext): string | undefined {
  return isObject(body) && isNode(body.holder, ctx) ? undefined : "lock wait body needs a holder node id";
}
