// Jacobi relaxation on an n×n grid of f64, `iters` sweeps, rows split evenly across nodes.
// Stresses nearest-neighbour sharing: each node reads one boundary row of each neighbour per sweep.
// The checksum is a reduction: each node sums its own rows into a shared array of row sums, and
// node 0 adds those up in row order (the same value on any number of nodes).
import { nodeId, nodeCount, sharedAlloc, barrier } from "wasm-dsm";

export function run(n: i32, iters: i32): f64 {
  const bytes = <usize>n * <usize>n * 8;
  let src = sharedAlloc(bytes);
  let dst = sharedAlloc(bytes);
  const sums = sharedAlloc(<usize>n * 8);
  const id = nodeId();
  const nodes = nodeCount();
  const lo = (id * n) / nodes;
  const hi = ((id + 1) * n) / nodes;
  // Each node initialises its own rows; the border is fixed at 1.0, the interior starts at 0.
  for (let i = lo; i < hi; i++) {
    for (let j = 0; j < n; j++) {
      const border = i == 0 || j == 0 || i == n - 1 || j == n - 1;
      const v: f64 = border ? 1.0 : 0.0;
      store<f64>(src + ((<usize>i * n + j) << 3), v);
      store<f64>(dst + ((<usize>i * n + j) << 3), v);
    }
  }
  barrier();
  for (let t = 0; t < iters; t++) {
    for (let i = max(lo, 1); i < min(hi, n - 1); i++) {
      const row = src + (<usize>i * n << 3);
      const out = dst + (<usize>i * n << 3);
      const rowN = <usize>n << 3;
      for (let j = 1; j < n - 1; j++) {
        const o = <usize>j << 3;
        const v = 0.25 * (load<f64>(row + o - rowN) + load<f64>(row + o + rowN) + load<f64>(row + o - 8) + load<f64>(row + o + 8));
        store<f64>(out + o, v);
      }
    }
    barrier();
    const tmp = src;
    src = dst;
    dst = tmp;
  }
  for (let i = lo; i < hi; i++) {
    let s: f64 = 0;
    for (let j = 0; j < n; j++) s += load<f64>(src + ((<usize>i * n + j) << 3)) * <f64>((i * 31 + j * 17) % 97 + 1);
    store<f64>(sums + (<usize>i << 3), s);
  }
  barrier();
  if (id != 0) return 0;
  let sum: f64 = 0;
  for (let i = 0; i < n; i++) sum += load<f64>(sums + (<usize>i << 3));
  return sum;
}
