/*
 * The runtime of the PARMACS fork model (wasm_dsm_parmacs.h). `dsm build` links it into a
 * program that calls it (every `.c.in` program, through parmacs/wasm-dsm.m4).
 *
 * Start-up, a constructor that runs before main on every node:
 *
 *   every node   dsm_shared_alloc(control)        collective, so the allocation checks at
 *                dsm_shared_alloc(arena)           barriers pass: the rest of the region
 *   node 0       lock FORK(k) for every k > 0      held until CREATE starts node k
 *   node k > 0   lock JOIN(k)                      held until fn returns on node k
 *   every node   dsm_barrier()                     so nobody asks for FORK(k) or JOIN(k) early
 *   node 0       returns into main
 *   node k > 0   lock FORK(k) ... (waits for CREATE)
 *
 * CREATE(fn) on node 0 writes an image of its private memory (data, the live part of the stack,
 * the malloc heap; 4 KiB chunks that are not all zero) into G_MALLOC memory, fills node k's
 * fork slot (fn, stack pointer, image) in the control block and unlocks FORK(k). Node k's lock
 * returns with everything node 0 wrote before (the lock's release/acquire, as under lrc); it
 * zeroes its private memory, copies the image in, sets its stack pointer below node 0's live
 * frames and calls fn through the function table. When fn returns, it flushes stdio, unlocks
 * JOIN(k) and exits; WAIT_FOR_END on node 0 locks and unlocks JOIN(k) for every started k.
 *
 * G_MALLOC is a bump allocator over the arena; its cursor lives in the control block, taken
 * under the runtime's ALLOC lock, so any node may allocate at any time and every node sees the
 * same addresses. The arena is one collective allocation, so every protocol places its pages
 * (under the "allocation" placement: one contiguous block per node, in rank order).
 *
 * Every wait is a dsm lock or barrier, bounded by the job's sync timeout: a node waits for its
 * CREATE as long as a barrier waits.
 *
 * Each CREATE(fn) writes its own image (CREATE(fn, P) one for all P - 1 nodes), and G_MALLOC
 * memory is never freed: a program with a large private heap at CREATE uses that much of the
 * shared region per image.
 *
 * Not covered: a second CREATE of a node (each node runs one fn), barriers over fewer nodes than
 * the job has, functions that take arguments (fn is called with none), freeing G_MALLOC memory.
 * Each stops the job with a typed error naming the value and the fix (the host's
 * parmacsError import), except freeing, which the macros do not offer.
 */
#include "wasm_dsm_parmacs.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define DSM_IMPORT(name) __attribute__((import_module("dsm"), import_name(name)))
DSM_IMPORT("regionBase") uintptr_t dsm_parmacs_region_base(void);
DSM_IMPORT("regionBytes") uintptr_t dsm_parmacs_region_bytes(void);
DSM_IMPORT("pageSize") uintptr_t dsm_parmacs_page_size(void);
/* Stops the job with the typed error for `code` (src/runtime/parmacs_errors.ts); never returns. */
DSM_IMPORT("parmacsError") void dsm_parmacs_host_error(int code, uintptr_t value, uintptr_t limit);

/* Error codes, as src/runtime/parmacs_errors.ts reads them. */
enum {
  ERROR_CREATE_COUNT = 1,   /* value: the process CREATE would start, limit: nodes */
  ERROR_BARRIER_COUNT = 2,  /* value: P of BARRIER(b, P), limit: nodes */
  ERROR_BARRIER_EARLY = 3,  /* value: processes started, limit: nodes */
  ERROR_NOT_INITIALISED = 4, /* value: the kind (KIND_*), limit: the object's address */
  ERROR_NOT_NODE_0 = 5,     /* value: the call (CALL_*), limit: this node */
  ERROR_COLLECTIVE = 6,     /* value: bytes asked of dsm_shared_alloc */
  ERROR_EXHAUSTED = 7,      /* value: bytes asked of G_MALLOC, limit: arena bytes */
  ERROR_NULL_FUNCTION = 8,
  ERROR_MEMORY = 9,         /* value: 64 KiB pages node 0 has, limit: pages this node has */
  ERROR_IMAGE = 10,         /* node 0's private memory changed while CREATE copied it */
};
enum { KIND_LOCK = 1, KIND_BARRIER = 2, KIND_PAUSE = 3 };
enum { CALL_CREATE = 1, CALL_WAIT_FOR_END = 2 };

