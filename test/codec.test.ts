import { suite } from "uvu";
import * as assert from "uvu/assert";
import {
  carriesJson,
  CodecError,
  decodeMessage,
  encodeMessage,
  Field,
  FORMAT,
  HEADER_BYTES,
  KEEP_VIEW_BYTES,
  KIND_SPECS,
  kindName,
  MAGIC,
  MessageKind,
  messageFrom,
  confirmEntries,
  confirmsPayload,
  baseDiffPayload,
  MAX_BATCHED_CONFIRMS,
  COMPACT_ARRIVE_BYTES,
  u32Payload,
  type DecodeContext,
  type MessageInit,
} from "../src/protocol/codec.js";
import { encodeDiff } from "../src/protocol/diff.js";
import { getU32 } from "../src/protocol/little_endian.js";
import { FRAGMENT_HEADER, splitMessage } from "../src/protocol/fragments.js";
import { encodeIntervalDiffs, grantDiff } from "../src/protocol/release/wire.js";
import { encodeWritten } from "../src/protocol/release/word_diff.js";
import { prng } from "./helpers/random.js";

const PAGE = 1024;
const CONTEXT: DecodeContext = { nodeCount: 4, pageSize: PAGE, firstPage: 16, pageCount: 8 };


function pageBytes(seed: number): Uint8Array {
  const bytes = new Uint8Array(PAGE);
  for (let i = 0; i < PAGE; i++) bytes[i] = (i * 13 + seed) & 0xff;
  return bytes;
}

const zero = new Uint8Array(PAGE);
const changed = zero.slice();
changed.set([1, 2, 3, 4], 40);
changed.set([9, 9, 9, 9], 400);

/** One valid message of every kind. */
function samples(): MessageInit[] {
  const base = { job: 77, source: 1, target: 2 };
  const onPage = { ...base, page: 19, version: 5, request: 42 };
  const all: MessageInit[] = [
    { ...base, kind: MessageKind.BarrierArrive, version: 3, request: 9, arg: 1, body: { count: 2, hash: 123456, first: 1, entries: [[65536, 4096]] } },
    { ...base, kind: MessageKind.BarrierRelease, version: 3, request: 9, body: { mismatch: { node: 1, index: 2, got: [65536, 4096], expected: null } } },
    { ...base, kind: MessageKind.BarrierWait, version: 3, request: 9, body: { missing: [0, 3] } },
    { ...base, kind: MessageKind.BarrierDone, version: 3 },
    { ...base, kind: MessageKind.LockAcquire, arg: 12, request: 4, body: {} },
    { ...base, kind: MessageKind.LockGrant, arg: 12, request: 4, body: {} },
    { ...base, kind: MessageKind.LockForward, arg: 12, body: { acquirer: 3, request: 4, vt: [0, 2, 0, 1] } },
    { ...onPage, kind: MessageKind.ReadRequest },
    { ...onPage, kind: MessageKind.WriteRequest },
    { ...onPage, kind: MessageKind.ReadForward, arg: 3, payload: u32Payload(2) },
    { ...onPage, kind: MessageKind.WriteForward, arg: 3, payload: u32Payload(4) },
    { ...onPage, kind: MessageKind.PageData, arg: 1, payload: pageBytes(7) },
    { ...onPage, kind: MessageKind.DiffData, arg: 0, payload: encodeDiff(zero, changed) },
    { ...onPage, kind: MessageKind.Grant, arg: 1 },
    { ...onPage, kind: MessageKind.Invalidate, arg: 3 },
    { ...onPage, kind: MessageKind.InvalidateAck, arg: 3 },
    { ...onPage, kind: MessageKind.Confirm, arg: 1 },
    { ...onPage, kind: MessageKind.ConfirmAck, arg: 1 },
    { ...onPage, kind: MessageKind.PagePush, request: 6, arg: 9, payload: pageBytes(8) },
    { ...onPage, kind: MessageKind.DiffPush, request: 6, arg: 9, payload: baseDiffPayload(1, encodeDiff(zero, changed)) },
    { ...onPage, kind: MessageKind.Relinquish, arg: 0, payload: confirmsPayload([{ page: 17, version: 2, request: 5, access: 0 }, { page: 18, version: 3, request: 6, access: 0 }]) },
    { ...onPage, version: 0, kind: MessageKind.LrcDiffRequest, body: { pages: [[19, [2, 3]], [20, [1]]] } },
    { ...onPage, version: 0, kind: MessageKind.LrcDiffReply, payload: encodeIntervalDiffs([{ page: 19, interval: 2, diff: { form: "runs", bytes: encodeDiff(zero, changed) } }]) },
    { ...onPage, version: 0, kind: MessageKind.LrcPageRequest },
    { ...onPage, version: 0, kind: MessageKind.LrcPageReply, payload: pageBytes(9) },
    { ...base, kind: MessageKind.HlrcFlush, version: 4, request: 8, arg: 2, payload: encodeIntervalDiffs([{ page: 19, interval: 4, diff: { form: "runs", bytes: encodeDiff(zero, changed) } }]) },
    { ...base, kind: MessageKind.HlrcFlushAck, version: 4, request: 8 },
    { ...onPage, version: 0, kind: MessageKind.HlrcPageRequest, body: { pages: [19, 20], need: [[0, 3], [3, 1]] } },
    { ...onPage, version: 0, kind: MessageKind.HlrcPageReply, payload: new Uint8Array([...pageBytes(9), ...pageBytes(10)]) },
    { ...onPage, version: 0, kind: MessageKind.HlrcPush, payload: new Uint8Array([...new Uint8Array(new Uint32Array([3, 0, 1, 2]).buffer), ...pageBytes(9), ...pageBytes(10)]) },
    { ...onPage, version: 0, kind: MessageKind.HlrcPushDecline },
    { ...base, kind: MessageKind.Fragment, request: 77, payload: splitMessage(pageBytes(3), 600 + HEADER_BYTES + FRAGMENT_HEADER, HEADER_BYTES)[1] },
  ];
  return all;
}

