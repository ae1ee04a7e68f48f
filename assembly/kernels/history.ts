// Records a history of random reads and writes on shared words, for the linearizability checker
// (src/verify). run(ops, words, seed, phase): every node performs `ops` operations, each on one of
// `words` shared i32 words picked at random, and meets the others at a barrier after every `phase`
// operations (0: only before and after them; with phases only node 0 writes, the others read: a
// producer and its consumers, the sharing that copies dropped and pages pushed at barriers serve); half of the words sit on one shared page and half on the next,
// so both same-page and cross-page traffic occur. Values written are unique and never 0 (the
// initial value): ((nodeId + 1) << 20) | i for the node's i-th operation, so ops must be < 2^20.
//
// Each node logs its own operations in a PRIVATE StaticArray<f64> and returns a pointer to it
// (the first element). The host reads the log from that node's memory after the run. Layout, f64
// little-endian, matched by decodeHistoryLog in src/verify/history_log.ts:
//
//   [0] magic 0x48495354 ("HIST")  [1] nodeId  [2] ops  [3] words
//   then ops records of 5 f64:  kind (0 read, 1 write), byte address, value, start µs, end µs
//
// start and end are now() taken right before and right after the access, so the interval covers
// any fault the access takes.
import { nodeId, sharedAlloc, barrier, now } from "wasm-dsm";

const MAGIC: f64 = 0x48495354;
const HEADER: i32 = 4;
const RECORD: i32 = 5;

// Keeps the log reachable after run returns, so nothing reclaims it before the host reads it.
let log: StaticArray<f64> | null = null;

export function run(ops: i32, words: i32, seed: i32, phase: i32): i32 {
  if (ops < 0 || ops >= 1 << 20) abort("history: ops must be from 0 to 2^20 - 1");
  if (words < 1) abort("history: words must be at least 1");
  if (phase < 0) abort("history: phase must be 0 or more");
  const half = (words + 1) >> 1;
  const low = sharedAlloc(<usize>half << 2);
  const high = sharedAlloc(<usize>max(words - half, 1) << 2);
  const id = nodeId();
  const out = new StaticArray<f64>(HEADER + ops * RECORD);
  log = out;
  out[0] = MAGIC;
  out[1] = <f64>id;
  out[2] = <f64>ops;
  out[3] = <f64>words;
  let s: u32 = (<u32>seed * 0x9e3779b1) ^ (<u32>(id + 1) * 0x85ebca6b);
  if (s == 0) s = 1;
  barrier();
  for (let i = 0; i < ops; i++) {
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    const w = <i32>((s >> 8) % <u32>words);
    const address: usize = w < half ? low + (<usize>w << 2) : high + (<usize>(w - half) << 2);
    const write = (s & 1) != 0 && (phase == 0 || id == 0);
    let value: i32;
    let start: f64;
    let end: f64;
    if (write) {
      value = ((id + 1) << 20) | i;
      start = now();
      store<i32>(address, value);
      end = now();
    } else {
      start = now();
      value = load<i32>(address);
      end = now();
    }
    const r = HEADER + i * RECORD;
    out[r] = write ? 1.0 : 0.0;
    out[r + 1] = <f64>address;
    out[r + 2] = <f64>value;
    out[r + 3] = start;
    out[r + 4] = end;
    if (phase > 0 && (i + 1) % phase == 0) barrier();
  }
  barrier();
  return <i32>changetype<usize>(out);
}
