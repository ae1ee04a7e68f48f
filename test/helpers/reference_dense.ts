/**
 * Plain TypeScript re-implementations of the dense kernels (jacobi, sor, matmul, lu, fft2d) on one
 * node: the same initial values, the same update formulas in the same order, the same checksum.
 * JavaScript doubles and Wasm f64 are both IEEE 754 binary64 with round-to-nearest and a correctly
 * rounded sqrt, so each must reproduce its kernel's result bit for bit.
 */

/** assembly/kernels/jacobi.ts: run(n, iters). */
export function jacobi(n: number, iters: number): number {
  let src = new Float64Array(n * n);
  let dst = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const v = i === 0 || j === 0 || i === n - 1 || j === n - 1 ? 1 : 0;
      src[i * n + j] = v;
      dst[i * n + j] = v;
    }
  }
  for (let t = 0; t < iters; t++) {
    jacobiSweep(src, dst, n, 1, n - 1);
    [src, dst] = [dst, src];
  }
  return rowSumChecksum(src, n);
}

/** One Jacobi sweep of rows lo..hi-1 (interior only) from `src` into `dst`; shared with the baselines' tests. */
export function jacobiSweep(src: Float64Array, dst: Float64Array, n: number, lo: number, hi: number): void {
  for (let i = Math.max(lo, 1); i < Math.min(hi, n - 1); i++) {
    for (let j = 1; j < n - 1; j++) {
      const o = i * n + j;
      dst[o] = 0.25 * (src[o - n] + src[o + n] + src[o - 1] + src[o + 1]);
    }
  }
}

/** The checksum of jacobi.ts and sor.ts: weighted sums per row, then the row sums in row order. */
export function rowSumChecksum(grid: Float64Array, n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) {
    let row = 0;
    for (let j = 0; j < n; j++) row += grid[i * n + j] * (((i * 31 + j * 17) % 97) + 1);
    sum += row;
  }
  return sum;
}

/** assembly/kernels/sor.ts: run(n, iters). */
export function sor(n: number, iters: number): number {
  const omega = 1.5;
  const g = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const border = i === 0 || j === 0 || i === n - 1 || j === n - 1;
      g[i * n + j] = border ? ((i * 7 + j * 3) % 10) * 0.1 : 0;
    }
  }
  for (let t = 0; t < iters; t++) {
    for (let colour = 0; colour < 2; colour++) {
      for (let i = 1; i < n - 1; i++) {
        for (let j = 1; j < n - 1; j++) {
          if ((i + j) % 2 !== colour) continue;
          const o = i * n + j;
          const around = g[o - n] + g[o + n] + g[o - 1] + g[o + 1];
          g[o] = (1 - omega) * g[o] + omega * 0.25 * around;
        }
      }
    }
  }
  return rowSumChecksum(g, n);
}

/** assembly/kernels/matmul.ts: run(n). */
export function matmul(n: number): number {
  const a = new Float64Array(n * n);
  const b = new Float64Array(n * n);
  const c = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      a[i * n + j] = ((i * 7 + j * 3) % 11) - 5;
      b[i * n + j] = ((i * 5 + j * 13) % 17) * 0.5;
    }
  }
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      for (let j = 0; j < n; j++) c[i * n + j] += a[i * n + k] * b[k * n + j];
    }
  }
  let sum = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) sum += c[i * n + j] * (((i + 2 * j) % 7) + 1);
  }
  return sum;
}

/** assembly/kernels/lu.ts: run(n). */
export function lu(n: number): number {
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) a[i * n + j] = ((i * 13 + j * 7) % 19) / 19 - 0.5 + (i === j ? n : 0);
  }
  for (let k = 0; k < n - 1; k++) {
    const pivot = a[k * n + k];
    for (let i = k + 1; i < n; i++) {
      const l = a[i * n + k] / pivot;
      a[i * n + k] = l;
      for (let j = k + 1; j < n; j++) a[i * n + j] = a[i * n + j] - l * a[k * n + j];
    }
  }
  let sum = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) sum += a[i * n + j] * (((i * 3 + j * 5) % 23) + 1);
  }
  return sum;
}

