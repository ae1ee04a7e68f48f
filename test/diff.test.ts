import { suite } from "uvu";
import * as assert from "uvu/assert";
import { applyDiff, diffStats, DiffError, encodeDiff, maxDiffBytes, mergeDiffs } from "../src/protocol/diff.js";
import { header, mutate, randomPage, randomPageSize, same, unaligned } from "./helpers/diff_pages.js";
import { thrown } from "./helpers/expect.js";
import { prng } from "./helpers/random.js";

const Encode = suite("encodeDiff and applyDiff");

Encode("identical pages give an empty diff that changes nothing", () => {
  const rng = prng(1);
  const page = randomPage(rng, 4096);
  const diff = encodeDiff(page, page.slice());
  assert.is(diff.byteLength, 0);
  const target = page.slice();
  applyDiff(target, diff);
  same(target, page);
});

Encode("runs are encoded as documented, bridging a gap of one unchanged word", () => {
  const older = new Uint32Array(10);
  const newer = older.slice();
  newer[2] = 0x11111111;
  newer[3] = 0x22222222;
  newer[5] = 0x33333333;
  newer[9] = 0x44444444;
  const diff = encodeDiff(new Uint8Array(older.buffer), new Uint8Array(newer.buffer));
  const view = new DataView(diff.buffer, diff.byteOffset, diff.byteLength);
  const fields = [];
  for (let i = 0; i < diff.byteLength; i += 4) fields.push(view.getUint32(i, true));
  assert.equal(fields, [2 | (4 << 16), 0x11111111, 0x22222222, 0, 0x33333333, 9 | (1 << 16), 0x44444444]);
  assert.equal(diffStats(diff, 40), { runs: 2, words: 5, bytes: 28 });
});

Encode("a gap of two unchanged words splits the run", () => {
  const older = new Uint32Array(8);
  const newer = older.slice();
  newer[1] = 1;
  newer[4] = 2;
  const diff = encodeDiff(new Uint8Array(older.buffer), new Uint8Array(newer.buffer));
  assert.equal(diffStats(diff, 32), { runs: 2, words: 2, bytes: 16 });
});

Encode("applying the diff of hundreds of random pairs reproduces the newer page", () => {
  const rng = prng(2);
  for (let trial = 0; trial < 400; trial++) {
    const size = randomPageSize(rng);
    const older = randomPage(rng, size);
    const newer = mutate(rng, older);
    const diff = encodeDiff(older, newer);
    assert.ok(diff.byteLength <= maxDiffBytes(size), `trial ${trial}: ${diff.byteLength} bytes for a ${size}-byte page`);
    const target = older.slice();
    applyDiff(target, diff);
    same(target, newer);
  }
});

Encode("a 64 KiB page rewritten entirely round-trips with one full-length run", () => {
  const rng = prng(3);
  const older = randomPage(rng, 65536);
  const newer = older.map((b) => b ^ 0xff);
  const diff = encodeDiff(older, newer);
  assert.equal(diffStats(diff, 65536), { runs: 1, words: 16384, bytes: 65540 });
  assert.is(diff.byteLength, maxDiffBytes(65536));
  applyDiff(older, diff);
  same(older, newer);
});

Encode("unaligned pages and diffs give the same result as aligned ones", () => {
  const rng = prng(4);
  for (let trial = 0; trial < 50; trial++) {
    const older = randomPage(rng, trial % 2 === 0 ? 1024 : 4100);
    const newer = mutate(rng, older);
    const diff = encodeDiff(unaligned(older), unaligned(newer));
    same(diff, encodeDiff(older, newer));
    same(encodeDiff(unaligned(older, 4), unaligned(newer, 4)), diff);
    same(encodeDiff(older, unaligned(newer, 4)), diff);
    const target = unaligned(older);
    applyDiff(target, unaligned(diff));
    same(target, newer);
  }
});

Encode("pages of different or odd sizes are refused with a RangeError", () => {
  const a = thrown(() => encodeDiff(new Uint8Array(8), new Uint8Array(12)));
  assert.is(a.name, "RangeError");
  assert.is(a.message, "cannot diff pages of 8 and 12 bytes; both versions must have the page size");
  const b = thrown(() => applyDiff(new Uint8Array(6), new Uint8Array(0)));
  assert.is(b.message, "target page of 6 bytes: pages must be a positive multiple of 4 bytes up to 65536");
});

const Merge = suite("mergeDiffs");

Merge("merging the diffs of many versions and applying them to the first gives the last", () => {
  const rng = prng(5);
  for (let trial = 0; trial < 150; trial++) {
    const size = randomPageSize(rng);
    const versions = [randomPage(rng, size)];
    const diffs: Uint8Array[] = [];
    const count = 1 + rng.int(12);
    for (let v = 1; v <= count; v++) {
      versions.push(mutate(rng, versions[v - 1]));
      diffs.push(encodeDiff(versions[v - 1], versions[v]));
    }
    for (let from = 0; from < count; from++) {
      const merged = mergeDiffs(size, diffs.slice(from));
      assert.ok(merged.byteLength <= maxDiffBytes(size));
      const target = versions[from].slice();
      applyDiff(target, merged);
      same(target, versions[count]);
    }
  }
});

