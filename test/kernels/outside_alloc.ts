// Test kernel: node 1 reads shared memory two pages past the only allocation (a kernel bug), while
// node 0 goes on to the final barrier. Under allocation placement that page has no manager.
import { nodeId, sharedAlloc, barrier } from "wasm-dsm";

export function run(): i32 {
  const a = sharedAlloc(4096);
  barrier();
  if (nodeId() == 1) return load<i32>(a + 8192);
  return 0;
}
