/*
 * A program in the style of the C benchmarks: options parsed with getopt, private malloc'd
 * arrays, shared results, math, a clock; every node runs main with the same argv.
 * Usage: args_program [-n N] [-s STATUS] [words...]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <wasm_dsm.h>

int main(int argc, char **argv) {
  int n = 64, status = 0, opt;
  while ((opt = getopt(argc, argv, "n:s:")) != -1) {
    if (opt == 'n') n = atoi(optarg);
    else if (opt == 's') status = atoi(optarg);
    else return 2;
  }
  clock_t started = clock();
  double *roots = dsm_shared_alloc((size_t)n * sizeof(double));
  double *mine = malloc((size_t)n * sizeof(double));
  for (int i = dsm_node_id(); i < n; i += dsm_node_count()) roots[i] = sqrt((double)i);
  dsm_barrier();
  double sum = 0;
  for (int i = 0; i < n; i++) mine[i] = roots[i];
  for (int i = 0; i < n; i++) sum += mine[i];
  free(mine);
  if (clock() < started) return 3;
  printf("%s: n=%d sum=%.6f", argv[0], n, sum);
  for (int i = optind; i < argc; i++) printf(" [%s]", argv[i]);
  printf("\n");
  fprintf(stderr, "node %d of %d done\n", dsm_node_id(), dsm_node_count());
  return dsm_node_id() == 0 ? status : 100 + dsm_node_id();
}
