// Test kernel: reads one word of each of `pages` shared pages in turn, so every read is a fault
// that follows the previous one at once, and returns the sum of the words read.
import { sharedAlloc } from "wasm-dsm";

export function run(pages: i32, offset: i32): i64 {
  const base = sharedAlloc(<usize>pages * 4096);
  let sum: i64 = 0;
  for (let p = 0; p < pages; p++) sum += <i64>load<u32>(base + <usize>p * 4096 + <usize>offset);
  return sum;
}
