/**
 * Plain TypeScript references for the irregular kernels (intsort, tsp, nbody, wordfreq,
 * falseshare, sparse) on one node. i64 arithmetic is done in BigInt with explicit 64-bit wrapping;
 * results are returned as BigInt for i64 kernels, as numbers for f64 ones. The TSP reference solves
 * the instance by dynamic programming (Held-Karp) rather than by the kernel's branch and bound.
 */
import { mix32 } from "./reference_dense.js";

const wrap = (v: bigint) => BigInt.asIntN(64, v);
/** The kernels' `h & 0x7fffffffffffffff`. */
const low63 = (v: bigint) => BigInt.asUintN(63, v);

/** assembly/kernels/intsort.ts: run(keys, bits, seed). */
export function intsort(keys: number, bits: number, seed: number): bigint {
  const mask = 2 ** bits - 1;
  const values = new Uint32Array(keys);
  for (let i = 0; i < keys; i++) values[i] = (mix32(i, seed) & mask) >>> 0;
  values.sort();
  let h = 0n;
  for (const key of values) h = wrap(h * 1000003n + BigInt(key));
  return low63(h);
}

/** assembly/kernels/tsp.ts: run(cities, seed) — the optimal tour length by Held-Karp. */
export function tsp(cities: number, seed: number): bigint {
  const n = cities;
  const xs = Array.from({ length: n }, (_, c) => mix32(2 * c, seed) % 1000);
  const ys = Array.from({ length: n }, (_, c) => mix32(2 * c + 1, seed) % 1000);
  const dist = (a: number, b: number) => Math.floor(Math.sqrt((xs[a] - xs[b]) ** 2 + (ys[a] - ys[b]) ** 2) + 0.5);
  // best[mask * n + j]: shortest path from 0 through the cities of mask (bits 1..n-1), ending at j.
  const full = 1 << n;
  const best = new Float64Array(full * n).fill(Infinity);
  for (let j = 1; j < n; j++) best[(1 << j) * n + j] = dist(0, j);
  for (let mask = 2; mask < full; mask += 2) {
    for (let j = 1; j < n; j++) {
      const here = best[mask * n + j];
      if (!(mask & (1 << j)) || here === Infinity) continue;
      for (let k = 1; k < n; k++) {
        if (mask & (1 << k)) continue;
        const at = (mask | (1 << k)) * n + k;
        best[at] = Math.min(best[at], here + dist(j, k));
      }
    }
  }
  let tour = Infinity;
  for (let j = 1; j < n; j++) tour = Math.min(tour, best[(full - 2) * n + j] + dist(j, 0));
  return BigInt(tour);
}

/** assembly/kernels/nbody.ts: run(bodies, steps). */
export function nbody(bodies: number, steps: number): number {
  const SCALE = 16777216;
  const SOFTENING = 0.01;
  const DT = 0.001;
  const pos = new Float64Array(bodies * 3);
  const vel = new Float64Array(bodies * 3);
  for (let k = 0; k < bodies * 3; k++) pos[k] = (mix32(k, 0x1234567) >>> 8) / 16777216;
  for (let t = 0; t < steps; t++) {
    const force: bigint[] = new Array(bodies * 3).fill(0n);
    for (let i = 0; i < bodies; i++) {
      for (let j = i + 1; j < bodies; j++) {
        const dx = pos[j * 3] - pos[i * 3];
        const dy = pos[j * 3 + 1] - pos[i * 3 + 1];
        const dz = pos[j * 3 + 2] - pos[i * 3 + 2];
        const r2 = dx * dx + dy * dy + dz * dz + SOFTENING;
        const s = SCALE / (r2 * Math.sqrt(r2));
        const f = [dx * s, dy * s, dz * s].map((v) => BigInt(Math.trunc(v)));
        for (let k = 0; k < 3; k++) {
          force[i * 3 + k] = wrap(force[i * 3 + k] + f[k]);
          force[j * 3 + k] = wrap(force[j * 3 + k] - f[k]);
        }
      }
    }
    for (let k = 0; k < bodies * 3; k++) {
      vel[k] = vel[k] + (Number(force[k]) / SCALE) * DT;
      pos[k] = pos[k] + vel[k] * DT;
    }
  }
  let sum = 0;
  for (let k = 0; k < bodies * 3; k++) sum += pos[k] * ((k % 13) + 1) + vel[k] * ((k % 7) + 1);
  return sum;
}

/** assembly/kernels/wordfreq.ts: run(words, rounds). */
export function wordfreq(words: number, rounds: number): bigint {
  const counts: bigint[] = new Array(26 * 26).fill(0n);
  const text = new Uint8Array(words * 8);
  for (let r = 0; r < rounds; r++) {
    let seed = (12345 + Math.imul(r, 7919)) >>> 0;
    for (let i = 0; i < text.length; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      text[i] = 97 + ((seed >>> 16) % 26);
    }
    for (let i = 0; i + 1 < text.length; i++) counts[(text[i] - 97) * 26 + (text[i + 1] - 97)] += 1n;
  }
  let h = 0n;
  for (const c of counts) h = wrap(h * 31n + c);
  return h;
}

/** assembly/kernels/falseshare.ts: run(words, rounds). */
export function falseshare(words: number, rounds: number): bigint {
  let h = 0n;
  for (let k = 0; k < words; k++) {
    let v = 0n;
    for (let r = 0; r < rounds; r++) v = wrap(v * 31n + BigInt(k) + BigInt(r));
    h = wrap(h * 1000003n + v);
  }
  return low63(h);
}

/** assembly/kernels/sparse.ts: run(pages, rounds). */
export function sparse(pages: number, rounds: number): bigint {
  const WORDS = 4;
  const BLOCK_WORDS = 512;
  const data: bigint[] = new Array(pages * BLOCK_WORDS).fill(0n);
  const slot = (r: number, g: number, w: number) => {
    let x = (Math.imul(r * WORDS + w, 0x9e3779b9) + Math.imul(g, 0x7f4a7c15) + 0x165667b1) >>> 0;
    x ^= x >>> 16;
    x = Math.imul(x, 0x85ebca6b) >>> 0;
    x ^= x >>> 13;
    x = Math.imul(x, 0xc2b2ae35) >>> 0;
    x ^= x >>> 16;
    return g * BLOCK_WORDS + ((x >>> 0) % BLOCK_WORDS);
  };
  let seen = 0n;
  for (let r = 0; r < rounds; r++) {
    for (let g = 0; g < pages; g++) {
      for (let w = 0; w < WORDS; w++) {
        const at = slot(r, g, w);
        data[at] = wrap(data[at] * 7n + BigInt(r * 1009 + g * 13 + w + 1));
      }
    }
    for (let g = 0; g < pages; g++) {
      for (let w = 0; w < WORDS; w++) seen = wrap(seen * 31n + data[slot(r, g, w)]);
    }
  }
  let h = seen;
  for (const v of data) h = wrap(h * 1000003n + v);
  return low63(h);
}