Merge("later runs override earlier ones on the same words", () => {
  const v0 = new Uint32Array(4);
  const v1 = Uint32Array.of(1, 1, 1, 0);
  const v2 = Uint32Array.of(1, 2, 1, 3);
  const bytes = (w: Uint32Array) => new Uint8Array(w.buffer);
  const merged = mergeDiffs(16, [encodeDiff(bytes(v0), bytes(v1)), encodeDiff(bytes(v1), bytes(v2))]);
  assert.equal(Array.from(new Uint32Array(merged.slice().buffer)), [0 | (4 << 16), 1, 2, 1, 3]);
});

Merge("no diffs merge to an empty diff and one diff is returned as it is", () => {
  assert.is(mergeDiffs(4096, []).byteLength, 0);
  const one = encodeDiff(new Uint8Array(16), Uint8Array.of(0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
  assert.is(mergeDiffs(16, [one]), one);
});

Merge("a malformed diff among those merged is a DiffError", () => {
  const error = thrown(() => mergeDiffs(16, [new Uint8Array(0), Uint8Array.of(3, 0, 2, 0, 1, 0, 0, 0, 2, 0, 0, 0)]));
  assert.is(error.name, "DiffError");
  assert.is(error.message, "diff run at byte 0: words 3..4 exceed a page of 4 words; the diff is for a larger page or corrupt");
});

const Malformed = suite("malformed diffs");

const word = (x: number) => [x & 0xff, (x >> 8) & 0xff, (x >> 16) & 0xff, x >>> 24];

const cases: [string, number[], string][] = [
  ["length not a multiple of 4", [1, 0, 1], "diff of 3 bytes: length must be a multiple of 4; it is truncated or not a diff"],
  ["zero word count", [...header(1, 0)], "diff run at byte 0: word count is 0; the diff is corrupt"],
  ["run past the page", [...header(15, 2), ...word(1), ...word(2)], "diff run at byte 0: words 15..16 exceed a page of 16 words; the diff is for a larger page or corrupt"],
  ["truncated run", [...header(0, 3), ...word(1)], "diff run at byte 0: needs 3 words but only 1 remain; the diff is truncated"],
  ["runs out of order", [...header(5, 1), ...word(1), ...header(2, 1), ...word(2)], "diff run at byte 8: starts at word 2, before the previous run ends at word 6; runs must ascend"],
  ["overlapping runs", [...header(2, 3), ...word(1), ...word(1), ...word(1), ...header(4, 1), ...word(2)], "diff run at byte 16: starts at word 4, before the previous run ends at word 5; runs must ascend"],
];
for (const [what, bytes, message] of cases) {
  Malformed(`a diff with a ${what} is a DiffError and leaves the target unchanged`, () => {
    const target = randomPage(prng(6), 64);
    const before = target.slice();
    const error = thrown(() => applyDiff(target, Uint8Array.from(bytes)));
    assert.ok(error instanceof DiffError);
    assert.is(error.message, message);
    same(target, before);
  });
}

/** Independent reading of the format: the page after applying, or null when the diff is invalid. */
function reference(target: Uint8Array, diff: Uint8Array): Uint8Array | null {
  if (diff.byteLength % 4 !== 0) return null;
  const view = new DataView(diff.buffer, diff.byteOffset, diff.byteLength);
  const out = target.slice();
  let p = 0;
  let prevEnd = 0;
  while (p < diff.byteLength) {
    const offset = view.getUint16(p, true);
    const count = view.getUint16(p + 2, true);
    if (count === 0 || offset < prevEnd || (offset + count) * 4 > target.byteLength || p + 4 + count * 4 > diff.byteLength) return null;
    out.set(diff.subarray(p + 4, p + 4 + count * 4), offset * 4);
    prevEnd = offset + count;
    p += 4 + count * 4;
  }
  return out;
}

Malformed("random, mutated and truncated diff bytes either apply exactly as specified or throw DiffError", () => {
  const rng = prng(7);
  let valid = 0;
  let invalid = 0;
  for (let trial = 0; trial < 3000; trial++) {
    const size = [16, 64, 256][rng.int(3)];
    const older = randomPage(rng, size);
    let diff = encodeDiff(older, mutate(rng, older));
    const style = rng.int(4);
    if (style === 0) diff = randomPage(rng, rng.int(3 * size));
    else if (style === 1 && diff.byteLength > 0) diff = diff.subarray(0, rng.int(diff.byteLength));
    else if (style === 2 && diff.byteLength > 0) {
      diff = diff.slice();
      for (let k = 1 + rng.int(3); k > 0; k--) diff[rng.int(diff.byteLength)] = rng.int(256);
    } else if (style === 3) {
      // Small header fields, so that some random diffs are valid.
      diff = Uint8Array.from([...header(rng.int(size / 4), 1 + rng.int(3)), ...randomPage(rng, 4 * rng.int(4))]);
    }
    const target = older.slice();
    const expected = reference(older, diff);
    try {
      applyDiff(target, trial % 2 === 0 ? diff : unaligned(diff));
    } catch (error) {
      assert.ok(error instanceof DiffError, `trial ${trial}: ${error}`);
      assert.is(expected, null, `trial ${trial}: a valid diff was refused: ${(error as Error).message}`);
      same(target, older);
      invalid++;
      continue;
    }
    assert.ok(expected !== null, `trial ${trial}: an invalid diff was applied`);
    same(target, expected!);
    valid++;
  }
  assert.ok(valid > 300 && invalid > 300, `valid ${valid}, invalid ${invalid}: the fuzzer must reach both outcomes`);
});

Encode.run();
Merge.run();
Malformed.run();
