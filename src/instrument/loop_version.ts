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
 * address (affine_loop.ts) at I0 and at IHI (loop_helpers.ts checks them and the pages between),
 * widened by the access's slack (a bounded index, such as a histogram's `(x >>> s) & 255`).
 *
 * A bottom-tested loop (clang's `T (br_if $l EXIT)`, affine_loop.ts) is versioned the same way:
 * its fast copy is `(loop $fast (br_if $checked POLL) T' (br_if $fast EXIT))`, its short-run test
 * compares its iteration count N with MIN_TRIP, and its guard's limits say that N is what the
 * exit test makes it (see {@link bottomSpace}); LOW_k and HIGH_k are the address's form at the
 * first and the last iteration, k = 0 and k = N - 1.
 *
 * Polls: the copy leaves at the top of an iteration when the poll flag is up, before anything of
 * the iteration ran; the checked loop then polls first, so parking works as before, and whatever
 * the host changed while the kernel was parked is checked again access by access. The copy makes
 * no call, so nothing can change a page while it runs (the parking invariant).
 *
 * Not covered: loops that call something, nest a loop, wait or use bulk memory; top-tested loops
 * counting down; other loop shapes (`while` loops whose test is not on a counter, loops branching
 * back to their top from inside); loops with an access whose address is neither affine nor affine
 * plus a bounded term (indirect, hashed: a radix sort's scatter); runs of fewer than
 * {@link MIN_TRIP} iterations, where the guard would cost more than the checks (a constant bound
 * below it is not versioned at all).
 */
import binaryen from "binaryen";
import { Access, POLL_FLAG_ADDRESS } from "../abi.js";
import { addressForm, type FormBuilder } from "./affine_form.js";
import type { BottomTested, CountedLoop, TopTested } from "./affine_loop.js";
import type { LoopHelperNames } from "./loop_helpers.js";
import { nodes } from "./binaryen_nodes.js";
import { renameLabels, retarget } from "./loop_restart.js";

type Ref = binaryen.ExpressionRef;

/** Loops bounded by a constant smaller than this are not versioned; shorter runs stay checked. */
export const MIN_TRIP = 16;

/** The guard's terms, built fresh on each call (the verifier rebuilds them to compare). */
export interface GuardTerms {
  /** Terms that the iterations are as the forms assume: `(f64.le I0 IHI)` and the like. */
  limits: Ref[];
  /** One per distinct access form: `(call $pages LOW HIGH width kind)`. */
  pages: Ref[];
}

/** Where the iterations run: each induction variable's value at the first and at the last. */
interface IterationSpace {
  limits: Ref[];
  first: FormBuilder["iv"];
  last: FormBuilder["iv"];
  /** How many iterations run, for the short-run test (not exact-checked: it runs before the reset). */
  trips(): Ref;
}

/** Top-tested: i from I0 to IHI = B - 1 (B for `le`), with I0 <= IHI and IHI + c not wrapping. */
function topSpace(m: binaryen.Module, space: TopTested, exact: (x: Ref) => Ref): IterationSpace {
  const convert = (e: Ref) => (space.signed ? m.f64.convert_s.i32(e) : m.f64.convert_u.i32(e));
  const first = () => convert(m.local.get(space.index, binaryen.i32));
  const last = () => (space.inclusive ? convert(m.copyExpression(space.bound)) : exact(m.f64.sub(convert(m.copyExpression(space.bound)), m.f64.const(1))));
  const max = space.signed ? 2 ** 31 - 1 : 2 ** 32 - 1;
  const at = (value: () => Ref) => (_: number, advanced: boolean) => (advanced ? exact(m.f64.add(value(), m.f64.const(space.step))) : value());
  return {
    limits: [m.f64.le(first(), last()), m.f64.le(exact(m.f64.add(last(), m.f64.const(space.step))), m.f64.const(max))],
    first: at(first),
    last: at(last),
    trips: () => m.f64.sub(convert(m.copyExpression(space.bound)), first()),
  };
}

/**
 * Bottom-tested: iterations k = 0 .. N - 1, N >= 1 from the exit test on the counter c (entry
 * value c0, step s, after its increment X = c0 + (k + 1) * s):
 * - `X != B`: N = ((B - c0) mod 2^32) / s for s > 0 (c0 - B for s < 0); it must be an integer
 *   of at least 1, or the counter would pass B and wrap;
 * - `X < B` (`<=`: B + 1): N = max(1, ceil((B - c0) / s)), and c0 + N * s must not wrap;
 * - `X > B` (`>=`: B - 1): N = max(1, ceil((c0 - B) / -s)), and c0 + N * s must not wrap.
 * Each induction variable x is x0 + k * step before its increment, read as an unsigned number
 * (a step that is not a constant as a signed one).
 */
function bottomSpace(m: binaryen.Module, loop: CountedLoop, space: BottomTested, exact: (x: Ref) => Ref): IterationSpace {
  const { f64, i32 } = m;
  const counter = () => m.local.get(space.counter, binaryen.i32);
  const bound = () => (space.bound === undefined ? i32.const(0) : m.copyExpression(space.bound));
  const magnitude = Math.abs(space.step);
  const limits: Ref[] = [];
  let count: () => Ref;
  if (space.test === "ne") {
    const distance = () => f64.convert_u.i32(space.step > 0 ? i32.sub(bound(), counter()) : i32.sub(counter(), bound()));
    count = magnitude === 1 ? distance : () => f64.div(distance(), f64.const(magnitude));
    limits.push(f64.ge(count(), f64.const(1)));
    if (magnitude !== 1) limits.push(f64.eq(f64.floor(count()), count()));
  } else {
    const convert = (e: Ref) => (space.signed ? f64.convert_s.i32(e) : f64.convert_u.i32(e));
    const up = space.test === "lt" || space.test === "le";
    const inclusive = space.test === "le" || space.test === "ge";
    const limit = () => (inclusive ? f64.add(convert(bound()), f64.const(up ? 1 : -1)) : convert(bound()));
    const distance = () => (up ? f64.sub(limit(), convert(counter())) : f64.sub(convert(counter()), limit()));
    count = () => f64.max(f64.const(1), magnitude === 1 ? distance() : f64.ceil(f64.div(distance(), f64.const(magnitude))));
    const end = () => f64.add(convert(counter()), f64.mul(count(), f64.const(space.step)));
    const [min, max] = space.signed ? [-(2 ** 31), 2 ** 31 - 1] : [0, 2 ** 32 - 1];
    limits.push(up ? f64.le(end(), f64.const(max)) : f64.ge(end(), f64.const(min)));
  }
  const start = (x: number) => f64.convert_u.i32(m.local.get(x, binaryen.i32));
  const step = (x: number) => {
    const s = loop.steps.get(x)!;
    return s.value === undefined ? f64.const(s.constant) : f64.convert_s.i32(m.copyExpression(s.value));
  };
  return {
    limits,
    first: (x, advanced) => (advanced ? exact(f64.add(start(x), step(x))) : start(x)),
    last: (x, advanced) => exact(f64.add(start(x), exact(f64.mul(advanced ? count() : f64.sub(count(), f64.const(1)), step(x))))),
    trips: count,
  };
}

function iterationSpace(m: binaryen.Module, loop: CountedLoop, exact: (x: Ref) => Ref): IterationSpace {
  return loop.space.shape === "top" ? topSpace(m, loop.space, exact) : bottomSpace(m, loop, loop.space, exact);
}

export function guardTerms(m: binaryen.Module, loop: CountedLoop, names: LoopHelperNames): GuardTerms | undefined {
  const { f64, i32 } = binaryen;
  const exact = (x: Ref) => m.call(names.exact, [x], f64);
  const space = iterationSpace(m, loop, exact);
  const pages: Ref[] = [];
  const seen = new Map<string, Access>();
  const forms = loop.accesses.map((a) => ({ a, form: addressForm(a, loop) }));
  // Writes first, so that a read with the same form is covered by the write's term.
  forms.sort((x, y) => y.a.access - x.a.access);
  for (const { a, form } of forms) {
    if (!form) return undefined;
    const at = (iv: FormBuilder["iv"]): Ref => form.build({ m, exact, iv });
    const low = at(space.first);
    const width = a.width + form.slack;
    const key = `${binaryen.emitText(low)} ${width}`;
    if (seen.has(key) && seen.get(key)! >= a.access) continue;
    seen.set(key, a.access);
    pages.push(m.call(names.pages, [low, at(space.last), m.i32.const(width), m.i32.const(a.access)], i32));
  }
  return { limits: space.limits, pages };
}

/** Whether the loop is worth a guard: it accesses memory and is not bounded by a small constant. */
export function worthVersioning(loop: CountedLoop): boolean {
  if (loop.accesses.length === 0) return false;
  if (loop.space.shape === "bottom" || binaryen.getExpressionId(loop.space.bound) !== binaryen.ConstId) return true;
  return nodes.Const.getValueI32(loop.space.bound) >= MIN_TRIP;
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
  const trips = iterationSpace(m, counted, (x) => x).trips();
  const short = m.br(labels.checked, m.f64.lt(trips, m.f64.const(MIN_TRIP)));
  const name = nodes.Loop.getName(original)!;
  const body = nodes.Loop.getBody(original);
  retarget(body, name, labels.fast);
  renameLabels(body, labels.fast); // the checked loop keeps the body's own labels (clang's blocks)
  const poll = m.br(labels.checked, m.i32.atomic.load(0, m.i32.const(POLL_FLAG_ADDRESS)));
  const fast = m.loop(labels.fast, m.block(null, [poll, body]));
  const versioned = m.block(labels.checked, [short, reset, m.br(labels.checked, m.i32.eqz(guard)), fast, m.br(labels.done)]);
  return m.block(labels.done, [versioned, checked]);
}