/* The runtime's own lock ids, above every id LOCKINIT and friends hand out. */
#define ALLOC_LOCK 0x7ffffff0
#define FENCE_LOCK 0x7ffffff1
#define FORK_LOCK(k) (0x7e000000 + (k))
#define JOIN_LOCK(k) (0x7f000000 + (k))

#define CHUNK 4096u
#define WASM_PAGE 65536u

struct fork_slot {
  uintptr_t fn;          /* table index of fn; 0: node 0 ended without starting this node */
  uintptr_t sp;          /* node 0's stack pointer when it called CREATE */
  const uint32_t *image; /* [count][count chunk indices][count chunks] */
  uintptr_t pages;       /* node 0's memory size, in 64 KiB pages */
};

struct control {
  uintptr_t heap_used;   /* bytes of the arena G_MALLOC handed out */
  uintptr_t ids;         /* ids LOCKINIT, BARINIT, PAUSEINIT handed out */
  struct fork_slot fork[]; /* one per node; [0] unused */
};

/* The same on every node: set by the constructor, and copied over by CREATE's image. */
static struct control *control;
static uintptr_t arena, arena_end;
static int nodes;
/* Node 0: nodes CREATE started (1 .. started), and how many WAIT_FOR_END joined. */
static int started, joined;
/* A node other than 0 while its fn runs (set after the image replaced its memory). */
static int running;

__asm__(".globaltype __stack_pointer, i32\n");
static inline uintptr_t stack_pointer(void) {
  uintptr_t sp;
  __asm__ volatile("global.get __stack_pointer\n local.set %0" : "=r"(sp));
  return sp;
}
static inline void set_stack_pointer(uintptr_t sp) {
  __asm__ volatile("local.get %0\n global.set __stack_pointer" ::"r"(sp));
}

/* wasm-ld's symbols: the stack lies between the end of static data and the heap. */
extern unsigned char __data_end[];

static _Noreturn void fail(int code, uintptr_t value, uintptr_t limit) {
  dsm_parmacs_host_error(code, value, limit);
  __builtin_trap();
}

/* Replaces wasm_dsm.c's weak definition: dsm_shared_alloc is collective, main runs on node 0 only. */
static int collective_closed;
int dsm_parmacs_collective_closed(uintptr_t bytes) {
  if (collective_closed) fail(ERROR_COLLECTIVE, bytes, 0);
  return 0;
}

static inline uintptr_t private_base(void) { return dsm_parmacs_region_base() + dsm_parmacs_region_bytes(); }
static inline uintptr_t memory_end(void) { return (uintptr_t)__builtin_wasm_memory_size(0) * WASM_PAGE; }

static int chunk_is_zero(uintptr_t at) {
  const uint64_t *word = (const uint64_t *)at;
  for (unsigned i = 0; i < CHUNK / 8; i++)
    if (word[i] != 0) return 0;
  return 1;
}

/*
 * Node 0's private memory as CREATE sees it: static data up to __data_end, then from the chunk
 * holding the stack pointer to the end of memory (live frames, heap). Frames below the stack
 * pointer are dead, and the calls below (G_MALLOC, unlock) write only there, so two passes over
 * the rest see the same bytes.
 */
static uintptr_t next_chunk(uintptr_t at, uintptr_t data_end, uintptr_t live) {
  at += CHUNK;
  return at >= data_end && at < live ? live : at;
}

static const uint32_t *write_image(uintptr_t sp) {
  uintptr_t base = private_base(), end = memory_end();
  uintptr_t data_end = ((uintptr_t)__data_end + CHUNK - 1) & ~(uintptr_t)(CHUNK - 1);
  uintptr_t live = sp & ~(uintptr_t)(CHUNK - 1);
  uint32_t count = 0;
  for (uintptr_t at = base; at < end; at = next_chunk(at, data_end, live))
    if (!chunk_is_zero(at)) count++;
  uint32_t *image = dsm_parmacs_malloc(4 + 4 * (size_t)count + (size_t)count * CHUNK);
  unsigned char *data = (unsigned char *)(image + 1 + count);
  uint32_t n = 0;
  for (uintptr_t at = base; at < end; at = next_chunk(at, data_end, live)) {
    if (chunk_is_zero(at)) continue;
    if (n == count) fail(ERROR_IMAGE, count, 0);
    image[1 + n] = (uint32_t)((at - base) / CHUNK);
    __builtin_memcpy(data + (size_t)n * CHUNK, (const void *)at, CHUNK);
    n++;
  }
  if (n != count) fail(ERROR_IMAGE, count, n);
  image[0] = count;
  return image;
}

