/**
 * The diffs of lazy release consistency: exactly the 32-bit words one node wrote in one interval,
 * in whichever of two forms is smaller.
 *
 *   runs  diff.ts format (u16 offset, u16 count, words…), but never bridging an unchanged word:
 *         several nodes may write neighbouring words of one page concurrently, and a bridged word
 *         would carry a stale value over another writer's
 *   mask  one bit per page word (u32 little-endian mask words), then the changed words in order:
 *         smaller when the changes are scattered
 *   repeat the mask of the mask form as (u32 count, u32 mask word) pairs after a u32 pair count,
 *         then the changed words: smaller when the scatter is regular, e.g. every fourth i64 of a
 *         falsely shared page has one mask word 0x03030303 repeated over the whole page
 *
 *   page words 0..7 changed {1, 2, 6}:  runs = [1,2] w1 w2 [6,1] w6   (5 words)
 *                                       mask = 0b01000110 w1 w2 w6     (4 words, 1 mask word)
 *
 * Not covered: sub-word writes by two nodes to one word between synchronisations (a data race at
 * this granularity), big-endian hosts (headers and masks are read as host-order words).
 */
import { applyDiff, DiffError, diffStats } from "../diff.js";
import { changedWords, CHANGED_AT, firstChange, NEWER_AT, scratch as scanBytes, scratchWords } from "../diff_scan.js";

export type DiffForm = "runs" | "mask" | "repeat";

export interface WordDiff {
  form: DiffForm;
  bytes: Uint8Array;
}

function wordsOf(bytes: Uint8Array): Uint32Array {
  if ((bytes.byteOffset & 3) === 0) return new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2);
  return new Uint32Array(bytes.slice().buffer);
}

/** Mask words for a page of `pageBytes` bytes. */
export function maskWords(pageBytes: number): number {
  return Math.ceil(pageBytes / 4 / 32);
}

// Scratch of the runs form, which encodeWritten builds before it knows its length (at most n + 1
// words: each run header is paid for by an unchanged word after the run, or is the one extra word).
let runsOut = new Uint32Array(0);

/** Where a diff's bytes go: a fresh array unless the caller keeps them elsewhere (arena.ts). */
export type DiffBytes = (bytes: number) => Uint8Array;
const freshBytes: DiffBytes = (bytes) => new Uint8Array(bytes);

/** Whether two copies of a page hold the same bytes (compared by the SIMD scan). */
export function samePage(a: Uint8Array, b: Uint8Array): boolean {
  scanBytes.set(a, 0);
  scanBytes.set(b, NEWER_AT);
  return firstChange(0, b.byteLength) >= b.byteLength;
}

/**
 * The words of `page` that differ from `twin`, in the smallest form, its bytes from `take`. Both
 * are copied into the scan's scratch memory (diff_scan.ts), where changedWords compares them 16
 * bytes per instruction and lists the mask words and the changed words; only the form is chosen
 * here, from the mask words alone.
 */
export function encodeWritten(twin: Uint8Array, page: Uint8Array, take: DiffBytes = freshBytes): WordDiff {
  const bytes = page.byteLength;
  const n = bytes >>> 2;
  const m = maskWords(bytes);
  scanBytes.set(twin, 0);
  scanBytes.set(page, NEWER_AT);
  const k = changedWords(bytes);
  if (k === m) return { form: "runs", bytes: take(0) };
  const out = changedOut;
  // The runs the runs form would need (the set bits whose lower neighbour is clear), and the
  // (count, mask word) pairs of the repeat form.
  let runs = 0;
  let carry = 0;
  let pairs = 0;
  for (let j = 0; j < m; j++) {
    const mask = out[j];
    if (j === 0 || mask !== out[j - 1]) pairs++;
    if (mask === 0) {
      carry = 0;
      continue;
    }
    runs += popcount(mask & ~((mask << 1) | carry));
    carry = mask >>> 31;
  }
  const repeat = 1 + 2 * pairs;
  if (repeat < m && repeat < runs) return { form: "repeat", bytes: repeatForm(out, m, k, pairs, take) };
  if (m < runs) return { form: "mask", bytes: copyWords(out, 0, k, take) };
  if (runsOut.length < n + 1) runsOut = new Uint32Array(n + 1);
  const w = scratchWords;
  const newer = NEWER_AT >>> 2;
  let length = 0;
  let i = 0;
  while (i < n) {
    if (out[i >>> 5] === 0) {
      i = (i | 31) + 1;
      continue;
    }
    if (((out[i >>> 5] >>> (i & 31)) & 1) === 0) {
      i++;
      continue;
    }
    const start = i;
    while (i < n && ((out[i >>> 5] >>> (i & 31)) & 1) !== 0) i++;
    runsOut[length++] = (start | ((i - start) << 16)) >>> 0;
    for (let j = start; j < i; j++) runsOut[length++] = w[newer + j];
  }
  return { form: "runs", bytes: copyWords(runsOut, 0, length, take) };
}