function codecError(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.instance(error, CodecError);
    return (error as Error).message;
  }
  throw new Error("expected a CodecError");
}

/** A valid message with one header field overwritten. */
function withField(init: MessageInit, field: keyof typeof Field, value: number, bits: 8 | 16 | 32): Uint8Array {
  const bytes = encodeMessage(init);
  const view = new DataView(bytes.buffer);
  if (bits === 8) view.setUint8(Field[field], value);
  else if (bits === 16) view.setUint16(Field[field], value, true);
  else view.setUint32(Field[field], value, true);
  return bytes;
}

const RoundTrip = suite("codec round trip");

RoundTrip("every kind in MessageKind has a sample and a spec", () => {
  const kinds = Object.values(MessageKind).sort((a, b) => a - b);
  assert.equal(samples().map((s) => s.kind).sort((a, b) => a - b), kinds);
  assert.equal([...KIND_SPECS.keys()].sort((a, b) => a - b), kinds);
});

RoundTrip("every kind decodes to the fields it was encoded with", () => {
  for (const init of samples()) {
    const msg = decodeMessage(encodeMessage(init), CONTEXT);
    assert.is(msg.kind, init.kind, kindName(init.kind));
    assert.equal(
      [msg.job, msg.source, msg.target, msg.page, msg.version, msg.request, msg.arg],
      [init.job, init.source, init.target, init.page ?? 0, init.version ?? 0, init.request ?? 0, init.arg ?? 0],
      kindName(init.kind),
    );
    if (init.payload) assert.equal(Array.from(msg.payload), Array.from(init.payload), kindName(init.kind));
    if (init.body) assert.equal(msg.body, init.body, kindName(init.kind));
  }
});

RoundTrip("a JSON body encoded into a scratch buffer gives the same bytes; decoded, it keeps its body and no bytes", () => {
  const scratch = new Uint8Array(HEADER_BYTES + PAGE).fill(0xee);
  for (const init of samples().filter((s) => carriesJson(s.kind))) {
    const own = encodeMessage(init);
    const viewed = encodeMessage(init, scratch);
    assert.is(viewed.buffer, scratch.buffer, kindName(init.kind));
    assert.equal(Array.from(viewed), Array.from(own), kindName(init.kind));
    const msg = decodeMessage(viewed, CONTEXT);
    assert.equal(msg.body, init.body ?? {}, kindName(init.kind));
    assert.is(msg.payload.byteLength, 0, kindName(init.kind));
  }
  // A body past the scratch buffer gets a buffer of its own, with the same bytes.
  const big = { kind: MessageKind.BarrierWait, job: 1, source: 0, target: 1, version: 3, body: { missing: Array.from({ length: 1000 }, (_, i) => i % 2) } };
  const small = new Uint8Array(HEADER_BYTES + 64);
  const out = encodeMessage(big, small);
  assert.is.not(out.buffer, small.buffer);
  assert.equal(decodeMessage(out, { ...CONTEXT, nodeCount: 2 }).body, big.body);
});

