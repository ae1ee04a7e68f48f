/**
 * What lazy release consistency (lrc.ts) puts on the wire, and how the codec validates it.
 *
 * JSON (the lrc fields of the lock bodies, sync_wire.ts, and the `lrc` part of barrier arrivals
 * and releases):
 *   vector time   number[nodeCount]: vt[q] = the newest interval of node q known (all older ones too)
 *   interval      {n: node, i: index, vt: vector time at its end, p: pages as [first, count] runs flat}
 *
 * Binary payload of LrcDiffReply ("diffs"): zero or more entries, each
 *   u32 page, u32 interval index, u32 byteLength | form flag, byteLength bytes of one diff
 * An entry's diff (release/word_diff.ts: runs form; mask form with MASK_FLAG; repeat form with REPEAT_FLAG)
 * holds the words the replying node wrote to that page in that interval.
 */
import type { DecodeContext } from "../codec.js";
import { DiffError } from "../diff.js";
import { checkWordDiff, type DiffForm, type WordDiff } from "./word_diff.js";
import { getU32, putU32 } from "../little_endian.js";
import { Scratch } from "../scratch.js";
import { isObject, isPage, isU32 } from "../wire_checks.js";

/** One interval of one node: the pages it wrote (its write notices) and what it knew. */
export interface IntervalRecord {
  /** The node whose interval it is. */
  n: number;
  /** 1, 2, 3, … per node. */
  i: number;
  /** Vector time at the interval's end (vt[n] = i). */
  vt: number[];
  /** Pages written, as flat [first, count] runs. */
  p: number[];
}

/** The `lrc` part of a barrier arrival: this node's new intervals. */
export interface LrcArrival {
  vt: number[];
  intervals: IntervalRecord[];
  /** This node holds more diffs, twins and records than its bound: collect garbage. */
  gc: boolean;
}

/** The `lrc` part of a barrier release, per node: the intervals it lacks. */
export interface LrcRelease {
  vt: number[];
  intervals: IntervalRecord[];
  /** Every node validates its pages, meets the others at one more barrier, and discards its history. */
  gc: boolean;
}

/** node → writer: per page, the intervals of that writer whose diffs it needs: [page, [interval…]]…. */
export interface LrcDiffRequestBody {
  pages: [number, number[]][];
}

/** What is wrong with a vector time, or undefined. */
export function badVt(v: unknown, ctx: DecodeContext): string | undefined {
  if (!Array.isArray(v) || v.length !== ctx.nodeCount || !v.every(isU32)) return `vector time must be ${ctx.nodeCount} interval numbers`;
  return undefined;
}

function badPages(p: unknown, ctx: DecodeContext): string | undefined {
  if (!Array.isArray(p) || p.length % 2 !== 0 || !p.every(isU32)) return "interval pages must be [first, count] runs";
  for (let k = 0; k < p.length; k += 2) {
    const first = p[k] as number;
    const count = p[k + 1] as number;
    if (count < 1) return `interval page run at ${first} is empty`;
    if (ctx.firstPage !== undefined && ctx.pageCount !== undefined && (first < ctx.firstPage || first + count > ctx.firstPage + ctx.pageCount)) {
      return `interval pages ${first}..${first + count - 1} are outside the shared region`;
    }
  }
  return undefined;
}

/** What is wrong with a list of interval records, or undefined. */
export function badIntervals(list: unknown, ctx: DecodeContext): string | undefined {
  if (!Array.isArray(list)) return "intervals must be a list";
  for (const r of list) {
    if (!isObject(r) || !isU32(r.n) || r.n >= ctx.nodeCount || !isU32(r.i) || r.i < 1) return "interval needs node n and index i >= 1";
    const problem = badVt(r.vt, ctx) ?? badPages(r.p, ctx);
    if (problem) return problem;
    if ((r.vt as number[])[r.n] !== r.i) return `interval ${r.n}.${r.i}: its vector time must name it`;
  }
  return undefined;
}

/** The `lrc` part of an arrival or release (both carry vt, intervals and gc). */
export function validateLrcBarrierPart(part: unknown, ctx: DecodeContext): string | undefined {
  if (part === undefined) return undefined;
  if (!isObject(part) || typeof part.gc !== "boolean") return "lrc part needs vt, intervals and gc";
  return badVt(part.vt, ctx) ?? badIntervals(part.intervals, ctx);
}

