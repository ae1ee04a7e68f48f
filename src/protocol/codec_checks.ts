/**
 * The codec's checks of a message's fields against its kind and the decode context (codec.ts
 * holds the header layout and the kind table), and the one error the codec throws.
 */
import type { Message } from "./codec.js";
import { diffStats } from "./diff.js";
import { badFragment } from "./fragments.js";
import { checkIntervalDiffs } from "./release/wire.js";
import { BarrierFlag, kindName } from "./message_kinds.js";
import { getU32 } from "./little_endian.js";

/**
 * Largest JSON payload accepted: lrc's write notices for tens of thousands of intervals (a barrier
 * release, a lock grant) pass NATS' 1 MiB and travel in fragments (fragments.ts).
 */
export const MAX_JSON_BYTES = 64 << 20;
/** Largest page payload accepted when the decode context does not give the page size. */
export const MAX_PAGE_PAYLOAD = 65536;

/** Most whole pages one message carries (hlrc's page replies). */
export const MAX_PAGES_PAYLOAD = 64;

/** Most Confirms one Confirm message carries after its own (page_requester.ts batches them per manager). */
export const MAX_BATCHED_CONFIRMS = 63;
/** Bytes of one batched Confirm: page, version, request, arg (access), each a u32. */
export const CONFIRM_ENTRY_BYTES = 16;

/** A compact barrier arrival (codec.ts): this byte, then count, hash and first as u32. */
export const COMPACT_ARRIVE_MARK = 0;
export const COMPACT_ARRIVE_BYTES = 13;

/** Largest lock id: lock ids travel in `arg` and must stay below 2^31 (kernels pass an i32). */
export const MAX_LOCK_ID = 0x7fffffff;

/** A message that cannot be encoded or decoded; the only error the codec throws. */
export class CodecError extends Error {
  override name = "CodecError";
}

export interface DecodeContext {
  nodeCount: number;
  /** When set, page payloads must have exactly this size and diffs must fit it. */
  pageSize?: number;
  /** When set (with pageCount), every page must be inside firstPage .. firstPage+pageCount-1. */
  firstPage?: number;
  pageCount?: number;
  /**
   * The caller hands `bytes` over for good (a transport whose `handsOverBytes` is true delivers a
   * fresh copy of each message): a payload of at least KEEP_VIEW_BYTES may then be a view into
   * them, when it starts 8-byte aligned, instead of a copy. @default false
   */
  keepsBytes?: boolean;
}