/** changedWords' output in scratch: the mask words, then the changed words. */
const changedOut = new Uint32Array(scanBytes.buffer, CHANGED_AT, (scanBytes.byteLength - CHANGED_AT) >>> 2);

/** Words `from..to` of `words`, as bytes from `take`. */
function copyWords(words: Uint32Array, from: number, to: number, take: DiffBytes): Uint8Array {
  const bytes = take((to - from) * 4);
  new Uint32Array(bytes.buffer, bytes.byteOffset, to - from).set(words.subarray(from, to));
  return bytes;
}

/** The repeat form of a mask-form diff held in `out[0..k)` with `m` mask words forming `pairs` runs. */
function repeatForm(out: Uint32Array, m: number, k: number, pairs: number, take: DiffBytes): Uint8Array {
  const bytes = take((1 + 2 * pairs + (k - m)) * 4);
  const r = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2);
  r[0] = pairs;
  let at = 1;
  for (let j = 0; j < m; j++) {
    if (j > 0 && out[j] === out[j - 1]) {
      r[at - 2]++;
      continue;
    }
    r[at++] = 1;
    r[at++] = out[j];
  }
  r.set(out.subarray(m, k), at);
  return bytes;
}

/**
 * The mask of a mask or repeat form diff (validated for the page's `m` mask words) and where its
 * words start; throws DiffError when the repeat pairs do not cover exactly the mask.
 */
function maskOf(diff: WordDiff, m: number): { mask: Uint32Array; start: number } {
  const w = wordsOf(diff.bytes);
  if (diff.form === "mask") {
    if (w.length < m) throw new DiffError(`mask diff of ${diff.bytes.byteLength} bytes: shorter than its ${m * 4}-byte mask`);
    return { mask: w.subarray(0, m), start: m };
  }
  const pairs = w.length > 0 ? w[0] : 0;
  if (w.length === 0 || 1 + 2 * pairs > w.length) throw new DiffError(`repeat diff of ${diff.bytes.byteLength} bytes: shorter than its ${pairs} mask pairs`);
  const mask = new Uint32Array(m);
  let j = 0;
  for (let p = 0; p < pairs; p++) {
    const count = w[1 + 2 * p];
    if (j + count > m) throw new DiffError(`repeat diff covers more than the ${m} mask words of the page`);
    mask.fill(w[2 + 2 * p], j, j + count);
    j += count;
  }
  if (j !== m) throw new DiffError(`repeat diff covers ${j} of the ${m} mask words of the page`);
  return { mask, start: 1 + 2 * pairs };
}

/** Throws DiffError naming the problem when `diff` does not fit a page of `pageBytes` bytes. */
export function checkWordDiff(diff: WordDiff, pageBytes: number | undefined): void {
  if (diff.form === "runs") {
    diffStats(diff.bytes, pageBytes);
    return;
  }
  if (pageBytes === undefined) throw new DiffError(`a ${diff.form} diff needs the page size to be checked`);
  if (diff.bytes.byteLength % 4 !== 0) throw new DiffError(`${diff.form} diff of ${diff.bytes.byteLength} bytes: not whole words`);
  const m = maskWords(pageBytes);
  const w = wordsOf(diff.bytes);
  // The marked words and the last mask word, read in place (a repeat form is not expanded).
  let bits = 0;
  let last = 0;
  let start: number;
  if (diff.form === "mask") {
    if (w.length < m) throw new DiffError(`mask diff of ${diff.bytes.byteLength} bytes: shorter than its ${m * 4}-byte mask`);
    for (let k = 0; k < m; k++) bits += popcount(w[k]);
    last = w[m - 1];
    start = m;
  } else {
    const pairs = w.length > 0 ? w[0] : 0;
    if (w.length === 0 || 1 + 2 * pairs > w.length) throw new DiffError(`repeat diff of ${diff.bytes.byteLength} bytes: shorter than its ${pairs} mask pairs`);
    let j = 0;
    for (let p = 0; p < pairs; p++) {
      const count = w[1 + 2 * p];
      if (j + count > m) throw new DiffError(`repeat diff covers more than the ${m} mask words of the page`);
      if (count > 0) last = w[2 + 2 * p];
      bits += count * popcount(w[2 + 2 * p]);
      j += count;
    }
    if (j !== m) throw new DiffError(`repeat diff covers ${j} of the ${m} mask words of the page`);
    start = 1 + 2 * pairs;
  }
  if (m * 32 > pageBytes / 4 && last >>> (pageBytes / 4 - (m - 1) * 32) !== 0) throw new DiffError(`${diff.form} diff marks words beyond the page`);
  const carried = w.length - start;
  if (bits !== carried) throw new DiffError(`${diff.form} diff marks ${bits} words but carries ${carried}`);
}

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}

