/**
 * The pieces of lazy release consistency on their own: exact word diffs, intervals and vector
 * time, the barrier merge, and the codec's checks of lrc messages.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { CodecError, decodeMessage, encodeMessage, MessageKind, type DecodeContext, type MessageInit } from "../src/protocol/codec.js";
import { InvalidProtocolOptionError } from "../src/protocol/errors.js";
import { createLrc, releaseParts } from "../src/protocol/lrc/lrc.js";
import { PageCopies } from "../src/protocol/release/copies.js";
import { LrcPages } from "../src/protocol/lrc/pages.js";
import { applyWordDiff, encodeWritten, mergeWordDiffs } from "../src/protocol/release/word_diff.js";
import { hbOrder, IntervalOrderError, IntervalStore, mergeableRuns, noticeOf } from "../src/protocol/release/intervals.js";
import { decodeIntervalDiffs, encodeIntervalDiffs, pageRuns, type IntervalRecord } from "../src/protocol/release/wire.js";
import { LocalNetwork } from "../src/transport/local_transport.js";
import { FakePort } from "./helpers/fake_port.js";

const PAGE = 1024;
const CONTEXT: DecodeContext = { nodeCount: 3, pageSize: PAGE, firstPage: 16, pageCount: 8 };

function words(values: Record<number, number>, base?: Uint32Array): Uint8Array {
  const w = base ? base.slice() : new Uint32Array(PAGE / 4);
  for (const [i, v] of Object.entries(values)) w[Number(i)] = v;
  return new Uint8Array(w.buffer);
}

const Diffs = suite("lrc word diffs");

Diffs("a diff carries exactly the changed words: an unchanged word between two changes is not bridged", () => {
  const twin = words({ 0: 1, 1: 1, 2: 1 });
  const page = words({ 0: 9, 1: 1, 2: 9 });
  const diff = encodeWritten(twin, page);
  assert.is(diff.form, "runs");
  // Another writer changed word 1 meanwhile: applying this diff must keep its value.
  const other = words({ 0: 1, 1: 77, 2: 1 });
  applyWordDiff(other, diff);
  assert.equal(Array.from(new Uint32Array(other.buffer).slice(0, 4)), [9, 77, 9, 0]);
});

Diffs("regularly scattered changes take the repeat form, irregular ones the mask form, and both apply the same", () => {
  for (const [stride, form, bytes] of [[4, "repeat", 12 + 64 * 4], [3, "mask", 32 + 64 * 4]] as const) {
    const changes: Record<number, number> = {};
    for (let k = 0; k < 64; k++) changes[k * stride] = 1000 + k; // stride 4: every fourth word, as in falseshare
    const diff = encodeWritten(words({}), words(changes));
    assert.equal([diff.form, diff.bytes.byteLength], [form, bytes], `stride ${stride}`);
    const target = words({ 1: 5 });
    applyWordDiff(target, diff);
    const expected = new Uint32Array(PAGE / 4);
    for (let k = 0; k < 64; k++) expected[k * stride] = 1000 + k;
    expected[1] = 5;
    assert.equal(Array.from(new Uint32Array(target.buffer)), Array.from(expected), `stride ${stride}`);
  }
});

/** The sizes of the three forms of the diff twin → page, word by word: the form encodeWritten must pick and its length. */
function expectedForm(twin: Uint32Array, page: Uint32Array): [string, number] {
  const n = page.length;
  const m = Math.ceil(n / 32);
  const masks = new Uint32Array(m);
  let changed = 0;
  let runs = 0;
  for (let i = 0; i < n; i++) {
    if (twin[i] === page[i]) continue;
    changed++;
    masks[i >>> 5] |= 1 << (i & 31);
    if (i === 0 || twin[i - 1] === page[i - 1]) runs++;
  }
  if (changed === 0) return ["runs", 0];
  let pairs = 0;
  for (let j = 0; j < m; j++) if (j === 0 || masks[j] !== masks[j - 1]) pairs++;
  const repeat = 1 + 2 * pairs;
  if (repeat < m && repeat < runs) return ["repeat", 4 * (repeat + changed)];
  if (m < runs) return ["mask", 4 * (m + changed)];
  return ["runs", 4 * (runs + changed)];
}