RoundTrip("format 4: an empty body is no payload, a barrier arrival without news 13 bytes, anything else JSON", () => {
  const base = { job: 77, source: 1, target: 0, version: 3, request: 9 };
  const payloadOf = (init: MessageInit) => Array.from(encodeMessage(init).subarray(HEADER_BYTES));
  const decoded = (init: MessageInit) => decodeMessage(encodeMessage(init), CONTEXT).body;
  assert.is(FORMAT, 6);
  // Empty bodies, and keys JSON would drop (undefined), of every JSON kind that accepts them.
  for (const init of [
    { ...base, kind: MessageKind.BarrierRelease, body: {} },
    { ...base, kind: MessageKind.BarrierRelease, body: { lrc: undefined } },
    { ...base, kind: MessageKind.LockGrant, arg: 12, body: {} },
    { ...base, kind: MessageKind.LockAcquire, arg: 12 },
  ] as MessageInit[]) {
    assert.equal(payloadOf(init), [], kindName(init.kind));
    assert.equal(decoded(init), {}, kindName(init.kind));
  }
  const quiet = { ...base, kind: MessageKind.BarrierArrive, arg: 1, body: { count: 3, hash: 0xfedcba98, first: 3, entries: [] } };
  assert.equal(payloadOf(quiet), [0, 3, 0, 0, 0, 0x98, 0xba, 0xdc, 0xfe, 3, 0, 0, 0]);
  assert.is(COMPACT_ARRIVE_BYTES, 13);
  assert.equal(decoded(quiet), quiet.body);
  // New allocations, an lrc part, or an odd key: JSON, as before.
  const news = { ...quiet, body: { count: 4, hash: 1, first: 3, entries: [[65536, 4096]] } };
  const lrc = { ...quiet, body: { ...quiet.body, lrc: { vt: [1, 0, 0, 0], intervals: [] } } };
  const odd = { ...quiet, body: { ...quiet.body, extra: 1 } };
  for (const init of [news, lrc, odd]) {
    assert.is(encodeMessage(init)[HEADER_BYTES], "{".charCodeAt(0));
  }
  assert.equal(decoded(news), news.body);
  // A compact arrival of the wrong size, or byte 0 on another JSON kind, is refused.
  const compact = encodeMessage(quiet);
  const short = compact.slice(0, compact.byteLength - 1);
  new DataView(short.buffer).setUint32(Field.payloadLength, COMPACT_ARRIVE_BYTES - 1, true);
  assert.is(codecError(() => decodeMessage(short, CONTEXT)), "BarrierArrive: compact arrival of 12 bytes, expected 13");
  const other = compact.slice();
  other[Field.kind] = MessageKind.BarrierWait;
  other[Field.arg] = 0;
  assert.is(codecError(() => decodeMessage(other, CONTEXT)), "BarrierWait: payload starts with byte 0, which is no JSON; only a barrier arrival has a compact form");
  // An empty payload is an empty body, which a kind that needs fields refuses as it would "{}".
  const wait = encodeMessage({ ...base, kind: MessageKind.BarrierWait, body: {} });
  assert.is(wait.byteLength, HEADER_BYTES);
  assert.is(codecError(() => decodeMessage(wait, CONTEXT)), "BarrierWait: wait body needs missing node ids");
});

RoundTrip("the header is 32 bytes, little-endian, in the documented order", () => {
  const bytes = encodeMessage({ kind: MessageKind.Grant, job: 0x01020304, source: 1, target: 2, page: 17, version: 6, request: 7, arg: 1 });
  assert.is(bytes.byteLength, HEADER_BYTES);
  assert.equal(Array.from(bytes), [
    0xa1, 0xd5, FORMAT, MessageKind.Grant, 4, 3, 2, 1, 1, 0, 2, 0, 17, 0, 0, 0, 6, 0, 0, 0, 7, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,
  ]);
  assert.is(MAGIC, 0xd5a1);
});

RoundTrip("a message at an unaligned offset of a larger buffer decodes", () => {
  const bytes = encodeMessage(samples().find((s) => s.kind === MessageKind.DiffData)!);
  const wire = new Uint8Array(bytes.byteLength + 3);
  wire.set(bytes, 3);
  const msg = decodeMessage(wire.subarray(3), CONTEXT);
  assert.is(msg.kind, MessageKind.DiffData);
  assert.is(msg.payload.byteLength, bytes.byteLength - HEADER_BYTES);
});

RoundTrip("a Node Buffer at an odd offset decodes to a payload the message owns", () => {
  const bytes = encodeMessage(samples().find((s) => s.kind === MessageKind.DiffData)!);
  const pool = Buffer.alloc(bytes.byteLength + 40, 0x4d);
  pool.set(bytes, 3); // a view at offset 3 of a larger buffer, as the NATS parser hands out
  const wire = pool.subarray(3, 3 + bytes.byteLength);
  const msg = decodeMessage(wire, CONTEXT);
  assert.is(Object.getPrototypeOf(msg.payload), Uint8Array.prototype);
  assert.is(msg.payload.byteOffset, 0);
  const before = Array.from(msg.payload);
  wire.fill(0); // the transport reuses its buffer
  assert.equal(Array.from(msg.payload), before);
  assert.equal(before, Array.from(encodeDiff(zero, changed)));
});

