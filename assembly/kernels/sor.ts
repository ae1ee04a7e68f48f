// Red-black successive over-relaxation on an n×n grid of f64, `iters` iterations, rows split evenly
// across nodes. Params: run(n, iters). The border holds fixed values, the interior starts at 0;
// each iteration updates the red points (i + j even) from their black neighbours, then the black
// points from the red ones, in place, with over-relaxation factor 1.5.
// Stresses nearest-neighbour sharing with two barriers per iteration: each half-sweep reads one
// boundary row of each neighbouring node that the neighbour wrote in the previous half-sweep.
// Deterministic for any node count: during a half-sweep every point is written by exactly one node
// with the same formula from values nobody writes in that half-sweep. The checksum is a reduction:
// each node sums its own rows into a shared array of row sums, which node 0 adds in row order.
import { nodeId, nodeCount, sharedAlloc, barrier } from "wasm-dsm";

const OMEGA: f64 = 1.5;

export function run(n: i32, iters: i32): f64 {
  const grid = sharedAlloc(<usize>n * <usize>n * 8);
  const sums = sharedAlloc(<usize>n * 8);
  const id = nodeId();
  const nodes = nodeCount();
  const lo = (id * n) / nodes;
  const hi = ((id + 1) * n) / nodes;
  for (let i = lo; i < hi; i++) {
    for (let j = 0; j < n; j++) {
      const border = i == 0 || j == 0 || i == n - 1 || j == n - 1;
      const v: f64 = border ? <f64>((i * 7 + j * 3) % 10) * 0.1 : 0.0;
      store<f64>(grid + ((<usize>i * n + j) << 3), v);
    }
  }
  barrier();
  const first = max(lo, 1);
  const last = min(hi, n - 1);
  const rowBytes = <usize>n << 3;
  for (let t = 0; t < iters; t++) {
    for (let colour = 0; colour < 2; colour++) {
      for (let i = first; i < last; i++) {
        const row = grid + <usize>i * rowBytes;
        // First interior column of this colour in row i: (i + j) % 2 == colour.
        for (let j = 1 + ((i + 1 + colour) & 1); j < n - 1; j += 2) {
          const p = row + (<usize>j << 3);
          const around = load<f64>(p - rowBytes) + load<f64>(p + rowBytes) + load<f64>(p - 8) + load<f64>(p + 8);
          store<f64>(p, (1.0 - OMEGA) * load<f64>(p) + OMEGA * 0.25 * around);
        }
      }
      barrier();
    }
  }
  for (let i = lo; i < hi; i++) {
    let s: f64 = 0;
    for (let j = 0; j < n; j++) s += load<f64>(grid + ((<usize>i * n + j) << 3)) * <f64>((i * 31 + j * 17) % 97 + 1);
    store<f64>(sums + (<usize>i << 3), s);
  }
  barrier();
  if (id != 0) return 0;
  let sum: f64 = 0;
  for (let i = 0; i < n; i++) sum += load<f64>(sums + (<usize>i << 3));
  return sum;
}
