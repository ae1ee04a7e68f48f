// Dense matrix multiply C = A·B of n×n f64 matrices, rows of C split evenly across nodes.
// Stresses read-mostly sharing: every node reads all of B and its own rows of A.
import { nodeId, nodeCount, sharedAlloc, barrier } from "wasm-dsm";

export function run(n: i32): f64 {
  const bytes = <usize>n * <usize>n * 8;
  const a = sharedAlloc(bytes);
  const b = sharedAlloc(bytes);
  const c = sharedAlloc(bytes);
  const id = nodeId();
  const nodes = nodeCount();
  if (id == 0) {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        store<f64>(a + ((<usize>i * n + j) << 3), <f64>((i * 7 + j * 3) % 11) - 5.0);
        store<f64>(b + ((<usize>i * n + j) << 3), <f64>((i * 5 + j * 13) % 17) * 0.5);
      }
    }
  }
  barrier();
  const lo = (id * n) / nodes;
  const hi = ((id + 1) * n) / nodes;
  for (let i = lo; i < hi; i++) {
    const ci = c + (<usize>i * n << 3);
    const ai = a + (<usize>i * n << 3);
    for (let k = 0; k < n; k++) {
      const aik = load<f64>(ai + (<usize>k << 3));
      const bk = b + (<usize>k * n << 3);
      for (let j = 0; j < n; j++) {
        const o = <usize>j << 3;
        store<f64>(ci + o, load<f64>(ci + o) + aik * load<f64>(bk + o));
      }
    }
  }
  barrier();
  if (id != 0) return 0;
  let sum: f64 = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) sum += load<f64>(c + ((<usize>i * n + j) << 3)) * <f64>((i + 2 * j) % 7 + 1);
  }
  return sum;
}
