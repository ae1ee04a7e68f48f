// Warm-up for dsm bench: every node writes a stripe of pages, reads another node's stripe, updates a
// lock-protected counter and meets the others at barriers, round after round. It touches the
// protocol's paths a computing kernel takes (read and write faults, invalidations or diffs, locks,
// barriers) on every node, so V8 has compiled them before the measured runs start.
// run(pages, rounds, stride): `pages` pages of `stride` bytes per node, on 2 or more nodes. Node 0
// returns pages·rounds·(rounds−1)/2 + rounds·pages·(pages−1)/2 (the words it read) + rounds·nodes
// (the counter), whichever peers it read.
import { nodeId, nodeCount, sharedAlloc, barrier, lock, unlock } from "wasm-dsm";

export function run(pages: i32, rounds: i32, stride: i32): f64 {
  const id = nodeId();
  const nodes = nodeCount();
  const step = <usize>stride;
  const base = sharedAlloc(<usize>pages * <usize>nodes * step);
  const counter = sharedAlloc(8);
  let sum: f64 = 0;
  barrier();
  for (let r = 0; r < rounds; r++) {
    const mine = base + <usize>(id * pages) * step;
    for (let p = 0; p < pages; p++) store<i32>(mine + <usize>p * step, r + p);
    barrier();
    const peer = nodes > 1 ? (id + 1 + r % (nodes - 1)) % nodes : id;
    const theirs = base + <usize>(peer * pages) * step;
    for (let p = 0; p < pages; p++) sum += <f64>load<i32>(theirs + <usize>p * step);
    lock(0);
    store<i64>(counter, load<i64>(counter) + 1);
    unlock(0);
    barrier();
  }
  return sum + <f64>load<i64>(counter);
}
