// Test kernel: a barrier, then a load from shared memory, so a fault follows a sync call.
import { sharedAlloc, barrier } from "wasm-dsm";

export function run(): i32 {
  const base = sharedAlloc(4096);
  barrier();
  return load<i32>(base);
}
