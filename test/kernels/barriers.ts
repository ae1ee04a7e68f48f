// Test and bench kernel: `n` barriers in a row; with one node this times the mailbox round trip.
import { barrier } from "wasm-dsm";

export function run(n: i32): i32 {
  for (let i = 0; i < n; i++) barrier();
  return n;
}
