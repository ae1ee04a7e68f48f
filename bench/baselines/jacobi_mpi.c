/*
 * Jacobi of assembly/kernels/jacobi.ts in C with MPI halo exchange: the message-passing program a
 * user would write instead of a DSM kernel, run natively (dsm bench's `mpi` rows).
 *
 * Same rows per rank as the kernel's nodes, same initial grid (border 1.0, interior 0), same update
 * 0.25 * (north + south + west + east) in the same order of additions, same checksum (each rank
 * sums its own rows, rank 0 adds the row sums in row order), so the result equals the kernel's bit
 * for bit. Build with -ffp-contract=off: a fused multiply-add would round differently.
 *
 *   rank r holds global rows lo-1 .. hi (a ghost row on each side)
 *   each sweep: send row lo up and row hi-1 down, receive the ghosts (MPI_Sendrecv), sweep, swap
 *   end: row sums gathered on rank 0, added in row order
 *
 * usage: jacobi_mpi n iters
 * rank 0 prints one line: "result <checksum, %.17g> ms <time> messages <count> bytes <count>",
 * the time from the barrier after MPI_Init (before the grid is initialised) to the checksum, as
 * the kernel's run() is timed; messages and bytes are every rank's point-to-point sends.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double initial_value(long i, long j, long n) {
  return (i == 0 || j == 0 || i == n - 1 || j == n - 1) ? 1.0 : 0.0;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  char *end1 = NULL, *end2 = NULL;
  long n = argc == 3 ? strtol(argv[1], &end1, 10) : 0;
  long iters = argc == 3 ? strtol(argv[2], &end2, 10) : -1;
  if (argc != 3 || *end1 != '\0' || *end2 != '\0' || n < 3 || iters < 0 || n < size) {
    if (rank == 0) fprintf(stderr, "usage: jacobi_mpi n iters (n >= 3 and >= the number of ranks, iters >= 0)\n");
    MPI_Finalize();
    return 2;
  }
  long lo = (long)rank * n / size;
  long hi = ((long)rank + 1) * n / size;
  long rows = hi - lo + 2; /* global row i is at local row i - lo + 1 */
  double *src = malloc(sizeof(double) * rows * n);
  double *dst = malloc(sizeof(double) * rows * n);
  double *sums = malloc(sizeof(double) * (hi - lo));
  if (!src || !dst || !sums) {
    fprintf(stderr, "jacobi_mpi: rank %d: out of memory for %ld rows of %ld\n", rank, rows, n);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  int up = rank > 0 ? rank - 1 : MPI_PROC_NULL;
  int down = rank < size - 1 ? rank + 1 : MPI_PROC_NULL;
  long sends = 0;

  MPI_Barrier(MPI_COMM_WORLD);
  double t0 = MPI_Wtime();
  memset(src, 0, sizeof(double) * rows * n);
  memset(dst, 0, sizeof(double) * rows * n);
  for (long i = lo; i < hi; i++) {
    for (long j = 0; j < n; j++) {
      double v = initial_value(i, j, n);
      src[(i - lo + 1) * n + j] = v;
      dst[(i - lo + 1) * n + j] = v;
    }
  }
  for (long t = 0; t < iters; t++) {
    /* Row lo goes up (it is the upper neighbour's ghost row hi), row hi-1 goes down. */
    MPI_Sendrecv(&src[1 * n], (int)n, MPI_DOUBLE, up, 0, &src[(hi - lo + 1) * n], (int)n, MPI_DOUBLE, down, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    MPI_Sendrecv(&src[(hi - lo) * n], (int)n, MPI_DOUBLE, down, 1, &src[0], (int)n, MPI_DOUBLE, up, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    sends += (up != MPI_PROC_NULL) + (down != MPI_PROC_NULL);
    long first = lo > 1 ? lo : 1;
    long last = hi < n - 1 ? hi : n - 1;
    for (long i = first; i < last; i++) {
      const double *row = &src[(i - lo + 1) * n];
      double *out = &dst[(i - lo + 1) * n];
      for (long j = 1; j < n - 1; j++) out[j] = 0.25 * (row[j - n] + row[j + n] + row[j - 1] + row[j + 1]);
    }
    double *tmp = src;
    src = dst;
    dst = tmp;
  }
  for (long i = lo; i < hi; i++) {
    double s = 0;
    const double *row = &src[(i - lo + 1) * n];
    for (long j = 0; j < n; j++) s += row[j] * (double)((i * 31 + j * 17) % 97 + 1);
    sums[i - lo] = s;
  }
  int *counts = NULL, *offsets = NULL;
  double *all = NULL;
  if (rank == 0) {
    counts = malloc(sizeof(int) * size);
    offsets = malloc(sizeof(int) * size);
    all = malloc(sizeof(double) * n);
    for (int r = 0; r < size; r++) {
      offsets[r] = (int)((long)r * n / size);
      counts[r] = (int)(((long)r + 1) * n / size) - offsets[r];
    }
  }
  MPI_Gatherv(sums, (int)(hi - lo), MPI_DOUBLE, all, counts, offsets, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  if (rank != 0) sends++;
  double checksum = 0;
  if (rank == 0)
    for (long i = 0; i < n; i++) checksum += all[i];
  double ms = (MPI_Wtime() - t0) * 1000.0;
  long total = 0;
  MPI_Reduce(&sends, &total, 1, MPI_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
  if (rank == 0) {
    /* Every halo message is one row; the gathered ones carry a rank's row sums (n doubles in all). */
    long halo = total - (size - 1);
    long bytes = halo * n * (long)sizeof(double) + (n - counts[0]) * (long)sizeof(double);
    printf("result %.17g ms %.3f messages %ld bytes %ld\n", checksum, ms, total, bytes);
  }
  free(src);
  free(dst);
  free(sums);
  free(counts);
  free(offsets);
  free(all);
  MPI_Finalize();
  return 0;
}
