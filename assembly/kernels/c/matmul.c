/*
 * Dense matrix multiply C = A·B of n×n doubles, rows of C split evenly across nodes: the C twin
 * of ../matmul.ts, giving the same checksum on any number of nodes.
 * Stresses read-mostly sharing: every node reads all of B and its own rows of A.
 */
#include <wasm_dsm.h>

double run(int n) {
  size_t bytes = (size_t)n * (size_t)n * sizeof(double);
  double *a = dsm_shared_alloc(bytes);
  double *b = dsm_shared_alloc(bytes);
  double *c = dsm_shared_alloc(bytes);
  int id = dsm_node_id();
  int nodes = dsm_node_count();
  if (id == 0) {
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < n; j++) {
        a[(size_t)i * n + j] = (double)((i * 7 + j * 3) % 11) - 5.0;
        b[(size_t)i * n + j] = (double)((i * 5 + j * 13) % 17) * 0.5;
      }
    }
  }
  dsm_barrier();
  int lo = id * n / nodes;
  int hi = (id + 1) * n / nodes;
  for (int i = lo; i < hi; i++) {
    double *ci = c + (size_t)i * n;
    const double *ai = a + (size_t)i * n;
    for (int k = 0; k < n; k++) {
      double aik = ai[k];
      const double *bk = b + (size_t)k * n;
      for (int j = 0; j < n; j++) ci[j] = ci[j] + aik * bk[j];
    }
  }
  dsm_barrier();
  if (id != 0) return 0;
  double sum = 0;
  for (int i = 0; i < n; i++) {
    for (int j = 0; j < n; j++) sum += c[(size_t)i * n + j] * (double)((i + 2 * j) % 7 + 1);
  }
  return sum;
}
