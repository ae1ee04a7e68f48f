// Fault-latency probe for bench/fault.ts. run(pages, rounds): each round node 0 rewrites one
// word of each of `pages` shared pages, then (after a barrier) node 1 reads one word of each
// page, timing every read with now() — each read is a remote read fault. Node 1 returns a
// pointer to its private log of latencies in µs (f64, rounds * pages entries); others return 0.
import { nodeId, sharedAlloc, barrier, now } from "wasm-dsm";

let log: StaticArray<f64> | null = null;

export function run(pages: i32, rounds: i32, pageSize: i32): i32 {
  const base = sharedAlloc(<usize>pages * <usize>pageSize);
  const id = nodeId();
  const out = new StaticArray<f64>(pages * rounds);
  log = out;
  let sink: i32 = 0;
  barrier();
  for (let r = 0; r < rounds; r++) {
    if (id == 0) {
      for (let p = 0; p < pages; p++) store<i32>(base + <usize>p * pageSize + 64, r + p);
    }
    barrier();
    if (id == 1) {
      for (let p = 0; p < pages; p++) {
        const t0 = now();
        sink += load<i32>(base + <usize>p * pageSize + 64);
        out[r * pages + p] = now() - t0;
      }
    }
    barrier();
  }
  if (id == 1 && sink < 0) abort("unreachable sink");
  return id == 1 ? <i32>changetype<usize>(out) : 0;
}