/* Starts fn on node k from `image`: the slot, then the release that node k acquires. */
static void start_node(int k, void (*fn)(void), uintptr_t sp, const uint32_t *image) {
  struct fork_slot *slot = &control->fork[k];
  slot->fn = (uintptr_t)fn;
  slot->sp = sp;
  slot->image = image;
  slot->pages = __builtin_wasm_memory_size(0);
  dsm_unlock(FORK_LOCK(k));
}

static void check_create(void (*fn)(void), int count) {
  if (dsm_node_id() != 0) fail(ERROR_NOT_NODE_0, CALL_CREATE, (uintptr_t)dsm_node_id());
  if (fn == 0) fail(ERROR_NULL_FUNCTION, 0, 0);
  if (started + count >= nodes) fail(ERROR_CREATE_COUNT, (uintptr_t)(started + count + 1), (uintptr_t)nodes);
}

void dsm_parmacs_create(void (*fn)(void)) {
  check_create(fn, 1);
  uintptr_t sp = stack_pointer();
  const uint32_t *image = write_image(sp);
  start_node(++started, fn, sp, image);
}

/* One image serves every node it starts: they all start from the same moment. */
void dsm_parmacs_create_all(void (*fn)(void), int processes) {
  check_create(fn, processes - 1);
  if (started < processes - 1) {
    uintptr_t sp = stack_pointer();
    const uint32_t *image = write_image(sp);
    while (started < processes - 1) start_node(++started, fn, sp, image);
  }
  fn();
}

void dsm_parmacs_wait_for_end(int processes) {
  (void)processes; /* SPLASH-2 passes P - 1, later suites P: either way, every started node */
  if (dsm_node_id() != 0) fail(ERROR_NOT_NODE_0, CALL_WAIT_FOR_END, (uintptr_t)dsm_node_id());
  for (; joined < started; joined++) {
    dsm_lock(JOIN_LOCK(joined + 1));
    dsm_unlock(JOIN_LOCK(joined + 1));
  }
}

/*
 * Node k > 0: waits for its CREATE, becomes node 0's copy and runs fn. Nothing here lives in
 * the stack memory the image overwrites: every value is a wasm local (no address is taken).
 */
static _Noreturn __attribute__((noinline)) void run_started_node(int me) {
  dsm_lock(FORK_LOCK(me));
  volatile struct fork_slot *slot = &control->fork[me];
  uintptr_t fn = slot->fn, sp = slot->sp, pages = slot->pages;
  const uint32_t *image = slot->image;
  if (fn == 0) {
    dsm_unlock(FORK_LOCK(me));
    dsm_unlock(JOIN_LOCK(me));
    _Exit(0);
  }
  uintptr_t have = __builtin_wasm_memory_size(0);
  if (have < pages && __builtin_wasm_memory_grow(0, pages - have) == (size_t)-1) fail(ERROR_MEMORY, pages, have);
  uintptr_t base = private_base(), end = memory_end();
  uint32_t count = image[0];
  const unsigned char *data = (const unsigned char *)(image + 1 + count);
  __builtin_memset((void *)base, 0, end - base);
  for (uint32_t i = 0; i < count; i++) __builtin_memcpy((void *)(base + (uintptr_t)image[1 + i] * CHUNK), data + (size_t)i * CHUNK, CHUNK);
  /* From here on, this node's statics are node 0's: set what differs. */
  running = 1;
  dsm_unlock(FORK_LOCK(me));
  set_stack_pointer(sp);
  ((void (*)(void))fn)();
  fflush(NULL);
  running = 0;
  dsm_unlock(JOIN_LOCK(me));
  _Exit(0);
}

/* exit() anywhere: node 0 lets the nodes it never started end; a started node signals its end. */
static void at_exit(void) {
  int me = dsm_node_id();
  if (me == 0) {
    while (started < nodes - 1) dsm_unlock(FORK_LOCK(++started));
  } else if (running) {
    running = 0;
    dsm_unlock(JOIN_LOCK(me));
  }
}