export function validateLrcDiffRequest(body: unknown, ctx: DecodeContext): string | undefined {
  if (!isObject(body) || !Array.isArray(body.pages) || body.pages.length === 0) return "diff request needs a non-empty list of [page, intervals]";
  for (const entry of body.pages) {
    if (!Array.isArray(entry) || entry.length !== 2 || !isPage(entry[0], ctx)) return "diff request entries must be [page in the shared region, intervals]";
    const intervals = entry[1];
    if (!Array.isArray(intervals) || intervals.length === 0 || !intervals.every((i) => isU32(i) && i >= 1)) return `diff request for page ${entry[0]} needs interval indices >= 1`;
  }
  return undefined;
}

/**
 * A diff a lock grant carries (lrc): [page, interval, form, bytes in base64]. The grant's body is
 * JSON; the diffs it carries are a few small ones (lrc/grant_diffs.ts bounds them), so base64
 * costs less than a binary payload beside the JSON would cost the codec.
 */
export type GrantDiff = [page: number, interval: number, form: DiffForm, bytes: string];

export function grantDiff(page: number, interval: number, diff: WordDiff): GrantDiff {
  return [page, interval, diff.form, Buffer.from(diff.bytes.buffer, diff.bytes.byteOffset, diff.bytes.byteLength).toString("base64")];
}

/** The word diff of a grant's entry (checked on decode, badGrantDiffs). */
export function grantWordDiff(entry: GrantDiff): WordDiff {
  return { form: entry[2], bytes: new Uint8Array(Buffer.from(entry[3], "base64")) };
}

/** What is wrong with a grant's diffs, or undefined. */
export function badGrantDiffs(list: unknown, ctx: DecodeContext): string | undefined {
  if (!Array.isArray(list)) return "grant diffs must be a list";
  for (const entry of list) {
    if (!Array.isArray(entry) || entry.length !== 4 || !isPage(entry[0], ctx) || !isU32(entry[1]) || entry[1] < 1 || typeof entry[2] !== "string" || !Object.hasOwn(FORM_FLAGS, entry[2]) || typeof entry[3] !== "string") {
      return "grant diffs must be [page in the shared region, interval >= 1, form, base64 bytes]";
    }
    try {
      checkWordDiff(grantWordDiff(entry as GrantDiff), ctx.pageSize);
    } catch (error) {
      return `grant diff of page ${entry[0]}: ${(error as Error).message}`;
    }
  }
  return undefined;
}

/**
 * Pages a home-based (hlrc) lock grant carries when the granter is their home: each page's master
 * bytes (base64), and `applied`, per writer, the last interval whose writes those bytes hold (the
 * granter's own entry is its latest interval). hlrc/hlrc.ts says when they are sent and used.
 */
export interface GrantPages {
  applied: number[];
  pages: [page: number, bytes: string][];
}

/** What is wrong with a grant's home pages, or undefined. */
export function badGrantPages(part: unknown, ctx: DecodeContext): string | undefined {
  if (!isObject(part) || !Array.isArray(part.applied) || part.applied.length !== ctx.nodeCount || !part.applied.every(isU32) || !Array.isArray(part.pages)) {
    return `grant pages need applied (${ctx.nodeCount} interval numbers) and a list of pages`;
  }
  for (const entry of part.pages) {
    if (!Array.isArray(entry) || entry.length !== 2 || !isPage(entry[0], ctx) || typeof entry[1] !== "string") return "grant pages must be [page in the shared region, base64 bytes]";
    if (ctx.pageSize !== undefined && Buffer.byteLength(entry[1], "base64") !== ctx.pageSize) return `grant page ${entry[0]} must hold ${ctx.pageSize} bytes`;
  }
  return undefined;
}

/** One entry of an LrcDiffReply. */
export interface IntervalDiff {
  page: number;
  interval: number;
  diff: WordDiff;
}

/** Set in an entry's length word for a mask-form diff. */
export const MASK_FLAG = 0x80000000;
/** Set in an entry's length word for a repeat-form diff. */
export const REPEAT_FLAG = 0x40000000;
const FORM_FLAGS = { runs: 0, mask: MASK_FLAG, repeat: REPEAT_FLAG } as const;
const ENTRY_HEADER = 12;

/** Bytes an entry takes on the wire. */
export function entryBytes(diff: WordDiff): number {
  return ENTRY_HEADER + diff.bytes.byteLength;
}

/** encodeIntervalDiffs' reusable output (see its `transient`); one per thread, used only within a call. */
const replyScratch = new Scratch();

