// Test kernel: reads and writes shared memory at addresses the test chooses, so the test can check
// which pages fault and that the kernel sees exactly the bytes the host installed.
import { sharedAlloc, barrier } from "wasm-dsm";

/** Allocates `pages` pages of shared memory and returns the base address. */
let base: usize = 0;

export function run(pages: i32, mode: i32, offset: i32): i64 {
  base = sharedAlloc(<usize>pages * 4096);
  const p = base + <usize>offset;
  switch (mode) {
    case 0: return <i64>load<u8>(p);
    case 1: return <i64>load<i16>(p);
    case 2: return <i64>load<u32>(p);
    case 3: return load<i64>(p);                 // may straddle two pages
    case 4: { store<u32>(p, 0xdeadbeef); return <i64>load<u32>(p); }
    case 5: { memory.fill(p, 7, 3 * 4096); return <i64>load<u8>(p + 3 * 4096 - 1); }
    case 6: { memory.copy(p + 4096 * 2, p, 4096); return <i64>load<u32>(p + 4096 * 2); }
    case 7: return <i64>atomic.add<u32>(p, 5);
    case 8: { const v = v128.load(p); return i64x2.extract_lane(v, 0); }
    case 9: { barrier(); return 0; }
  }
  return -1;
}
