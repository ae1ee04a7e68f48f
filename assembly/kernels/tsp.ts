// Travelling salesman by branch and bound over `cities` cities (4..24) with integer coordinates
// hashed from `seed` and rounded Euclidean distances. Params: run(cities, seed). Returns the length
// of an optimal tour, which does not depend on the node count or on who explored what.
// Shared state, as in the TreadMarks TSP: a stack of partial tours (lock 0, with a count of nodes
// still expanding entries) and the best tour length found so far (lock 1). A node pops a partial
// tour; a short one is expanded into its children, pushed back onto the stack; a long one is
// finished by a private depth-first search pruned by the best length it read when it popped.
// Stresses lock-protected migratory data (the stack and its counters move from node to node with
// the locks) and a shared bound read by everyone and written rarely. Between the first and the last
// barrier every shared word is touched only while holding its lock, so the kernel is correct under
// release consistency too.
import { nodeId, sharedAlloc, barrier, lock, unlock } from "wasm-dsm";

const MAX_CITIES = 24;
/** Partial tours of at most SPLIT cities are expanded onto the stack; longer ones are solved by search(). */
const SPLIT = 2;
const STACK_LOCK = 0;
const BEST_LOCK = 1;
/** One stack entry: [count, length, city 0, city 1, ...], i32 words. */
const ENTRY_WORDS = MAX_CITIES + 2;
const ENTRY_BYTES = <usize>ENTRY_WORDS << 2;

let n = 0;
let dist = new StaticArray<i32>(0);
/** minOut[c]: the shortest edge leaving city c, for the lower bound. */
let minOut = new StaticArray<i32>(0);
/** nearest[a * n + k]: the k-th nearest other city to a (ties by index), the search order. */
let nearest = new StaticArray<i32>(0);
let path = new StaticArray<i32>(MAX_CITIES);
let visited = new StaticArray<bool>(MAX_CITIES);
let bound = 0;

function mix(seed: u32, i: u32): u32 {
  let x = i * 0x9e3779b9 + seed;
  x ^= x >>> 16;
  x *= 0x85ebca6b;
  x ^= x >>> 13;
  x *= 0xc2b2ae35;
  x ^= x >>> 16;
  return x;
}

function setUp(cities: i32, seed: i32): void {
  n = cities;
  const xs = new StaticArray<i32>(n);
  const ys = new StaticArray<i32>(n);
  for (let c = 0; c < n; c++) {
    xs[c] = <i32>(mix(<u32>seed, <u32>(2 * c)) % 1000);
    ys[c] = <i32>(mix(<u32>seed, <u32>(2 * c + 1)) % 1000);
  }
  dist = new StaticArray<i32>(n * n);
  minOut = new StaticArray<i32>(n);
  for (let a = 0; a < n; a++) {
    let least = i32.MAX_VALUE;
    for (let b = 0; b < n; b++) {
      const dx = <f64>(xs[a] - xs[b]);
      const dy = <f64>(ys[a] - ys[b]);
      const d = <i32>Math.floor(Math.sqrt(dx * dx + dy * dy) + 0.5);
      dist[a * n + b] = d;
      if (a != b && d < least) least = d;
    }
    minOut[a] = least;
  }
  nearest = new StaticArray<i32>(n * n);
  for (let a = 0; a < n; a++) {
    let count = 0;
    for (let b = 0; b < n; b++) {
      if (b == a) continue;
      // Insertion sort by (distance, index).
      let k = count++;
      while (k > 0 && dist[a * n + nearest[a * n + k - 1]] > dist[a * n + b]) {
        nearest[a * n + k] = nearest[a * n + k - 1];
        k--;
      }
      nearest[a * n + k] = b;
    }
  }
}

/** The nearest-neighbour tour from city 0: the first bound, so no node starts from infinity. */
function greedyTour(): i32 {
  for (let c = 0; c < n; c++) visited[c] = false;
  visited[0] = true;
  let here = 0;
  let len = 0;
  for (let step = 1; step < n; step++) {
    let k = 0;
    while (visited[nearest[here * n + k]]) k++;
    const c = nearest[here * n + k];
    len += dist[here * n + c];
    visited[c] = true;
    here = c;
  }
  return len + dist[here * n];
}

