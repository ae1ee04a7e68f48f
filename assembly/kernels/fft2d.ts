// Two-dimensional FFT of an n×n array of complex f64 (n = 2^logn, logn 1..12): a radix-2 FFT of
// every row, a transpose into a second array, and a radix-2 FFT of every row again, so the result
// is the 2-D transform, transposed. Params: run(logn). Rows are split evenly across nodes.
// The two arrays take 2 · 16 · 4^logn bytes: logn 10 (32 MiB) is the largest that fits the
// default 64 MiB shared region.
// Stresses all-to-all sharing: in the transpose every node reads a slice of every other node's rows.
// Deterministic for any node count: every row is transformed by one node with one code path, and
// the twiddle factors come from half-angle formulas (+, *, /, sqrt only, no library sin/cos), so
// they are the same bits everywhere; node 0 sums the result in a fixed order.
import { nodeId, nodeCount, sharedAlloc, barrier } from "wasm-dsm";

let twiddleRe = new StaticArray<f64>(0);
let twiddleIm = new StaticArray<f64>(0);

function mix(i: u32): u32 {
  let x = i * 0x9e3779b9 + 0x2545f491;
  x ^= x >>> 16;
  x *= 0x85ebca6b;
  x ^= x >>> 13;
  x *= 0xc2b2ae35;
  x ^= x >>> 16;
  return x;
}

/** w[k] = exp(-2πik/n) for k < n/2: the product of exp(-2πi·2^b/n) over the set bits b of k. */
function makeTwiddles(logn: i32): void {
  const n = 1 << logn;
  // cosines and sines of 2π/2^m for m = 0..logn, by halving the angle from 2π/2 = π.
  const c = new StaticArray<f64>(logn + 1);
  const s = new StaticArray<f64>(logn + 1);
  c[0] = 1.0;
  s[0] = 0.0;
  if (logn >= 1) {
    c[1] = -1.0;
    s[1] = 0.0;
  }
  if (logn >= 2) {
    c[2] = 0.0;
    s[2] = 1.0;
  }
  for (let m = 3; m <= logn; m++) {
    c[m] = Math.sqrt((1.0 + c[m - 1]) * 0.5);
    s[m] = s[m - 1] / (2.0 * c[m]);
  }
  twiddleRe = new StaticArray<f64>(max(n / 2, 1));
  twiddleIm = new StaticArray<f64>(max(n / 2, 1));
  for (let k = 0; k < n / 2; k++) {
    let re: f64 = 1.0;
    let im: f64 = 0.0;
    for (let b = 0; b < logn; b++) {
      if (((k >> b) & 1) == 0) continue;
      // exp(-2πi·2^b/n) = exp(-2πi/2^(logn-b)).
      const wr = c[logn - b];
      const wi = -s[logn - b];
      const t = re * wr - im * wi;
      im = re * wi + im * wr;
      re = t;
    }
    twiddleRe[k] = re;
    twiddleIm[k] = im;
  }
}

/** In-place iterative radix-2 FFT of the n complex values (re, im interleaved) at `row`. */
function fftRow(row: usize, n: i32, logn: i32): void {
  for (let i = 0; i < n; i++) {
    let j = 0;
    for (let b = 0; b < logn; b++) j |= ((i >> b) & 1) << (logn - 1 - b);
    if (j > i) {
      const pi = row + (<usize>i << 4);
      const pj = row + (<usize>j << 4);
      const re = load<f64>(pi);
      const im = load<f64>(pi + 8);
      store<f64>(pi, load<f64>(pj));
      store<f64>(pi + 8, load<f64>(pj + 8));
      store<f64>(pj, re);
      store<f64>(pj + 8, im);
    }
  }
  for (let size = 2; size <= n; size <<= 1) {
    const half = size >> 1;
    const stride = n / size;
    for (let start = 0; start < n; start += size) {
      for (let k = 0; k < half; k++) {
        const wr = twiddleRe[k * stride];
        const wi = twiddleIm[k * stride];
        const pa = row + (<usize>(start + k) << 4);
        const pb = row + (<usize>(start + k + half) << 4);
        const br = load<f64>(pb);
        const bi = load<f64>(pb + 8);
        const tr = br * wr - bi * wi;
        const ti = br * wi + bi * wr;
        const ar = load<f64>(pa);
        const ai = load<f64>(pa + 8);
        store<f64>(pa, ar + tr);
        store<f64>(pa + 8, ai + ti);
        store<f64>(pb, ar - tr);
        store<f64>(pb + 8, ai - ti);
      }
    }
  }
}

export function run(logn: i32): f64 {
  if (logn < 1 || logn > 12) abort("fft2d: logn must be from 1 to 12");
  const n = 1 << logn;
  const rowBytes = <usize>n << 4;
  const a = sharedAlloc(<usize>n * rowBytes);
  const b = sharedAlloc(<usize>n * rowBytes);
  const id = nodeId();
  const nodes = nodeCount();
  const lo = (id * n) / nodes;
  const hi = ((id + 1) * n) / nodes;
  makeTwiddles(logn);
  for (let r = lo; r < hi; r++) {
    for (let c = 0; c < n; c++) {
      const p = a + <usize>r * rowBytes + (<usize>c << 4);
      const h = mix(<u32>(r * n + c));
      store<f64>(p, <f64>(h & 0xffff) / 65536.0 - 0.5);
      store<f64>(p + 8, <f64>(h >>> 16) / 65536.0 - 0.5);
    }
  }
  barrier();
  for (let r = lo; r < hi; r++) fftRow(a + <usize>r * rowBytes, n, logn);
  barrier();
  // Transpose: row r of b is column r of a, which every node's rows contribute to.
  for (let r = lo; r < hi; r++) {
    const out = b + <usize>r * rowBytes;
    for (let c = 0; c < n; c++) {
      const p = a + <usize>c * rowBytes + (<usize>r << 4);
      store<f64>(out + (<usize>c << 4), load<f64>(p));
      store<f64>(out + (<usize>c << 4) + 8, load<f64>(p + 8));
    }
  }
  barrier();
  for (let r = lo; r < hi; r++) fftRow(b + <usize>r * rowBytes, n, logn);
  barrier();
  if (id != 0) return 0;
  let sum: f64 = 0;
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      const p = b + <usize>r * rowBytes + (<usize>c << 4);
      sum += load<f64>(p) * <f64>((r * 7 + c * 3) % 11 + 1) - load<f64>(p + 8) * <f64>((r * 5 + c) % 13 + 1);
    }
  }
  return sum;
}
