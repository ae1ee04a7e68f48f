/*
 * Two-dimensional FFT of an n×n array of complex doubles (n = 2^logn, logn 1..12): the C twin of
 * ../fft2d.ts, giving the same checksum bit for bit on any number of nodes. A radix-2 FFT of
 * every row, a transpose into a second array, and a radix-2 FFT of every row again; rows are
 * split evenly across nodes, and node 0 sums the result in a fixed order.
 * Bit-equal to the AssemblyScript kernel because every floating-point operation is the same one
 * in the same order (WebAssembly has no fused multiply-add, and this build no SIMD): the twiddle
 * factors come from the same half-angle formulas, the butterflies and the checksum keep the
 * AssemblyScript expressions' shape.
 */
#include <stdint.h>
#include <wasm_dsm.h>

#define MAX_LOGN 12

/* exp(-2πik/n) for k < n/2; private to each node. */
static double twiddle_re[1 << (MAX_LOGN - 1)];
static double twiddle_im[1 << (MAX_LOGN - 1)];

/* A 32-bit mix of i: the same function as the AssemblyScript kernel's. */
static uint32_t mix(uint32_t i) {
  uint32_t x = i * 0x9e3779b9u + 0x2545f491u;
  x ^= x >> 16;
  x *= 0x85ebca6bu;
  x ^= x >> 13;
  x *= 0xc2b2ae35u;
  x ^= x >> 16;
  return x;
}

/* w[k] = exp(-2πik/n) for k < n/2: the product of exp(-2πi·2^b/n) over the set bits b of k. */
static void make_twiddles(int logn) {
  int n = 1 << logn;
  /* cosines and sines of 2π/2^m for m = 0..logn, by halving the angle from 2π/2 = π. */
  double c[MAX_LOGN + 1];
  double s[MAX_LOGN + 1];
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
  for (int m = 3; m <= logn; m++) {
    c[m] = __builtin_sqrt((1.0 + c[m - 1]) * 0.5);
    s[m] = s[m - 1] / (2.0 * c[m]);
  }
  for (int k = 0; k < n / 2; k++) {
    double re = 1.0;
    double im = 0.0;
    for (int b = 0; b < logn; b++) {
      if (((k >> b) & 1) == 0) continue;
      double wr = c[logn - b];
      double wi = -s[logn - b];
      double t = re * wr - im * wi;
      im = re * wi + im * wr;
      re = t;
    }
    twiddle_re[k] = re;
    twiddle_im[k] = im;
  }
}

/* In-place iterative radix-2 FFT of the n complex values (re, im interleaved) at `row`. */
static void fft_row(double *row, int n, int logn) {
  for (int i = 0; i < n; i++) {
    int j = 0;
    for (int b = 0; b < logn; b++) j |= ((i >> b) & 1) << (logn - 1 - b);
    if (j > i) {
      double re = row[2 * i];
      double im = row[2 * i + 1];
      row[2 * i] = row[2 * j];
      row[2 * i + 1] = row[2 * j + 1];
      row[2 * j] = re;
      row[2 * j + 1] = im;
    }
  }
  for (int size = 2; size <= n; size <<= 1) {
    int half = size >> 1;
    int stride = n / size;
    for (int start = 0; start < n; start += size) {
      for (int k = 0; k < half; k++) {
        double wr = twiddle_re[k * stride];
        double wi = twiddle_im[k * stride];
        double *pa = row + 2 * (start + k);
        double *pb = row + 2 * (start + k + half);
        double br = pb[0];
        double bi = pb[1];
        double tr = br * wr - bi * wi;
        double ti = br * wi + bi * wr;
        double ar = pa[0];
        double ai = pa[1];
        pa[0] = ar + tr;
        pa[1] = ai + ti;
        pb[0] = ar - tr;
        pb[1] = ai - ti;
      }
    }
  }
}

double run(int logn) {
  if (logn < 1 || logn > MAX_LOGN) __builtin_trap();
  int n = 1 << logn;
  size_t row_doubles = (size_t)n * 2;
  double *a = dsm_shared_alloc((size_t)n * row_doubles * sizeof(double));
  double *b = dsm_shared_alloc((size_t)n * row_doubles * sizeof(double));
  int id = dsm_node_id();
  int nodes = dsm_node_count();
  int lo = id * n / nodes;
  int hi = (id + 1) * n / nodes;
  make_twiddles(logn);
  for (int r = lo; r < hi; r++) {
    for (int c = 0; c < n; c++) {
      double *p = a + (size_t)r * row_doubles + 2 * (size_t)c;
      uint32_t h = mix((uint32_t)(r * n + c));
      p[0] = (double)(h & 0xffff) / 65536.0 - 0.5;
      p[1] = (double)(h >> 16) / 65536.0 - 0.5;
    }
  }
  dsm_barrier();
  for (int r = lo; r < hi; r++) fft_row(a + (size_t)r * row_doubles, n, logn);
  dsm_barrier();
  /* Transpose: row r of b is column r of a, which every node's rows contribute to. */
  for (int r = lo; r < hi; r++) {
    double *out = b + (size_t)r * row_doubles;
    for (int c = 0; c < n; c++) {
      const double *p = a + (size_t)c * row_doubles + 2 * (size_t)r;
      out[2 * c] = p[0];
      out[2 * c + 1] = p[1];
    }
  }
  dsm_barrier();
  for (int r = lo; r < hi; r++) fft_row(b + (size_t)r * row_doubles, n, logn);
  dsm_barrier();
  if (id != 0) return 0;
  double sum = 0;
  for (int r = 0; r < n; r++) {
    for (int c = 0; c < n; c++) {
      const double *p = b + (size_t)r * row_doubles + 2 * (size_t)c;
      sum += p[0] * (double)((r * 7 + c * 3) % 11 + 1) - p[1] * (double)((r * 5 + c) % 13 + 1);
    }
  }
  return sum;
}
