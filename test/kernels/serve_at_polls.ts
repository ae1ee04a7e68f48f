// Test kernel: node 1 fills its block of `pages` shared pages, then computes in a loop until node
// 0 raises a flag, while node 0 reads node 1's pages `rounds` times: every page node 0 misses is
// answered by node 1 at a poll point of that loop (it makes no call of its own meanwhile). Racy
// on purpose (the flag), so not for lrc. Node 0 returns the sum of every value it read.
import { nodeId, sharedAlloc, barrier } from "wasm-dsm";

export function run(pages: i32, rounds: i32): i64 {
  const words = (pages * 4096) >> 2;
  const data = sharedAlloc(<usize>pages * 2 * 4096); // block 0 then block 1 (node 1's)
  const flag = sharedAlloc(2 * 4096); // block 0: node 0's
  const mine = data + <usize>pages * 4096;
  const id = nodeId();
  if (id == 1) for (let i = 0; i < words; i++) store<i32>(mine + (<usize>i << 2), i * 7 + 1);
  barrier();
  let sum: i64 = 0;
  if (id == 1) {
    let spins: i64 = 0;
    while (atomic.load<i32>(flag) == 0) spins++;
    sum = spins > 0 ? 1 : 0;
  } else {
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < words; i++) sum += <i64>load<i32>(mine + (<usize>i << 2));
    }
    atomic.store<i32>(flag, 1);
  }
  barrier();
  return sum;
}
