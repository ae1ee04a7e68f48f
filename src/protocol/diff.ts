/**
 * Page diffs: the words of a page that changed between two versions, as runs.
 *
 * Format (little-endian, every field 4-byte aligned, so a diff is a whole number of 32-bit words):
 *
 *   diff := run*                       an empty diff (0 bytes) means "no change"
 *   run  := u16 wordOffset, u16 wordCount, u32 word × wordCount
 *
 *   page words  0 1 2 3 4 5 6 7 8 9        older → newer changes words 2, 3, 5 and 9
 *   diff        [2,4] w2 w3 w4 w5 | [9,1] w9
 *
 * Runs are in ascending order and do not overlap; `wordCount` ≥ 1; `wordOffset + wordCount` never
 * exceeds the page. Offsets and counts are in words, so a u16 covers pages up to 64 KiB (16384
 * words). The encoder bridges a gap of one unchanged word (w4 above): that costs the same four bytes
 * as a new run header and leaves fewer runs to apply. Bridged words carry the newer page's value,
 * which equals the older one, so applying the diff to the older version is still exact.
 *
 * Applying validates every run before writing any word: a malformed diff throws {@link DiffError}
 * and leaves the target untouched. Word payloads are raw bytes: applying copies them as they are,
 * and encoding copies both versions into scratch memory first (diff_scan.ts), so pages may sit at
 * any address. Only the run headers are byte-order dependent: they are read as little-endian
 * bytes, and swapped when written on a big-endian host.
 *
 * Not covered: compression of the word payload, and diffs of pages whose size is not a multiple of 4.
 */

import { firstChange, NEWER_AT, SCAN_BLOCK_BYTES, scratch, scratchWords } from "./diff_scan.js";

/** A diff that is malformed or does not fit the page it is applied to. */
export class DiffError extends Error {
  override name = "DiffError";
}

