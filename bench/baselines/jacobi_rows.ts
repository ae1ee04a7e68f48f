/**
 * The Jacobi computation of assembly/kernels/jacobi.ts written in plain TypeScript (it runs as
 * JavaScript, not as Wasm), for the hand-written baselines. Same initial grid (border 1.0,
 * interior 0), same update `0.25 * (north + south + west + east)` in the same order of additions,
 * same checksum, so a baseline's result must equal the kernel's bit for bit.
 *
 * Row storage: an array holds consecutive global rows starting at global row `base`, so global
 * row i, column j is at index (i - base) * n + j. The whole grid has base 0; one node's block
 * with a ghost row on each side has base lo - 1.
 */

/** The value of cell (i, j) before the first sweep. */
export function initialValue(i: number, j: number, n: number): number {
  return i === 0 || j === 0 || i === n - 1 || j === n - 1 ? 1 : 0;
}

/** Fills global rows first..last-1 of `grid` (stored from row `base`) with their initial values. */
export function initRows(grid: Float64Array, n: number, first: number, last: number, base: number): void {
  for (let i = first; i < last; i++) {
    const row = (i - base) * n;
    for (let j = 0; j < n; j++) grid[row + j] = initialValue(i, j, n);
  }
}

/** One sweep of the interior cells of global rows lo..hi-1 from `src` into `dst` (both stored from `base`). */
export function sweepRows(src: Float64Array, dst: Float64Array, n: number, lo: number, hi: number, base: number): void {
  const last = Math.min(hi, n - 1);
  for (let i = Math.max(lo, 1); i < last; i++) {
    const row = (i - base) * n;
    for (let j = 1; j < n - 1; j++) {
      const o = row + j;
      dst[o] = 0.25 * (src[o - n] + src[o + n] + src[o - 1] + src[o + 1]);
    }
  }
}

/** The weighted sum of global row i of `grid` (stored from row `base`): one term of the checksum. */
export function rowSum(grid: Float64Array, n: number, i: number, base: number): number {
  const row = (i - base) * n;
  let sum = 0;
  for (let j = 0; j < n; j++) sum += grid[row + j] * (((i * 31 + j * 17) % 97) + 1);
  return sum;
}

/** The kernel's checksum: the row sums of the whole grid (base 0) added in row order. */
export function checksum(grid: Float64Array, n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += rowSum(grid, n, i, 0);
  return sum;
}

/** Node `id`'s rows lo..hi-1 of n, split as the kernel splits them. */
export function rowsOf(id: number, nodes: number, n: number): { lo: number; hi: number } {
  return { lo: Math.floor((id * n) / nodes), hi: Math.floor(((id + 1) * n) / nodes) };
}

export class BaselineOptionError extends Error {
  override name = "BaselineOptionError";
}

/** Checks n, iters and the node count; every node must own at least one row. */
export function checkJacobiArgs(n: number, iters: number, nodes: number): void {
  if (!Number.isInteger(n) || n < 3) throw new BaselineOptionError(`grid size ${n}: must be an integer of at least 3`);
  if (!Number.isInteger(iters) || iters < 0) throw new BaselineOptionError(`iterations ${iters}: must be an integer of at least 0`);
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > n) {
    throw new BaselineOptionError(`${nodes} nodes for a ${n}-row grid: every node needs a row; use from 1 to ${n} nodes`);
  }
}
