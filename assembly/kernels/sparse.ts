// Sparse-update microbenchmark over `pages` blocks of 4096 bytes (512 i64 words; the default DSM
// page size) for `rounds` rounds. Params: run(pages, rounds).
// Each round has two phases. Write: block g is updated by node (g + round) % nodes, which changes
// only WORDS words of it (at positions hashed from the round and the block). Barrier. Read: every
// node reads those WORDS words of every block and folds them into a private sum. Barrier.
// Stresses small updates to many pages between reads by all other nodes: a protocol that ships
// whole pages moves 4 KiB per page and reader; one that ships diffs moves a few words.
// Deterministic for any node count: the new value of a word depends only on its old value, the
// round and the block, not on which node writes it; node 0 returns its sum of everything it read,
// hashed with the final contents, as a non-negative i64.
import { nodeId, nodeCount, sharedAlloc, barrier } from "wasm-dsm";

const BLOCK_BYTES: usize = 4096;
const BLOCK_WORDS: u32 = 512;
const WORDS = 4;

function mix(a: u32, b: u32): u32 {
  let x = a * 0x9e3779b9 + b * 0x7f4a7c15 + 0x165667b1;
  x ^= x >>> 16;
  x *= 0x85ebca6b;
  x ^= x >>> 13;
  x *= 0xc2b2ae35;
  x ^= x >>> 16;
  return x;
}

/** Byte offset, inside its block, of the w-th word changed in block g in round r. */
function slot(r: i32, g: i32, w: i32): usize {
  return <usize>(mix(<u32>(r * WORDS + w), <u32>g) % BLOCK_WORDS) << 3;
}

export function run(pages: i32, rounds: i32): i64 {
  const id = nodeId();
  const nodes = nodeCount();
  const data = sharedAlloc(<usize>pages * BLOCK_BYTES);
  let seen: i64 = 0;
  barrier();
  for (let r = 0; r < rounds; r++) {
    for (let g = 0; g < pages; g++) {
      if ((g + r) % nodes != id) continue;
      const block = data + <usize>g * BLOCK_BYTES;
      for (let w = 0; w < WORDS; w++) {
        const p = block + slot(r, g, w);
        store<i64>(p, load<i64>(p) * 7 + <i64>(r * 1009 + g * 13 + w + 1));
      }
    }
    barrier();
    for (let g = 0; g < pages; g++) {
      const block = data + <usize>g * BLOCK_BYTES;
      for (let w = 0; w < WORDS; w++) seen = seen * 31 + load<i64>(block + slot(r, g, w));
    }
    barrier();
  }
  if (id != 0) return 0;
  let h = seen;
  for (let k: usize = 0; k < <usize>pages * (BLOCK_BYTES >> 3); k++) h = h * 1000003 + load<i64>(data + (k << 3));
  return h & 0x7fffffffffffffff;
}
