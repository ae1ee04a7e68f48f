/**
 * The wire format of every protocol and sync message: a fixed 32-byte little-endian header, then
 * the payload. Every field is named here and nowhere else.
 *
 *   offset  size  field          meaning
 *   0       u16   magic          0xD5A1, "a wasm-dsm message"
 *   2       u8    format         FORMAT (6); a node refuses any other
 *   3       u8    kind           MessageKind
 *   4       u32   job            the job the message belongs to
 *   8       u16   source         sending node
 *   10      u16   target         receiving node
 *   12      u32   page           absolute page number (0 for sync kinds)
 *   16      u32   version        page version or barrier epoch
 *   20      u32   request        request id, chosen by the node that started the exchange
 *   24      u32   arg            per kind: access, requester node, lock id or flags
 *   28      u32   payloadLength  bytes after the header
 *   32      ...   payload        none, page bytes, a diff, a u32, further Confirms, pushed pages (a u32
 *                                  per node, then pages), or JSON (control kinds)
 *
 * A control kind's body is JSON, with two exceptions, by far the commonest bodies: an empty body
 * ({}: most barrier releases, and lock messages outside lrc) is no payload at all, and a barrier
 * arrival that carries no allocation made since the previous barrier and no lrc part is 13 bytes,
 *
 *   0 u8 0 (JSON never starts so) · 1 u32 count · 5 u32 hash · 9 u32 first       (entries: [])
 *
 * A CPU profile of 2-node barriers in a loop (syncbench, diff, 2 vCPUs) put JSON.stringify, the
 * UTF-8 round trip and JSON.parse at 3-5 µs of CPU per barrier, both nodes together, in barriers
 * of 13-25 µs, besides the garbage they left; barriers took a median 22.4 µs (diff) and 26.8 µs
 * (hlrc) with these forms against 27.0 and 33.2 µs before, in alternating runs.
 *
 * `decodeMessage` checks every field against the table {@link KIND_SPECS} and the decode context
 * (node count, page size, region) and throws {@link CodecError} and nothing else on bad input.
 * The JSON bodies of the sync kinds are defined and validated in sync_wire.ts, those of lrc in
 * release/wire.ts; the field checks in codec_checks.ts; this file holds the header, the kind table,
 * and encoding and decoding.
 */
import { CodecError, COMPACT_ARRIVE_BYTES, COMPACT_ARRIVE_MARK, CONFIRM_ENTRY_BYTES, checkMessage, type ArgShape, type DecodeContext, type KindSpec, type PayloadShape } from "./codec_checks.js";
import { kindName, MessageKind } from "./message_kinds.js";
import { getU16, getU32, putU16, putU32 } from "./little_endian.js";
import { validateLrcDiffRequest } from "./release/wire.js";
import { validateHlrcPageRequest } from "./hlrc/wire.js";
export type { LrcDiffRequestBody } from "./release/wire.js";
export type { HlrcPageRequestBody } from "./hlrc/wire.js";
import { validateArrive, validateLockAcquire, validateLockForward, validateLockGrant, validateRelease, validateWait } from "./sync_wire.js";
import type { ArriveBody } from "./sync_wire.js";
import { isU32 } from "./wire_checks.js";
export type { AllocationMismatch, ArriveBody, BarrierWaitBody, LockAcquireBody, LockForwardBody, LockGrantBody, ReleaseBody } from "./sync_wire.js";

export const MAGIC = 0xd5a1;
/**
 * 2: one lock protocol for every coherence protocol (token_locks.ts); 3: a Confirm carries further
 * Confirms; 4: a JSON kind's empty body is no payload, and a barrier arrival with no allocation
 * since the previous barrier and no lrc part is {@link COMPACT_ARRIVE_BYTES} bytes, not JSON; 5: hlrc's
 * pushes (HlrcPush, HlrcPushDecline).
 */