__attribute__((constructor)) static void dsm_parmacs_start(void) {
  nodes = dsm_node_count();
  int me = dsm_node_id();
  uintptr_t page = dsm_parmacs_page_size();
  uintptr_t control_bytes = (sizeof(struct control) + (uintptr_t)nodes * sizeof(struct fork_slot) + page - 1) & ~(page - 1);
  control = dsm_shared_alloc(control_bytes);
  uintptr_t region_end = dsm_parmacs_region_base() + dsm_parmacs_region_bytes();
  arena_end = region_end;
  arena = (uintptr_t)dsm_shared_alloc(region_end - (uintptr_t)control - control_bytes);
  collective_closed = 1;
  if (nodes == 1) return;
  if (me == 0) {
    for (int k = 1; k < nodes; k++) dsm_lock(FORK_LOCK(k));
    dsm_barrier();
    atexit(at_exit);
    return;
  }
  dsm_lock(JOIN_LOCK(me));
  dsm_barrier();
  run_started_node(me);
}

void *dsm_parmacs_malloc(size_t bytes) {
  uintptr_t align = bytes >= dsm_parmacs_page_size() ? dsm_parmacs_page_size() : 64;
  dsm_lock(ALLOC_LOCK);
  uintptr_t at = (arena + control->heap_used + align - 1) & ~(align - 1);
  if (at > arena_end || bytes > arena_end - at) {
    dsm_unlock(ALLOC_LOCK);
    fail(ERROR_EXHAUSTED, bytes, arena_end - arena);
  }
  control->heap_used = at + bytes - arena;
  dsm_unlock(ALLOC_LOCK);
  return (void *)at;
}

static int take_ids(int count) {
  dsm_lock(ALLOC_LOCK);
  int first = DSM_PARMACS_FIRST_ID + (int)control->ids;
  control->ids += (uintptr_t)count;
  dsm_unlock(ALLOC_LOCK);
  return first;
}

static int checked_id(int id, int kind, const void *object) {
  if (id < DSM_PARMACS_FIRST_ID) fail(ERROR_NOT_INITIALISED, (uintptr_t)kind, (uintptr_t)object);
  return id;
}

void dsm_parmacs_lock_init(dsm_parmacs_lock_t *lock) { lock->id = take_ids(1); }

void dsm_parmacs_lock_init_array(dsm_parmacs_lock_t *locks, int count) {
  int first = take_ids(count);
  for (int i = 0; i < count; i++) locks[i].id = first + i;
}

void dsm_parmacs_lock(dsm_parmacs_lock_t *lock) { dsm_lock(checked_id(lock->id, KIND_LOCK, lock)); }
void dsm_parmacs_unlock(dsm_parmacs_lock_t *lock) { dsm_unlock(checked_id(lock->id, KIND_LOCK, lock)); }

void dsm_parmacs_barrier_init(dsm_parmacs_barrier_t *barrier) { barrier->id = take_ids(1); }

void dsm_parmacs_barrier(dsm_parmacs_barrier_t *barrier, int processes) {
  checked_id(barrier->id, KIND_BARRIER, barrier);
  if (processes != nodes) fail(ERROR_BARRIER_COUNT, (uintptr_t)processes, (uintptr_t)nodes);
  if (dsm_node_id() == 0 && started < nodes - 1) fail(ERROR_BARRIER_EARLY, (uintptr_t)(started + 1), (uintptr_t)nodes);
  dsm_barrier();
}

void dsm_parmacs_pause_init(dsm_parmacs_pause_t *pause) {
  pause->id = take_ids(1);
  pause->set = 0;
}

static void pause_store(dsm_parmacs_pause_t *pause, int value) {
  int id = checked_id(pause->id, KIND_PAUSE, pause);
  dsm_lock(id);
  pause->set = value;
  dsm_unlock(id);
}

void dsm_parmacs_pause_set(dsm_parmacs_pause_t *pause) { pause_store(pause, 1); }
void dsm_parmacs_pause_clear(dsm_parmacs_pause_t *pause) { pause_store(pause, 0); }

/* Each look takes the flag's lock, so it sees the last SETPAUSE under every protocol (lrc too). */
void dsm_parmacs_pause_wait(dsm_parmacs_pause_t *pause) {
  int id = checked_id(pause->id, KIND_PAUSE, pause);
  for (;;) {
    dsm_lock(id);
    int set = pause->set;
    dsm_unlock(id);
    if (set) return;
  }
}

void dsm_parmacs_fence(void) {
  dsm_lock(FENCE_LOCK);
  dsm_unlock(FENCE_LOCK);
}

/* Wraps around like SPLASH-2's own CLOCK (an unsigned long of microseconds); take differences. */
unsigned long dsm_parmacs_clock(void) { return (unsigned long)(uint64_t)dsm_now(); }