Diffs("random changes: every diff restores the page from its twin, carries only changed words, and takes the smallest form", () => {
  let seed = 12345;
  const next = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  for (const pageBytes of [1024, 4096, 65536]) {
    for (let trial = 0; trial < 60; trial++) {
      const n = pageBytes / 4;
      const twin = new Uint32Array(n).map(() => (next() < 0.5 ? 0 : (next() * 2 ** 32) >>> 0));
      const page = twin.slice();
      const pattern = trial % 6;
      if (pattern === 1) for (let k = 0; k < 1 + next() * 8; k++) page[Math.floor(next() * n)] ^= 1; // a few scattered words
      if (pattern === 2) page.fill(7, Math.floor(next() * n / 2), Math.floor(n / 2 + next() * n / 2)); // one long run
      if (pattern === 3) for (let i = 0; i < n; i += 4) page[i] += 1; // every fourth word
      if (pattern === 4) for (let i = 0; i < n; i++) if (next() < 0.3) page[i] = ~page[i] >>> 0; // dense noise
      if (pattern === 5) { page[0] += 1; page[n - 1] += 1; } // first and last word
      const diff = encodeWritten(new Uint8Array(twin.buffer), new Uint8Array(page.buffer));
      assert.equal([diff.form, diff.bytes.byteLength], expectedForm(twin, page), `page ${pageBytes}, trial ${trial}`);
      const target = new Uint8Array(twin.slice().buffer);
      applyWordDiff(target, diff, true);
      assert.ok(target.every((b, i) => b === new Uint8Array(page.buffer)[i]), `page ${pageBytes}, trial ${trial}: the diff restores the page`);
    }
  }
});

Diffs("an unchanged page gives an empty diff", () => {
  const diff = encodeWritten(words({ 3: 3 }), words({ 3: 3 }));
  assert.equal([diff.form, diff.bytes.byteLength], ["runs", 0]);
});

Diffs("reply entries round-trip with page, interval and form, and a bad mask is refused", () => {
  const a = encodeWritten(words({}), words({ 5: 1, 6: 2 }));
  const b = encodeWritten(words({}), words(Object.fromEntries(Array.from({ length: 40 }, (_, k) => [k * 3, k + 1]))));
  const decoded = decodeIntervalDiffs(encodeIntervalDiffs([{ page: 17, interval: 2, diff: a }, { page: 20, interval: 7, diff: b }]), CONTEXT);
  assert.equal(decoded.map((e) => [e.page, e.interval, e.diff.form, e.diff.bytes.byteLength]), [[17, 2, "runs", 12], [20, 7, "mask", 32 + 160]]);
  const bad = { ...b, bytes: b.bytes.slice(0, b.bytes.byteLength - 4) };
  assert.throws(() => decodeIntervalDiffs(encodeIntervalDiffs([{ page: 17, interval: 1, diff: bad }]), CONTEXT), /mask diff marks 40 words but carries 39/);
});

Diffs("a repeat diff whose pairs do not cover the page's mask is refused", () => {
  const diff = encodeWritten(words({}), words(Object.fromEntries(Array.from({ length: 64 }, (_, k) => [k * 4, 1]))));
  const bad = { ...diff, bytes: diff.bytes.slice() };
  new Uint32Array(bad.bytes.buffer)[1] = 7; // 7 of the 8 mask words
  assert.throws(() => decodeIntervalDiffs(encodeIntervalDiffs([{ page: 17, interval: 1, diff: bad }]), CONTEXT), /repeat diff covers 7 of the 8 mask words of the page/);
});