export const FORMAT = 6;
export const HEADER_BYTES = 32;

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
export { CodecError, COMPACT_ARRIVE_BYTES, MAX_BATCHED_CONFIRMS, MAX_JSON_BYTES, MAX_LOCK_ID, MAX_PAGE_PAYLOAD, type DecodeContext } from "./codec_checks.js";


const sync = (arg: ArgShape, payload: PayloadShape = "none", validate?: KindSpec["validate"]): KindSpec => ({ page: false, arg, payload, validate });
const onPage = (arg: ArgShape, payload: PayloadShape = "none", validate?: KindSpec["validate"]): KindSpec => ({ page: true, arg, payload, validate });

/** What each kind may carry. */
export const KIND_SPECS: ReadonlyMap<number, KindSpec> = new Map<number, KindSpec>([
  [MessageKind.BarrierArrive, { ...sync("flags", "json", validateArrive), compactArrive: true }],
  [MessageKind.BarrierRelease, sync("flags", "json", validateRelease)],
  [MessageKind.BarrierWait, sync("zero", "json", validateWait)],
  [MessageKind.BarrierDone, sync("flags")],
  [MessageKind.LockAcquire, sync("lock", "json", validateLockAcquire)],
  [MessageKind.LockGrant, sync("lock", "json", validateLockGrant)],
  [MessageKind.LockForward, sync("lock", "json", validateLockForward)],
  [MessageKind.ReadRequest, onPage("zero")],
  [MessageKind.WriteRequest, onPage("zero")],
  [MessageKind.ReadForward, onPage("node", "u32")],
  [MessageKind.WriteForward, onPage("node", "u32")],
  [MessageKind.PageData, onPage("access", "page")],
  [MessageKind.DiffData, onPage("access", "diff")],
  [MessageKind.Grant, onPage("access")],
  [MessageKind.Invalidate, onPage("node")],
  [MessageKind.InvalidateAck, onPage("node")],
  [MessageKind.Confirm, onPage("access", "confirms")],
  [MessageKind.ConfirmAck, onPage("access")],
  [MessageKind.Relinquish, onPage("access", "confirms")],
  [MessageKind.PagePush, onPage("u32", "page")],
  [MessageKind.DiffPush, onPage("u32", "baseDiff")],
  [MessageKind.LrcDiffRequest, onPage("zero", "json", validateLrcDiffRequest)],
  [MessageKind.LrcDiffReply, onPage("zero", "diffs")],
  [MessageKind.LrcPageRequest, onPage("zero")],
  [MessageKind.LrcPageReply, onPage("zero", "page")],
  [MessageKind.HlrcFlush, sync("u32", "diffs")],
  [MessageKind.HlrcFlushAck, sync("u32")],
  [MessageKind.HlrcPageRequest, onPage("zero", "json", validateHlrcPageRequest)],
  [MessageKind.HlrcPageReply, onPage("zero", "pages")],
  [MessageKind.HlrcPush, onPage("zero", "pushed")],
  [MessageKind.HlrcPushDecline, onPage("zero")],
  [MessageKind.Fragment, sync("zero", "fragment")],
]);

/** KIND_SPECS as an array indexed by kind, for the per-message lookups. */
const SPEC_BY_KIND: (KindSpec | undefined)[] = Array.from({ length: 256 }, (_, kind) => KIND_SPECS.get(kind));


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



/** The 4-byte payload of forwards: the requester's version of the page. */
export function u32Payload(value: number): Uint8Array {
  const out = new Uint8Array(4);
  putU32(out, 0, value);
  return out;
}

export function readU32Payload(msg: Message): number {
  return getU32(msg.payload, 0);
}

/** One transaction a Confirm confirms to its manager (directory.ts). */
export interface ConfirmEntry {
  page: number;
  version: number;
  request: number;
  /** 1 for a write, 0 for a read. */
  access: number;
}

/**
 * A Confirm's payload: the entries after the first, which travels in the header. One message
 * confirms a fault's pages (read ahead included) to their manager, and one ConfirmAck answers it.
 */
