/**
 * The helper function bulk operations call to check a byte range:
 *
 *   (func $range (param $start i32) (param $size i32) (param $access i32) (result i32)
 *     nothing to do when $size is 0; otherwise walk the protection bytes of pages
 *     first = start >>> shift .. last = (start + size - 1) >>> shift, and at the first one that
 *     forbids the access call $fault(first, last, access) and return 1; return 0 if none does)
 *
 * Returning 1 tells the caller that the kernel was parked (so other checks must be redone). A
 * range that wraps past 4 GiB checks its first page only; the operation itself then traps.
 */
import binaryen from "binaryen";
import { type Layout, NO_READ } from "../abi.js";

export function addRangeHelper(m: binaryen.Module, layout: Layout, name: string, fault: string): void {
  const i32 = binaryen.i32;
  const [START, SIZE, ACCESS, PAGE, FIRST, LAST, MASK] = [0, 1, 2, 3, 4, 5, 6];
  const get = (i: number) => m.local.get(i, i32);
  const shift = () => m.i32.const(layout.pageShift);
  const body = m.block(
    null,
    [
      m.if(m.i32.eqz(get(SIZE)), m.return(m.i32.const(0))),
      m.local.set(FIRST, m.i32.shr_u(get(START), shift())),
      m.local.set(LAST, m.i32.shr_u(m.i32.add(get(START), m.i32.sub(get(SIZE), m.i32.const(1))), shift())),
      m.local.set(PAGE, get(FIRST)),
      // Access.Write (1) forbids any set bit, Access.Read (0) only NO_READ.
      m.local.set(MASK, m.select(get(ACCESS), m.i32.const(0xff), m.i32.const(NO_READ))),
      m.loop(
        "next",
        m.block(null, [
          m.if(
            m.i32.and(m.i32.load8_u(layout.tableBase, 1, get(PAGE)), get(MASK)),
            m.block(null, [m.call(fault, [get(FIRST), get(LAST), get(ACCESS)], binaryen.none), m.return(m.i32.const(1))]),
          ),
          m.local.set(PAGE, m.i32.add(get(PAGE), m.i32.const(1))),
          m.br("next", m.i32.le_u(get(PAGE), get(LAST))),
        ]),
      ),
      m.i32.const(0),
    ],
    i32,
  );
  m.addFunction(name, binaryen.createType([i32, i32, i32]), i32, [i32, i32, i32, i32], body);
}
