// LU factorisation without pivoting (Doolittle, in place) of an n×n f64 matrix made diagonally
// dominant so no pivoting is needed. Params: run(n). Rows are dealt to nodes cyclically
// (row i belongs to node i % nodes) to keep the shrinking work balanced.
// Step k: after a barrier, every node reads pivot row k (written by its owner in step k - 1) and
// eliminates column k from its own rows below k. Stresses a shrinking working set with one-to-all
// sharing of the pivot row, n barriers, and false sharing where rows of different nodes share a page.
// Deterministic for any node count: every element is updated by one node, with one formula, in the
// same order of k; node 0 sums L and U in a fixed order.
import { nodeId, nodeCount, sharedAlloc, barrier } from "wasm-dsm";

export function run(n: i32): f64 {
  const rowBytes = <usize>n << 3;
  const a = sharedAlloc(<usize>n * rowBytes);
  const id = nodeId();
  const nodes = nodeCount();
  for (let i = id; i < n; i += nodes) {
    for (let j = 0; j < n; j++) {
      let v = <f64>((i * 13 + j * 7) % 19) / 19.0 - 0.5;
      if (i == j) v += <f64>n;
      store<f64>(a + <usize>i * rowBytes + (<usize>j << 3), v);
    }
  }
  for (let k = 0; k < n - 1; k++) {
    barrier();
    const pivotRow = a + <usize>k * rowBytes;
    const pivot = load<f64>(pivotRow + (<usize>k << 3));
    // First row below k that this node owns.
    let i = k + 1 + ((id - (k + 1) % nodes + nodes) % nodes);
    for (; i < n; i += nodes) {
      const row = a + <usize>i * rowBytes;
      const l = load<f64>(row + (<usize>k << 3)) / pivot;
      store<f64>(row + (<usize>k << 3), l);
      for (let j = k + 1; j < n; j++) {
        const o = <usize>j << 3;
        store<f64>(row + o, load<f64>(row + o) - l * load<f64>(pivotRow + o));
      }
    }
  }
  barrier();
  if (id != 0) return 0;
  let sum: f64 = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) sum += load<f64>(a + <usize>i * rowBytes + (<usize>j << 3)) * <f64>((i * 3 + j * 5) % 23 + 1);
  }
  return sum;
}
