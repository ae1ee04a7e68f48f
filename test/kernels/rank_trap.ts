// Test kernel: `iters` barriers in a row; node `failing` traps halfway, so the others are left
// waiting at a barrier for a node that will never come.
import { nodeId, barrier } from "wasm-dsm";

export function run(failing: i32, iters: i32): i32 {
  for (let i = 0; i < iters; i++) {
    if (i == iters / 2 && nodeId() == failing) unreachable();
    barrier();
  }
  return iters;
}
