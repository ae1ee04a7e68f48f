// Test kernel: node 0 takes lock 0 `times` times, then (after a barrier) node 1 does, then a
// barrier. Returns the number of lock calls made by this node; node 0's result is `times`.
import { nodeId, barrier, lock, unlock } from "wasm-dsm";

export function run(times: i32): i32 {
  const id = nodeId();
  if (id == 0) for (let i = 0; i < times; i++) { lock(0); unlock(0); }
  barrier();
  if (id == 1) for (let i = 0; i < times; i++) { lock(0); unlock(0); }
  barrier();
  return times;
}
