// Test kernel: every node but the last increments one lock-protected counter `times` times; the
// last node only meets the others at the barriers. Each increment is an interval with a write, so
// at the second barrier the last node lacks all (nodes - 1) * times of them: under lrc its barrier
// release names every one (about 50 bytes each), past NATS' 1 MiB from ~21,000 on. Every node
// returns the counter, (nodes - 1) * times.
import { nodeId, nodeCount, sharedAlloc, barrier, lock, unlock } from "wasm-dsm";

export function run(times: i32): i64 {
  const counter = sharedAlloc(8);
  barrier();
  if (nodeId() != nodeCount() - 1) {
    for (let t = 0; t < times; t++) {
      lock(0);
      store<i64>(counter, load<i64>(counter) + 1);
      unlock(0);
    }
  }
  barrier();
  return load<i64>(counter);
}
