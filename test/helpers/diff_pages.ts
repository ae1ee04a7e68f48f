/** Random pages and versions for the diff and diff log tests. */
import * as assert from "uvu/assert";
import { prng } from "./random.js";

export type Rng = ReturnType<typeof prng>;

export function randomPage(rng: Rng, bytes: number): Uint8Array {
  const page = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) page[i] = rng.int(256);
  return page;
}

/** A new version of `page`: a few sparse bytes, a few runs, or nearly everything. */
export function mutate(rng: Rng, page: Uint8Array): Uint8Array {
  const out = page.slice();
  const style = rng.int(4);
  const edits = style === 0 ? rng.int(4) : style === 1 ? 1 + rng.int(40) : style === 2 ? 1 + rng.int(6) : 1;
  for (let e = 0; e < edits; e++) {
    if (style === 2) {
      const start = rng.int(out.length);
      const len = Math.min(out.length - start, 1 + rng.int(200));
      for (let i = start; i < start + len; i++) out[i] = rng.int(256);
    } else if (style === 3) {
      for (let i = 0; i < out.length; i++) if (rng.next() < 0.9) out[i] = rng.int(256);
    } else {
      out[rng.int(out.length)] ^= 1 + rng.int(255);
    }
  }
  return out;
}

export function randomPageSize(rng: Rng): number {
  return [4, 8, 12, 64, 1024, 4096, 4100, 8192][rng.int(8)];
}

/** A copy at byte offset `shift` of a larger buffer: 1 exercises the unaligned paths, 4 the 32-bit-only ones. */
export function unaligned(bytes: Uint8Array, shift = 1): Uint8Array {
  const buffer = new Uint8Array(bytes.byteLength + shift);
  buffer.set(bytes, shift);
  return buffer.subarray(shift);
}

export const same = (a: Uint8Array, b: Uint8Array) => assert.equal(Array.from(a), Array.from(b));

/** A diff run header: word offset and count, little-endian. */
export function header(offset: number, count: number): number[] {
  return [offset & 0xff, offset >> 8, count & 0xff, count >> 8];
}
