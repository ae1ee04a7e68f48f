/**
 * Read-ahead (src/protocol/read_ahead.ts): which pages a fault brings in with its own, for every
 * protocol. The predictor alone, then ivy and diff on the recording network (1 KiB pages from 16,
 * allocation placement, 2 nodes) where node 0 writes two arrays of node 1's side by side.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Protection } from "../src/abi.js";
import type { Coherence } from "../src/protocol/coherence.js";
import { createDiff } from "../src/protocol/diff_protocol.js";
import { createIvy } from "../src/protocol/ivy.js";
import type { ProtocolOptions } from "../src/protocol/page_protocol.js";
import { MAX_STRIDE, READ_AHEAD_PAGES, ReadAhead, StrideAhead } from "../src/protocol/read_ahead.js";
import { PREFETCH_PAGES } from "../src/protocol/release/sweep.js";
import { startedCluster } from "./helpers/recording_transport.js";

const Predictor = suite("read-ahead predictor");

Predictor("a sweep continued doubles its reach; one started again where one started before reaches at once what that one reached", () => {
  const sweep = new ReadAhead(10_000, PREFETCH_PAGES);
  assert.is(sweep.next(100, 100), 100, "a first fault brings only its page");
  assert.is(sweep.next(101, 101), 102, "continued: two pages");
  assert.is(sweep.next(103, 103), 106, "again: four");
  assert.is(sweep.next(5000, 5000), 5000, "elsewhere: a sweep of its own");
  assert.is(sweep.next(100, 100), 103, "started again at 100: up to 103, the last page that sweep faulted on");
  assert.is(sweep.next(7000, 7001), 7001, "a page never swept from brings only what faulted");
  const long = new ReadAhead(10_000, PREFETCH_PAGES);
  for (let p = 0; p < 400; p++) long.next(p, p);
  long.next(9000, 9000);
  assert.is(long.next(0, 0), PREFETCH_PAGES - 1, "at most PREFETCH_PAGES at once");
});

Predictor("arrays swept side by side are sweeps each: faults alternating between them still double", () => {
  const sweep = new ReadAhead(10_000, PREFETCH_PAGES);
  // c[i] = a[i] + b[i]: faults alternate between three arrays.
  assert.equal([sweep.next(100, 100), sweep.next(200, 200), sweep.next(300, 300)], [100, 200, 300]);
  assert.equal([sweep.next(101, 101), sweep.next(201, 201), sweep.next(301, 301)], [102, 202, 302]);
  assert.equal([sweep.next(103, 103), sweep.next(203, 203), sweep.next(303, 303)], [106, 206, 306]);
});

Predictor("at most four sweeps are followed; a fifth replaces the one continued longest ago", () => {
  const sweep = new ReadAhead(10_000, PREFETCH_PAGES);
  for (const start of [100, 200, 300, 400]) sweep.next(start, start);
  sweep.next(500, 500); // replaces the sweep from 100
  assert.is(sweep.next(201, 201), 202, "the sweep from 200 is still followed");
  assert.is(sweep.next(101, 101), 101, "the one from 100 is not: a sweep of its own");
});

Predictor("ivy, diff and migrate bring at most READ_AHEAD_PAGES beyond the faulted pages; the region's end bounds every sweep", () => {
  const sweep = new ReadAhead(10_000, READ_AHEAD_PAGES + 1);
  let end = 0;
  for (let p = 0; p < 100; p = end + 1) end = sweep.next(p, p);
  assert.is(sweep.next(end + 1, end + 1), end + 1 + READ_AHEAD_PAGES);
  const short = new ReadAhead(103, PREFETCH_PAGES);
  short.next(100, 100);
  short.next(101, 101);
  assert.is(short.next(102, 102), 103);
});

Predictor("a reach that is not a whole number of pages is refused", () => {
  assert.throws(() => new ReadAhead(100, 0), (e: Error) => e instanceof RangeError && e.message.includes("reach 0"));
  assert.throws(() => new ReadAhead(100, 2.5), (e: Error) => e instanceof RangeError && e.message.includes("reach 2.5"));
});

Predictor("three single-page faults an equal number of pages apart start a strided sweep, which doubles while faults land where it predicted", () => {
  const column = new StrideAhead(10_000, READ_AHEAD_PAGES + 1);
  assert.equal([column.next(2, 2), column.next(6, 6)], [[], []]);
  assert.equal(column.next(10, 10), [14], "stride 4: one page");
  assert.equal(column.next(18, 18), [22, 26, 30], "14 came with it; 18 continues: three more");
  assert.equal(column.next(34, 34), [38, 42, 46, 50, 54, 58, 62]);
  assert.equal(column.next(66, 66), [70, 74, 78, 82, 86, 90, 94, 98], "at most READ_AHEAD_PAGES beyond");
  assert.equal(column.next(67, 67), [], "off the stride: the sweep ends");
  assert.equal(column.next(71, 71), [], "a stride needs three faults again");
});

Predictor("no strided sweep from runs of pages, unequal or too long distances, consecutive pages; the region's end bounds it", () => {
  const column = new StrideAhead(100, READ_AHEAD_PAGES + 1);
  assert.equal([column.next(0, 1), column.next(4, 5), column.next(8, 9)], [[], [], []], "multi-page faults");
  assert.equal([column.next(10, 10), column.next(13, 13), column.next(17, 17)], [[], [], []], "3 then 4 apart");
  assert.equal([column.next(20, 20), column.next(21, 21), column.next(22, 22)], [[], [], []], "consecutive: ReadAhead's sweeps");
  const far = 1 + MAX_STRIDE;
  const wide = new StrideAhead(10_000, READ_AHEAD_PAGES + 1);
  assert.equal([wide.next(0, 0), wide.next(far, far), wide.next(2 * far, 2 * far)], [[], [], []], "more than MAX_STRIDE apart");
  assert.equal([column.next(90, 90), column.next(94, 94), column.next(98, 98)], [[], [], []], "102 is past the region");
});

Predictor.run();

const Protocols = suite("read-ahead in ivy and diff");

/**
 * Two arrays of 8 pages, a = 16..23 and b = 24..31, so node 1 manages 20..23 and 28..31. Node 0
 * writes a word of every page of node 1's halves, a and b in turn (an initialisation writing two
 * grids side by side). Returns the pages node 0 asked for, in order, and the words node 1 reads back.
 */
