/*
 * The wasm-dsm kernel API for C and C++: the same contract as the AssemblyScript API
 * (assembly/index.ts). `dsm build` finds this header without -I and links wasm_dsm.c.
 *
 *   #include <wasm_dsm.h>
 *
 *   double run(int n, int iters) {            // every node calls run(...) with the same args
 *     double *a = dsm_shared_alloc((size_t)n * n * sizeof(double));  // same address on every node
 *     if (dsm_node_id() == 0) { ... }
 *     dsm_barrier();
 *     ...
 *     return dsm_node_id() == 0 ? checksum : 0;   // the run's result is node 0's return value
 *   }
 *
 * `run` takes and returns int, long long, float or double (or returns void); dsm build exports
 * it, C++ included (no extern "C" needed). Static data, the C stack and the malloc heap are
 * private to each node; only memory from dsm_shared_alloc is shared.
 */
#ifndef WASM_DSM_H
#define WASM_DSM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DSM_IMPORT(name) __attribute__((import_module("dsm"), import_name(name)))

/** This node's rank, 0 <= dsm_node_id() < dsm_node_count(). */
DSM_IMPORT("nodeId") int dsm_node_id(void);

/** Number of nodes in the job. */
DSM_IMPORT("nodeCount") int dsm_node_count(void);

/** Waits until every node has reached the barrier. */
DSM_IMPORT("barrier") void dsm_barrier(void);

/** Acquires lock `id` (any non-negative int), FIFO across nodes. */
DSM_IMPORT("lock") void dsm_lock(int id);

/** Releases lock `id`. */
DSM_IMPORT("unlock") void dsm_unlock(int id);

/** Microseconds on a monotonic clock common to every node of one machine. */
DSM_IMPORT("now") double dsm_now(void);

/**
 * Allocates `bytes` of shared memory, page-aligned, zero-filled on first touch.
 * Collective: every node calls it with the same sizes in the same order, and gets the same
 * address. Stops the run when the shared region is exhausted (rebuild with a larger
 * --shared-size).
 */
void *dsm_shared_alloc(size_t bytes);

#undef DSM_IMPORT

#ifdef __cplusplus
}
#endif

#endif /* WASM_DSM_H */
