// Mostly private work: each node generates pseudo-random words into a private StaticArray, counts
// letter-pair frequencies in a private table, and adds its table into a shared one under a lock.
// Measures what the access checks cost on private-heap code.
import { nodeId, nodeCount, sharedAlloc, barrier, lock, unlock } from "wasm-dsm";

export function run(words: i32, rounds: i32): i64 {
  const shared = sharedAlloc(26 * 26 * 8);
  const id = nodeId();
  const counts = new StaticArray<i64>(26 * 26);
  const text = new StaticArray<u8>(words * 8);
  // Round r belongs to node r % nodeCount(), so the totals do not depend on the node count.
  for (let r = id; r < rounds; r += nodeCount()) {
    let seed: u32 = 12345 + <u32>r * 7919;
    for (let i = 0; i < text.length; i++) {
      seed = seed * 1103515245 + 12345;
      text[i] = <u8>(97 + (seed >> 16) % 26);
    }
    for (let i = 0; i + 1 < text.length; i++) {
      counts[(<i32>text[i] - 97) * 26 + (<i32>text[i + 1] - 97)] += 1;
    }
  }
  lock(0);
  for (let k = 0; k < 26 * 26; k++) {
    const p = shared + (<usize>k << 3);
    store<i64>(p, load<i64>(p) + counts[k]);
  }
  unlock(0);
  barrier();
  if (id != 0) return 0;
  let h: i64 = 0;
  for (let k = 0; k < 26 * 26; k++) h = h * 31 + load<i64>(shared + (<usize>k << 3));
  return h;
}
