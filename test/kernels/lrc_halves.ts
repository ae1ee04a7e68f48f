// Test kernel: every node writes its own contiguous slice of one shared page (i32 words) at the same
// time, `rounds` times, with a barrier after each round; then node 0 reads the whole page. Each
// word w ends as w * 7 + rounds, so the checksum does not depend on the node count.
import { nodeId, nodeCount, sharedAlloc, barrier } from "wasm-dsm";

export function run(words: i32, rounds: i32): i64 {
  const base = sharedAlloc(<usize>words * 4);
  const id = nodeId();
  const nodes = nodeCount();
  const lo = (id * words) / nodes;
  const hi = ((id + 1) * words) / nodes;
  barrier();
  for (let r = 1; r <= rounds; r++) {
    for (let w = lo; w < hi; w++) store<i32>(base + (<usize>w << 2), w * 7 + r);
    barrier();
  }
  if (id != 0) return 0;
  let h: i64 = 0;
  for (let w = 0; w < words; w++) h = h * 31 + <i64>load<i32>(base + (<usize>w << 2));
  return h;
}
