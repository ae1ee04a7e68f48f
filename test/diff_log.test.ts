import { suite } from "uvu";
import * as assert from "uvu/assert";
import { applyDiff, DiffError, encodeDiff } from "../src/protocol/diff.js";
import { DiffLog, DiffLogError } from "../src/protocol/diff_log.js";
import { header, mutate, same, type Rng } from "./helpers/diff_pages.js";
import { thrown } from "./helpers/expect.js";
import { prng } from "./helpers/random.js";

const Log = suite("DiffLog");

/** Versions 0..count of one page and the diff of each version from the one before. */
function chain(rng: Rng, size: number, count: number) {
  const versions: Uint8Array[] = [new Uint8Array(size)];
  const diffs: Uint8Array[] = [new Uint8Array(0)];
  for (let v = 1; v <= count; v++) {
    versions.push(mutate(rng, versions[v - 1]));
    diffs.push(encodeDiff(versions[v - 1], versions[v]));
  }
  return { versions, diffs };
}

function applied(page: Uint8Array, diff: Uint8Array): Uint8Array {
  const out = page.slice();
  applyDiff(out, diff);
  return out;
}

Log("a page never recorded is at version 0 and needs no diff", () => {
  const log = new DiffLog(1024, 4);
  assert.is(log.newest(7), 0);
  assert.is(log.since(7, 0)!.byteLength, 0);
  assert.is(log.bytes, 0);
});

Log("since gives the merged diff from any version still held to the newest", () => {
  const { versions, diffs } = chain(prng(8), 1024, 3);
  const log = new DiffLog(1024, 8);
  for (let v = 1; v <= 3; v++) log.record(5, v, diffs[v]);
  assert.is(log.newest(5), 3);
  assert.is(log.oldest(5), 0);
  for (let v = 0; v <= 3; v++) same(applied(versions[v], log.since(5, v)!), versions[3]);
  assert.is(log.since(5, 3)!.byteLength, 0);
  assert.is(log.bytes, diffs[1].byteLength + diffs[2].byteLength + diffs[3].byteLength);
  assert.is(log.diffs, 3);
});

Log("at most maxDiffsPerPage diffs are kept; older versions get null", () => {
  const { versions, diffs } = chain(prng(9), 1024, 5);
  const log = new DiffLog(1024, 2);
  for (let v = 1; v <= 5; v++) log.record(1, v, diffs[v]);
  assert.is(log.diffs, 2);
  assert.is(log.bytes, diffs[4].byteLength + diffs[5].byteLength);
  assert.is(log.oldest(1), 3);
  assert.is(log.since(1, 2), null);
  same(applied(versions[3], log.since(1, 3)!), versions[5]);
});

Log("a gap in versions drops the history that cannot span it", () => {
  const { diffs } = chain(prng(10), 64, 6);
  const log = new DiffLog(64, 8);
  log.record(2, 1, diffs[1]);
  log.record(2, 2, diffs[2]);
  log.record(2, 6, diffs[6]);
  assert.is(log.newest(2), 6);
  assert.is(log.since(2, 2), null);
  same(log.since(2, 5)!, diffs[6]);
  assert.is(log.bytes, diffs[6].byteLength);
});

Log("versions out of order and requests ahead of the newest are DiffLogErrors", () => {
  const log = new DiffLog(64, 8);
  log.record(3, 1, new Uint8Array(0));
  const back = thrown(() => log.record(3, 1, new Uint8Array(0)));
  assert.ok(back instanceof DiffLogError);
  assert.is(back.message, "page 3: version 1 is not newer than the newest recorded, 1; record versions in order");
  const ahead = thrown(() => log.since(3, 2));
  assert.ok(ahead instanceof DiffLogError);
  assert.is(ahead.message, "page 3: version 2 is ahead of the newest recorded here, 1; the request went to a node that is not the owner");
});

Log("a malformed diff is refused and nothing is recorded", () => {
  const log = new DiffLog(16, 8);
  const error = thrown(() => log.record(0, 1, Uint8Array.of(...header(3, 2), 0, 0, 0, 0, 0, 0, 0, 0)));
  assert.ok(error instanceof DiffError);
  assert.is(log.newest(0), 0);
  assert.is(log.bytes, 0);
});

