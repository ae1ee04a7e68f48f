/**
 * Messages larger than the transport carries travel in fragments (src/protocol/fragments.ts):
 * whole on arrival, again after a lost fragment, refused when malformed, bounded in memory.
 */
import { LoopScheduler } from "../src/protocol/scheduler.js";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { CodecError, decodeMessage, encodeMessage, HEADER_BYTES, MessageKind, type DecodeContext, type Message } from "../src/protocol/codec.js";
import { Endpoint } from "../src/protocol/endpoint.js";
import { FRAGMENT_HEADER, FragmentError, MAX_FRAGMENTS, MAX_PARTIAL, Reassembly, splitMessage } from "../src/protocol/fragments.js";
import { encodeWritten } from "../src/protocol/release/word_diff.js";
import { decodeIntervalDiffs, encodeIntervalDiffs, type IntervalDiff } from "../src/protocol/release/wire.js";
import { LocalNetwork } from "../src/transport/local_transport.js";
import { within } from "./helpers/expect.js";
import { FakePort } from "./helpers/fake_port.js";

const PAGE = 1024;
const MAX_PAYLOAD = 4096;
const CONTEXT: DecodeContext = { nodeCount: 2, pageSize: PAGE, firstPage: 16, pageCount: 4 };

/** 300 diffs of pages 16..19 (mask form, about 800 bytes each): a reply of about 250 KB. */
function bigReply(): IntervalDiff[] {
  const entries: IntervalDiff[] = [];
  for (let k = 0; k < 300; k++) {
    const page = new Uint32Array(PAGE / 4);
    for (let i = 0; i < page.length; i += 1 + (k % 3)) page[i] = k * 1000 + i + 1;
    entries.push({ page: 16 + (k % 4), interval: k + 1, diff: encodeWritten(new Uint8Array(PAGE), new Uint8Array(page.buffer)) });
  }
  return entries;
}

function pair(intercept?: (bytes: Uint8Array) => "deliver" | "drop") {
  const net = new LocalNetwork(2, { maxPayload: MAX_PAYLOAD, intercept: intercept && ((_from, _to, bytes) => intercept(bytes)) });
  const [a, b] = [0, 1].map((id) => new Endpoint(net.transport(id), new FakePort({ pageSize: PAGE }), { job: 7, retryMs: 20, scheduler: new LoopScheduler() }));
  return { net, a, b };
}

const Split = suite("fragments");

Split("a reply larger than the transport carries arrives whole, sent as fragments of at most its max payload", async () => {
  const { net, a, b } = pair();
  const entries = bigReply();
  b.on(MessageKind.LrcDiffRequest, (m) => b.send(m.source, { kind: MessageKind.LrcDiffReply, page: 16, request: m.request, payload: encodeIntervalDiffs(entries) }));
  const reply = await within(
    a.call(1, { kind: MessageKind.LrcDiffRequest, page: 16, body: { pages: [[16, [1]]] } }, { replies: [MessageKind.LrcDiffReply], timeoutMs: 2000, timeout: () => new Error("no reply") }),
  );
  const got = decodeIntervalDiffs(reply.payload, CONTEXT);
  assert.equal(got.map((e) => [e.page, e.interval, Array.from(e.diff.bytes)]), entries.map((e) => [e.page, e.interval, Array.from(e.diff.bytes)]));
  const size = encodeIntervalDiffs(entries).byteLength + HEADER_BYTES;
  const fragments = Math.ceil(size / (MAX_PAYLOAD - HEADER_BYTES - FRAGMENT_HEADER));
  assert.equal(net.transport(1).counters.messages, fragments, "each fragment is one message on the wire");
  assert.ok(net.transport(1).counters.bytes <= fragments * MAX_PAYLOAD);
  assert.equal([a.counters.malformed, a.counters.dropped], [0, 0]);
  await net.close();
});