/** The kernels' 32-bit integer hash, with the kernel's constant `add`. */
export function mix32(i: number, add: number): number {
  let x = (Math.imul(i, 0x9e3779b9) + add) >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b) >>> 0;
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35) >>> 0;
  x ^= x >>> 16;
  return x >>> 0;
}

/** assembly/kernels/fft2d.ts: run(logn). */
export function fft2d(logn: number): number {
  const n = 1 << logn;
  const [wr, wi] = twiddles(logn);
  const a = new Float64Array(2 * n * n);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      const h = mix32(r * n + c, 0x2545f491);
      a[2 * (r * n + c)] = (h & 0xffff) / 65536 - 0.5;
      a[2 * (r * n + c) + 1] = (h >>> 16) / 65536 - 0.5;
    }
  }
  for (let r = 0; r < n; r++) fftRow(a.subarray(2 * r * n, 2 * (r + 1) * n), n, logn, wr, wi);
  const b = new Float64Array(2 * n * n);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      b[2 * (r * n + c)] = a[2 * (c * n + r)];
      b[2 * (r * n + c) + 1] = a[2 * (c * n + r) + 1];
    }
  }
  for (let r = 0; r < n; r++) fftRow(b.subarray(2 * r * n, 2 * (r + 1) * n), n, logn, wr, wi);
  let sum = 0;
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      sum += b[2 * (r * n + c)] * (((r * 7 + c * 3) % 11) + 1) - b[2 * (r * n + c) + 1] * (((r * 5 + c) % 13) + 1);
    }
  }
  return sum;
}

function twiddles(logn: number): [Float64Array, Float64Array] {
  const n = 1 << logn;
  const c = new Float64Array(logn + 1);
  const s = new Float64Array(logn + 1);
  c[0] = 1;
  if (logn >= 1) c[1] = -1;
  if (logn >= 2) s[2] = 1;
  for (let m = 3; m <= logn; m++) {
    c[m] = Math.sqrt((1 + c[m - 1]) * 0.5);
    s[m] = s[m - 1] / (2 * c[m]);
  }
  const wr = new Float64Array(Math.max(n / 2, 1));
  const wi = new Float64Array(Math.max(n / 2, 1));
  for (let k = 0; k < n / 2; k++) {
    let re = 1;
    let im = 0;
    for (let b = 0; b < logn; b++) {
      if (((k >> b) & 1) === 0) continue;
      const xr = c[logn - b];
      const xi = -s[logn - b];
      const t = re * xr - im * xi;
      im = re * xi + im * xr;
      re = t;
    }
    wr[k] = re;
    wi[k] = im;
  }
  return [wr, wi];
}

/** In-place radix-2 FFT of n complex values (re, im interleaved). */
function fftRow(row: Float64Array, n: number, logn: number, wr: Float64Array, wi: Float64Array): void {
  for (let i = 0; i < n; i++) {
    let j = 0;
    for (let b = 0; b < logn; b++) j |= ((i >> b) & 1) << (logn - 1 - b);
    if (j > i) {
      [row[2 * i], row[2 * j]] = [row[2 * j], row[2 * i]];
      [row[2 * i + 1], row[2 * j + 1]] = [row[2 * j + 1], row[2 * i + 1]];
    }
  }
  for (let size = 2; size <= n; size <<= 1) {
    const half = size >> 1;
    const stride = n / size;
    for (let start = 0; start < n; start += size) {
      for (let k = 0; k < half; k++) {
        const xr = wr[k * stride];
        const xi = wi[k * stride];
        const pa = 2 * (start + k);
        const pb = 2 * (start + k + half);
        const tr = row[pb] * xr - row[pb + 1] * xi;
        const ti = row[pb] * xi + row[pb + 1] * xr;
        const ar = row[pa];
        const ai = row[pa + 1];
        row[pa] = ar + tr;
        row[pa + 1] = ai + ti;
        row[pb] = ar - tr;
        row[pb + 1] = ai - ti;
      }
    }
  }
}
