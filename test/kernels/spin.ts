// Test kernel: increments a shared counter `n` times in a tight loop, and a second counter on
// another page, so that a host taking pages away at poll points would lose writes if the parking
// invariant were broken. Returns both counters.
import { sharedAlloc } from "wasm-dsm";

export function run(n: i32): i64 {
  const a = sharedAlloc(4096);
  const b = sharedAlloc(4096);
  for (let i = 0; i < n; i++) {
    store<i32>(a, load<i32>(a) + 1);
    store<i32>(b + 64, load<i32>(b + 64) + 2);
  }
  return (<i64>load<i32>(a) << 32) | <i64>load<i32>(b + 64);
}
