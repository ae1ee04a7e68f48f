// Test kernel: a barrier-phased 1-D stencil over `n` i64 cells for `steps` steps. Each step, every
// node computes its block of the next array from its block and one neighbour cell on each side of
// the current one (read from another node's pages), then all meet at a barrier. Integer arithmetic,
// so every node count gives the same checksum as one node.
import { nodeId, nodeCount, sharedAlloc, barrier } from "wasm-dsm";

export function run(n: i32, steps: i32): i64 {
  let src = sharedAlloc(<usize>n * 8);
  let dst = sharedAlloc(<usize>n * 8);
  const id = nodeId();
  const nodes = nodeCount();
  const lo = (id * n) / nodes;
  const hi = ((id + 1) * n) / nodes;
  for (let i = lo; i < hi; i++) store<i64>(src + (<usize>i << 3), <i64>((i * 7919) % 1000));
  barrier();
  for (let t = 0; t < steps; t++) {
    for (let i = lo; i < hi; i++) {
      const left = i > 0 ? load<i64>(src + (<usize>(i - 1) << 3)) : 0;
      const right = i < n - 1 ? load<i64>(src + (<usize>(i + 1) << 3)) : 0;
      const here = load<i64>(src + (<usize>i << 3));
      store<i64>(dst + (<usize>i << 3), (left + 2 * here + right + <i64>t) % 1000003);
    }
    barrier();
    const tmp = src;
    src = dst;
    dst = tmp;
  }
  if (id != 0) return 0;
  let h: i64 = 0;
  for (let i = 0; i < n; i++) h = (h * 31 + load<i64>(src + (<usize>i << 3))) % 0x7fffffffffff;
  return h;
}