Split("a lost fragment: the call's retry sends the message again and it arrives whole", async () => {
  let fragmentsSeen = 0;
  const { net, a, b } = pair((bytes) => (bytes[3] === MessageKind.Fragment && ++fragmentsSeen === 2 ? "drop" : "deliver"));
  const body = { vt: [1, 2], intervals: Array.from({ length: 400 }, (_, k) => ({ n: 1, i: k + 1, vt: [0, k + 1], p: [16, 1] })), gc: false };
  const seen: Message[] = [];
  b.on(MessageKind.LockAcquire, (m) => {
    seen.push(m);
    b.send(m.source, { kind: MessageKind.LockGrant, arg: 3, request: m.request, body });
  });
  const acquire = { kind: MessageKind.LockAcquire, arg: 3, body: { vt: [0, 0] } };
  // The acquire is small; the grant is the large one. Losing one of the grant's fragments leaves
  // the call unanswered until its retry, whose second grant arrives whole.
  const grant = await within(a.call(1, acquire, { replies: [MessageKind.LockGrant], timeoutMs: 2000, timeout: () => new Error("no grant") }));
  assert.equal((grant.body as typeof body).intervals.length, 400);
  assert.equal(seen.length, 2, "the acquire was repeated once");
  assert.equal(a.counters.retries, 1);
  await net.close();
});

Split("splitting: a message too large even for the most fragments is refused naming the fix", () => {
  assert.throws(() => splitMessage(new Uint8Array(MAX_FRAGMENTS * 100 + 1), 100 + HEADER_BYTES + FRAGMENT_HEADER, HEADER_BYTES), (e: Error) => e instanceof FragmentError && /raise the transport's max payload/.test(e.message));
  const parts = splitMessage(new Uint8Array(250).map((_, i) => i), 100 + HEADER_BYTES + FRAGMENT_HEADER, HEADER_BYTES);
  assert.equal(parts.map((p) => [new DataView(p.buffer).getUint32(0, true), new DataView(p.buffer).getUint32(4, true), p.byteLength - FRAGMENT_HEADER]), [[0, 3, 100], [1, 3, 100], [2, 3, 50]]);
});

Split("the codec refuses a fragment whose index or count is out of range", () => {
  const frame = (index: number, count: number) => {
    const payload = new Uint8Array(FRAGMENT_HEADER + 4);
    new DataView(payload.buffer).setUint32(0, index, true);
    new DataView(payload.buffer).setUint32(4, count, true);
    return encodeMessage({ kind: MessageKind.Fragment, job: 7, source: 0, target: 1, request: 1, payload });
  };
  assert.is(decodeMessage(frame(1, 2), CONTEXT).kind, MessageKind.Fragment);
  for (const [index, count, problem] of [[0, 1, /count 1 is outside 2\.\.256/], [0, MAX_FRAGMENTS + 1, /count 257/], [2, 2, /fragment 2 of a 2-fragment message/]] as const) {
    assert.throws(() => decodeMessage(frame(index, count), CONTEXT), (e: Error) => e instanceof CodecError && problem.test(e.message));
  }
});

Split("reassembly: duplicates are ignored, a fragment contradicting its set is refused, and incomplete sets are bounded", () => {
  const r = new Reassembly();
  const [first, second] = splitMessage(new Uint8Array(20).fill(5), 10 + HEADER_BYTES + FRAGMENT_HEADER, HEADER_BYTES);
  assert.is(r.add(0, 1, first), undefined);
  assert.is(r.add(0, 1, first), undefined, "a duplicate");
  assert.equal(Array.from(r.add(0, 1, second)!), new Array(20).fill(5));
  assert.is(r.pending, 0);
  const three = splitMessage(new Uint8Array(30), 10 + HEADER_BYTES + FRAGMENT_HEADER, HEADER_BYTES);
  r.add(0, 2, first);
  assert.throws(() => r.add(0, 2, three[1]), (e: Error) => e instanceof FragmentError && /says 3 fragments, its set 2/.test(e.message));
  for (let set = 10; set < 10 + MAX_PARTIAL + 3; set++) r.add(1, set, three[0]);
  assert.is(r.pending, MAX_PARTIAL, "older incomplete sets are dropped");
  assert.is(r.add(1, 10, three[1]), undefined, "set 10 was dropped: it starts over");
});

Split.run();
