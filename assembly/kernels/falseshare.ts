// False-sharing microbenchmark: every node owns `words` 64-bit words, interleaved with the other
// nodes' words (word k of node p sits at index k * nodes + p), so every page is written by every
// node. Each of `rounds` rounds, every node updates all its words, then all nodes meet at a barrier.
// Params: run(words, rounds). Nobody ever reads another node's word, so all sharing is false:
// a protocol with one writer per page moves pages back and forth; one with multiple writers merges.
// Deterministic for any node count: word k of every node goes through the same sequence of values
// (a function of k and the round only); node 0 checks that all nodes' copies of word k agree
// (returns -1 if not) and returns a non-negative hash of the words of one node.
import { nodeId, nodeCount, sharedAlloc, barrier } from "wasm-dsm";

export function run(words: i32, rounds: i32): i64 {
  const id = nodeId();
  const nodes = nodeCount();
  const data = sharedAlloc(<usize>words * <usize>nodes * 8);
  barrier();
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < words; k++) {
      const p = data + ((<usize>k * nodes + id) << 3);
      store<i64>(p, load<i64>(p) * 31 + <i64>k + <i64>r);
    }
    barrier();
  }
  if (id != 0) return 0;
  let h: i64 = 0;
  for (let k = 0; k < words; k++) {
    const v = load<i64>(data + (<usize>k * nodes << 3));
    for (let q = 1; q < nodes; q++) {
      if (load<i64>(data + ((<usize>k * nodes + q) << 3)) != v) return -1;
    }
    h = h * 1000003 + v;
  }
  return h & 0x7fffffffffffffff;
}
