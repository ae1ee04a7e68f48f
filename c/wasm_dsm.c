/*
 * The part of the wasm-dsm C API that is code rather than a host import; `dsm build` links it
 * into every C and C++ kernel. The shared-region allocator is the same deterministic bump
 * allocator as assembly/index.ts, so the same calls return the same addresses on every node.
 */
#include "wasm_dsm.h"

#include <stdint.h>

#define DSM_IMPORT(name) __attribute__((import_module("dsm"), import_name(name)))
DSM_IMPORT("regionBase") uintptr_t dsm_region_base(void);
DSM_IMPORT("regionBytes") uintptr_t dsm_region_bytes(void);
DSM_IMPORT("pageSize") uintptr_t dsm_page_size(void);
/* The host logs every allocation; it refuses one that leaves the shared region (a typed error). */
DSM_IMPORT("allocated") void dsm_allocated(uintptr_t address, uintptr_t bytes);

static uintptr_t next;
static uintptr_t end;

/*
 * A PARMACS program (wasm_dsm_parmacs.c) replaces this: once its start-up has made its own
 * collective allocations, only node 0 runs main, so a dsm_shared_alloc there could never be
 * matched by the other nodes; it stops the job with an error that names G_MALLOC instead.
 */
__attribute__((weak)) int dsm_parmacs_collective_closed(uintptr_t bytes) {
  (void)bytes;
  return 0;
}

void *dsm_shared_alloc(size_t bytes) {
  if (dsm_parmacs_collective_closed(bytes)) __builtin_trap();
  if (end == 0) {
    next = dsm_region_base();
    end = next + dsm_region_bytes();
  }
  uintptr_t page = dsm_page_size();
  uintptr_t size = (bytes + page - 1) & ~(page - 1);
  if (size < bytes || size > end - next) {
    /* Out of room: the host names the request and the fix, and this node stops. */
    dsm_allocated(next, bytes);
    __builtin_trap();
  }
  uintptr_t address = next;
  next += size;
  dsm_allocated(address, bytes);
  return (void *)address;
}

/*
 * The runtime calls `_start` once before `run` (as for AssemblyScript's exported start
 * function); for C it runs the static constructors, which is all a WASI reactor's _initialize
 * does. A program with main gets wasi-libc's own `_start` instead (DSM_PROGRAM).
 */
#ifndef DSM_PROGRAM
extern void __wasm_call_ctors(void);
__attribute__((export_name("_start"))) void dsm_start(void) { __wasm_call_ctors(); }
#endif
