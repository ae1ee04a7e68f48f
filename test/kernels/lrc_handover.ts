// Test kernel: the slices of `words` shared i32 words change hands. For `rounds` barrier phases each
// node writes its own slice; then each node takes the next node's slice: it first writes every
// other word of it without reading any, then for `rounds` more phases adds to every word what it
// reads there. Then node 0 reads all. The checksum does not depend on the node count.
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
  const next = (id + 1) % nodes;
  const nlo = (next * words) / nodes;
  const nhi = ((next + 1) * words) / nodes;
  for (let w = nlo; w < nhi; w++) if ((w & 1) == 0) store<i32>(base + (<usize>w << 2), w * 5);
  barrier();
  for (let r = 1; r <= rounds; r++) {
    for (let w = nlo; w < nhi; w++) store<i32>(base + (<usize>w << 2), load<i32>(base + (<usize>w << 2)) * 3 + r);
    barrier();
  }
  if (id != 0) return 0;
  let h: i64 = 0;
  for (let w = 0; w < words; w++) h = h * 31 + <i64>load<i32>(base + (<usize>w << 2));
  return h;
}