Log("reset sets the newest version and drops the page's history", () => {
  const { diffs } = chain(prng(11), 64, 2);
  const log = new DiffLog(64, 8);
  log.record(4, 1, diffs[1]);
  log.record(4, 2, diffs[2]);
  log.reset(4, 9);
  assert.is(log.newest(4), 9);
  assert.is(log.bytes, 0);
  assert.is(log.since(4, 9)!.byteLength, 0);
  assert.is(log.since(4, 8), null);
  log.record(4, 10, diffs[1]);
  same(log.since(4, 9)!, diffs[1]);
});

Log("maxDiffsPerPage 0 keeps versions but no diffs", () => {
  const { diffs } = chain(prng(12), 64, 2);
  const log = new DiffLog(64, 0);
  log.record(0, 1, diffs[1]);
  log.record(0, 2, diffs[2]);
  assert.is(log.newest(0), 2);
  assert.is(log.bytes, 0);
  assert.is(log.since(0, 1), null);
  assert.is(log.since(0, 2)!.byteLength, 0);
});

Log("the byte bound drops the oldest diffs of any page first", () => {
  const word = (index: number) => Uint8Array.of(...header(index, 1), 1, 2, 3, 4); // 8 bytes
  const log = new DiffLog(64, 8, 24);
  log.record(0, 1, word(0));
  log.record(1, 1, word(1));
  log.record(0, 2, word(2));
  assert.is(log.bytes, 24);
  log.record(1, 2, word(3));
  assert.is(log.bytes, 24);
  assert.is(log.since(0, 0), null);
  assert.is(log.oldest(0), 1);
  assert.is(log.oldest(1), 0);
  log.record(1, 3, word(4));
  assert.is(log.bytes, 24);
  assert.is(log.oldest(0), 1);
  assert.is(log.oldest(1), 1);
  assert.is(log.diffs, 3);
});

for (const [maxDiffs, maxBytes, seed] of [
  [3, 3000, 13],
  [40, 40_000, 14],
  [Infinity, 12_000, 15],
] as const) {
  Log(`under random use the log answers exactly and stays within its bounds (${maxDiffs} diffs per page, ${maxBytes} bytes)`, () => {
    const rng = prng(seed);
    const size = 256;
    const log = new DiffLog(size, maxDiffs, maxBytes);
    const pages = new Map<number, { versions: Uint8Array[]; resetAt: number }>();
    let longest = 0;
    for (let step = 0; step < 4000; step++) {
      const page = rng.int(6);
      let p = pages.get(page);
      if (!p) pages.set(page, (p = { versions: [new Uint8Array(size)], resetAt: 0 }));
      const { versions } = p;
      const newest = versions.length - 1;
      const roll = rng.next();
      if (roll < 0.6) {
        versions.push(mutate(rng, versions[newest]));
        log.record(page, newest + 1, encodeDiff(versions[newest], versions[newest + 1]));
        assert.ok(log.bytes <= maxBytes, `step ${step}: ${log.bytes} bytes held`);
      } else if (roll < 0.62) {
        // The whole page arrived at its newest version: no diff reaches back past it.
        log.reset(page, newest);
        p.resetAt = newest;
      } else {
        assert.is(log.newest(page), newest);
        const from = rng.int(versions.length);
        const oldest = log.oldest(page);
        assert.ok(oldest >= Math.max(p.resetAt, newest - maxDiffs), `step ${step}: page ${page} holds versions from ${oldest} to ${newest}`);
        longest = Math.max(longest, newest - oldest);
        const diff = log.since(page, from);
        if (from >= oldest) same(applied(versions[from], diff!), versions[newest]);
        else assert.is(diff, null, `step ${step}: page ${page} from ${from} of ${newest}`);
      }
    }
    // The bounds were reached, and held histories grew past the first ring.
    assert.ok(longest >= Math.min(maxDiffs, 20), `longest history held: ${longest} versions`);
    assert.ok((log as unknown as { queuePages: unknown[] }).queuePages.length <= 4 * log.diffs + 1024 + 1);
  });
}

Log.run();