RoundTrip("encoding rejects fields out of range and unknown kinds", () => {
  assert.is(codecError(() => encodeMessage({ kind: MessageKind.Grant, job: 1, source: 70000, target: 0 })), "cannot encode Grant: source 70000 is not a u16");
  assert.is(codecError(() => encodeMessage({ kind: 99 as MessageKind, job: 1, source: 0, target: 0 })), "cannot encode kind 99: unknown kind; use a MessageKind");
  assert.is(codecError(() => encodeMessage({ kind: MessageKind.Grant, job: -1, source: 0, target: 0 })), "cannot encode Grant: job -1 is not a u32");
});

const Validation = suite("codec validation");
const grant: MessageInit = { kind: MessageKind.Grant, job: 1, source: 0, target: 1, page: 17, arg: 1 };

Validation("a truncated header is named with its length", () => {
  assert.is(codecError(() => decodeMessage(encodeMessage(grant).subarray(0, 10), CONTEXT)), "message of 10 bytes: shorter than the 32-byte header; it was truncated");
});

Validation("bad magic, format and kind are refused", () => {
  assert.is(codecError(() => decodeMessage(withField(grant, "magic", 0x1234, 16), CONTEXT)), "magic 0x1234: not a wasm-dsm message (expected 0xd5a1)");
  assert.is(codecError(() => decodeMessage(withField(grant, "format", 1, 8), CONTEXT)), `format 1: this node speaks format ${FORMAT}; run the same wasm-dsm version on every node`);
  assert.is(codecError(() => decodeMessage(withField(grant, "kind", 99, 8), CONTEXT)), "kind 99: unknown message kind");
});

Validation("a payload length that disagrees with the bytes is refused", () => {
  assert.is(codecError(() => decodeMessage(withField(grant, "payloadLength", 8, 32), CONTEXT)), "Grant: payload length 8 but 0 bytes follow the header; the message was truncated or padded");
});

Validation("nodes outside the job are refused", () => {
  assert.is(codecError(() => decodeMessage(withField(grant, "source", 4, 16), CONTEXT)), "Grant: source node 4 is not in this job of 4 nodes");
  assert.is(codecError(() => decodeMessage(withField(grant, "target", 9, 16), CONTEXT)), "Grant: target node 9 is not in this job of 4 nodes");
});

Validation("pages outside the region, and pages on sync kinds, are refused", () => {
  assert.is(codecError(() => decodeMessage(withField(grant, "page", 24, 32), CONTEXT)), "Grant: page 24 is outside the shared region (pages 16..23)");
  const done: MessageInit = { kind: MessageKind.BarrierDone, job: 1, source: 0, target: 1 };
  assert.is(codecError(() => decodeMessage(withField(done, "page", 3, 32), CONTEXT)), "BarrierDone: page 3 on a message that carries no page");
});

Validation("args are checked per kind", () => {
  assert.is(codecError(() => decodeMessage(withField(grant, "arg", 2, 32), CONTEXT)), "Grant: arg 2 is not a valid access");
  const inv: MessageInit = { kind: MessageKind.Invalidate, job: 1, source: 0, target: 1, page: 17, arg: 3 };
  assert.is(codecError(() => decodeMessage(withField(inv, "arg", 4, 32), CONTEXT)), "Invalidate: arg 4 is not a valid node");
  const req: MessageInit = { kind: MessageKind.ReadRequest, job: 1, source: 0, target: 1, page: 17 };
  assert.is(codecError(() => decodeMessage(withField(req, "arg", 1, 32), CONTEXT)), "ReadRequest: arg 1 is not a valid (unused, 0)");
  const lock: MessageInit = { kind: MessageKind.LockAcquire, job: 1, source: 0, target: 1, arg: 1 };
  assert.is(codecError(() => decodeMessage(withField(lock, "arg", 0x80000000, 32), CONTEXT)), "LockAcquire: arg 2147483648 is not a valid lock");
});

Validation("payload sizes are checked per kind", () => {
  const short = { kind: MessageKind.PageData, job: 1, source: 0, target: 1, page: 17, payload: new Uint8Array(100) };
  assert.is(codecError(() => decodeMessage(encodeMessage(short), CONTEXT)), "PageData: page payload of 100 bytes, expected 1024");
  const fwd = { kind: MessageKind.ReadForward, job: 1, source: 0, target: 1, page: 17, payload: new Uint8Array(3) };
  assert.is(codecError(() => decodeMessage(encodeMessage(fwd), CONTEXT)), "ReadForward: payload of 3 bytes, expected a 4-byte version");
  const extra = { ...grant, payload: new Uint8Array(4) };
  assert.is(codecError(() => decodeMessage(encodeMessage(extra), CONTEXT)), "Grant: carries no payload but has 4 bytes");
});

