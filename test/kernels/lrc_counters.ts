// Test kernel: `counters` lock-protected counters packed into one page, each under its own lock,
// incremented `times` times by every node in a node-dependent order, then read by node 0 after a
// barrier. Race-free, so under any protocol the result is exact: the sum over counters c of
// (c + 1) * times * nodes, returned as a checksum that also weighs each counter by its index.
import { nodeId, nodeCount, sharedAlloc, barrier, lock, unlock } from "wasm-dsm";

export function run(counters: i32, times: i32): i64 {
  const base = sharedAlloc(<usize>counters * 8);
  barrier();
  const id = nodeId();
  for (let t = 0; t < times; t++) {
    for (let k = 0; k < counters; k++) {
      const c = (k + id + t) % counters;
      lock(c);
      const p = base + (<usize>c << 3);
      store<i64>(p, load<i64>(p) + <i64>(c + 1));
      unlock(c);
    }
  }
  barrier();
  if (id != 0) return 0;
  let h: i64 = 0;
  for (let c = 0; c < counters; c++) h = h * 1000 + load<i64>(base + (<usize>c << 3)) / <i64>(c + 1);
  return h * 1000 + <i64>nodeCount();
}
