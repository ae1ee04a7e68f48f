// Test kernel: fails on purpose in the way `mode` selects.
export function run(mode: i32): i32 {
  if (mode == 0) abort("bad input " + mode.toString(), "trap.ts", 7, 3);
  if (mode == 1) unreachable();
  if (mode == 2) return load<i32>(0xfffffff0);
  return 0;
}