Validation("a Confirm carries whole further confirms, each on a region page with an access, at most 63", () => {
  const confirm = (payload: Uint8Array) => ({ kind: MessageKind.Confirm, job: 1, source: 0, target: 1, page: 17, version: 2, request: 5, arg: 1, payload });
  const entries = [
    { page: 17, version: 2, request: 5, access: 1 },
    { page: 23, version: 7, request: 6, access: 0 },
    { page: 16, version: 0xffffffff, request: 0xfffffffe, access: 1 },
  ];
  const decoded = confirmEntries(decodeMessage(encodeMessage(confirm(confirmsPayload(entries))), CONTEXT));
  assert.equal(
    decoded.map((m) => [m.kind, m.source, m.page, m.version, m.request, m.arg, m.payload.byteLength]),
    entries.map((e) => [MessageKind.Confirm, 0, e.page, e.version, e.request, e.access, 0]),
  );
  assert.is(codecError(() => decodeMessage(encodeMessage(confirm(new Uint8Array(15))), CONTEXT)), "Confirm: payload of 15 bytes, expected 0..63 confirms of 16 bytes");
  const many = Array.from({ length: MAX_BATCHED_CONFIRMS + 2 }, () => entries[0]!);
  assert.is(codecError(() => decodeMessage(encodeMessage(confirm(confirmsPayload(many))), CONTEXT)), "Confirm: payload of 1024 bytes, expected 0..63 confirms of 16 bytes");
  const outside = confirmsPayload([entries[0]!, { page: 24, version: 0, request: 1, access: 0 }]);
  assert.is(codecError(() => decodeMessage(encodeMessage(confirm(outside)), CONTEXT)), "Confirm: page 24 is outside the shared region (pages 16..23)");
  const access = confirmsPayload([entries[0]!, { page: 18, version: 0, request: 1, access: 2 }]);
  assert.is(codecError(() => decodeMessage(encodeMessage(confirm(access)), CONTEXT)), "Confirm: arg 2 is not a valid access");
});

Validation("a DiffPush carries a base version and a diff", () => {
  const push = (payload: Uint8Array) => ({ kind: MessageKind.DiffPush, job: 1, source: 0, target: 1, page: 17, version: 2, request: 5, arg: 3, payload });
  const diff = encodeDiff(zero, changed);
  const decoded = decodeMessage(encodeMessage(push(baseDiffPayload(1, diff))), CONTEXT);
  assert.equal([getU32(decoded.payload, 0), Array.from(decoded.payload.subarray(4))], [1, Array.from(diff)]);
  assert.is(codecError(() => decodeMessage(encodeMessage(push(new Uint8Array(3))), CONTEXT)), "DiffPush: payload of 3 bytes, expected a 4-byte base version and a diff");
  assert.match(codecError(() => decodeMessage(encodeMessage(push(baseDiffPayload(1, diff.subarray(0, diff.byteLength - 1)))), CONTEXT)), /^DiffPush: bad diff: /);
  const page = { kind: MessageKind.PagePush, job: 1, source: 0, target: 1, page: 17, version: 2, payload: new Uint8Array(100) };
  assert.is(codecError(() => decodeMessage(encodeMessage(page), CONTEXT)), "PagePush: page payload of 100 bytes, expected 1024");
});

Validation("lrc page requests carry no payload and lrc page replies exactly one page", () => {
  const request = { kind: MessageKind.LrcPageRequest, job: 1, source: 0, target: 1, page: 17, payload: new Uint8Array(4) };
  assert.is(codecError(() => decodeMessage(encodeMessage(request), CONTEXT)), "LrcPageRequest: carries no payload but has 4 bytes");
  const reply = { kind: MessageKind.LrcPageReply, job: 1, source: 0, target: 1, page: 17, payload: new Uint8Array(1023) };
  assert.is(codecError(() => decodeMessage(encodeMessage(reply), CONTEXT)), "LrcPageReply: page payload of 1023 bytes, expected 1024");
  const outside = { kind: MessageKind.LrcPageRequest, job: 1, source: 0, target: 1, page: 24 };
  assert.is(codecError(() => decodeMessage(encodeMessage(outside), CONTEXT)), "LrcPageRequest: page 24 is outside the shared region (pages 16..23)");
});

Validation("hlrc page requests name region pages and [writer, interval] needs; replies carry whole pages", () => {
  const request = (body: unknown) => ({ kind: MessageKind.HlrcPageRequest, job: 1, source: 0, target: 1, page: 17, body });
  assert.is(codecError(() => decodeMessage(encodeMessage(request({ pages: [], need: [] })), CONTEXT)), "HlrcPageRequest: page request needs 1..64 pages");
  assert.is(codecError(() => decodeMessage(encodeMessage(request({ pages: [17, 24], need: [] })), CONTEXT)), "HlrcPageRequest: page request names page 24, outside the shared region");
  assert.is(codecError(() => decodeMessage(encodeMessage(request({ pages: [17], need: [[2, 0]] })), CONTEXT)), "HlrcPageRequest: page request need entries must be [node below 4, interval >= 1]");
  const reply = { kind: MessageKind.HlrcPageReply, job: 1, source: 0, target: 1, page: 17, payload: new Uint8Array(1500) };
  assert.is(codecError(() => decodeMessage(encodeMessage(reply), CONTEXT)), "HlrcPageReply: pages payload of 1500 bytes, expected 1..64 whole pages of 1024 bytes");
});