/** Largest page a diff can describe: u16 word offsets and counts. */
export const MAX_DIFF_PAGE_BYTES = 65536;
/** Bytes of a run header. */
export const RUN_HEADER_BYTES = 4;
/** Word offset of the newer version in scratch memory. */
const NEWER = NEWER_AT >>> 2;

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function swap32(x: number): number {
  return (((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24)) >>> 0;
}

function packHeader(offset: number, count: number): number {
  const h = (offset | (count << 16)) >>> 0;
  return LITTLE_ENDIAN ? h : swap32(h);
}

function unpackHeader(word: number): number {
  return LITTLE_ENDIAN ? word : swap32(word);
}

/**
 * Diffs of up to this many bytes are read or written as bytes rather than viewed: V8 keeps typed
 * arrays this small on its heap, and viewing one through `.buffer` first moves it off the heap,
 * which costs ~0.8 µs (here: more than encoding the diff of a page with one changed word).
 */
const SMALL_DIFF_BYTES = 64;
/** Runs of up to this many words are copied byte by byte: cheaper than a subarray view. */
const SHORT_RUN_WORDS = 16;

/** A Uint32Array over the same bytes when aligned and not small, else over a copy (read-only use). */
function wordsOf(bytes: Uint8Array): Uint32Array {
  const n = bytes.byteLength >>> 2;
  if (bytes.byteLength <= SMALL_DIFF_BYTES) {
    const words = new Uint32Array(n);
    for (let i = 0, b = 0; i < n; i++, b += 4) {
      words[i] = LITTLE_ENDIAN
        ? (bytes[b] | (bytes[b + 1] << 8) | (bytes[b + 2] << 16) | (bytes[b + 3] << 24)) >>> 0
        : ((bytes[b] << 24) | (bytes[b + 1] << 16) | (bytes[b + 2] << 8) | bytes[b + 3]) >>> 0;
    }
    return words;
  }
  if ((bytes.byteOffset & 3) === 0) return new Uint32Array(bytes.buffer, bytes.byteOffset, n);
  return new Uint32Array(bytes.slice().buffer, 0, n);
}

function checkPageSize(pageSize: number, what: string): number {
  if (!Number.isInteger(pageSize) || pageSize <= 0 || pageSize % 4 !== 0 || pageSize > MAX_DIFF_PAGE_BYTES) {
    throw new RangeError(`${what} of ${pageSize} bytes: pages must be a positive multiple of 4 bytes up to ${MAX_DIFF_PAGE_BYTES}`);
  }
  return pageSize >>> 2;
}

// Scratch space shared by encodeDiff and mergeDiffs; both run to completion synchronously. A diff of
// an n-word page never needs more than n + 1 words (each run header is paid for by a gap of at least
// one word between runs, or is the single extra word), so `out` holds any result.
const out = new Uint32Array(MAX_DIFF_PAGE_BYTES / 4 + 1);
const outBytes = new Uint8Array(out.buffer);
let values = new Uint32Array(0);
let stamps = new Uint32Array(0);
let stamp = 0;

/** The first `length` words of `out` as a diff of its own (small ones stay on V8's heap, see SMALL_DIFF_BYTES). */
function finish(length: number): Uint8Array {
  const bytes = length * 4;
  const diff = new Uint8Array(bytes);
  if (bytes <= SMALL_DIFF_BYTES) {
    for (let b = 0; b < bytes; b++) diff[b] = outBytes[b];
  } else {
    diff.set(outBytes.subarray(0, bytes));
  }
  return diff;
}

/**
 * The diff that turns `older` into `newer` (same length, a multiple of 4, at most 64 KiB).
 * Identical pages give an empty diff. Both are copied into scratch memory, where equal 64-byte
 * blocks are skipped by firstChange (diff_scan.ts) and runs are read word by word.
 */
export function encodeDiff(older: Uint8Array, newer: Uint8Array): Uint8Array {
  if (older.byteLength !== newer.byteLength) {
    throw new RangeError(`cannot diff pages of ${older.byteLength} and ${newer.byteLength} bytes; both versions must have the page size`);
  }
  const n = checkPageSize(older.byteLength, "page");
  scratch.set(older, 0);
  scratch.set(newer, NEWER_AT);
  const w = scratchWords;
  const blocksEnd = (n * 4) & -SCAN_BLOCK_BYTES;
  const blockWords = SCAN_BLOCK_BYTES / 4;
  let length = 0;
  let i = 0;
  while (i < n) {
    // Most of a page is usually unchanged: skip equal blocks first, from a block boundary.
    if (i % blockWords === 0 && i * 4 < blocksEnd) {
      i = firstChange(i * 4, blocksEnd) >>> 2;
      if (i >= n) break;
    }
    if (w[i] === w[NEWER + i]) {
      i++;
      continue;
    }
    const start = i++;
    for (;;) {
      while (i < n && w[i] !== w[NEWER + i]) i++;
      // i is an unchanged word (or the end); bridge it when the next word changed again.
      if (i + 1 < n && w[i + 1] !== w[NEWER + i + 1]) i += 2;
      else break;
    }
    out[length++] = packHeader(start, i - start);
    for (let k = start; k < i; k++) out[length++] = w[NEWER + k];
  }
  return finish(length);
}

/** Word offset and count of the run header at byte `at` of `diff` (little-endian, on any host). */
function headerAt(diff: Uint8Array, at: number): number {
  return (diff[at] | (diff[at + 1] << 8) | (diff[at + 2] << 16) | (diff[at + 3] << 24)) >>> 0;
}

/**
 * Checks every run of `diff` against a page of `pageWords` words; returns the number of runs.
 * Reads only the run headers, as bytes: no view, no copy.
 */
function validate(diff: Uint8Array, pageWords: number): number {
  const byteLength = diff.byteLength;
  if ((byteLength & 3) !== 0) {
    throw new DiffError(`diff of ${byteLength} bytes: length must be a multiple of 4; it is truncated or not a diff`);
  }
  let at = 0;
  let prevEnd = 0;
  let runs = 0;
  while (at < byteLength) {
    const h = headerAt(diff, at);
    const offset = h & 0xffff;
    const count = h >>> 16;
    if (count === 0) throw new DiffError(`diff run at byte ${at}: word count is 0; the diff is corrupt`);
    if (offset < prevEnd) {
      throw new DiffError(`diff run at byte ${at}: starts at word ${offset}, before the previous run ends at word ${prevEnd}; runs must ascend`);
    }
    if (offset + count > pageWords) {
      throw new DiffError(`diff run at byte ${at}: words ${offset}..${offset + count - 1} exceed a page of ${pageWords} words; the diff is for a larger page or corrupt`);
    }
    const left = (byteLength - at) / 4 - 1;
    if (count > left) {
      throw new DiffError(`diff run at byte ${at}: needs ${count} words but only ${left} remain; the diff is truncated`);
    }
    prevEnd = offset + count;
    at += 4 * (1 + count);
    runs++;
  }
  return runs;
}

/**
 * Applies `diff` to `target` in place. Validates the whole diff first: on {@link DiffError} the
 * target is unchanged. Word payloads are raw bytes, copied as they are.
 */
export function applyDiff(target: Uint8Array, diff: Uint8Array): void {
  validate(diff, checkPageSize(target.byteLength, "target page"));
  let at = 0;
  while (at < diff.byteLength) {
    const h = headerAt(diff, at);
    const bytes = (h >>> 16) * 4;
    const from = at + RUN_HEADER_BYTES;
    const to = (h & 0xffff) * 4;
    if (bytes <= SHORT_RUN_WORDS * 4) {
      for (let k = 0; k < bytes; k++) target[to + k] = diff[from + k];
    } else {
      target.set(diff.subarray(from, from + bytes), to);
    }
    at = from + bytes;
  }
}

/**
 * Merges consecutive diffs of one page (oldest first) into one: applying the result equals applying
 * each in turn, since words of a later diff override the same words of earlier ones. With a single
 * diff, returns it (validated) unchanged.
 */
export function mergeDiffs(pageSize: number, diffs: readonly Uint8Array[]): Uint8Array {
  const n = checkPageSize(pageSize, "page");
  if (diffs.length === 0) return new Uint8Array(0);
  if (diffs.length === 1) {
    validate(diffs[0], n);
    return diffs[0];
  }
  if (values.length < n) {
    values = new Uint32Array(n);
    stamps = new Uint32Array(n);
    stamp = 0;
  }
  if (++stamp === 0x100000000) {
    stamps.fill(0);
    stamp = 1;
  }
  let lo = n;
  let hi = 0;
  for (const diff of diffs) {
    validate(diff, n);
    const d = wordsOf(diff);
    let p = 0;
    while (p < d.length) {
      const h = unpackHeader(d[p++]);
      const offset = h & 0xffff;
      const end = offset + (h >>> 16);
      if (offset < lo) lo = offset;
      if (end > hi) hi = end;
      for (let k = offset; k < end; k++) {
        values[k] = d[p++];
        stamps[k] = stamp;
      }
    }
  }
  let length = 0;
  let i = lo;
  while (i < hi) {
    if (stamps[i] !== stamp) {
      i++;
      continue;
    }
    const start = i;
    while (i < hi && stamps[i] === stamp) i++;
    out[length++] = packHeader(start, i - start);
    for (let k = start; k < i; k++) out[length++] = values[k];
  }
  return finish(length);
}

export interface DiffStats {
  runs: number;
  /** Page words the diff writes. */
  words: number;
  bytes: number;
}

/**
 * Validates `diff` (against a page of `pageSize` bytes; default the largest) and counts what it
 * carries. Throws {@link DiffError} when malformed.
 */
export function diffStats(diff: Uint8Array, pageSize: number = MAX_DIFF_PAGE_BYTES): DiffStats {
  const runs = validate(diff, checkPageSize(pageSize, "page"));
  return { runs, words: diff.byteLength / 4 - runs, bytes: diff.byteLength };
}

/** Throws {@link DiffError} unless `diff` is a well-formed diff of a `pageSize`-byte page. */
export function checkDiff(diff: Uint8Array, pageSize: number): void {
  validate(diff, checkPageSize(pageSize, "page"));
}

/** Bytes of a diff that rewrites all of a `pageSize`-byte page: the most a diff from encodeDiff takes. */
export function maxDiffBytes(pageSize: number): number {
  return checkPageSize(pageSize, "page") * 4 + RUN_HEADER_BYTES;
}