Diffs("random pages of every density: the diff validates, carries exactly the changed words and applies them over another writer's words", () => {
  let seed = 12345;
  const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
  const forms = new Set<string>();
  for (let trial = 0; trial < 300; trial++) {
    const n = PAGE / 4;
    const twin = new Uint32Array(n);
    for (let i = 0; i < n; i++) twin[i] = next();
    const page = twin.slice();
    // Densities from one word to all of them, scattered, strided (falseshare's pattern) or in runs.
    const shape = trial % 3;
    const stride = 1 + (next() % 8);
    const density = next() % 101;
    const changed = new Set<number>();
    for (let i = 0; i < n; i++) {
      const pick = shape === 0 ? next() % 100 < density : shape === 1 ? i % stride === trial % stride : Math.floor(i / 16) % stride === 0;
      if (pick) {
        page[i] = (twin[i] + 1 + (next() % 1000)) >>> 0;
        changed.add(i);
      }
    }
    const diff = encodeWritten(new Uint8Array(twin.buffer), new Uint8Array(page.buffer));
    forms.add(diff.form);
    // Through the codec's check, as a reply entry.
    const [entry] = decodeIntervalDiffs(encodeIntervalDiffs([{ page: 17, interval: 1, diff }]), CONTEXT);
    assert.is(entry.diff.form, diff.form);
    // Another writer's words elsewhere survive; exactly the changed words arrive.
    const other = new Uint32Array(n);
    for (let i = 0; i < n; i++) other[i] = changed.has(i) ? 0 : 0xabc00000 + i;
    applyWordDiff(new Uint8Array(other.buffer), entry.diff, true);
    for (let i = 0; i < n; i++) {
      if (other[i] !== (changed.has(i) ? page[i] : 0xabc00000 + i)) assert.unreachable(`trial ${trial} (${diff.form}): word ${i} is ${other[i]}`);
    }
    const words = diff.form === "runs" ? 0 : diff.form === "mask" ? PAGE / 128 : 1 + 2 * new Uint32Array(diff.bytes.buffer, diff.bytes.byteOffset)[0];
    if (diff.form !== "runs") assert.is(diff.bytes.byteLength, 4 * (words + changed.size), `trial ${trial}: ${diff.form} carries the changed words only`);
  }
  assert.equal([...forms].sort(), ["mask", "repeat", "runs"]);
});

Diffs("a mask or repeat diff marking a word past the end of the page is refused", () => {
  const context = { ...CONTEXT, pageSize: 1000 }; // 250 words: the last mask word has 26 bits of page
  const diff = encodeWritten(new Uint8Array(1000), new Uint8Array(new Uint32Array(250).fill(1).buffer));
  assert.is(diff.form, "runs");
  const mask = new Uint32Array(8 + 251);
  mask.fill(0xffffffff, 0, 8); // 256 bits, 6 past the end
  const bad = { form: "mask" as const, bytes: new Uint8Array(mask.buffer) };
  assert.throws(() => decodeIntervalDiffs(encodeIntervalDiffs([{ page: 17, interval: 1, diff: bad }]), context), /marks words beyond the page/);
  const repeat = new Uint32Array([1, 8, 0xffffffff, ...new Uint32Array(256)]);
  assert.throws(() => decodeIntervalDiffs(encodeIntervalDiffs([{ page: 17, interval: 1, diff: { form: "repeat", bytes: new Uint8Array(repeat.buffer) } }]), context), /marks words beyond the page/);
});

Diffs("compaction encodes the closed intervals' copies when diffs come out small, and stops after a sample when they are about a page each", () => {
  for (const [changedWords, expected] of [[2, [true, 30]], [200, [false, 16]]] as const) {
    const port = new FakePort({ pageSize: PAGE, firstPage: 16, pageCount: 30 });
    const counters = { twins: 0, diffsCreated: 0, writeNotices: 0, invalidations: 0 };
    const pages = new LrcPages(port, counters);
    const words = (p: number) => new Uint32Array(port.page(p).buffer, port.page(p).byteOffset, PAGE / 4);
    for (let interval = 1; interval <= 2; interval++) {
      for (let p = 16; p < 46; p++) {
        pages.openWrite(p, interval, false);
        for (let w = 0; w < changedWords; w++) words(p)[w] = interval * 1000 + w + 1;
      }
      pages.closeInterval();
    }
    // Interval 1 of each page is kept as two copies (interval 2's twin is its "after").
    assert.equal([pages.compact(), counters.diffsCreated], expected, `${changedWords} changed words a page`);
  }
});

