/**
 * One node's part of a checkpoint, as bytes: its kernel state (kernel_state.ts), the job's
 * collective allocations, the locks it held, and the shared pages it saved — the non-zero ones, as runs of
 * consecutive pages.
 *
 *   "DSMPART1" | u32 header length | header (UTF-8 JSON) | private memory | stack | page runs
 */
import { CheckpointError } from "./errors.js";
import type { KernelState } from "./kernel_state.js";

const MAGIC = "DSMPART1";

export interface PageRun {
  first: number;
  /** count × pageSize bytes. */
  data: Uint8Array;
}

export interface NodePart {
  node: number;
  pageSize: number;
  kernel: KernelState;
  /** Every collective allocation so far, in order: [address, bytes]. */
  allocations: [number, number][];
  /** Locks the node held at the barrier (a PARMACS node holds its JOIN lock while fn runs). */
  locks: number[];
  pages: PageRun[];
}

interface Header {
  node: number;
  pageSize: number;
  globals: Record<string, number | string>;
  allocations: [number, number][];
  locks: number[];
  memoryBytes: number;
  stackBytes: number;
  runs: [number, number][];
}

export function encodePart(part: NodePart): Uint8Array {
  const { kernel, pageSize } = part;
  const header: Header = {
    node: part.node,
    pageSize,
    globals: kernel.globals,
    allocations: part.allocations,
    locks: part.locks,
    memoryBytes: kernel.memory.length,
    stackBytes: kernel.stack.length,
    runs: part.pages.map((r) => [r.first, r.data.length / pageSize]),
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const pageBytes = part.pages.reduce((n, r) => n + r.data.length, 0);
  const out = new Uint8Array(12 + json.length + kernel.memory.length + kernel.stack.length + pageBytes);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(8, json.length, true);
  let at = 12;
  for (const chunk of [json, kernel.memory, kernel.stack, ...part.pages.map((r) => r.data)]) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/** Reads a part; `name` names it in errors. Throws CheckpointError on anything malformed. */
export function decodePart(bytes: Uint8Array, name: string): NodePart {
  const bad = (what: string) => new CheckpointError(`${name}: ${what}; the object is not a checkpoint part of this version`);
  if (bytes.length < 12 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) throw bad("no part header");
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.length).getUint32(8, true);
  let header: Header;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + length))) as Header;
  } catch {
    throw bad("unreadable header");
  }
  let at = 12 + length;
  const take = (n: number) => {
    if (!Number.isInteger(n) || n < 0 || at + n > bytes.length) throw bad("truncated");
    const chunk = bytes.subarray(at, at + n);
    at += n;
    return chunk;
  };
  const memory = take(header.memoryBytes);
  const stack = take(header.stackBytes);
  const pages = header.runs.map(([first, count]) => ({ first, data: take(count * header.pageSize) }));
  if (at !== bytes.length) throw bad("trailing bytes");
  return { node: header.node, pageSize: header.pageSize, kernel: { memory, stack, globals: header.globals }, allocations: header.allocations, locks: header.locks, pages };
}

/**
 * The non-zero pages of first..last, as runs of consecutive pages copied out of `memory` (page p
 * at p × pageSize).
 */
export function nonZeroRuns(memory: ArrayBufferLike, first: number, last: number, pageSize: number): PageRun[] {
  const runs: PageRun[] = [];
  let start = -1;
  const flush = (end: number) => {
    if (start >= 0) runs.push({ first: start, data: new Uint8Array(memory, start * pageSize, (end - start) * pageSize).slice() });
    start = -1;
  };
  for (let page = first; page <= last; page++) {
    if (isZero(new Int32Array(memory, page * pageSize, pageSize >>> 2))) flush(page);
    else if (start < 0) start = page;
  }
  flush(last + 1);
  return runs;
}

function isZero(words: Int32Array): boolean {
  for (let i = 0; i < words.length; i++) if (words[i] !== 0) return false;
  return true;
}
