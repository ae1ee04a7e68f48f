/* What a C kernel's libc may do inside run (src/runtime/wasi.ts), one case per argument. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <wasm_dsm.h>

int run(int what) {
  switch (what) {
    case 0: /* output: node 0's as it is, the others' prefixed; an unfinished line comes out at the end */
      printf("hello from node %d of %d\n", dsm_node_id(), dsm_node_count());
      fflush(stdout);
      fprintf(stderr, "unfinished %d", dsm_node_id());
      return 7;
    case 1: /* no files: fopen fails, the kernel goes on */
      return fopen("/etc/hostname", "r") == NULL ? 1 : 0;
    case 2: /* clocks: wall time after 2020, a monotonic clock that does not go back */
    {
      struct timespec a, b;
      clock_gettime(CLOCK_MONOTONIC, &a);
      clock_gettime(CLOCK_MONOTONIC, &b);
      int later = b.tv_sec > a.tv_sec || (b.tv_sec == a.tv_sec && b.tv_nsec >= a.tv_nsec);
      return time(NULL) > 1577836800 && later;
    }
    case 3:
      exit(3);
    case 4:
      dsm_shared_alloc((size_t)1 << 30);
      return 0;
    case 5: /* sleeping needs poll_oneoff, which the host does not provide */
      sleep(1);
      return 0;
  }
  return -1;
}
