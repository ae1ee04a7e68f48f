divert(-1)
dnl The ANL (PARMACS) macros of SPLASH-2-style programs, for wasm-dsm's fork model.
dnl
dnl `dsm build prog.c.in` runs `m4 -Ulen -Uindex parmacs/wasm-dsm.m4 prog.c.in` (and the same
dnl over every .h.in beside it) and builds the result; the macros expand to calls of
dnl c/wasm_dsm_parmacs.h, which dsm build finds and links. Node 0 runs main; CREATE starts a
dnl function on another node with a copy of node 0's private memory; G_MALLOC allocates shared
dnl memory from any node. README.md, "PARMACS programs", says what each macro guarantees.
dnl
dnl Statement macros expand to a { block }, as SPLASH-2's own macro files do, so they work with
dnl or without a semicolon after them. A macro that takes arguments expands only where it is
dnl called with them, so its bare name in a comment stays as it is.

dnl Environment: MAIN_ENV in the file with main, EXTERN_ENV (or INCLUDES) in the others, before
dnl any LOCKDEC, BARDEC or PAUSEDEC. MAIN_INITENV(, bytes) needs no work: the runtime starts
dnl before main, and G_MALLOC draws on the whole shared region (dsm build --shared-size).
define(`MAIN_ENV', `#include <wasm_dsm_parmacs.h>')
define(`EXTERN_ENV', `#include <wasm_dsm_parmacs.h>')
define(`INCLUDES', `#include <wasm_dsm_parmacs.h>')
define(`MAIN_INITENV', `')
define(`MAIN_END', `{ exit(0); }')

dnl Processes. CREATE(fn) starts fn on the next node (call it P - 1 times, then call fn);
dnl CREATE(fn, P) starts it on nodes 1 .. P-1 and then calls it on node 0.
define(`CREATE', `ifelse($#, 0, ``CREATE'', `ifelse(`$2', `', `{ dsm_parmacs_create((void (*)(void))($1)); }', `{ dsm_parmacs_create_all((void (*)(void))($1), ($2)); }')')')
define(`WAIT_FOR_END', `ifelse($#, 0, ``WAIT_FOR_END'', `{ dsm_parmacs_wait_for_end($1); }')')
define(`GET_PID', `ifelse($#, 0, ``GET_PID'', `{ ($1) = dsm_node_id(); }')')

dnl Shared memory: valid at the same address on every node, from any node at any time.
define(`G_MALLOC', `ifelse($#, 0, ``G_MALLOC'', `dsm_parmacs_malloc($1)')')
define(`NU_MALLOC', `ifelse($#, 0, ``NU_MALLOC'', `dsm_parmacs_malloc($1)')')

define(`CLOCK', `ifelse($#, 0, ``CLOCK'', `{ ($1) = dsm_parmacs_clock(); }')')

dnl Barriers span every node: BARRIER(b, P) needs P equal to the job's node count.
define(`BARDEC', `ifelse($#, 0, ``BARDEC'', `dsm_parmacs_barrier_t $1;')')
define(`BARINIT', `ifelse($#, 0, ``BARINIT'', `{ dsm_parmacs_barrier_init(&($1)); }')')
define(`BARRIER', `ifelse($#, 0, ``BARRIER'', `{ dsm_parmacs_barrier(&($1), ($2)); }')')

define(`LOCKDEC', `ifelse($#, 0, ``LOCKDEC'', `dsm_parmacs_lock_t $1;')')
define(`LOCKINIT', `ifelse($#, 0, ``LOCKINIT'', `{ dsm_parmacs_lock_init(&($1)); }')')
define(`LOCK', `ifelse($#, 0, ``LOCK'', `{ dsm_parmacs_lock(&($1)); }')')
define(`UNLOCK', `ifelse($#, 0, ``UNLOCK'', `{ dsm_parmacs_unlock(&($1)); }')')

dnl Arrays of locks: ALOCKDEC(a, n), ALOCKINIT(a, n), ALOCK(a, i), AULOCK(a, i); AGETL(a, i)
dnl takes lock i as an expression.
define(`ALOCKDEC', `ifelse($#, 0, ``ALOCKDEC'', `dsm_parmacs_lock_t $1[$2];')')
define(`ALOCKINIT', `ifelse($#, 0, ``ALOCKINIT'', `{ dsm_parmacs_lock_init_array(($1), ($2)); }')')
define(`ALOCK', `ifelse($#, 0, ``ALOCK'', `{ dsm_parmacs_lock(&($1)[$2]); }')')
define(`AULOCK', `ifelse($#, 0, ``AULOCK'', `{ dsm_parmacs_unlock(&($1)[$2]); }')')
define(`AGETL', `ifelse($#, 0, ``AGETL'', `dsm_parmacs_lock(&($1)[$2])')')

dnl Pause flags: SETPAUSE and CLEARPAUSE release, WAITPAUSE acquires.
define(`PAUSEDEC', `ifelse($#, 0, ``PAUSEDEC'', `dsm_parmacs_pause_t $1;')')
define(`PAUSEINIT', `ifelse($#, 0, ``PAUSEINIT'', `{ dsm_parmacs_pause_init(&($1)); }')')
define(`SETPAUSE', `ifelse($#, 0, ``SETPAUSE'', `{ dsm_parmacs_pause_set(&($1)); }')')
define(`CLEARPAUSE', `ifelse($#, 0, ``CLEARPAUSE'', `{ dsm_parmacs_pause_clear(&($1)); }')')
define(`WAITPAUSE', `ifelse($#, 0, ``WAITPAUSE'', `{ dsm_parmacs_pause_wait(&($1)); }')')

dnl Fences order memory through one runtime lock: each releases and acquires.
define(`RELEASE_FENCE', `{ dsm_parmacs_fence(); }')
define(`ACQUIRE_FENCE', `{ dsm_parmacs_fence(); }')
define(`FULL_FENCE', `{ dsm_parmacs_fence(); }')

define(`SPLASH3_ROI_BEGIN', `')
define(`SPLASH3_ROI_END', `')
divert(0)dnl
