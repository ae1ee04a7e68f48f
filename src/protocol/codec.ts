/**
 * The wire format of every protocol and sync message: a fixed 32-byte little-endian header, then
 * the payload. Every field is named here and nowhere else.
 *
 *   offset  size  field          meaning
 *   0       u16   magic          0xD5A1, "a wasm-dsm message"
 *   2       u8    format         FORMAT (1); a node refuses any other
 *   3       u8    kind           MessageKind
 *   4       u32   job            the job the message belongs to
 *   8       u16   source         sending node
 *   10      u16   target         receiving node
 *   12      u32   page           absolute page number (0 for sync kinds)
 *   16      u32   version        page version, barrier epoch or lock generation
 *   20      u32   request        request id, chosen by the node that started the exchange
 *   24      u32   arg            per kind: access, requester node, lock id or flags
 *   28      u32   payloadLength  bytes after the header
 *   32      ...   payload        none, page bytes, a diff, a u32, or JSON (control kinds)
 *
 * `decodeMessage` checks every field against the table {@link KIND_SPECS} and the decode context
 * (node count, page size, region) and throws {@link CodecError} and nothing else on bad input.
 * The JSON bodies of the sync kinds are defined and validated in sync_wire.ts, those of lrc in
 * lrc_wire.ts; this file holds the header, the kind table, and encoding and decoding.
 */
import { diffStats } from "./diff.js";
import { badFragment } from "./fragments.js";
import { BarrierFlag, kindName, MessageKind } from "./message_kinds.js";
import { getU16, getU32, putU16, putU32 } from "./little_endian.js";
import {
  checkIntervalDiffs,
  validateLrcAcquire,
  validateLrcDiffRequest,
  validateLrcForward,
  validateLrcGrant,
} from "./lrc_wire.js";
export type { LrcAcquireBody, LrcDiffRequestBody, LrcForwardBody, LrcGrantBody } from "./lrc_wire.js";
import { validateArrive, validateLockWait, validateRelease, validateWait } from "./sync_wire.js";
export type { AllocationMismatch, ArriveBody, BarrierWaitBody, LockWaitBody, ReleaseBody } from "./sync_wire.js";

export const MAGIC = 0xd5a1;
export const FORMAT = 1;
export const HEADER_BYTES = 32;
/**
 * Largest JSON payload accepted: lrc's write notices for tens of thousands of intervals (a barrier
 * release, a lock grant) pass NATS' 1 MiB and travel in fragments (fragments.ts).
 */
export const MAX_JSON_BYTES = 64 << 20;
/** Largest page payload accepted when the decode context does not give the page size. */
export const MAX_PAGE_PAYLOAD = 65536;

/** Byte offset of each header field. */
export const Field = {
  magic: 0,
  format: 2,
  kind: 3,
  job: 4,
  source: 8,
  target: 10,
  page: 12,
  version: 16,
  request: 20,
  arg: 24,
  payloadLength: 28,
} as const;

export { BarrierFlag, kindName, MessageKind } from "./message_kinds.js";

type PayloadShape = "none" | "page" | "diff" | "diffs" | "u32" | "json" | "fragment";
type ArgShape = "zero" | "access" | "node" | "lock" | "flags";
interface KindSpec {
  /** Carries a region page in `page` (else `page` must be 0). */
  page: boolean;
  arg: ArgShape;
  payload: PayloadShape;
  validate?: (body: unknown, ctx: DecodeContext) => string | undefined;
}

const sync = (arg: ArgShape, payload: PayloadShape = "none", validate?: KindSpec["validate"]): KindSpec => ({ page: false, arg, payload, validate });
const onPage = (arg: ArgShape, payload: PayloadShape = "none", validate?: KindSpec["validate"]): KindSpec => ({ page: true, arg, payload, validate });

/** What each kind may carry. */
export const KIND_SPECS: ReadonlyMap<number, KindSpec> = new Map<number, KindSpec>([
  [MessageKind.BarrierArrive, sync("flags", "json", validateArrive)],
  [MessageKind.BarrierRelease, sync("flags", "json", validateRelease)],
  [MessageKind.BarrierWait, sync("zero", "json", validateWait)],
  [MessageKind.BarrierDone, sync("zero")],
  [MessageKind.LockAcquire, sync("lock")],
  [MessageKind.LockGrant, sync("lock")],
  [MessageKind.LockWait, sync("lock", "json", validateLockWait)],
  [MessageKind.LockRelease, sync("lock")],
  [MessageKind.LockReleased, sync("lock")],
  [MessageKind.ReadRequest, onPage("zero")],
  [MessageKind.WriteRequest, onPage("zero")],
  [MessageKind.ReadForward, onPage("node", "u32")],
  [MessageKind.WriteForward, onPage("node", "u32")],
  [MessageKind.PageData, onPage("access", "page")],
  [MessageKind.DiffData, onPage("access", "diff")],
  [MessageKind.Grant, onPage("access")],
  [MessageKind.Invalidate, onPage("node")],
  [MessageKind.InvalidateAck, onPage("node")],
  [MessageKind.Confirm, onPage("access")],
  [MessageKind.ConfirmAck, onPage("access")],
  [MessageKind.LrcAcquire, sync("lock", "json", validateLrcAcquire)],
  [MessageKind.LrcForward, sync("lock", "json", validateLrcForward)],
  [MessageKind.LrcGrant, sync("lock", "json", validateLrcGrant)],
  [MessageKind.LrcDiffRequest, onPage("zero", "json", validateLrcDiffRequest)],
  [MessageKind.LrcDiffReply, onPage("zero", "diffs")],
  [MessageKind.LrcPageRequest, onPage("zero")],
  [MessageKind.LrcPageReply, onPage("zero", "page")],
  [MessageKind.Fragment, sync("zero", "fragment")],
]);