async function sideBySide(create: (options: ProtocolOptions) => Coherence) {
  const cluster = await startedCluster(2, create, { placement: "allocation", pageCount: 16 });
  await cluster.all((c) => {
    c.allocated(16 * 1024, 8 * 1024);
    c.allocated(24 * 1024, 8 * 1024);
  });
  cluster.net.clear();
  let faults = 0;
  const write = (page: number, value: number) => {
    if (cluster.ports[0].protection(page) !== Protection.ReadWrite) faults++;
    return cluster.write(0, page, 0, value);
  };
  for (let i = 0; i < 4; i++) {
    await write(20 + i, 100 + i);
    await write(28 + i, 200 + i);
  }
  const asked = cluster.net.transcript().filter((line) => line.startsWith("WriteRequest 0→1"));
  await cluster.all((c) => c.barrier());
  const seen: number[] = [];
  for (let i = 0; i < 4; i++) seen.push(await cluster.read(1, 20 + i, 0), await cluster.read(1, 28 + i, 0));
  return { asked, seen, faults, readAhead: cluster.nodes[0].stats().readAhead };
}

for (const [name, create] of [
  ["ivy", createIvy],
  ["diff", createDiff],
] as const) {
  Protocols(`${name}: node 0 writing two of node 1's arrays side by side takes 6 faults instead of 8: each array is a sweep of its own`, async () => {
    const { asked, seen, faults, readAhead } = await sideBySide(create);
    // a: fault on 20, then 21 continues its sweep and brings 22; 23 continues it again. b alike.
    // One sweep followed at a time would see every fault start a new one: 8 faults.
    assert.is(faults, 6);
    assert.is(readAhead, 2, "pages 22 and 30 came with the faults on 21 and 29");
    assert.equal(
      asked.map((line) => Number(/ p(\d+) /.exec(line)![1])),
      [20, 28, 21, 22, 29, 30, 23, 31],
    );
    assert.equal(seen, [100, 200, 101, 201, 102, 202, 103, 203]);
  });
}

Protocols("ivy: node 1 reading every other page of node 0's half (a column) faults 4 times for 8 pages", async () => {
  // One array of 32 pages, 16..47: node 0 manages 16..31.
  const cluster = await startedCluster(2, createIvy, { placement: "allocation", pageCount: 32 });
  await cluster.all((c) => c.allocated(16 * 1024, 32 * 1024));
  for (let p = 16; p < 32; p += 2) await cluster.write(0, p, 0, p * 10);
  await cluster.net.quiet();
  cluster.net.clear();
  let faults = 0;
  const seen: number[] = [];
  for (let p = 16; p < 32; p += 2) {
    if (cluster.ports[1].protection(p) === Protection.None) faults++;
    seen.push(await cluster.read(1, p, 0));
  }
  assert.equal(seen, [160, 180, 200, 220, 240, 260, 280, 300]);
  // 16 and 18 alone; 20 starts the stride and brings 22; 24 continues it and brings 26, 28, 30.
  assert.is(faults, 4);
  assert.is(cluster.nodes[1].stats().readAhead, 4);
  const asked = cluster.net.transcript().filter((line) => line.startsWith("ReadRequest 1→0"));
  assert.equal(asked.map((line) => Number(/ p(\d+) /.exec(line)![1])), [16, 18, 20, 22, 24, 26, 28, 30]);
});

Protocols.run();
