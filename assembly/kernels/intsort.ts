// Parallel LSD radix sort of `keys` pseudo-random integer keys of `bits` bits (1..31), 8 bits per
// pass, generated from `seed`. Params: run(keys, bits, seed).
// Each node owns a contiguous slice of the key array. Per pass: every node counts the digits of its
// slice into its own row of a shared histogram; after a barrier every node reads all rows (prefix
// sums over buckets, then over nodes) to find where its keys go, and scatters them into the other
// array, stably. Stresses all-to-all sharing: all-to-all reads of the histogram rows and scattered
// writes by every node over the whole destination array.
// Deterministic for any node count: key i is a hash of (seed, i), and a stable sort has one result.
// Returns -1 if the final array is not sorted, otherwise a non-negative hash of the sorted keys.
import { nodeId, nodeCount, sharedAlloc, barrier } from "wasm-dsm";

const RADIX_BITS = 8;
const BUCKETS = 1 << RADIX_BITS;

/** A 32-bit mix of (seed, i); the same function as the test's reference. */
function keyAt(seed: u32, i: u32): u32 {
  let x = i * 0x9e3779b9 + seed;
  x ^= x >>> 16;
  x *= 0x85ebca6b;
  x ^= x >>> 13;
  x *= 0xc2b2ae35;
  x ^= x >>> 16;
  return x;
}

export function run(keys: i32, bits: i32, seed: i32): i64 {
  if (keys < 1 || bits < 1 || bits > 31) abort("intsort: need keys >= 1 and 1 <= bits <= 31");
  const id = nodeId();
  const nodes = nodeCount();
  let src = sharedAlloc(<usize>keys << 2);
  let dst = sharedAlloc(<usize>keys << 2);
  const hist = sharedAlloc(<usize>nodes * BUCKETS * 4);
  const lo = <i32>((<i64>id * keys) / nodes);
  const hi = <i32>((<i64>(id + 1) * keys) / nodes);
  const mask: u32 = (<u32>1 << <u32>bits) - 1;
  for (let i = lo; i < hi; i++) store<u32>(src + (<usize>i << 2), keyAt(<u32>seed, <u32>i) & mask);
  const offsets = new StaticArray<i32>(BUCKETS);
  const myRow = hist + <usize>id * BUCKETS * 4;
  const passes = (bits + RADIX_BITS - 1) / RADIX_BITS;
  for (let pass = 0; pass < passes; pass++) {
    const shift = <u32>(pass * RADIX_BITS);
    // Nobody reads this row now: the previous pass ended with a barrier after all reads of it.
    for (let d = 0; d < BUCKETS; d++) store<i32>(myRow + (<usize>d << 2), 0);
    for (let i = lo; i < hi; i++) {
      const d = (load<u32>(src + (<usize>i << 2)) >>> shift) & (BUCKETS - 1);
      const p = myRow + (<usize>d << 2);
      store<i32>(p, load<i32>(p) + 1);
    }
    barrier();
    // Keys with digit d from this node go after all smaller digits, and after digit d of lower nodes.
    let base = 0;
    for (let d = 0; d < BUCKETS; d++) {
      let before = 0;
      let total = 0;
      for (let q = 0; q < nodes; q++) {
        const c = load<i32>(hist + ((<usize>q * BUCKETS + d) << 2));
        if (q < id) before += c;
        total += c;
      }
      offsets[d] = base + before;
      base += total;
    }
    for (let i = lo; i < hi; i++) {
      const key = load<u32>(src + (<usize>i << 2));
      const d = (key >>> shift) & (BUCKETS - 1);
      const at = offsets[d];
      offsets[d] = at + 1;
      store<u32>(dst + (<usize>at << 2), key);
    }
    barrier();
    const tmp = src;
    src = dst;
    dst = tmp;
  }
  if (id != 0) return 0;
  let h: i64 = 0;
  let previous: u32 = 0;
  for (let i = 0; i < keys; i++) {
    const key = load<u32>(src + (<usize>i << 2));
    if (key < previous) return -1;
    previous = key;
    h = h * 1000003 + <i64>key;
  }
  return h & 0x7fffffffffffffff;
}