/**
 * An LrcDiffReply or HlrcFlush payload of `entries`. `transient`: the bytes are sent at once and
 * not kept (a reply, not a call that may resend them), so they are written into one buffer reused
 * by every such call, valid until the next.
 */
export function encodeIntervalDiffs(entries: readonly IntervalDiff[], transient = false): Uint8Array {
  let size = 0;
  for (const e of entries) size += entryBytes(e.diff);
  const out = transient ? replyScratch.bytes(size) : new Uint8Array(size);
  let at = 0;
  for (const e of entries) {
    const length = e.diff.bytes.byteLength;
    putU32(out, at, e.page);
    putU32(out, at + 4, e.interval);
    putU32(out, at + 8, (length | FORM_FLAGS[e.diff.form]) >>> 0);
    out.set(e.diff.bytes, at + ENTRY_HEADER);
    at += ENTRY_HEADER + length;
  }
  return out;
}

/**
 * Splits an LrcDiffReply payload, validating every entry unless `check` is false (the codec
 * validated the message already); throws DiffError naming the problem. The entries' diffs are
 * views of `payload` (copies only where an entry is not word-aligned), so they live as long as
 * the payload is not reused.
 */
export function decodeIntervalDiffs(payload: Uint8Array, ctx: DecodeContext, check = true): IntervalDiff[] {
  const out: IntervalDiff[] = [];
  walkIntervalDiffs(payload, ctx, check, (entry) => out.push(entry));
  return out;
}

/** Validates an LrcDiffReply payload without keeping its entries; throws DiffError naming the problem. */
export function checkIntervalDiffs(payload: Uint8Array, ctx: DecodeContext): void {
  walkIntervalDiffs(payload, ctx, true, () => {});
}

/** Calls `fn` with each entry of an LrcDiffReply payload (see decodeIntervalDiffs); the entries are views of `payload`. */
export function walkIntervalDiffs(payload: Uint8Array, ctx: DecodeContext, check: boolean, fn: (entry: IntervalDiff) => void): void {
  let at = 0;
  while (at < payload.byteLength) {
    if (at + ENTRY_HEADER > payload.byteLength) throw new DiffError(`diff entry at byte ${at} is truncated`);
    const page = getU32(payload, at);
    const interval = getU32(payload, at + 4);
    const word = getU32(payload, at + 8);
    const length = word & ~(MASK_FLAG | REPEAT_FLAG);
    if ((word & MASK_FLAG) !== 0 && (word & REPEAT_FLAG) !== 0) throw new DiffError(`diff entry at byte ${at}: both form flags set`);
    if (!isPage(page, ctx)) throw new DiffError(`diff entry at byte ${at}: page ${page} is outside the shared region`);
    if (interval < 1) throw new DiffError(`diff entry at byte ${at}: interval 0 does not exist`);
    if (at + ENTRY_HEADER + length > payload.byteLength) throw new DiffError(`diff entry at byte ${at}: ${length} bytes announced, ${payload.byteLength - at - ENTRY_HEADER} follow`);
    const form = (word & MASK_FLAG) !== 0 ? "mask" : (word & REPEAT_FLAG) !== 0 ? "repeat" : "runs";
    const start = at + ENTRY_HEADER;
    // Read through a word view: a view when aligned, else an aligned copy.
    const bytes = ((payload.byteOffset + start) & 3) === 0 ? payload.subarray(start, start + length) : payload.slice(start, start + length);
    const diff: WordDiff = { form, bytes };
    if (check) checkWordDiff(diff, ctx.pageSize);
    fn({ page, interval, diff });
    at = start + length;
  }
}

/** Pages as flat [first, count] runs (input in any order, no duplicates needed). */
export function pageRuns(pages: Iterable<number>): number[] {
  const sorted = [...pages].sort((a, b) => a - b);
  const runs: number[] = [];
  for (const p of sorted) {
    const n = runs.length;
    if (n > 0 && runs[n - 2]! + runs[n - 1]! === p) runs[n - 1] = runs[n - 1]! + 1;
    else if (n === 0 || runs[n - 2]! + runs[n - 1]! < p) runs.push(p, 1);
  }
  return runs;
}

/** Calls `fn` for every page of flat [first, count] runs. */
export function forEachPage(runs: readonly number[], fn: (page: number) => void): void {
  for (let k = 0; k < runs.length; k += 2) for (let p = runs[k]!; p < runs[k]! + runs[k + 1]!; p++) fn(p);
}