export function confirmsPayload(entries: readonly (ConfirmEntry | undefined)[], count = entries.length): Uint8Array {
  const out = new Uint8Array((count - 1) * CONFIRM_ENTRY_BYTES);
  for (let i = 1, at = 0; i < count; i++, at += CONFIRM_ENTRY_BYTES) {
    const e = entries[i]!;
    putU32(out, at, e.page);
    putU32(out, at + 4, e.version);
    putU32(out, at + 8, e.request);
    putU32(out, at + 12, e.access);
  }
  return out;
}

/** A DiffPush's payload: the version the diff starts from (u32), then the diff. */
export function baseDiffPayload(base: number, diff: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + diff.byteLength);
  putU32(out, 0, base);
  out.set(diff, 4);
  return out;
}

/** Every entry of a decoded Confirm, the header's first, each as a Confirm message of its own. */
export function confirmEntries(msg: Message): Message[] {
  const p = msg.payload;
  const entries: Message[] = [{ ...msg, payload: NO_PAYLOAD }];
  for (let at = 0; at < p.byteLength; at += CONFIRM_ENTRY_BYTES) {
    entries.push({ ...msg, page: getU32(p, at), version: getU32(p, at + 4), request: getU32(p, at + 8), arg: getU32(p, at + 12), payload: NO_PAYLOAD });
  }
  return entries;
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

const NO_PAYLOAD = new Uint8Array(0);
/** Where JSON bodies are encoded before their message's buffer is made (copied at once). */
const jsonScratch = new Uint8Array(16 * 1024);
/** The 13 bytes of a compact arrival (see the file comment), filled anew for each. */
const arriveScratch = new Uint8Array(COMPACT_ARRIVE_BYTES);

/**
 * The payload of a JSON kind's body when it has a compact form (the file comment): none for an
 * empty body, 13 bytes for a barrier arrival without news; undefined when it goes as JSON. The
 * bytes are valid until the next call.
 */
function compactBody(spec: KindSpec, body: unknown): Uint8Array | undefined {
  if (body === undefined) return NO_PAYLOAD;
  if (typeof body !== "object" || body === null || Array.isArray(body)) return undefined;
  let keys = 0;
  for (const key in body) {
    if (!Object.prototype.hasOwnProperty.call(body, key)) continue;
    if ((body as Record<string, unknown>)[key] === undefined) continue;
    keys++;
  }
  if (keys === 0) return NO_PAYLOAD;
  if (!spec.compactArrive || keys !== 4) return undefined;
  const { count, hash, first, entries } = body as Partial<ArriveBody>;
  if (!Array.isArray(entries) || entries.length !== 0 || !isU32(count) || !isU32(hash) || !isU32(first)) return undefined;
  arriveScratch[0] = COMPACT_ARRIVE_MARK;
  putU32(arriveScratch, 1, count);
  putU32(arriveScratch, 5, hash);
  putU32(arriveScratch, 9, first);
  return arriveScratch;
}

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
  /** JSON bytes written straight into `scratch` after the header: no buffer of their own. */
  let jsonInScratch = -1;
  if (spec.payload === "json") {
    if (init.payload) throw new CodecError(`cannot encode ${kindName(kind)}: give a body, not raw payload bytes`);
    const compact = compactBody(spec, init.body);
    if (compact) payload = compact;
    else {
      const json = JSON.stringify(init.body ?? {});
      // UTF-8 takes at most 3 bytes per UTF-16 code unit. A buffer per message is what made
      // barriers and lock grants spend a fifth of their time collecting garbage.
      if (scratch && scratch.byteLength >= HEADER_BYTES + json.length * 3) jsonInScratch = encoder.encodeInto(json, scratch.subarray(HEADER_BYTES)).written;
      else if (json.length * 3 <= jsonScratch.byteLength) payload = jsonScratch.subarray(0, encoder.encodeInto(json, jsonScratch).written);
      else payload = encoder.encode(json);
    }
  }
  const job = field(kind, "job", init.job, 32);
  const source = field(kind, "source", init.source, 16);
  const target = field(kind, "target", init.target, 16);
  const page = field(kind, "page", init.page, 32);
  const version = field(kind, "version", init.version, 32);
  const request = field(kind, "request", init.request, 32);
  const arg = field(kind, "arg", init.arg, 32);
  const payloadLength = jsonInScratch >= 0 ? jsonInScratch : payload.byteLength;
  const size = HEADER_BYTES + payloadLength;
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
  putU32(out, Field.payloadLength, payloadLength);
  if (jsonInScratch < 0) out.set(payload, HEADER_BYTES);
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
  const json = spec.payload === "json";
  const msg: Message = {
    kind: kind as MessageKind,
    job: getU32(bytes, Field.job),
    source: getU16(bytes, Field.source),
    target: getU16(bytes, Field.target),
    page: getU32(bytes, Field.page),
    version: getU32(bytes, Field.version),
    request: getU32(bytes, Field.request),
    arg: getU32(bytes, Field.arg),
    // A JSON kind's payload is only parsed (an empty one, the commonest, needs no view at all).
    payload: json ? (bytes.byteLength === HEADER_BYTES ? NO_PAYLOAD : bytes.subarray(HEADER_BYTES)) : keepsView(bytes, ctx) ? bytes.subarray(HEADER_BYTES) : copyPayload(bytes),
    body: undefined,
  };
  const length = getU32(bytes, Field.payloadLength);
  if (length !== bytes.byteLength - HEADER_BYTES) {
    throw new CodecError(`${kindName(kind)}: payload length ${length} but ${bytes.byteLength - HEADER_BYTES} bytes follow the header; the message was truncated or padded`);
  }
  checkMessage(msg, spec, ctx);
  // A JSON kind's body holds everything its bytes said: they are not kept (nor copied, which
  // cost every barrier and lock message a buffer of its own to collect).
  if (json) msg.payload = NO_PAYLOAD;
  return msg;
}