/** Best completion of path[0..depth) (length `len`, `rest` = sum of minOut over unvisited cities). */
function search(depth: i32, len: i32, rest: i32): void {
  const here = path[depth - 1];
  if (depth == n) {
    const total = len + dist[here * n];
    if (total < bound) bound = total;
    return;
  }
  // Every unvisited city and the current one must still be left once.
  if (len + rest + minOut[here] >= bound) return;
  for (let k = 0; k < n - 1; k++) {
    const c = nearest[here * n + k];
    if (visited[c]) continue;
    const next = len + dist[here * n + c];
    if (next >= bound) continue;
    visited[c] = true;
    path[depth] = c;
    search(depth + 1, next, rest - minOut[c]);
    visited[c] = false;
  }
}

/** Loads a stack entry's cities into path/visited. */
function loadEntry(entry: usize): void {
  const count = load<i32>(entry);
  for (let c = 0; c < n; c++) visited[c] = false;
  for (let k = 0; k < count; k++) {
    const c = load<i32>(entry + (<usize>(k + 2) << 2));
    path[k] = c;
    visited[c] = true;
  }
}

function restOf(): i32 {
  let rest = 0;
  for (let c = 0; c < n; c++) if (!visited[c]) rest += minOut[c];
  return rest;
}

export function run(cities: i32, seed: i32): i64 {
  if (cities < 4 || cities > MAX_CITIES) abort("tsp: cities must be from 4 to 24");
  setUp(cities, seed);
  // Capacity: the stack never holds more entries than ever get pushed: the root and every partial
  // tour of 2..SPLIT + 1 cities.
  let capacity = 1;
  let level = 1;
  for (let k = 1; k <= SPLIT; k++) {
    level *= n - k;
    capacity += level;
  }
  const control = sharedAlloc(16); // [top, expanding]
  const best = sharedAlloc(8);
  const stack = sharedAlloc(<usize>capacity * ENTRY_BYTES);
  const local = new StaticArray<i32>(ENTRY_WORDS);
  if (nodeId() == 0) {
    store<i32>(best, greedyTour());
    store<i32>(stack, 1);
    store<i32>(stack + 4, 0);
    store<i32>(stack + 8, 0);
    store<i32>(control, 1);
  }
  barrier();
  while (true) {
    lock(STACK_LOCK);
    const top = load<i32>(control);
    const expanding = load<i32>(control + 4);
    if (top == 0) {
      unlock(STACK_LOCK);
      if (expanding == 0) break;
      continue; // another node may still push children
    }
    const entry = stack + <usize>(top - 1) * ENTRY_BYTES;
    for (let w = 0; w < ENTRY_WORDS; w++) local[w] = load<i32>(entry + (<usize>w << 2));
    store<i32>(control, top - 1);
    const count = local[0];
    const expandable = count <= SPLIT && count < n;
    if (expandable) store<i32>(control + 4, expanding + 1);
    unlock(STACK_LOCK);
    lock(BEST_LOCK);
    bound = load<i32>(best);
    unlock(BEST_LOCK);
    loadEntry(changetype<usize>(local));
    if (expandable) {
      expand(control, stack, count, local[1]);
    } else {
      const before = bound;
      search(count, local[1], restOf());
      if (bound < before) {
        lock(BEST_LOCK);
        if (bound < load<i32>(best)) store<i32>(best, bound);
        unlock(BEST_LOCK);
      }
    }
  }
  barrier();
  return nodeId() == 0 ? <i64>load<i32>(best) : 0;
}

/** Pushes the children of path[0..count) worth exploring; children pop in increasing city order. */
function expand(control: usize, stack: usize, count: i32, len: i32): void {
  const here = path[count - 1];
  const rest = restOf();
  lock(STACK_LOCK);
  let top = load<i32>(control);
  for (let c = n - 1; c >= 1; c--) {
    if (visited[c]) continue;
    const next = len + dist[here * n + c];
    // The child's bound as in search(): next + (rest - minOut[c]) + minOut[c].
    if (next + rest >= bound) continue;
    const entry = stack + <usize>top * ENTRY_BYTES;
    store<i32>(entry, count + 1);
    store<i32>(entry + 4, next);
    for (let k = 0; k < count; k++) store<i32>(entry + (<usize>(k + 2) << 2), path[k]);
    store<i32>(entry + (<usize>(count + 2) << 2), c);
    top++;
  }
  store<i32>(control, top);
  store<i32>(control + 4, load<i32>(control + 4) - 1);
  unlock(STACK_LOCK);
}