/**
 * Writes the words of `diff` into `target` (a whole page). `checked`: the diff was validated
 * against this page size already (by the codec), so it is not counted again.
 */
export function applyWordDiff(target: Uint8Array, diff: WordDiff, checked = false): void {
  if (diff.form === "runs") return applyDiff(target, diff.bytes);
  if (!checked) checkWordDiff(diff, target.byteLength);
  const t = new Uint32Array(target.buffer, target.byteOffset, target.byteLength >>> 2);
  const w = wordsOf(diff.bytes);
  if (diff.form === "mask") {
    const m = maskWords(target.byteLength);
    let k = m;
    for (let j = 0; j < m; j++) k = applyMaskWord(t, j << 5, w[j], w, k);
    return;
  }
  // Repeat form, read in place: (count, mask word) pairs, then the words.
  const pairs = w[0];
  let k = 1 + 2 * pairs;
  let base = 0;
  for (let p = 0; p < pairs; p++) {
    const count = w[1 + 2 * p];
    const mask = w[2 + 2 * p];
    for (let c = 0; c < count; c++, base += 32) k = applyMaskWord(t, base, mask, w, k);
  }
}

/** Writes the words `mask` marks (page words base..base+31) from `w[k]` on; returns the next k. */
function applyMaskWord(t: Uint32Array, base: number, mask: number, w: Uint32Array, k: number): number {
  let x = mask;
  while (x !== 0) {
    t[base + 31 - Math.clz32(x & -x)] = w[k++];
    x &= x - 1;
  }
  return k;
}

/** Calls `fn` with the index and new value of every word `diff` writes (validated diffs only). */
function forEachWord(diff: WordDiff, pageWords: number, fn: (index: number, value: number) => void): void {
  const w = wordsOf(diff.bytes);
  if (diff.form !== "runs") {
    const m = Math.ceil(pageWords / 32);
    const { mask, start } = maskOf(diff, m);
    let k = start;
    for (let j = 0; j < m; j++) {
      let x = mask[j];
      while (x !== 0) {
        fn((j << 5) + 31 - Math.clz32(x & -x), w[k++]);
        x &= x - 1;
      }
    }
    return;
  }
  let p = 0;
  while (p < w.length) {
    const offset = w[p] & 0xffff;
    const count = w[p] >>> 16;
    for (let i = 0; i < count; i++) fn(offset + i, w[p + 1 + i]);
    p += 1 + count;
  }
}

/**
 * One diff equal to applying `diffs` in turn (later words win), in the smaller form: a writer's
 * consecutive intervals of one page sent as one.
 */
export function mergeWordDiffs(pageBytes: number, diffs: readonly WordDiff[]): WordDiff {
  if (diffs.length === 1) return diffs[0];
  const n = pageBytes >>> 2;
  const after = new Uint32Array(n);
  const before = new Uint32Array(n);
  for (const d of diffs) forEachWord(d, n, (i, v) => (after[i] = v));
  // A stand-in for the page before the first diff: different exactly at the written words.
  for (const d of diffs) forEachWord(d, n, (i) => (before[i] = ~after[i] >>> 0));
  return encodeWritten(new Uint8Array(before.buffer), new Uint8Array(after.buffer));
}
