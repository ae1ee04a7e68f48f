import binaryen from "binaryen";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { encodeDiff } from "../src/protocol/diff.js";
import { CHANGED_AT, changedWords, changedWordsJs, firstChange, firstChangeJs, NEWER_AT, SCAN_BLOCK_BYTES, SCAN_SOURCE, SCAN_WASM_BASE64, scanIsSimd, scratch, scratchWords, SCRATCH_BYTES } from "../src/protocol/diff_scan.js";
import { header, mutate, randomPage, same } from "./helpers/diff_pages.js";
import { prng } from "./helpers/random.js";

const Scan = suite("diff scan");

Scan("the embedded module is SCAN_SOURCE assembled, and runs as SIMD on this Node", () => {
  const module = binaryen.parseText(SCAN_SOURCE);
  try {
    module.setFeatures(binaryen.Features.SIMD128);
    assert.ok(module.validate(), "SCAN_SOURCE does not validate");
    assert.is(Buffer.from(module.emitBinary()).toString("base64"), SCAN_WASM_BASE64, "SCAN_WASM_BASE64 is stale: assemble SCAN_SOURCE again");
  } finally {
    module.dispose();
  }
  assert.ok(scanIsSimd, "WebAssembly SIMD is missing: encodeDiff fell back to the JavaScript scan");
});

Scan("firstChange finds the first differing 64-byte block, as the JavaScript scan does", () => {
  const rng = prng(31);
  const js = firstChangeJs(scratchWords);
  const blocks = SCRATCH_BYTES / SCAN_BLOCK_BYTES;
  for (let trial = 0; trial < 300; trial++) {
    const older = randomPage(rng, SCRATCH_BYTES);
    scratch.set(older, 0);
    scratch.set(older, NEWER_AT);
    // Change 0-3 single bytes, anywhere in a block, including its first and last byte.
    const changed: number[] = [];
    for (let k = rng.int(4); k > 0; k--) {
      const at = rng.next() < 0.3 ? rng.int(blocks) * SCAN_BLOCK_BYTES + (rng.next() < 0.5 ? 0 : SCAN_BLOCK_BYTES - 1) : rng.int(SCRATCH_BYTES);
      scratch[NEWER_AT + at] ^= 1 + rng.int(255);
      changed.push(at);
    }
    const from = rng.int(blocks) * SCAN_BLOCK_BYTES;
    const end = from + rng.int(blocks - from / SCAN_BLOCK_BYTES + 1) * SCAN_BLOCK_BYTES;
    const inRange = changed.filter((at) => at >= from && at < end).map((at) => at - (at % SCAN_BLOCK_BYTES));
    const expected = inRange.length > 0 ? Math.min(...inRange) : end;
    assert.is(firstChange(from, end), expected, `trial ${trial}: blocks from ${from} to ${end}, changes at ${changed}`);
    assert.is(js(from, end), expected, `trial ${trial} (JavaScript scan)`);
  }
});

/** encodeDiff as the format defines it, word by word: the reference for the scanning encoder. */
function referenceDiff(older: Uint8Array, newer: Uint8Array): number[] {
  const n = older.length / 4;
  const word = (p: Uint8Array, i: number) => p[4 * i] | (p[4 * i + 1] << 8) | (p[4 * i + 2] << 16) | (p[4 * i + 3] << 24);
  const changed = (i: number) => word(older, i) !== word(newer, i);
  const out: number[] = [];
  let i = 0;
  while (i < n) {
    if (!changed(i)) {
      i++;
      continue;
    }
    const start = i;
    while (i < n && (changed(i) || (i + 1 < n && changed(i + 1)))) i++;
    out.push(...header(start, i - start), ...newer.subarray(4 * start, 4 * i));
  }
  return out;
}

Scan("encodeDiff gives the reference encoding byte for byte, at block edges and in page tails", () => {
  const rng = prng(32);
  for (let trial = 0; trial < 400; trial++) {
    const size = [4, 60, 64, 68, 124, 1024, 4096, 4100, 65536][rng.int(9)];
    const older = randomPage(rng, size);
    let newer = mutate(rng, older);
    if (rng.next() < 0.5) {
      // Words on both sides of a 64-byte block edge, or the last word of the page.
      newer = older.slice();
      for (let k = 1 + rng.int(3); k > 0; k--) {
        const edge = rng.int(size / SCAN_BLOCK_BYTES + 1) * SCAN_BLOCK_BYTES;
        const at = Math.min(size - 4, Math.max(0, edge + [-8, -4, 0, 4][rng.int(4)]));
        newer[at + rng.int(4)] ^= 1 + rng.int(255);
      }
    }
    same(encodeDiff(older, newer), Uint8Array.from(referenceDiff(older, newer)));
  }
});

/** What changedWords must write: a mask word per 32 words, then the newer words that differ. */
function referenceChanged(older: Uint8Array, newer: Uint8Array): number[] {
  const a = new Uint32Array(older.slice().buffer);
  const b = new Uint32Array(newer.slice().buffer);
  const masks: number[] = [];
  const words: number[] = [];
  for (let j = 0; j < a.length / 32; j++) {
    let mask = 0;
    for (let k = 0; k < 32; k++) {
      if (a[32 * j + k] === b[32 * j + k]) continue;
      mask = (mask | (1 << k)) >>> 0;
      words.push(b[32 * j + k]);
    }
    masks.push(mask);
  }
  return [...masks, ...words];
}

Scan("changedWords writes the mask words and the changed words of the reference, as its JavaScript twin does", () => {
  const rng = prng(33);
  const out = new Uint32Array(scratch.buffer, CHANGED_AT, (scratch.byteLength - CHANGED_AT) / 4);
  const js = changedWordsJs(scratchWords);
  for (let trial = 0; trial < 300; trial++) {
    const size = [1024, 2048, 4096, 8192, 65536][rng.int(5)];
    const older = randomPage(rng, size);
    // Every word changed (a full page), none, or a mutation; also the first and last word alone.
    const newer = trial % 10 === 0 ? older.map((b) => b ^ 0xff) : trial % 10 === 1 ? older.slice() : mutate(rng, older);
    if (trial % 10 === 2) newer[size - 1] ^= 0x80;
    if (trial % 10 === 3) newer[0] ^= 1;
    const expected = referenceChanged(older, newer);
    scratch.set(older, 0);
    scratch.set(newer, NEWER_AT);
    assert.is(changedWords(size), expected.length, `trial ${trial}: ${size}-byte page, words written`);
    assert.equal([...out.subarray(0, expected.length)], expected, `trial ${trial}: ${size}-byte page`);
    out.fill(0);
    assert.is(js(size), expected.length, `trial ${trial}: JavaScript, words written`);
    assert.equal([...out.subarray(0, expected.length)], expected, `trial ${trial}: JavaScript`);
  }
});

Scan.run();