/** KIND_SPECS as an array indexed by kind, for the per-message lookups. */
const SPEC_BY_KIND: (KindSpec | undefined)[] = Array.from({ length: 256 }, (_, kind) => KIND_SPECS.get(kind));

/** Largest lock id: lock ids travel in `arg` and must stay below 2^31 (kernels pass an i32). */
export const MAX_LOCK_ID = 0x7fffffff;

export interface Message {
  kind: MessageKind;
  job: number;
  source: number;
  target: number;
  page: number;
  version: number;
  request: number;
  arg: number;
  /** The payload bytes, which the message owns: a copy at offset 0, or (see {@link DecodeContext.keepsBytes}) an 8-byte aligned view. */
  payload: Uint8Array;
  /** The parsed and validated JSON payload of control kinds; undefined for the others. */
  body?: unknown;
}

/** What `encodeMessage` takes: unset numeric fields are 0; `body` is JSON-encoded for JSON kinds. */
export interface MessageInit {
  kind: MessageKind;
  job: number;
  source: number;
  target: number;
  page?: number;
  version?: number;
  request?: number;
  arg?: number;
  payload?: Uint8Array;
  body?: unknown;
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

/** A message that cannot be encoded or decoded; the only error the codec throws. */
export class CodecError extends Error {
  override name = "CodecError";
}

/** The 4-byte payload of forwards: the requester's version of the page. */
export function u32Payload(value: number): Uint8Array {
  const out = new Uint8Array(4);
  putU32(out, 0, value);
  return out;
}

export function readU32Payload(msg: Message): number {
  return getU32(msg.payload, 0);
}

/** A header field's value, checked to fit `bits`; an unset field is 0. */
function field(kind: number, name: keyof typeof Field, value: number | undefined, bits: 16 | 32): number {
  if (value == null) return 0;
  if (!(Number.isInteger(value) && value >= 0 && value < (bits === 16 ? 0x10000 : 0x100000000))) {
    throw new CodecError(`cannot encode ${kindName(kind)}: ${name} ${value} is not a u${bits}`);
  }
  return value;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

const NO_PAYLOAD = new Uint8Array(0);

/**
 * Encodes a message into a new buffer, or into `scratch` when given and large enough: the result
 * is then a view of `scratch`, valid until its next use (transports copy at the call, so a sender
 * may encode every message it sends into one scratch buffer).
 */
export function encodeMessage(init: MessageInit, scratch?: Uint8Array): Uint8Array {
  const kind = init.kind;
  const spec = SPEC_BY_KIND[kind];
  if (!spec) throw new CodecError(`cannot encode ${kindName(kind)}: unknown kind; use a MessageKind`);
  let payload = init.payload ?? NO_PAYLOAD;
  if (spec.payload === "json") {
    if (init.payload) throw new CodecError(`cannot encode ${kindName(kind)}: give a body, not raw payload bytes`);
    payload = encoder.encode(JSON.stringify(init.body ?? {}));
  }
  const job = field(kind, "job", init.job, 32);
  const source = field(kind, "source", init.source, 16);
  const target = field(kind, "target", init.target, 16);
  const page = field(kind, "page", init.page, 32);
  const version = field(kind, "version", init.version, 32);
  const request = field(kind, "request", init.request, 32);
  const arg = field(kind, "arg", init.arg, 32);
  const size = HEADER_BYTES + payload.byteLength;
  const out = scratch && scratch.byteLength >= size ? scratch.subarray(0, size) : new Uint8Array(size);
  putU16(out, Field.magic, MAGIC);
  out[Field.format] = FORMAT;
  out[Field.kind] = kind;
  putU32(out, Field.job, job);
  putU16(out, Field.source, source);
  putU16(out, Field.target, target);
  putU32(out, Field.page, page);
  putU32(out, Field.version, version);
  putU32(out, Field.request, request);
  putU32(out, Field.arg, arg);
  putU32(out, Field.payloadLength, payload.byteLength);
  out.set(payload, HEADER_BYTES);
  return out;
}

/** Decodes and validates one message; throws {@link CodecError} (only) on anything malformed. */
export function decodeMessage(bytes: Uint8Array, ctx: DecodeContext): Message {
  if (!(bytes instanceof Uint8Array)) throw new CodecError("message is not a Uint8Array; transports deliver bytes");
  if (bytes.byteLength < HEADER_BYTES) throw new CodecError(`message of ${bytes.byteLength} bytes: shorter than the ${HEADER_BYTES}-byte header; it was truncated`);
  const magic = getU16(bytes, Field.magic);
  if (magic !== MAGIC) throw new CodecError(`magic 0x${magic.toString(16)}: not a wasm-dsm message (expected 0x${MAGIC.toString(16)})`);
  const format = bytes[Field.format]!;
  if (format !== FORMAT) throw new CodecError(`format ${format}: this node speaks format ${FORMAT}; run the same wasm-dsm version on every node`);
  const kind = bytes[Field.kind]!;
  const spec = SPEC_BY_KIND[kind];
  if (!spec) throw new CodecError(`kind ${kind}: unknown message kind`);
  const msg: Message = {
    kind: kind as MessageKind,
    job: getU32(bytes, Field.job),
    source: getU16(bytes, Field.source),
    target: getU16(bytes, Field.target),
    page: getU32(bytes, Field.page),
    version: getU32(bytes, Field.version),
    request: getU32(bytes, Field.request),
    arg: getU32(bytes, Field.arg),
    payload: keepsView(bytes, ctx) ? bytes.subarray(HEADER_BYTES) : copyPayload(bytes),
    body: undefined,
  };
  const length = getU32(bytes, Field.payloadLength);
  const name = kindName(kind);
  if (length !== bytes.byteLength - HEADER_BYTES) {
    throw new CodecError(`${name}: payload length ${length} but ${bytes.byteLength - HEADER_BYTES} bytes follow the header; the message was truncated or padded`);
  }
  if (msg.source >= ctx.nodeCount) throw new CodecError(`${name}: source node ${msg.source} is not in this job of ${ctx.nodeCount} nodes`);
  if (msg.target >= ctx.nodeCount) throw new CodecError(`${name}: target node ${msg.target} is not in this job of ${ctx.nodeCount} nodes`);
  checkPage(name, spec, msg.page, ctx);
  checkArg(name, spec.arg, msg.arg, ctx);
  msg.body = checkPayload(name, spec, msg.payload, ctx);
  return msg;
}

/**
 * Payloads of at least this many bytes are kept as views into bytes the transport handed over;
 * smaller ones are copied, which is cheap, so that a small payload kept for long (a diff in a
 * history) never keeps a far larger buffer alive.
 */
export const KEEP_VIEW_BYTES = 1024;

function keepsView(bytes: Uint8Array, ctx: DecodeContext): boolean {
  return (
    ctx.keepsBytes === true &&
    bytes.byteLength - HEADER_BYTES >= KEEP_VIEW_BYTES &&
    ((bytes.byteOffset + HEADER_BYTES) & 7) === 0 &&
    Object.getPrototypeOf(bytes) === Uint8Array.prototype
  );
}

/**
 * The bytes after the header as a copy the message owns, and a plain Uint8Array: transports may
 * reuse their buffers after the handler returns (the payload is installed later, inside a fault),
 * and a Node Buffer's slice() is a view, which code expecting Uint8Array semantics gets wrong.
 */
function copyPayload(bytes: Uint8Array): Uint8Array {
  // Most control messages carry nothing; a fresh empty array costs more than a small copy.
  if (bytes.byteLength === HEADER_BYTES) return NO_PAYLOAD;
  if (Object.getPrototypeOf(bytes) === Uint8Array.prototype) return bytes.slice(HEADER_BYTES);
  const payload = new Uint8Array(bytes.byteLength - HEADER_BYTES);
  payload.set(bytes.subarray(HEADER_BYTES));
  return payload;
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
    (shape === "flags" && (arg & ~BarrierFlag.Final) !== 0);
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
    case "diff":
      checkDiff(name, payload, ctx.pageSize);
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
    case "fragment": {
      const problem = badFragment(payload);
      if (problem) throw new CodecError(`${name}: ${problem}`);
      return undefined;
    }
  }
}

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
  try {
    body = JSON.parse(decoder.decode(payload));
  } catch (error) {
    throw new CodecError(`${name}: payload is not valid UTF-8 JSON (${(error as Error).message})`);
  }
  const problem = spec.validate?.(body, ctx);
  if (problem) throw new CodecError(`${name}: ${problem}`);
  return body;
}

/** One line for logs and transcripts: `ReadForward 1→0 page 16 v3 r7 arg 2`. */
export function describeMessage(msg: Message): string {
  return `${kindName(msg.kind)} ${msg.source}→${msg.target} page ${msg.page} v${msg.version} r${msg.request} arg ${msg.arg}`;
}
