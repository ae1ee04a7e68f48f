/*
 * Parallel LSD radix sort of `keys` pseudo-random keys of `bits` bits (1..31), 8 bits per pass,
 * generated from `seed`: the C twin of ../intsort.ts, giving the same hash on any number of nodes.
 * Each node owns a contiguous slice of the keys; per pass every node counts the digits of its slice
 * into its own row of a shared histogram, and after a barrier reads all rows to find where its keys
 * go and scatters them, stably, into the other array.
 * Returns -1 if the final array is not sorted, otherwise a non-negative hash of the sorted keys.
 */
#include <stdint.h>
#include <wasm_dsm.h>

#define RADIX_BITS 8
#define BUCKETS (1 << RADIX_BITS)

/* A 32-bit mix of (seed, i): the same function as the AssemblyScript kernel's. */
static uint32_t key_at(uint32_t seed, uint32_t i) {
  uint32_t x = i * 0x9e3779b9u + seed;
  x ^= x >> 16;
  x *= 0x85ebca6bu;
  x ^= x >> 13;
  x *= 0xc2b2ae35u;
  x ^= x >> 16;
  return x;
}

long long run(int keys, int bits, int seed) {
  if (keys < 1 || bits < 1 || bits > 31) __builtin_trap();
  int id = dsm_node_id();
  int nodes = dsm_node_count();
  uint32_t *src = dsm_shared_alloc((size_t)keys * 4);
  uint32_t *dst = dsm_shared_alloc((size_t)keys * 4);
  int32_t *hist = dsm_shared_alloc((size_t)nodes * BUCKETS * 4);
  int lo = (int)((long long)id * keys / nodes);
  int hi = (int)((long long)(id + 1) * keys / nodes);
  uint32_t mask = (1u << (uint32_t)bits) - 1;
  for (int i = lo; i < hi; i++) src[i] = key_at((uint32_t)seed, (uint32_t)i) & mask;
  int offsets[BUCKETS];
  int32_t *my_row = hist + (size_t)id * BUCKETS;
  int passes = (bits + RADIX_BITS - 1) / RADIX_BITS;
  for (int pass = 0; pass < passes; pass++) {
    uint32_t shift = (uint32_t)(pass * RADIX_BITS);
    /* Nobody reads this row now: the previous pass ended with a barrier after all reads of it. */
    for (int d = 0; d < BUCKETS; d++) my_row[d] = 0;
    for (int i = lo; i < hi; i++) my_row[(src[i] >> shift) & (BUCKETS - 1)]++;
    dsm_barrier();
    /* Keys with digit d from this node go after all smaller digits, and after digit d of lower nodes. */
    int base = 0;
    for (int d = 0; d < BUCKETS; d++) {
      int before = 0;
      int total = 0;
      for (int q = 0; q < nodes; q++) {
        int c = hist[(size_t)q * BUCKETS + d];
        if (q < id) before += c;
        total += c;
      }
      offsets[d] = base + before;
      base += total;
    }
    for (int i = lo; i < hi; i++) {
      uint32_t key = src[i];
      int d = (int)((key >> shift) & (BUCKETS - 1));
      dst[offsets[d]++] = key;
    }
    dsm_barrier();
    uint32_t *tmp = src;
    src = dst;
    dst = tmp;
  }
  if (id != 0) return 0;
  uint64_t h = 0; /* wraps as the AssemblyScript i64 does */
  uint32_t previous = 0;
  for (int i = 0; i < keys; i++) {
    uint32_t key = src[i];
    if (key < previous) return -1;
    previous = key;
    h = h * 1000003u + key;
  }
  return (long long)(h & 0x7fffffffffffffffull);
}
