// Synchronisation microbenchmark for bench/sync.ts. run(mode, iters, warmUp) times `iters`
// operations with now() on node 0, after `warmUp` untimed ones (each job's threads start with cold
// code). Node 0 returns a pointer to its private record of two f64: the mean cost of one operation
// in µs, and (mode 3) the acquisitions it made out of turn per handoff pair; other nodes return 0.
//   mode 0, barrier: every node calls barrier() in a loop; one empty barrier.
//   mode 1, lock:    node 0 takes and releases lock 0 (its manager is node 0 itself) in a loop,
//                    uncontended, while the others wait at the closing barrier; one lock()+unlock().
//   mode 2, lock:    the same with lock 1, whose manager is node 1 (lock id % nodes): with locks
//                    whose token stays at the last holder only the first call leaves node 0.
//   mode 3, handoff: nodes 0 and 1 pass lock 0 back and forth. A shared turn word makes the
//                    handoff alternate: a node that gets the lock out of turn releases it and asks
//                    again, so those wasted acquisitions count in the cost. The critical section
//                    bumps a shared counter (the data a lock protects moves with it); one handoff
//                    pair (node 0's turn, then node 1's) is timed on node 0 between the ends of its
//                    own turns, so exactly `iters` pairs lie between the two clock readings.
// Node 0 checks the counter after the closing barrier and traps if a turn was lost.
import { nodeId, nodeCount, sharedAlloc, barrier, lock, unlock, now } from "wasm-dsm";

const BARRIER: i32 = 0;
const LOCK_HERE: i32 = 1;
const LOCK_REMOTE: i32 = 2;
const HANDOFF: i32 = 3;

// Keeps node 0's record reachable after run returns, until the host has read it.
let record: StaticArray<f64> | null = null;
let outOfTurn: i32 = 0;

export function run(mode: i32, iters: i32, warmUp: i32): i32 {
  if (mode < BARRIER || mode > HANDOFF) abort("syncbench: mode must be 0 (barrier), 1 or 2 (lock) or 3 (handoff)");
  if (mode >= LOCK_REMOTE && nodeCount() < 2) abort("syncbench: modes 2 and 3 need at least 2 nodes");
  if (iters < 1 || warmUp < 0) abort("syncbench: iters must be at least 1 and warmUp at least 0");
  // turn (i32) at +0, counter (i64) at +8: one page, so it moves with the lock.
  const shared = sharedAlloc(16);
  const out = new StaticArray<f64>(2);
  record = out;
  barrier();
  let perOp: f64 = 0;
  if (mode == BARRIER) perOp = barriers(iters, warmUp);
  else if (mode == HANDOFF) perOp = handoffs(shared, iters, warmUp);
  else if (nodeId() == 0) perOp = locks(mode == LOCK_HERE ? 0 : 1, iters, warmUp);
  barrier();
  if (mode == HANDOFF && nodeId() == 0 && load<i64>(shared + 8) != 2 * <i64>(iters + warmUp)) abort("syncbench: the handoff counter lost an update");
  out[0] = perOp;
  out[1] = <f64>outOfTurn / <f64>iters;
  return nodeId() == 0 ? <i32>changetype<usize>(out) : 0;
}

function barriers(iters: i32, warmUp: i32): f64 {
  for (let i = 0; i < warmUp; i++) barrier();
  const t0 = now();
  for (let i = 0; i < iters; i++) barrier();
  return (now() - t0) / <f64>iters;
}

function locks(id: i32, iters: i32, warmUp: i32): f64 {
  for (let i = 0; i < warmUp; i++) {
    lock(id);
    unlock(id);
  }
  const t0 = now();
  for (let i = 0; i < iters; i++) {
    lock(id);
    unlock(id);
  }
  return (now() - t0) / <f64>iters;
}

function handoffs(shared: usize, iters: i32, warmUp: i32): f64 {
  const id = nodeId();
  if (id > 1) return 0;
  const turns = warmUp + iters;
  // Without a warm-up the clock starts at the end of the first turn, one pair later.
  const start = warmUp > 0 ? warmUp : 1;
  let done = 0;
  let t0: f64 = 0;
  let t1: f64 = 0;
  while (done < turns) {
    lock(0);
    const mine = load<i32>(shared) == id;
    if (mine) {
      store<i64>(shared + 8, load<i64>(shared + 8) + 1);
      store<i32>(shared, 1 - id);
    }
    unlock(0);
    if (!mine && done >= start) outOfTurn++;
    if (mine) {
      done++;
      if (done == start) t0 = now();
      if (done == turns) t1 = now();
    }
  }
  return turns > start ? (t1 - t0) / <f64>(turns - start) : 0;
}
