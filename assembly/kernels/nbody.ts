// Gravitational N-body simulation (softened, unit masses, semi-implicit Euler steps) of `bodies`
// bodies for `steps` time steps, in the style of SPLASH Water: pairwise forces with Newton's third
// law, accumulated into a shared force array under locks. Params: run(bodies, steps).
// Per step: each node computes the pairs (i, j > i) for the bodies i it owns cyclically (i % nodes),
// adding each pair's force to i and its opposite to j in a private array; then adds the private
// array into the shared one block by block, each block under its own lock; after a barrier each
// node moves the contiguous block of bodies it owns and clears their forces.
// Stresses lock-protected accumulation into shared data written by every node (migratory blocks
// with several writers) and read-all sharing of the positions.
// Deterministic for any node count: a pair's force is computed by one node with one formula and
// turned into 2^-24 fixed point (truncated) before it is added, so the sums are integer sums,
// exact in any order; positions are then updated from those sums by one node each.
import { nodeId, nodeCount, sharedAlloc, barrier, lock, unlock } from "wasm-dsm";

/** Bodies per force block, and per lock. */
const BLOCK = 32;
const SCALE: f64 = 16777216.0; // 2^24
const SOFTENING: f64 = 0.01;
const DT: f64 = 0.001;

function mix(i: u32): u32 {
  let x = i * 0x9e3779b9 + 0x1234567;
  x ^= x >>> 16;
  x *= 0x85ebca6b;
  x ^= x >>> 13;
  x *= 0xc2b2ae35;
  x ^= x >>> 16;
  return x;
}

/** A coordinate in [0, 1) from a hash, exact in f64. */
function unit(i: u32): f64 {
  return <f64>(mix(i) >>> 8) / 16777216.0;
}

export function run(bodies: i32, steps: i32): f64 {
  const id = nodeId();
  const nodes = nodeCount();
  // Positions and velocities: 3 f64 per body; forces: 3 i64 per body in fixed point.
  const pos = sharedAlloc(<usize>bodies * 24);
  const vel = sharedAlloc(<usize>bodies * 24);
  const force = sharedAlloc(<usize>bodies * 24);
  const lo = (id * bodies) / nodes;
  const hi = ((id + 1) * bodies) / nodes;
  for (let i = lo; i < hi; i++) {
    for (let k = 0; k < 3; k++) {
      store<f64>(pos + (<usize>(i * 3 + k) << 3), unit(<u32>(i * 3 + k)));
      store<f64>(vel + (<usize>(i * 3 + k) << 3), 0.0);
    }
  }
  const mine = new StaticArray<i64>(bodies * 3);
  barrier();
  for (let t = 0; t < steps; t++) {
    for (let k = 0; k < bodies * 3; k++) mine[k] = 0;
    for (let i = id; i < bodies; i += nodes) {
      const pi = pos + <usize>i * 24;
      const xi = load<f64>(pi);
      const yi = load<f64>(pi + 8);
      const zi = load<f64>(pi + 16);
      for (let j = i + 1; j < bodies; j++) {
        const pj = pos + <usize>j * 24;
        const dx = load<f64>(pj) - xi;
        const dy = load<f64>(pj + 8) - yi;
        const dz = load<f64>(pj + 16) - zi;
        const r2 = dx * dx + dy * dy + dz * dz + SOFTENING;
        const s = SCALE / (r2 * Math.sqrt(r2));
        const fx = <i64>(dx * s);
        const fy = <i64>(dy * s);
        const fz = <i64>(dz * s);
        mine[i * 3] += fx;
        mine[i * 3 + 1] += fy;
        mine[i * 3 + 2] += fz;
        mine[j * 3] -= fx;
        mine[j * 3 + 1] -= fy;
        mine[j * 3 + 2] -= fz;
      }
    }
    // Blocks in a node-dependent order, so nodes start on different locks.
    const blocks = (bodies + BLOCK - 1) / BLOCK;
    for (let b0 = 0; b0 < blocks; b0++) {
      const b = (b0 + id) % blocks;
      const first = b * BLOCK;
      const last = min(first + BLOCK, bodies);
      lock(b);
      for (let k = first * 3; k < last * 3; k++) {
        const p = force + (<usize>k << 3);
        store<i64>(p, load<i64>(p) + mine[k]);
      }
      unlock(b);
    }
    barrier();
    for (let i = lo; i < hi; i++) {
      for (let k = 0; k < 3; k++) {
        const at = <usize>(i * 3 + k) << 3;
        const v = load<f64>(vel + at) + (<f64>load<i64>(force + at) / SCALE) * DT;
        store<f64>(vel + at, v);
        store<f64>(pos + at, load<f64>(pos + at) + v * DT);
        store<i64>(force + at, 0);
      }
    }
    barrier();
  }
  if (id != 0) return 0;
  let sum: f64 = 0;
  for (let k = 0; k < bodies * 3; k++) {
    sum += load<f64>(pos + (<usize>k << 3)) * <f64>(k % 13 + 1) + load<f64>(vel + (<usize>k << 3)) * <f64>(k % 7 + 1);
  }
  return sum;
}
