/*
 * The fork model of SPLASH-2's ANL (PARMACS) macros on wasm-dsm: what parmacs/wasm-dsm.m4
 * expands to. `dsm build prog.c.in` expands the macros and links c/wasm_dsm_parmacs.c, whose
 * runtime this header declares; a C program may call these functions directly too.
 *
 *   node 0:   main ... G_MALLOC, LOCKINIT ... CREATE(fn) ──────────────▶ node 1 starts fn with a
 *             CREATE(fn) ──▶ node 2 ...                                  copy of node 0's private
 *             fn() ... BARRIER ... WAIT_FOR_END ... exit                 memory at that moment
 *
 * Node 0 runs main; every other node waits until a CREATE starts fn on it, then runs fn and
 * stops. Each CREATE starts the next waiting node (1, 2, ...); CREATE(fn, P) starts P - 1 of them
 * and then calls fn on node 0 itself. WAIT_FOR_END waits until every started node's fn returned.
 * G_MALLOC allocates shared memory from any node at any time; locks, barriers and pause flags
 * get their ids at their INIT. See README.md, "PARMACS programs".
 */
#ifndef WASM_DSM_PARMACS_H
#define WASM_DSM_PARMACS_H

#include <stddef.h>
#include <stdlib.h> /* MAIN_END calls exit */

#include "wasm_dsm.h"

#ifdef __cplusplus
extern "C" {
#endif

/** LOCKDEC: a lock; its id (0 until LOCKINIT) names a dsm lock from DSM_PARMACS_FIRST_ID up. */
typedef struct dsm_parmacs_lock {
  int id;
} dsm_parmacs_lock_t;

/** BARDEC: a barrier over every node of the job; the id (0 until BARINIT) names it in errors. */
typedef struct dsm_parmacs_barrier {
  int id;
} dsm_parmacs_barrier_t;

/** PAUSEDEC: a flag with release (SETPAUSE, CLEARPAUSE) and acquire (WAITPAUSE) semantics. */
typedef struct dsm_parmacs_pause {
  int id;
  volatile int set;
} dsm_parmacs_pause_t;

/**
 * Ids from here up belong to LOCKINIT, ALOCKINIT, BARINIT and PAUSEINIT (and the runtime's own
 * locks, at the top of the range): a program's own dsm_lock ids stay below.
 */
#define DSM_PARMACS_FIRST_ID 0x40000000

/** CREATE(fn): starts fn on the next waiting node with a copy of this node's private memory. */
void dsm_parmacs_create(void (*fn)(void));
/** CREATE(fn, P): starts fn on nodes 1 .. P-1, then calls it here (node 0). */
void dsm_parmacs_create_all(void (*fn)(void), int processes);
/** WAIT_FOR_END: returns once fn returned on every node CREATE started (acquire). */
void dsm_parmacs_wait_for_end(int processes);

/** G_MALLOC: shared memory, valid at the same address on every node; any node, any time. */
void *dsm_parmacs_malloc(size_t bytes);

void dsm_parmacs_lock_init(dsm_parmacs_lock_t *lock);
void dsm_parmacs_lock_init_array(dsm_parmacs_lock_t *locks, int count);
void dsm_parmacs_lock(dsm_parmacs_lock_t *lock);
void dsm_parmacs_unlock(dsm_parmacs_lock_t *lock);

void dsm_parmacs_barrier_init(dsm_parmacs_barrier_t *barrier);
/** BARRIER(b, P): P must be the job's node count, and node 0 must have started every node. */
void dsm_parmacs_barrier(dsm_parmacs_barrier_t *barrier, int processes);

void dsm_parmacs_pause_init(dsm_parmacs_pause_t *pause);
void dsm_parmacs_pause_set(dsm_parmacs_pause_t *pause);
void dsm_parmacs_pause_clear(dsm_parmacs_pause_t *pause);
void dsm_parmacs_pause_wait(dsm_parmacs_pause_t *pause);

/** RELEASE_FENCE, ACQUIRE_FENCE, FULL_FENCE: all three both release and acquire (one runtime lock). */
void dsm_parmacs_fence(void);

/** CLOCK: microseconds on the clock common to the nodes of one machine (dsm_now). */
unsigned long dsm_parmacs_clock(void);

#ifdef __cplusplus
}
#endif

#endif /* WASM_DSM_PARMACS_H */
