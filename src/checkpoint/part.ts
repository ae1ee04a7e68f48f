/**
 * One node's part of a checkpoint, as bytes: its kernel state (kernel_state.ts), the job's
 * collective allocations, the locks it held, and the shared pages it saved — the non-zero ones,
 * as runs of consecutive pages.
 *
 *   "DSMPART2" | private memory | stack | page runs | header (UTF-8 JSON) | u32 header length
 *
 * The header comes last so that a {@link PartWriter} copies memory and pages straight into one
 * buffer, which it keeps from one checkpoint to the next: fresh memory costs this VM page faults
 * (about 100 ms for 32 MiB) where the copy itself costs 2 ms.
 */
import { CheckpointError } from "./errors.js";
import type { KernelState } from "./kernel_state.js";

const MAGIC = "DSMPART2";
const MAGIC_BYTES = new TextEncoder().encode(MAGIC);

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
  /** [first page, page count] of each run, in order. */
  runs: [number, number][];
}

/**
 * Builds parts in one buffer it keeps; a part's bytes stay valid until the next begin(). A
 * buffer handed to another thread (transferred) comes back through adopt().
 */
export class PartWriter {
  private buffer = new Uint8Array(0);
  private at = 0;
  private runs: [number, number][] = [];
  private kernel: KernelState | undefined;

  /** Takes back the buffer of the last part (it was transferred to be stored). */
  adopt(buffer: ArrayBuffer): void {
    this.buffer = new Uint8Array(buffer);
  }

  /** Starts a part of the kernel's state (copied now) and at most `pages` pages of `pageSize`. */
  begin(kernel: KernelState, pages: number, pageSize: number): void {
    const bound = MAGIC_BYTES.length + kernel.memory.length + kernel.stack.length + pages * pageSize;
    if (this.buffer.length < bound) this.buffer = new Uint8Array(Math.ceil(bound * 1.25));
    this.at = 0;
    this.runs = [];
    this.kernel = kernel;
    for (const chunk of [MAGIC_BYTES, kernel.memory, kernel.stack]) this.append(chunk);
  }

  /** Copies the non-zero pages of first..last out of `memory` (page p at p × pageSize), as runs. */
  pages(memory: ArrayBufferLike, first: number, last: number, pageSize: number): void {
    let start = -1;
    const flush = (end: number) => {
      if (start < 0) return;
      this.append(new Uint8Array(memory, start * pageSize, (end - start) * pageSize));
      this.runs.push([start, end - start]);
      start = -1;
    };
    for (let page = first; page <= last; page++) {
      if (isZero(new Int32Array(memory, page * pageSize, pageSize >>> 2))) flush(page);
      else if (start < 0) start = page;
    }
    flush(last + 1);
  }

  /** Ends the part: its bytes, a view of the writer's buffer. */
  finish(node: number, pageSize: number, allocations: [number, number][], locks: number[]): Uint8Array {
    const kernel = this.kernel!;
    const header: Header = { node, pageSize, globals: kernel.globals, allocations, locks, memoryBytes: kernel.memory.length, stackBytes: kernel.stack.length, runs: this.runs };
    const json = new TextEncoder().encode(JSON.stringify(header));
    const end = this.at + json.length + 4;
    if (this.buffer.length < end) {
      const grown = new Uint8Array(end);
      grown.set(this.buffer.subarray(0, this.at));
      this.buffer = grown;
    }
    this.append(json);
    new DataView(this.buffer.buffer, this.buffer.byteOffset).setUint32(this.at, json.length, true);
    this.at += 4;
    this.kernel = undefined;
    return this.buffer.subarray(0, this.at);
  }

  private append(bytes: Uint8Array): void {
    this.buffer.set(bytes, this.at);
    this.at += bytes.length;
  }
}

/** Reads a part; `name` names it in errors. Throws CheckpointError on anything malformed. */
export function decodePart(bytes: Uint8Array, name: string): NodePart {
  const bad = (what: string) => new CheckpointError(`${name}: ${what}; the object is not a checkpoint part of this version`);
  if (bytes.length < MAGIC_BYTES.length + 4 || new TextDecoder().decode(bytes.subarray(0, MAGIC_BYTES.length)) !== MAGIC) throw bad("no part header");
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.length).getUint32(bytes.length - 4, true);
  const headerAt = bytes.length - 4 - length;
  if (headerAt < MAGIC_BYTES.length) throw bad("truncated");
  let header: Header;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(headerAt, bytes.length - 4))) as Header;
  } catch {
    throw bad("unreadable header");
  }
  let at = MAGIC_BYTES.length;
  const take = (n: number) => {
    if (!Number.isInteger(n) || n < 0 || at + n > headerAt) throw bad("truncated");
    const chunk = bytes.subarray(at, at + n);
    at += n;
    return chunk;
  };
  const memory = take(header.memoryBytes);
  const stack = take(header.stackBytes);
  const pages = header.runs.map(([first, count]) => ({ first, data: take(count * header.pageSize) }));
  if (at !== headerAt) throw bad("bytes between the pages and the header");
  return { node: header.node, pageSize: header.pageSize, kernel: { memory, stack, globals: header.globals }, allocations: header.allocations, locks: header.locks, pages };
}

function isZero(words: Int32Array): boolean {
  for (let i = 0; i < words.length; i++) if (words[i] !== 0) return false;
  return true;
}
