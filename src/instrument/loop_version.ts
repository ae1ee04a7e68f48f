/**
 * Loop versioning. A counted loop with affine addresses (affine_loop.ts) that makes no call gets
 * an unchecked copy, run when one guard before the loop finds every page the loop can touch
 * allowed; otherwise, and as soon as a poll is due, the checked loop runs on from where it is:
 *
 *   (loop $l (if (i32.lt_s (local.get $i) B) (then T (br $l))))
 *
 *   (block $done
 *     (block $checked
 *       (br_if $checked (f64.lt (f64.sub B i) (f64.const MIN_TRIP)))  ;; a short run: not worth it
 *       (global.set $inexact (i32.const 0))
 *       (br_if $checked (i32.eqz GUARD))
 *       (loop $fast
 *         (br_if $checked (i32.atomic.load (i32.const POLL_FLAG_ADDRESS)))
 *         (if (i32.lt_s (local.get $i) B) (then T' (br $fast))))    ;; T' = T, unchecked
 *       (br $done))
 *     CHECKED_LOOP)                                                  ;; the loop as the pass rewrote it
 *
 *   GUARD = (i32.and (i32.and (f64.le I0 IHI) (f64.le (IHI + c) MAX))   ;; i runs from I0 to IHI, no wrap
 *             (i32.and (call $pages LOW_1 HIGH_1 (i32.const w_1) (i32.const kind_1)) ...))
 *
 * with I0 = i on entry, IHI = B - 1 (B for `le`), and LOW_k, HIGH_k the f64 form of access k's
 * address (affine_loop.ts) at I0 and at IHI (loop_helpers.ts checks them and the pages between).
 *
 * Polls: the copy leaves at the top of an iteration when the poll flag is up, before anything of
 * the iteration ran; the checked loop then polls first, so parking works as before, and whatever
 * the host changed while the kernel was parked is checked again access by access. The copy makes
 * no call, so nothing can change a page while it runs (the parking invariant).
 *
 * Not covered: loops that call something, nest a loop, wait or use bulk memory; loops counting
 * down; other loop shapes (`do ... while`); loops with an access whose address is not affine
 * (indirect, hashed); runs of fewer than {@link MIN_TRIP} iterations, where the guard would cost
 * more than the checks (a constant bound below it is not versioned at all).
 */
import binaryen from "binaryen";
import { Access, POLL_FLAG_ADDRESS } from "../abi.js";
import { addressForm, type CountedLoop, type FormBuilder } from "./affine_loop.js";
import type { LoopHelperNames } from "./loop_helpers.js";
import { nodes } from "./binaryen_nodes.js";
import { retarget } from "./loop_restart.js";

type Ref = binaryen.ExpressionRef;

/** Loops bounded by a constant smaller than this are not versioned; shorter runs stay checked. */
export const MIN_TRIP = 16;

/** The guard's terms, built fresh on each call (the verifier rebuilds them to compare). */
export interface GuardTerms {
  /** `(f64.le I0 IHI)` and `(f64.le (IHI + c) MAX)`. */
  limits: Ref[];
  /** One per distinct access form: `(call $pages LOW HIGH width kind)`. */
  pages: Ref[];
}

export function guardTerms(m: binaryen.Module, loop: CountedLoop, names: LoopHelperNames): GuardTerms | undefined {
  const { f64, i32 } = binaryen;
  const exact = (x: Ref) => m.call(names.exact, [x], f64);
  const convert = (e: Ref) => (loop.signed ? m.f64.convert_s.i32(e) : m.f64.convert_u.i32(e));
  const first = () => convert(m.local.get(loop.index, i32));
  const last = () => (loop.inclusive ? convert(m.copyExpression(loop.bound)) : exact(m.f64.sub(convert(m.copyExpression(loop.bound)), m.f64.const(1))));
  const max = loop.signed ? 2 ** 31 - 1 : 2 ** 32 - 1;
  const limits = [m.f64.le(first(), last()), m.f64.le(exact(m.f64.add(last(), m.f64.const(loop.step))), m.f64.const(max))];
  const pages: Ref[] = [];
  const seen = new Map<string, Access>();
  const forms = loop.accesses.map((a) => ({ a, form: addressForm(a, { index: loop.index, written: loop.written }) }));
  // Writes first, so that a read with the same form is covered by the write's term.
  forms.sort((x, y) => y.a.access - x.a.access);
  for (const { a, form } of forms) {
    if (!form) return undefined;
    const at = (index: () => Ref): Ref => form({ m, exact, index, signed: loop.signed } satisfies FormBuilder);
    const low = at(first);
    const key = `${binaryen.emitText(low)} ${a.width}`;
    if (seen.has(key) && seen.get(key)! >= a.access) continue;
    seen.set(key, a.access);
    pages.push(m.call(names.pages, [low, at(last), m.i32.const(a.width), m.i32.const(a.access)], i32));
  }
  return { limits, pages };
}

/** Whether the loop is worth a guard: it accesses memory and is not bounded by a small constant. */
export function worthVersioning(loop: CountedLoop): boolean {
  if (loop.accesses.length === 0) return false;
  if (binaryen.getExpressionId(loop.bound) !== binaryen.ConstId) return true;
  return nodes.Const.getValueI32(loop.bound) >= MIN_TRIP;
}

export interface VersionLabels {
  done: string;
  checked: string;
  fast: string;
}

/**
 * The versioned form of `counted` (see the file comment): `original` is an unrewritten copy of
 * the loop, `checked` the loop as the pass rewrote it.
 */
export function versionLoop(m: binaryen.Module, counted: CountedLoop, original: Ref, checked: Ref, names: LoopHelperNames, labels: VersionLabels): Ref | undefined {
  const terms = guardTerms(m, counted, names);
  if (!terms) return undefined;
  const guard = [...terms.limits, ...terms.pages].reduce((acc, t) => m.i32.and(acc, t));
  const reset = m.global.set(names.inexact, m.i32.const(0));
  // A short run costs less checked than the guard does; NaN cannot occur (i32 operands).
  const convert = (e: Ref) => (counted.signed ? m.f64.convert_s.i32(e) : m.f64.convert_u.i32(e));
  const trips = m.f64.sub(convert(m.copyExpression(counted.bound)), convert(m.local.get(counted.index, binaryen.i32)));
  const short = m.br(labels.checked, m.f64.lt(trips, m.f64.const(MIN_TRIP)));
  const name = nodes.Loop.getName(original)!;
  const body = nodes.Loop.getBody(original);
  retarget(body, name, labels.fast);
  const poll = m.br(labels.checked, m.i32.atomic.load(0, m.i32.const(POLL_FLAG_ADDRESS)));
  const fast = m.loop(labels.fast, m.block(null, [poll, body]));
  const versioned = m.block(labels.checked, [short, reset, m.br(labels.checked, m.i32.eqz(guard)), fast, m.br(labels.done)]);
  return m.block(labels.done, [versioned, checked]);
}
