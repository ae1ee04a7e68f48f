/**
 * The JSON bodies of the sync kinds (barrier arrive, release and wait; lock acquire, forward and
 * grant) and their validators, which the codec's kind table (codec.ts) runs on every decoded
 * message. The lrc parts (vector times, interval records) are checked as release/wire.ts defines them.
 */
import type { DecodeContext } from "./codec.js";
import { badGrantDiffs, badGrantPages, badIntervals, badVt, validateLrcBarrierPart, type GrantDiff, type GrantPages, type IntervalRecord, type LrcArrival, type LrcRelease } from "./release/wire.js";
import { isNode, isObject, isPage, isPair, isU32 } from "./wire_checks.js";

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
  /** Every node takes checkpoint `checkpoint` right after this barrier (src/checkpoint/). */
  checkpoint?: number;
}
export interface BarrierWaitBody {
  /** Nodes the manager has not heard from for this epoch. */
  missing: number[];
}
/** node → lock manager (token_locks.ts). */
export interface LockAcquireBody {
  /** lrc only: the acquirer's vector time. */
  vt?: number[];
}
/** lock manager → the lock's previous requester, who grants it once done with it. */
export interface LockForwardBody {
  acquirer: number;
  /** The acquirer's request id; the grant answers it. */
  request: number;
  /** lrc only: the acquirer's vector time. */
  vt?: number[];
}
/** previous holder → acquirer. */
export interface LockGrantBody {
  /** lrc only: the granter's vector time. */
  vt?: number[];
  /** lrc only: every interval the acquirer lacks. */
  intervals?: IntervalRecord[];
  /** lrc only: the granter's diffs of its own intervals among them, when few (lrc/grant_diffs.ts). */
  diffs?: GrantDiff[];
  /** hlrc only: pages homed at the granter that those intervals wrote, when few (hlrc/hlrc.ts). */
  homePages?: GrantPages;
  /** ivy, diff: pages whose ownership moves with the lock, each [page, the granter's version, base64 bytes] (lock_pages.ts). */
  owned?: OwnedPage[];
}

/** A page a lock grant hands over (lock_pages.ts): the page, the version the granter wrote, its bytes in base64. */
export type OwnedPage = [page: number, version: number, bytes: string];

/** Most pages one grant hands over. */
export const MAX_OWNED_PAGES = 4;

function badOwnedPages(part: unknown, ctx: DecodeContext): string | undefined {
  if (!Array.isArray(part) || part.length > MAX_OWNED_PAGES) return `owned pages must be a list of at most ${MAX_OWNED_PAGES}`;
  for (const entry of part) {
    if (!Array.isArray(entry) || entry.length !== 3 || !isPage(entry[0], ctx) || !isU32(entry[1]) || typeof entry[2] !== "string") {
      return "owned pages must be [page in the shared region, version, base64 bytes]";
    }
    if (ctx.pageSize !== undefined && Buffer.byteLength(entry[2], "base64") !== ctx.pageSize) return `owned page ${entry[0]} must hold ${ctx.pageSize} bytes`;
  }
  return undefined;
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
  if (body.checkpoint !== undefined && !(isU32(body.checkpoint) && body.checkpoint >= 1)) return "release checkpoint must be a checkpoint number from 1";
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

/** The vector time a lock body may carry: checked when present. */
const badOptionalVt = (vt: unknown, ctx: DecodeContext) => (vt === undefined ? undefined : badVt(vt, ctx));

export function validateLockAcquire(body: unknown, ctx: DecodeContext): string | undefined {
  return isObject(body) ? badOptionalVt(body.vt, ctx) : "acquire body must be an object";
}

export function validateLockForward(body: unknown, ctx: DecodeContext): string | undefined {
  if (!isObject(body) || !isNode(body.acquirer, ctx) || !isU32(body.request)) return "forward body needs acquirer node and request";
  return badOptionalVt(body.vt, ctx);
}

export function validateLockGrant(body: unknown, ctx: DecodeContext): string | undefined {
  if (!isObject(body)) return "grant body must be an object";
  return badOptionalVt(body.vt, ctx) ?? (body.intervals === undefined ? undefined : badIntervals(body.intervals, ctx)) ?? (body.diffs === undefined ? undefined : badGrantDiffs(body.diffs, ctx)) ?? (body.homePages === undefined ? undefined : badGrantPages(body.homePages, ctx)) ?? (body.owned === undefined ? undefined : badOwnedPages(body.owned, ctx));
}
