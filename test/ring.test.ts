/**
 * Shared-memory rings (src/transport/ring.ts) and bells (bell.ts): records in order, wrapping,
 * a full ring refusing and asking for space, a new ring's memory committed when it is made (up to
 * its `backed` bytes), and a producer thread against a consumer thread.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Worker } from "node:worker_threads";
import { Bell } from "../src/transport/bell.js";
import { createRingBuffer, RingError, RingReader, RingWriter, ringMaxPayload } from "../src/transport/ring.js";

function bytesOf(...values: number[]): Uint8Array {
  return Uint8Array.from(values);
}

function drainAll(reader: RingReader): [number, number[]][] {
  const out: [number, number[]][] = [];
  reader.drain((tag, bytes) => void out.push([tag, Array.from(bytes)]));
  return out;
}

const Ring = suite("ring");

Ring("hasTagWithout looks at the tags of what waits, across a wrap, and drains nothing", () => {
  const buffer = createRingBuffer(1024);
  const w = new RingWriter(buffer);
  const r = new RingReader(buffer);
  const FLAG = 0x80000000;
  assert.not.ok(r.hasTagWithout(FLAG));
  // Fill most of the ring and drain it, so the next records wrap.
  assert.ok(w.write(1, new Uint8Array(400)));
  assert.ok(w.write(1, new Uint8Array(200)));
  drainAll(r);
  assert.ok(w.write((FLAG | 2) >>> 0, new Uint8Array(200)));
  assert.ok(w.write((FLAG | 3) >>> 0, new Uint8Array(400)));
  assert.not.ok(r.hasTagWithout(FLAG), "only flagged records wait");
  assert.ok(w.write(4, bytesOf(7)));
  assert.ok(r.hasTagWithout(FLAG));
  assert.equal(drainAll(r).map(([tag]) => tag), [(FLAG | 2) >>> 0, (FLAG | 3) >>> 0, 4]);
  assert.not.ok(r.hasTagWithout(FLAG));
});

Ring("records come out in order with their tags, and an empty record is a record", () => {
  const buffer = createRingBuffer(1024);
  const w = new RingWriter(buffer);
  const r = new RingReader(buffer);
  assert.not.ok(r.ready);
  assert.ok(w.write(3, bytesOf(1, 2, 3)));
  assert.ok(w.write(4, new Uint8Array(0)));
  assert.ok(w.write(0xffffffff, bytesOf(9)));
  assert.ok(r.ready);
  assert.equal(drainAll(r), [
    [3, [1, 2, 3]],
    [4, []],
    [0xffffffff, [9]],
  ]);
  assert.not.ok(r.ready);
  assert.is(w.used, 0);
});

Ring("a record that does not fit before the end wraps to the start, 10,000 times over", () => {
  const buffer = createRingBuffer(1024);
  const w = new RingWriter(buffer);
  const r = new RingReader(buffer);
  let next = 0;
  for (let i = 0; i < 10_000; i++) {
    const size = (i * 37) % 300;
    const payload = new Uint8Array(size).map((_, k) => (i + k) & 0xff);
    assert.ok(w.write(i, payload), `write ${i}`);
    r.drain((tag, bytes) => {
      assert.is(tag, next);
      assert.is(bytes.length, (next * 37) % 300);
      for (let k = 0; k < bytes.length; k++) if (bytes[k] !== ((next + k) & 0xff)) assert.unreachable(`record ${next} byte ${k}`);
      next++;
    });
  }
  assert.is(next, 10_000);
});

Ring("a full ring refuses a write and asks for space; the drain that frees it says so once", () => {
  const buffer = createRingBuffer(1024);
  const w = new RingWriter(buffer);
  const r = new RingReader(buffer);
  // Two of the largest payloads fill it exactly.
  const big = new Uint8Array(ringMaxPayload(1024));
  assert.ok(w.write(1, big));
  assert.ok(w.write(2, big));
  assert.not.ok(w.write(3, big));
  assert.ok(r.drain(() => undefined), "the drain frees the space asked for and says so");
  assert.ok(w.write(3, big));
  assert.ok(w.write(4, big));
  // Nobody asked since: the next drain does not report a request for space.
  assert.not.ok(r.drain(() => undefined));
});

Ring("a handler that returns true stops the drain after its record; the rest stays for the next", () => {
  const buffer = createRingBuffer(1024);
  const w = new RingWriter(buffer);
  const r = new RingReader(buffer);
  for (let i = 0; i < 5; i++) w.write(i, bytesOf(i));
  const seen: number[] = [];
  r.drain((tag) => (seen.push(tag), tag === 1));
  assert.equal(seen, [0, 1]);
  assert.ok(r.ready);
  r.drain((tag) => void seen.push(tag));
  assert.equal(seen, [0, 1, 2, 3, 4]);
});

Ring("bad capacities and oversized payloads are refused with the value named", () => {
  assert.throws(() => createRingBuffer(3000), (e: Error) => e instanceof RingError && e.message === "ring capacity 3000: must be a power of two from 1024 to 1073741824 bytes");
  const w = new RingWriter(createRingBuffer(1024));
  assert.throws(() => w.write(0, new Uint8Array(600)), (e: Error) => e instanceof RingError && e.message === "message of 600 bytes: larger than the ring carries (504)");
});

const Threads = suite("ring between threads");

Threads("200,000 messages from a producer thread arrive in order and intact through a small ring", async () => {
  const count = 200_000;
  const ring = createRingBuffer(16 << 10);
  const consumer = new Bell();
  const producer = new Bell();
  const worker = new Worker(new URL("./helpers/ring_producer.js", import.meta.url), { workerData: { ring, consumerBell: consumer.buffer, producerBell: producer.buffer, count } });
  const reader = new RingReader(ring);
  let next = 0;
  let bad = "";
  const deadline = Date.now() + 60_000;
  while (next < count && !bad && Date.now() < deadline) {
    const seen = consumer.seq;
    const wanted = reader.drain((tag, bytes) => {
      const size = (next * 7919) % 3001;
      if (tag !== next || bytes.length !== size) bad = `record ${next}: tag ${tag}, ${bytes.length} bytes`;
      else if (size > 0 && (bytes[0] !== (next & 0xff) || bytes[size - 1] !== ((next + size - 1) & 0xff))) bad = `record ${next}: wrong bytes`;
      next++;
      return bad !== "";
    });
    if (wanted) producer.ring();
    if (!reader.ready) await consumer.sleepAsync(seen, 100);
  }
  await worker.terminate();
  assert.is(bad, "");
  assert.is(next, count);
});

Ring("a new ring is backed with memory when made, up to its backed bytes (resident set, Linux)", () => {
  // A page's memory comes at its first write: a ring made backed grows the resident set by its
  // size at once, one made with nothing backed does not. Others' allocations meanwhile are far
  // smaller than the margins.
  const size = 64 << 20;
  const rss = () => process.memoryUsage().rss;
  const before = rss();
  const lazy = createRingBuffer(size, 0);
  const lazyGrowth = rss() - before;
  const start = rss();
  const backed = createRingBuffer(size);
  const backedGrowth = rss() - start;
  assert.ok(backedGrowth >= size * 0.9, `backed ring grew the resident set by ${backedGrowth} bytes, expected about ${size}`);
  assert.ok(lazyGrowth < size / 4, `unbacked ring grew the resident set by ${lazyGrowth} bytes`);
  // Both still work as rings.
  for (const buffer of [lazy, backed]) {
    const w = new RingWriter(buffer);
    assert.ok(w.write(3, bytesOf(1, 2)));
    assert.equal(drainAll(new RingReader(buffer)), [[3, [1, 2]]]);
  }
});

Ring.run();
Threads.run();