Validation("an hlrc push carries a u32 interval per node, then whole pages", () => {
  const push = (bytes: number) => ({ kind: MessageKind.HlrcPush, job: 1, source: 0, target: 1, page: 17, payload: new Uint8Array(bytes) });
  assert.is(decodeMessage(encodeMessage(push(16 + 2048)), CONTEXT).payload.byteLength, 16 + 2048);
  assert.is(codecError(() => decodeMessage(encodeMessage(push(16)), CONTEXT)), "HlrcPush: pushed payload of 16 bytes, expected 4 u32 intervals and 1..64 whole pages of 1024 bytes");
  assert.is(codecError(() => decodeMessage(encodeMessage(push(12 + 1024)), CONTEXT)), "HlrcPush: pushed payload of 1036 bytes, expected 4 u32 intervals and 1..64 whole pages of 1024 bytes");
  assert.is(codecError(() => decodeMessage(encodeMessage(push(16 + 65 * 1024)), CONTEXT)), "HlrcPush: pushed payload of 66576 bytes, expected 4 u32 intervals and 1..64 whole pages of 1024 bytes");
  const decline = { kind: MessageKind.HlrcPushDecline, job: 1, source: 1, target: 0, page: 17, payload: new Uint8Array(4) };
  assert.is(codecError(() => decodeMessage(encodeMessage(decline), CONTEXT)), "HlrcPushDecline: carries no payload but has 4 bytes");
});

Validation("a diff that does not fit the page is refused", () => {
  const run = new Uint8Array(8);
  new DataView(run.buffer).setUint32(0, 300 | (1 << 16), true); // word 300 of a 256-word page
  const diff = { kind: MessageKind.DiffData, job: 1, source: 0, target: 1, page: 17, payload: run };
  assert.is(
    codecError(() => decodeMessage(encodeMessage(diff), CONTEXT)),
    "DiffData: bad diff: diff run at byte 0: words 300..300 exceed a page of 256 words; the diff is for a larger page or corrupt",
  );
});