Diffs("page copies are recycled only when their last holder lets go", () => {
  const copies = new PageCopies(8, 4);
  const a = copies.copy(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
  copies.hold(a);
  copies.release(a);
  assert.equal([copies.live, copies.spares], [1, 0]);
  const b = copies.copy(new Uint8Array(8).fill(9));
  assert.ok(a !== b, "a held copy is not handed out again");
  assert.equal(Array.from(a), [1, 2, 3, 4, 5, 6, 7, 8]);
  copies.release(a);
  copies.release(a); // once too often: ignored, never recycled twice
  assert.equal([copies.live, copies.spares], [1, 1]);
  const c = copies.copy(new Uint8Array(8).fill(3));
  assert.ok(c === a, "a released copy is reused");
  assert.equal(Array.from(c), [3, 3, 3, 3, 3, 3, 3, 3]);
  assert.equal([copies.live, copies.spares], [2, 0]);
});

Diffs("an all-zero page's twin is one shared page of zeros, never held, recycled or handed out as a copy", () => {
  const copies = new PageCopies(8, 4);
  const zero = copies.copyOrZero(new Uint8Array(8));
  assert.ok(copies.copyOrZero(new Uint8Array(8)) === zero, "every all-zero page gets the same page");
  copies.hold(zero);
  copies.release(zero);
  copies.release(zero);
  assert.equal([copies.live, copies.spares], [0, 0]);
  const page = new Uint8Array(8);
  page[7] = 1;
  const copy = copies.copyOrZero(page);
  assert.ok(copy !== zero);
  assert.equal([Array.from(copy), Array.from(zero), copies.live], [[0, 0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 0, 0], 1]);
  copies.release(copy);
  assert.ok(copies.copy(new Uint8Array(8).fill(5)) === copy, "a released copy is reused, never the page of zeros");
  // A 4 KiB page is tested by the diff scan's WebAssembly: zero, or one byte set in its last block.
  const large = new PageCopies(4096, 4);
  const zeros = large.copyOrZero(new Uint8Array(4096));
  assert.ok(large.copyOrZero(new Uint8Array(4096)) === zeros);
  const last = new Uint8Array(4096);
  last[4095] = 9;
  const kept = large.copyOrZero(last);
  assert.ok(kept !== zeros && kept[4095] === 9 && large.live === 1);
});

Diffs("merging a writer's diffs equals applying them in turn", () => {
  const v0 = words({});
  const v1 = words({ 1: 1, 2: 1, 9: 1 });
  const v2 = words({ 1: 1, 2: 2, 9: 1, 200: 2 });
  const v3 = words({ 1: 3, 2: 2, 9: 1, 200: 2, 201: 3 });
  const merged = mergeWordDiffs(PAGE, [encodeWritten(v0, v1), encodeWritten(v1, v2), encodeWritten(v2, v3)]);
  const target = words({ 5: 55 });
  applyWordDiff(target, merged);
  assert.equal(Array.from(new Uint32Array(target.buffer)), Array.from(new Uint32Array(words({ 1: 3, 2: 2, 5: 55, 9: 1, 200: 2, 201: 3 }).buffer)));
});

Diffs.run();

const Intervals = suite("lrc intervals and vector time");

const record = (n: number, i: number, vt: number[], p: number[] = [16, 1]): IntervalRecord => ({ n, i, vt, p });

Intervals("a node's intervals are numbered 1, 2, … and carry its vector time", () => {
  const store = new IntervalStore(1, 3);
  store.create([16, 2]);
  store.learn([record(0, 1, [1, 0, 0])]);
  const second = store.create([18, 1]);
  assert.equal(second, { n: 1, i: 2, vt: [1, 2, 0], p: [18, 1] });
  assert.equal(store.vt, [1, 2, 0]);
});

Intervals("a node lacking intervals gets exactly those, oldest first per node", () => {
  const store = new IntervalStore(0, 3);
  store.create([16, 1]);
  store.create([17, 1]);
  store.learn([record(2, 1, [0, 0, 1]), record(2, 2, [0, 0, 2])]);
  assert.equal(store.missing([1, 0, 1]).map((r) => `${r.n}.${r.i}`), ["0.2", "2.2"]);
  assert.equal(store.missing([2, 0, 2]), []);
});

Intervals("duplicates are ignored and a gap is refused naming the missing interval", () => {
  const store = new IntervalStore(0, 2);
  assert.equal(store.learn([record(1, 1, [0, 1]), record(1, 1, [0, 1])]).length, 1);
  try {
    store.learn([record(1, 3, [0, 3])]);
    assert.unreachable();
  } catch (error) {
    assert.instance(error, IntervalOrderError);
    assert.is((error as Error).message, "interval 1.3: node 0 knows only up to 1.1; records must arrive without gaps");
  }
});

Intervals("happens-before order: an interval sorts after every interval it knew of", () => {
  const a = noticeOf(record(0, 1, [1, 0, 0]));
  const b = noticeOf(record(1, 1, [1, 1, 0])); // knew a
  const c = noticeOf(record(2, 1, [0, 0, 1])); // concurrent with both
  const d = noticeOf(record(0, 2, [2, 1, 1])); // knew all three
  assert.equal([d, c, b, a].sort(hbOrder).map((n) => `${n.node}.${n.index}`), ["0.1", "2.1", "1.1", "0.2"]);
});

Intervals("runs: a writer's notices merge unless a notice of another writer placed between them knew of the run", () => {
  // Node 0's intervals 1 and 2 and node 1's interval 1 are concurrent: each writer's run goes on.
  // Node 1's interval 2 knew of 0.2, so it ends node 0's run: 0.3 after it starts a new one.
  const n = (node: number, index: number, vt: number[]) => noticeOf(record(node, index, vt));
  const sorted = [n(0, 1, [1, 0]), n(1, 1, [0, 1]), n(0, 2, [2, 0]), n(1, 2, [2, 2]), n(0, 3, [3, 2])].sort(hbOrder);
  assert.equal(mergeableRuns(sorted).map((run) => run.map((x) => `${x.node}.${x.index}`)), [["0.1", "0.2"], ["1.1", "1.2"], ["0.3"]]);
});

Intervals("after a collection, a node asking for collected intervals is refused", () => {
  const store = new IntervalStore(0, 2);
  store.create([16, 1]);
  store.collect();
  assert.equal(store.count, 0);
  assert.throws(() => store.missing([0, 0]), /intervals of node 0 after 0 were collected here/);
});

Intervals("writers since the last collection: per page the highest writer and whether this node wrote it; none after a collection", () => {
  const store = new IntervalStore(1, 3);
  store.create([16, 2]);
  store.learn([record(0, 1, [1, 0, 0], [17, 2]), record(2, 1, [0, 0, 1], [20, 1])]);
  const writers = (s: IntervalStore) => [...s.writers()].sort((a, b) => a[0] - b[0]);
  assert.equal(writers(store), [
    [16, { last: 1, self: true }],
    [17, { last: 1, self: true }],
    [18, { last: 0, self: false }],
    [20, { last: 2, self: false }],
  ]);
  store.collect();
  assert.equal(writers(store), []);
  store.learn([record(0, 2, [2, 1, 1], [16, 1])]);
  assert.equal(writers(store), [[16, { last: 0, self: false }]]);
});

Intervals("page runs", () => {
  assert.equal(pageRuns([20, 16, 17, 18, 22, 21]), [16, 3, 20, 3]);
  assert.equal(pageRuns([]), []);
});

Intervals.run();

const Barrier = suite("lrc barrier merge");

Barrier("every node gets the merged vector time and exactly the intervals it lacks; gc when any node asks", () => {
  const parts = releaseParts([
    { vt: [1, 0, 0], intervals: [record(0, 1, [1, 0, 0])], gc: false },
    { vt: [1, 2, 0], intervals: [record(1, 1, [0, 1, 0]), record(1, 2, [1, 2, 0])], gc: true },
    { vt: [0, 0, 0], intervals: [], gc: false },
  ]);
  assert.equal(parts.map((p) => p.vt), [[1, 2, 0], [1, 2, 0], [1, 2, 0]]);
  assert.equal(parts.map((p) => p.intervals.map((r) => `${r.n}.${r.i}`)), [["1.1", "1.2"], [], ["0.1", "1.1", "1.2"]]);
  assert.equal(parts.map((p) => p.gc), [true, true, true]);
});

Barrier.run();

const Wire = suite("lrc messages in the codec");

function codecError(init: MessageInit): string {
  try {
    decodeMessage(encodeMessage(init), CONTEXT);
  } catch (error) {
    assert.instance(error, CodecError);
    return (error as Error).message;
  }
  throw new Error("expected a CodecError");
}

const base = { job: 1, source: 0, target: 1 };

Wire("bad lrc bodies are refused with the problem named", () => {
  assert.is(codecError({ ...base, kind: MessageKind.LockAcquire, arg: 1, body: { vt: [0, 0] } }), "LockAcquire: vector time must be 3 interval numbers");
  assert.is(codecError({ ...base, kind: MessageKind.LockForward, arg: 1, body: { acquirer: 5, request: 1, vt: [0, 0, 0] } }), "LockForward: forward body needs acquirer node and request");
  assert.is(
    codecError({ ...base, kind: MessageKind.LockGrant, arg: 1, body: { vt: [0, 0, 0], intervals: [{ n: 1, i: 2, vt: [0, 1, 0], p: [16, 1] }] } }),
    "LockGrant: interval 1.2: its vector time must name it",
  );
  assert.is(
    codecError({ ...base, kind: MessageKind.LockGrant, arg: 1, body: { vt: [0, 0, 0], intervals: [{ n: 1, i: 1, vt: [0, 1, 0], p: [23, 2] }] } }),
    "LockGrant: interval pages 23..24 are outside the shared region",
  );
  assert.is(codecError({ ...base, kind: MessageKind.LrcDiffRequest, page: 16, body: { pages: [[16, []]] } }), "LrcDiffRequest: diff request for page 16 needs interval indices >= 1");
  assert.is(
    codecError({ ...base, kind: MessageKind.BarrierArrive, version: 1, body: { count: 0, hash: 1, first: 0, entries: [], lrc: { vt: [0, 0, 0], intervals: [] } } }),
    "BarrierArrive: lrc part needs vt, intervals and gc",
  );
  const truncated = encodeIntervalDiffs([{ page: 16, interval: 1, diff: encodeWritten(words({}), words({ 0: 1 })) }]).slice(0, 14);
  assert.is(codecError({ ...base, kind: MessageKind.LrcDiffReply, page: 16, payload: truncated }), "LrcDiffReply: bad diffs: diff entry at byte 0: 8 bytes announced, 2 follow");
});

Wire("gcBytes must be a byte count", () => {
  const network = new LocalNetwork(1);
  try {
    createLrc({ transport: network.transport(0), port: new FakePort(), job: 1, timeoutMs: 1000, gcBytes: -1 });
    assert.unreachable();
  } catch (error) {
    assert.instance(error, InvalidProtocolOptionError);
    assert.is((error as Error).message, "gcBytes -1 is invalid; use a byte count of at least 0");
  }
});

Wire.run();
