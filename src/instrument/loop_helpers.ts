/**
 * The helper functions and the global a versioned loop's guard uses (loop_version.ts). Neither
 * function calls anything, so calling them never parks the kernel.
 *
 *   (global $inexact (mut i32))       set when a computation of the guard was not exact
 *
 *   (func $exact (param $x f64) (result f64)
 *     flags $x unless |$x| < 2^53 (NaN included), returns $x)
 *
 *   (func $pages (param $a f64) (param $b f64) (param $width i32) (param $access i32) (result i32)
 *     returns 1 when nothing was flagged, lo = min(a, b) >= 0, hi = max(a, b) + width - 1 < 2^32,
 *     and every protection byte of pages lo >>> shift .. hi >>> shift allows the access: four
 *     bytes at a time (one i32 load tested against 0x02020202 for a read, 0x03030303 for a
 *     write), the last up to three one at a time; returns 0 otherwise)
 */
import binaryen from "binaryen";
import { type Layout, NO_READ, NO_WRITE } from "../abi.js";

export interface LoopHelperNames {
  inexact: string;
  exact: string;
  pages: string;
}

const TWO_53 = 2 ** 53;

export function addLoopHelpers(m: binaryen.Module, layout: Layout, names: LoopHelperNames): void {
  const { i32, f64 } = binaryen;
  m.addGlobal(names.inexact, i32, true, m.i32.const(0));
  const flag = () => m.global.set(names.inexact, m.i32.const(1));
  const x = () => m.local.get(0, f64);
  m.addFunction(
    names.exact,
    f64,
    f64,
    [],
    m.block(null, [m.if(m.i32.eqz(m.f64.lt(m.f64.abs(x()), m.f64.const(TWO_53))), flag()), x()], f64),
  );
  const [A, B, WIDTH, ACCESS, LO, HI, PAGE, LAST, MASK] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const get = (i: number, t: number = i32) => m.local.get(i, t);
  const fail = () => m.return(m.i32.const(0));
  const word = (NO_READ << 24) | (NO_READ << 16) | (NO_READ << 8) | NO_READ;
  const both = NO_READ | NO_WRITE;
  const words = (both << 24) | (both << 16) | (both << 8) | both;
  const body = m.block(
    null,
    [
      m.if(m.global.get(names.inexact, i32), fail()),
      m.local.set(LO, m.f64.min(get(A, f64), get(B, f64))),
      m.local.set(HI, m.f64.add(m.f64.max(get(A, f64), get(B, f64)), m.f64.convert_u.i32(m.i32.sub(get(WIDTH), m.i32.const(1))))),
      // NaN fails both comparisons.
      m.if(m.i32.eqz(m.i32.and(m.f64.ge(get(LO, f64), m.f64.const(0)), m.f64.le(get(HI, f64), m.f64.const(2 ** 32 - 1)))), fail()),
      m.local.set(PAGE, m.i32.shr_u(m.i32.trunc_u.f64(get(LO, f64)), m.i32.const(layout.pageShift))),
      m.local.set(LAST, m.i32.shr_u(m.i32.trunc_u.f64(get(HI, f64)), m.i32.const(layout.pageShift))),
      m.local.set(MASK, m.select(get(ACCESS), m.i32.const(words), m.i32.const(word))),
      m.block("words", [
        m.loop(
          "word",
          m.block(null, [
            m.br("words", m.i32.gt_u(m.i32.add(get(PAGE), m.i32.const(3)), get(LAST))),
            m.if(m.i32.and(m.i32.load(layout.tableBase, 1, get(PAGE)), get(MASK)), fail()),
            m.local.set(PAGE, m.i32.add(get(PAGE), m.i32.const(4))),
            m.br("word"),
          ]),
        ),
      ]),
      m.block("bytes", [
        m.loop(
          "byte",
          m.block(null, [
            m.br("bytes", m.i32.gt_u(get(PAGE), get(LAST))),
            m.if(m.i32.and(m.i32.load8_u(layout.tableBase, 1, get(PAGE)), get(MASK)), fail()),
            m.local.set(PAGE, m.i32.add(get(PAGE), m.i32.const(1))),
            m.br("byte"),
          ]),
        ),
      ]),
      m.i32.const(1),
    ],
    i32,
  );
  m.addFunction(names.pages, binaryen.createType([f64, f64, i32, i32]), i32, [f64, f64, i32, i32, i32], body);
}