Validation("JSON payloads are parsed and their shape checked", () => {
  const raw = (kind: MessageKind, text: string) => {
    const body = new TextEncoder().encode(text);
    const bytes = encodeMessage({ kind: MessageKind.BarrierDone, job: 1, source: 0, target: 1 });
    const out = new Uint8Array(bytes.byteLength + body.byteLength);
    out.set(bytes);
    out.set(body, HEADER_BYTES);
    const view = new DataView(out.buffer);
    view.setUint8(Field.kind, kind);
    view.setUint32(Field.payloadLength, body.byteLength, true);
    return out;
  };
  assert.match(codecError(() => decodeMessage(raw(MessageKind.BarrierWait, "{not json"), CONTEXT)), /^BarrierWait: payload is not valid UTF-8 JSON \(/);
  assert.is(codecError(() => decodeMessage(raw(MessageKind.BarrierWait, '{"missing":[7]}'), CONTEXT)), "BarrierWait: wait body needs missing node ids");
  assert.is(
    codecError(() => decodeMessage(raw(MessageKind.BarrierArrive, '{"count":3,"hash":1,"first":1,"entries":[[0,1]]}'), CONTEXT)),
    "BarrierArrive: arrive entries 1+1 do not add up to count 3",
  );
  assert.is(codecError(() => decodeMessage(raw(MessageKind.LockGrant, "[]"), CONTEXT)), "LockGrant: grant body must be an object");
});

Validation("lock bodies carry lrc's vector time, intervals and grant diffs only when present, and they are checked then", () => {
  const lock = { job: 1, source: 0, target: 1, arg: 3, request: 8 };
  // A diff of one word written on a zero page, as a grant carries it.
  const changed = new Uint8Array(PAGE);
  changed[20] = 9;
  const written = encodeWritten(new Uint8Array(PAGE), changed);
  const vt = [0, 1, 0, 0];
  const intervals = [{ n: 1, i: 1, vt, p: [16, 1] }];
  const bodies: [MessageInit["kind"], unknown][] = [
    [MessageKind.LockAcquire, {}],
    [MessageKind.LockAcquire, { vt }],
    [MessageKind.LockForward, { acquirer: 2, request: 8 }],
    [MessageKind.LockGrant, {}],
    [MessageKind.LockGrant, { vt, intervals }],
    [MessageKind.LockGrant, { vt, intervals, diffs: [grantDiff(16, 1, written)] }],
    [MessageKind.LockGrant, { vt, intervals, homePages: { applied: [0, 1, 0, 0], pages: [[16, Buffer.from(changed).toString("base64")]] } }],
  ];
  for (const [kind, body] of bodies) assert.equal(decodeMessage(encodeMessage({ ...lock, kind, body }), CONTEXT).body, body, kindName(kind));
  const bad = (kind: MessageInit["kind"], body: unknown) => codecError(() => decodeMessage(encodeMessage({ ...lock, kind, body }), CONTEXT));
  assert.is(bad(MessageKind.LockAcquire, { vt: null }), "LockAcquire: vector time must be 4 interval numbers");
  assert.is(bad(MessageKind.LockForward, { acquirer: 4, request: 8 }), "LockForward: forward body needs acquirer node and request");
  assert.is(bad(MessageKind.LockForward, { acquirer: 2, request: 8, vt: [0] }), "LockForward: vector time must be 4 interval numbers");
  assert.is(bad(MessageKind.LockGrant, { intervals: {} }), "LockGrant: intervals must be a list");
  const [page, interval, form, bytes] = grantDiff(16, 1, written);
  const GRANT_DIFF_SHAPE = "LockGrant: grant diffs must be [page in the shared region, interval >= 1, form, base64 bytes]";
  assert.is(bad(MessageKind.LockGrant, { vt, intervals, diffs: [[24, interval, form, bytes]] }), GRANT_DIFF_SHAPE);
  assert.is(bad(MessageKind.LockGrant, { vt, intervals, diffs: [[page, 0, form, bytes]] }), GRANT_DIFF_SHAPE);
  assert.is(bad(MessageKind.LockGrant, { vt, intervals, diffs: [[page, interval, "xor", bytes]] }), GRANT_DIFF_SHAPE);
  assert.match(bad(MessageKind.LockGrant, { vt, intervals, diffs: [[page, interval, form, "AAAA"]] }), /^LockGrant: grant diff of page 16: /);
  const whole = Buffer.from(changed).toString("base64");
  assert.is(bad(MessageKind.LockGrant, { vt, intervals, homePages: { applied: [0, 1], pages: [] } }), "LockGrant: grant pages need applied (4 interval numbers) and a list of pages");
  assert.is(bad(MessageKind.LockGrant, { vt, intervals, homePages: { applied: vt, pages: [[40, whole]] } }), "LockGrant: grant pages must be [page in the shared region, base64 bytes]");
  assert.is(bad(MessageKind.LockGrant, { vt, intervals, homePages: { applied: vt, pages: [[16, "AAAA"]] } }), `LockGrant: grant page 16 must hold ${PAGE} bytes`);
});

const Fuzz = suite("codec fuzz");

Fuzz("150,000 truncated or mutated messages give CodecError or a valid message, nothing else", () => {
  const rng = prng(20240611);
  const valid = samples().map((s) => encodeMessage(s));
  let rejected = 0;
  let accepted = 0;
  const started = Date.now();
  for (let n = 0; n < 150_000; n++) {
    const original = valid[rng.int(valid.length)];
    let bytes: Uint8Array;
    const style = rng.int(5);
    if (style === 0) {
      bytes = original.subarray(0, rng.int(original.byteLength));
    } else if (style === 1) {
      bytes = original.slice();
      for (let k = 1 + rng.int(4); k > 0; k--) bytes[rng.int(bytes.byteLength)] = rng.int(256);
    } else if (style === 2) {
      bytes = original.slice();
      bytes[rng.int(Math.min(HEADER_BYTES, bytes.byteLength))] ^= 1 << rng.int(8);
    } else if (style === 3) {
      bytes = new Uint8Array(original.byteLength + 1 + rng.int(8));
      bytes.set(original);
      for (let i = original.byteLength; i < bytes.byteLength; i++) bytes[i] = rng.int(256);
    } else {
      bytes = original.slice();
      const at = HEADER_BYTES + rng.int(Math.max(1, bytes.byteLength - HEADER_BYTES));
      if (at < bytes.byteLength) bytes[at] = rng.int(256);
    }
    try {
      decodeMessage(bytes, CONTEXT);
      accepted++;
    } catch (error) {
      if (!(error instanceof CodecError)) throw new Error(`case ${n}: ${(error as Error).name}: ${(error as Error).message}`);
      rejected++;
    }
  }
  assert.is(accepted + rejected, 150_000);
  assert.ok(rejected > 100_000, `only ${rejected} rejected`);
  assert.ok(accepted > 1_000, `only ${accepted} accepted`);
  assert.ok(Date.now() - started < 15_000, "fuzzing took too long");
});

Fuzz("random bytes of every length up to 64 never escape as another error", () => {
  const rng = prng(7);
  for (let n = 0; n < 20_000; n++) {
    const bytes = new Uint8Array(rng.int(65));
    for (let i = 0; i < bytes.length; i++) bytes[i] = rng.int(256);
    if (bytes.length >= 4 && rng.int(2) === 0) {
      bytes[0] = 0xa1;
      bytes[1] = 0xd5;
      bytes[2] = FORMAT;
      bytes[3] = 1 + rng.int(26);
    }
    try {
      decodeMessage(bytes, CONTEXT);
    } catch (error) {
      if (!(error instanceof CodecError)) throw new Error(`case ${n}: ${(error as Error).name}: ${(error as Error).message}`);
    }
  }
});

const Ownership = suite("codec payload ownership");

/** `message` encoded at byte `offset` of a fresh buffer, as a transport may deliver it. */
function delivered(message: MessageInit, offset: number): Uint8Array {
  const bytes = encodeMessage(message);
  const copy = new Uint8Array(new ArrayBuffer(offset + bytes.byteLength), offset, bytes.byteLength);
  copy.set(bytes);
  return copy;
}

Ownership("a large payload handed over at an aligned offset stays a view; without hand-over it is a copy", () => {
  const page = pageBytes(5);
  const bytes = delivered({ kind: MessageKind.PageData, job: 1, source: 0, target: 1, page: 16, arg: 0, payload: page }, 8);
  const kept = decodeMessage(bytes, { ...CONTEXT, keepsBytes: true });
  assert.is(kept.payload.buffer, bytes.buffer);
  assert.is(kept.payload.byteOffset, 8 + HEADER_BYTES);
  assert.equal(Array.from(kept.payload), Array.from(page));
  const copied = decodeMessage(bytes, CONTEXT);
  assert.is.not(copied.payload.buffer, bytes.buffer);
  assert.is(copied.payload.byteOffset, 0);
  assert.equal(Array.from(copied.payload), Array.from(page));
});

Ownership("a payload handed over is copied when small or unaligned, so nothing depends on the transport's buffer", () => {
  assert.ok(PAGE >= KEEP_VIEW_BYTES);
  const page = pageBytes(6);
  const unaligned = delivered({ kind: MessageKind.PageData, job: 1, source: 0, target: 1, page: 16, arg: 0, payload: page }, 3);
  const fromUnaligned = decodeMessage(unaligned, { ...CONTEXT, keepsBytes: true });
  assert.is.not(fromUnaligned.payload.buffer, unaligned.buffer);
  assert.equal(Array.from(fromUnaligned.payload), Array.from(page));
  const diff = encodeDiff(zero, changed);
  assert.ok(diff.byteLength < KEEP_VIEW_BYTES);
  const small = delivered({ kind: MessageKind.DiffData, job: 1, source: 0, target: 1, page: 16, arg: 0, payload: diff }, 8);
  const fromSmall = decodeMessage(small, { ...CONTEXT, keepsBytes: true });
  assert.is.not(fromSmall.payload.buffer, small.buffer);
  assert.equal(Array.from(fromSmall.payload), Array.from(diff));
});

const Self = suite("messages a node hands itself (messageFrom)");

Self("every kind without JSON gives the message its bytes decode to", () => {
  let checked = 0;
  for (const init of samples()) {
    if (KIND_SPECS.get(init.kind)!.payload === "json") {
      assert.is(codecError(() => messageFrom(init, CONTEXT)), `${kindName(init.kind)}: a JSON kind travels encoded (encodeMessage)`);
      continue;
    }
    assert.equal({ ...messageFrom(init, CONTEXT) }, { ...decodeMessage(encodeMessage(init), CONTEXT) }, kindName(init.kind));
    checked++;
  }
  assert.ok(checked >= 15, `only ${checked} kinds checked`);
});

Self("the payload is a copy, so the sender may reuse its buffer", () => {
  const page = pageBytes(7);
  const msg = messageFrom({ kind: MessageKind.PageData, job: 1, source: 1, target: 1, page: 16, arg: 0, payload: page }, CONTEXT);
  page.fill(0);
  assert.equal(Array.from(msg.payload), Array.from(pageBytes(7)));
  assert.is(Object.getPrototypeOf(msg.payload), Uint8Array.prototype);
});

Self("bad fields are refused with the errors of encoding and decoding", () => {
  assert.is(codecError(() => messageFrom({ kind: MessageKind.Grant, job: 1, source: 70000, target: 0 }, CONTEXT)), "cannot encode Grant: source 70000 is not a u16");
  assert.is(codecError(() => messageFrom({ ...grant, page: 3 }, CONTEXT)), codecError(() => decodeMessage(encodeMessage({ ...grant, page: 3 }), CONTEXT)));
  assert.is(codecError(() => messageFrom({ ...grant, arg: 7 }, CONTEXT)), "Grant: arg 7 is not a valid access");
  assert.is(codecError(() => messageFrom({ ...grant, payload: u32Payload(1) }, CONTEXT)), "Grant: carries no payload but has 4 bytes");
});

RoundTrip.run();
Validation.run();
Fuzz.run();
Ownership.run();
Self.run();