export type PayloadShape = "none" | "page" | "pages" | "pushed" | "diff" | "baseDiff" | "diffs" | "u32" | "json" | "fragment" | "confirms";
export type ArgShape = "zero" | "access" | "node" | "lock" | "flags" | "u32";
export interface KindSpec {
  /** Carries a region page in `page` (else `page` must be 0). */
  page: boolean;
  arg: ArgShape;
  payload: PayloadShape;
  validate?: (body: unknown, ctx: DecodeContext) => string | undefined;
  /** A JSON body that may come compact as a barrier arrival's (codec.ts). */
  compactArrive?: boolean;
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/** The checks of every decoded field against the kind's spec and the context; sets `body`. */
export function checkMessage(msg: Message, spec: KindSpec, ctx: DecodeContext): void {
  const name = kindName(msg.kind);
  if (msg.source >= ctx.nodeCount) throw new CodecError(`${name}: source node ${msg.source} is not in this job of ${ctx.nodeCount} nodes`);
  if (msg.target >= ctx.nodeCount) throw new CodecError(`${name}: target node ${msg.target} is not in this job of ${ctx.nodeCount} nodes`);
  checkPage(name, spec, msg.page, ctx);
  checkArg(name, spec.arg, msg.arg, ctx);
  msg.body = checkPayload(name, spec, msg.payload, ctx);
}

function checkPage(name: string, spec: KindSpec, page: number, ctx: DecodeContext): void {
  if (!spec.page) {
    if (page !== 0) throw new CodecError(`${name}: page ${page} on a message that carries no page`);
    return;
  }
  if (ctx.firstPage !== undefined && ctx.pageCount !== undefined && (page < ctx.firstPage || page >= ctx.firstPage + ctx.pageCount)) {
    throw new CodecError(`${name}: page ${page} is outside the shared region (pages ${ctx.firstPage}..${ctx.firstPage + ctx.pageCount - 1})`);
  }
}

function checkArg(name: string, shape: ArgShape, arg: number, ctx: DecodeContext): void {
  const bad =
    (shape === "zero" && arg !== 0) ||
    (shape === "access" && arg > 1) ||
    (shape === "node" && arg >= ctx.nodeCount) ||
    (shape === "lock" && arg > MAX_LOCK_ID) ||
    (shape === "flags" && (arg & ~(BarrierFlag.Final | BarrierFlag.Repeat)) !== 0);
  if (bad) throw new CodecError(`${name}: arg ${arg} is not a valid ${shape === "zero" ? "(unused, 0)" : shape}`);
}

function checkPayload(name: string, spec: KindSpec, payload: Uint8Array, ctx: DecodeContext): unknown {
  const n = payload.byteLength;
  switch (spec.payload) {
    case "none":
      if (n !== 0) throw new CodecError(`${name}: carries no payload but has ${n} bytes`);
      return undefined;
    case "u32":
      if (n !== 4) throw new CodecError(`${name}: payload of ${n} bytes, expected a 4-byte version`);
      return undefined;
    case "page": {
      const expected = ctx.pageSize;
      if (expected !== undefined ? n !== expected : n === 0 || n > MAX_PAGE_PAYLOAD) {
        throw new CodecError(`${name}: page payload of ${n} bytes, expected ${expected ?? `1..${MAX_PAGE_PAYLOAD}`}`);
      }
      return undefined;
    }
    case "pages": {
      const size = ctx.pageSize;
      if (n === 0 || (size !== undefined ? n % size !== 0 || n / size > MAX_PAGES_PAYLOAD : n > MAX_PAGES_PAYLOAD * MAX_PAGE_PAYLOAD)) {
        throw new CodecError(`${name}: pages payload of ${n} bytes, expected 1..${MAX_PAGES_PAYLOAD} whole pages${size !== undefined ? ` of ${size} bytes` : ""}`);
      }
      return undefined;
    }
    case "pushed": {
      // Per node a u32 (the last interval of its writes the pages hold), then the pages.
      const vector = ctx.nodeCount * 4;
      const size = ctx.pageSize;
      const pages = n - vector;
      if (pages <= 0 || (size !== undefined ? pages % size !== 0 || pages / size > MAX_PAGES_PAYLOAD : pages > MAX_PAGES_PAYLOAD * MAX_PAGE_PAYLOAD)) {
        throw new CodecError(`${name}: pushed payload of ${n} bytes, expected ${ctx.nodeCount} u32 intervals and 1..${MAX_PAGES_PAYLOAD} whole pages${size !== undefined ? ` of ${size} bytes` : ""}`);
      }
      return undefined;
    }
    case "diff":
      checkDiff(name, payload, ctx.pageSize);
      return undefined;
    case "baseDiff":
      // The version the diff starts from (a u32), then the diff.
      if (n < 4) throw new CodecError(`${name}: payload of ${n} bytes, expected a 4-byte base version and a diff`);
      checkDiff(name, payload.subarray(4), ctx.pageSize);
      return undefined;
    case "diffs":
      try {
        checkIntervalDiffs(payload, ctx);
      } catch (error) {
        throw new CodecError(`${name}: bad diffs: ${(error as Error).message}`);
      }
      return undefined;
    case "json":
      return parseJson(name, spec, payload, ctx);
    case "confirms":
      checkConfirms(name, payload, ctx);
      return undefined;
    case "fragment": {
      const problem = badFragment(payload);
      if (problem) throw new CodecError(`${name}: ${problem}`);
      return undefined;
    }
  }
}

/** A Confirm's further entries: whole entries, not too many, each on a region page with an access. */
function checkConfirms(name: string, payload: Uint8Array, ctx: DecodeContext): void {
  const n = payload.byteLength;
  if (n % CONFIRM_ENTRY_BYTES !== 0 || n / CONFIRM_ENTRY_BYTES > MAX_BATCHED_CONFIRMS) {
    throw new CodecError(`${name}: payload of ${n} bytes, expected 0..${MAX_BATCHED_CONFIRMS} confirms of ${CONFIRM_ENTRY_BYTES} bytes`);
  }
  const view = new DataView(payload.buffer, payload.byteOffset, n);
  for (let at = 0; at < n; at += CONFIRM_ENTRY_BYTES) {
    checkPage(name, CONFIRMED_PAGE, view.getUint32(at, true), ctx);
    checkArg(name, "access", view.getUint32(at + 12, true), ctx);
  }
}
const CONFIRMED_PAGE: KindSpec = { page: true, arg: "access", payload: "none" };

function checkDiff(name: string, payload: Uint8Array, pageSize: number | undefined): void {
  try {
    diffStats(payload, pageSize);
  } catch (error) {
    throw new CodecError(`${name}: bad diff: ${(error as Error).message}`);
  }
}

function parseJson(name: string, spec: KindSpec, payload: Uint8Array, ctx: DecodeContext): unknown {
  if (payload.byteLength > MAX_JSON_BYTES) throw new CodecError(`${name}: JSON payload of ${payload.byteLength} bytes exceeds ${MAX_JSON_BYTES}`);
  let body: unknown;
  if (payload.byteLength === 0) body = {};
  else if (payload[0] === COMPACT_ARRIVE_MARK) body = compactArrive(name, spec, payload);
  else {
    try {
      body = JSON.parse(decoder.decode(payload));
    } catch (error) {
      throw new CodecError(`${name}: payload is not valid UTF-8 JSON (${(error as Error).message})`);
    }
  }
  const problem = spec.validate?.(body, ctx);
  if (problem) throw new CodecError(`${name}: ${problem}`);
  return body;
}

/** The entries of every compact arrival: one frozen empty list (the barrier manager only reads them). */
const NO_ENTRIES: [number, number][] = Object.freeze([]) as unknown as [number, number][];

/** The body of a compact barrier arrival (codec.ts); throws CodecError for any other kind or size. */
function compactArrive(name: string, spec: KindSpec, payload: Uint8Array): unknown {
  if (!spec.compactArrive) throw new CodecError(`${name}: payload starts with byte 0, which is no JSON; only a barrier arrival has a compact form`);
  if (payload.byteLength !== COMPACT_ARRIVE_BYTES) throw new CodecError(`${name}: compact arrival of ${payload.byteLength} bytes, expected ${COMPACT_ARRIVE_BYTES}`);
  return { count: getU32(payload, 1), hash: getU32(payload, 5), first: getU32(payload, 9), entries: NO_ENTRIES };
}
