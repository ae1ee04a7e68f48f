// bench:checkpoint's kernel: a shared array of `mib` MiB, every byte non-zero. Each node writes
// its block of the array (block k of the allocation, as the "allocation" placement cuts it),
// `rounds` times, with a barrier after each round (and none before the first, so the first
// barrier's checkpoint is of the whole array written).
// Params: run(mib, rounds). Returns node 0's sum of the first word of every page.
import { nodeId, nodeCount, sharedAlloc, barrier } from "wasm-dsm";

export function run(mib: i32, rounds: i32): i64 {
  const bytes = <usize>mib << 20;
  const data = sharedAlloc(bytes);
  const words = bytes >> 3;
  const nodes = <usize>nodeCount();
  const lo = (words * <usize>nodeId()) / nodes;
  const hi = (words * (<usize>nodeId() + 1)) / nodes;
  for (let r = 0; r < rounds; r++) {
    for (let w = lo; w < hi; w++) store<i64>(data + (w << 3), <i64>w * 2654435761 + <i64>r + 1);
    barrier();
  }
  if (nodeId() != 0) return 0;
  let sum: i64 = 0;
  for (let w: usize = 0; w < words; w += 512) sum += load<i64>(data + (w << 3));
  return sum;
}