/**
 * The message decodeMessage would return for encodeMessage(init), without the bytes: for a
 * message a node hands itself (Endpoint's loopback). The same checks run; the payload is copied,
 * as the sender may reuse its buffer. JSON kinds must travel encoded (their body would be shared).
 */
export function messageFrom(init: MessageInit, ctx: DecodeContext): Message {
  const kind = init.kind;
  const spec = SPEC_BY_KIND[kind];
  if (!spec) throw new CodecError(`cannot encode ${kindName(kind)}: unknown kind; use a MessageKind`);
  if (spec.payload === "json") throw new CodecError(`${kindName(kind)}: a JSON kind travels encoded (encodeMessage)`);
  const payload = init.payload;
  const msg: Message = {
    kind,
    job: field(kind, "job", init.job, 32),
    source: field(kind, "source", init.source, 16),
    target: field(kind, "target", init.target, 16),
    page: field(kind, "page", init.page, 32),
    version: field(kind, "version", init.version, 32),
    request: field(kind, "request", init.request, 32),
    arg: field(kind, "arg", init.arg, 32),
    payload: payload && payload.byteLength > 0 ? new Uint8Array(payload) : NO_PAYLOAD,
    body: undefined,
  };
  checkMessage(msg, spec, ctx);
  return msg;
}


/** Whether `kind`'s payload is JSON (such messages travel encoded even to their own node). */
export function carriesJson(kind: MessageKind): boolean {
  return SPEC_BY_KIND[kind]?.payload === "json";
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


/** One line for logs and transcripts: `ReadForward 1→0 page 16 v3 r7 arg 2`. */
export function describeMessage(msg: Message): string {
  return `${kindName(msg.kind)} ${msg.source}→${msg.target} page ${msg.page} v${msg.version} r${msg.request} arg ${msg.arg}`;
}
