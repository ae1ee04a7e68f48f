/*
 * Jacobi relaxation on an n×n grid of doubles, `iters` sweeps, rows split evenly across nodes:
 * the C twin of ../jacobi.ts, giving the same checksum on any number of nodes.
 * Each node sums its own rows into a shared array of row sums; node 0 adds those up in row order.
 */
#include <wasm_dsm.h>

static int imax(int a, int b) { return a > b ? a : b; }
static int imin(int a, int b) { return a < b ? a : b; }

double run(int n, int iters) {
  size_t bytes = (size_t)n * (size_t)n * sizeof(double);
  double *src = dsm_shared_alloc(bytes);
  double *dst = dsm_shared_alloc(bytes);
  double *sums = dsm_shared_alloc((size_t)n * sizeof(double));
  int id = dsm_node_id();
  int nodes = dsm_node_count();
  int lo = id * n / nodes;
  int hi = (id + 1) * n / nodes;
  /* Each node initialises its own rows; the border is fixed at 1.0, the interior starts at 0. */
  for (int i = lo; i < hi; i++) {
    for (int j = 0; j < n; j++) {
      int border = i == 0 || j == 0 || i == n - 1 || j == n - 1;
      double v = border ? 1.0 : 0.0;
      src[(size_t)i * n + j] = v;
      dst[(size_t)i * n + j] = v;
    }
  }
  dsm_barrier();
  for (int t = 0; t < iters; t++) {
    for (int i = imax(lo, 1); i < imin(hi, n - 1); i++) {
      const double *row = src + (size_t)i * n;
      double *out = dst + (size_t)i * n;
      for (int j = 1; j < n - 1; j++) {
        out[j] = 0.25 * (row[j - n] + row[j + n] + row[j - 1] + row[j + 1]);
      }
    }
    dsm_barrier();
    double *tmp = src;
    src = dst;
    dst = tmp;
  }
  for (int i = lo; i < hi; i++) {
    double s = 0;
    for (int j = 0; j < n; j++) s += src[(size_t)i * n + j] * (double)((i * 31 + j * 17) % 97 + 1);
    sums[i] = s;
  }
  dsm_barrier();
  if (id != 0) return 0;
  double sum = 0;
  for (int i = 0; i < n; i++) sum += sums[i];
  return sum;
}
