/**
 * Counted loops with affine addresses, for loop versioning (loop_version.ts) and for the check
 * verifier (verify_checks.ts), which re-derives from the emitted unchecked copy what the guard in
 * front of it must have checked. Two loop shapes are recognised.
 *
 * Top-tested, the form AssemblyScript emits for `for (let i = a; i < b; i += c)`:
 *
 *   (loop $l [(br_if $exit POLL)] (if (i32.lt_s (local.get $i) B) (then T... (br $l))))
 *
 * with the comparison `lt` or `le`, signed or unsigned (or `gt`/`ge` with the operands swapped),
 * B an expression of variables the loop does not write, and `$i` written once in the loop, by
 * `(local.set $i (i32.add (local.get $i) (i32.const c)))` at the top level of T, c >= 1. At the
 * top of every iteration i lies in [i0, B - 1] (i0: its value on entry; B - 0 for `le`), so an
 * access sees i or i + c (before or after the increment).
 *
 * Bottom-tested, the form clang emits once it has strength-reduced a loop to pointers that step
 * and a counter (`do { ... } while (--n)`):
 *
 *   (loop $l [(br_if $exit POLL)] T... (br_if $l EXIT) [U...])
 *
 * where every induction variable x is a local written once in the loop, unconditionally, by
 * `x = x + s` (a tee counts; s a constant or a value the loop does not change), and EXIT tests
 * one of them, the counter, after its increment, against a value B the loop does not change:
 * `X` (not zero), `X != B`, or `X < B`, `X <= B`, `X > B`, `X >= B` (signed or unsigned, either
 * operand order). No other branch goes back to `$l`, so every iteration that starts advances
 * every induction variable once; U, run once after the last iteration, accesses no memory. The body then runs N >= 1 times, numbered k = 0 .. N - 1, and in
 * iteration k each x reads x0 + k * s before its increment and x0 + (k + 1) * s after it; N comes
 * from the exit test on the counter (loop_version.ts builds it, with the terms that prove the
 * counter does not wrap).
 *
 * An address is affine when it is built by add, sub, mul and shl by a constant from the
 * induction variables (at most linearly), constants, variables the loop does not write, and
 * locals whose last write before the read, in the same iteration, was at the top level (not in
 * an `if` arm or a named block), with a value that is such an expression in turn (a local written
 * in an arm is unknown from there to its next top-level write); any other operation is allowed
 * on sub-expressions free of induction variables that read only variables the loop does not
 * write (they are then one value for the whole loop). An address may also add a bounded term, a
 * value of any origin whose range is known from its form: `x & c`, `x >>> c`, `x % c` (unsigned),
 * an 8- or 16-bit unsigned load, shifted left or multiplied by a constant; the term widens the
 * access by its largest value (its `slack`), as the address lies between the affine part and the
 * affine part plus that bound.
 *
 * Each address then has an f64 form, its exact mathematical value with every variable read as an
 * unsigned number (i with the loop comparison's signedness; steps that are not constants as signed
 * numbers): equal to the real i32 address modulo 2^32, and linear in the iteration, so over the
 * iterations its extremes are at the first and the last (plus a step after an increment). Every
 * operation of the form goes through `$exact`, which flags a result that is not below 2^53 in
 * magnitude, so that the form is exact or the guard fails (loop_helpers.ts). If both extremes
 * and every byte in between lie in [0, 2^32), the real addresses are those values. The forms are
 * built in affine_form.ts.
 */
import binaryen from "binaryen";
import { Access } from "../abi.js";
import { nodes } from "./binaryen_nodes.js";
import { describeAccess } from "./memory_access.js";
import { childrenOf } from "./operand_scan.js";
import { constI32, type Def, exprId as id, invariant, localGet, type Step, translate } from "./affine_form.js";

export type { Step } from "./affine_form.js";

type Ref = binaryen.ExpressionRef;

export interface AffineAccess {
  expr: Ref;
  ptr: Ref;
  offset: number;
  width: number;
  access: Access;
  defs: Map<number, Def>;
}

/** `(if (cmp i B) (then T (br $l)))`: i runs from its value on entry to B - 1 (B when inclusive). */
export interface TopTested {
  shape: "top";
  index: number;
  step: number;
  condition: Ref;
  bound: Ref;
  signed: boolean;
  inclusive: boolean;
}

/**
 * `T (br_if $l EXIT)`: EXIT tests the counter after its increment; `ne` with no bound is the
 * not-zero test. `lt`/`le` need a positive step, `gt`/`ge` a negative one.
 */
export interface BottomTested {
  shape: "bottom";
  counter: number;
  step: number;
  test: "ne" | "lt" | "le" | "gt" | "ge";
  bound: Ref | undefined;
  signed: boolean;
}


export interface CountedLoop {
  loop: Ref;
  space: TopTested | BottomTested;
  steps: Map<number, Step>;
  accesses: AffineAccess[];
  /** Each read of an induction variable in the body: whether its increment ran before it. */
  reads: Map<Ref, boolean>;
  /** Locals and globals the loop writes. */
  written: Set<string>;
}

const COMPARISONS = new Map<number, { signed: boolean; inclusive: boolean; swapped: boolean }>([
  [binaryen.LtSInt32, { signed: true, inclusive: false, swapped: false }],
  [binaryen.LtUInt32, { signed: false, inclusive: false, swapped: false }],
  [binaryen.LeSInt32, { signed: true, inclusive: true, swapped: false }],
  [binaryen.LeUInt32, { signed: false, inclusive: true, swapped: false }],
  [binaryen.GtSInt32, { signed: true, inclusive: false, swapped: true }],
  [binaryen.GtUInt32, { signed: false, inclusive: false, swapped: true }],
  [binaryen.GeSInt32, { signed: true, inclusive: true, swapped: true }],
  [binaryen.GeUInt32, { signed: false, inclusive: true, swapped: true }],
]);

/** A bottom-tested loop's exit comparisons, with the counter on the left. */
const EXITS = new Map<number, { test: BottomTested["test"]; signed: boolean }>([
  [binaryen.NeInt32, { test: "ne", signed: false }],
  [binaryen.LtSInt32, { test: "lt", signed: true }],
  [binaryen.LtUInt32, { test: "lt", signed: false }],
  [binaryen.LeSInt32, { test: "le", signed: true }],
  [binaryen.LeUInt32, { test: "le", signed: false }],
  [binaryen.GtSInt32, { test: "gt", signed: true }],
  [binaryen.GtUInt32, { test: "gt", signed: false }],
  [binaryen.GeSInt32, { test: "ge", signed: true }],
  [binaryen.GeUInt32, { test: "ge", signed: false }],
]);
const MIRRORED = { ne: "ne", lt: "gt", le: "ge", gt: "lt", ge: "le" } as const;

const MAX_STEP = 1 << 20;

const isSet = (e: Ref) => id(e) === binaryen.LocalSetId;
const breakInfo = (e: Ref) => binaryen.getExpressionInfo(e) as unknown as { name: string; condition: Ref; value: Ref };

/** `(br_if $label (i32.atomic.load (i32.const POLL_FLAG_ADDRESS)))`, the poll exit of a fast copy. */
export function isPollExit(e: Ref, pollAddress: number): boolean {
  if (id(e) !== binaryen.BreakId) return false;
  const info = breakInfo(e);
  if (!info.condition || info.value) return false;
  const c = info.condition;
  if (id(c) !== binaryen.LoadId) return false;
  const load = binaryen.getExpressionInfo(c) as unknown as { isAtomic: boolean; bytes: number; offset: number; ptr: Ref };
  return load.isAtomic && load.bytes === 4 && load.offset === 0 && constI32(load.ptr) === pollAddress;
}

/** The loop as a counted loop with affine accesses, or undefined (see the file comment). */
export function analyseCountedLoop(loop: Ref, pollAddress: number): CountedLoop | undefined {
  const name = nodes.Loop.getName(loop);
  const type = binaryen.getExpressionType(loop);
  if (!name || (type !== binaryen.none && type !== binaryen.unreachable)) return undefined;
  const statements = bodyStatements(nodes.Loop.getBody(loop), pollAddress);
  if (statements.length === 1 && id(statements[0]) === binaryen.IfId) return topTested(loop, name, statements[0]);
  return bottomTested(loop, name, statements);
}

/** The loop body as a list of top-level statements, without a fast copy's poll exit. */
function bodyStatements(body: Ref, pollAddress: number): Ref[] {
  let list = [body];
  const unnamedBlock = (e: Ref) => id(e) === binaryen.BlockId && nodes.Block.getName(e) === null;
  // A block without a name is only a list: the binary format may or may not keep it.
  while (list.some(unnamedBlock)) list = list.flatMap((e) => (unnamedBlock(e) ? (binaryen.getExpressionInfo(e) as unknown as { children: Ref[] }).children : [e]));
  return list.length > 0 && isPollExit(list[0], pollAddress) ? list.slice(1) : list;
}

function topTested(loop: Ref, name: string, body: Ref): CountedLoop | undefined {
  const ifInfo = binaryen.getExpressionInfo(body) as unknown as { condition: Ref; ifTrue: Ref; ifFalse: Ref };
  if (ifInfo.ifFalse || id(ifInfo.ifTrue) !== binaryen.BlockId) return undefined;
  const then = (binaryen.getExpressionInfo(ifInfo.ifTrue) as unknown as { children: Ref[] }).children;
  const last = then[then.length - 1];
  if (last === undefined || id(last) !== binaryen.BreakId || nodes.Break.getName(last) !== name) return undefined;
  const lastInfo = breakInfo(last);
  if (lastInfo.condition || lastInfo.value) return undefined;
  const cond = ifInfo.condition;
  if (id(cond) !== binaryen.BinaryId) return undefined;
  const cmp = COMPARISONS.get(nodes.Binary.getOp(cond));
  if (!cmp) return undefined;
  const [left, right] = [nodes.Binary.getLeft(cond), nodes.Binary.getRight(cond)];
  const index = localGet(cmp.swapped ? right : left);
  const bound = cmp.swapped ? left : right;
  if (index === undefined) return undefined;
  const written = new Map<string, number>();
  if (!collectWrites(ifInfo.ifTrue, written)) return undefined;
  if (written.get(`l${index}`) !== 1 || !invariant(bound, written)) return undefined;
  // The one write of the index: at the top level of T, an increment by a positive constant.
  const step = then.map((e) => increment(e, index)).find((c) => c !== undefined);
  if (step === undefined) return undefined;
  const steps = new Map([[index, { constant: step }]]);
  const walked = walkBody(then, steps, written);
  if (!walked) return undefined;
  const space: TopTested = { shape: "top", index, step, condition: cond, bound, signed: cmp.signed, inclusive: cmp.inclusive };
  return { loop, space, steps, ...walked, written: new Set(written.keys()) };
}

function bottomTested(loop: Ref, name: string, statements: Ref[]): CountedLoop | undefined {
  // Statements after the back edge run once the loop is done (a branch out, say): no access there.
  let at = statements.length - 1;
  while (at >= 0 && !(id(statements[at]) === binaryen.BreakId && nodes.Break.getName(statements[at]) === name)) {
    if (touchesMemory(statements[at])) return undefined;
    at--;
  }
  const last = statements[at];
  if (last === undefined) return undefined;
  const exit = breakInfo(last);
  if (!exit.condition || exit.value) return undefined;
  const written = new Map<string, number>();
  if (!statements.every((s) => collectWrites(s, written))) return undefined;
  // Every iteration that starts must reach the exit test: no other branch back to the top.
  if (statements.reduce((n, s) => n + branchesTo(s, name), 0) !== 1) return undefined;
  const steps = inductionSteps(statements, written);
  const test = exitTest(exit.condition, steps, written);
  if (!test) return undefined;
  const body = walkBody(statements, steps, written);
  // A counter read with a get must be read after its increment (a tee is the increment).
  if (!body || (id(test.read) === binaryen.LocalGetId && body.reads.get(test.read) !== true)) return undefined;
  return { loop, space: test.space, steps, ...body, written: new Set(written.keys()) };
}

/** Counts the writes of every variable; false when the loop calls something or nests a loop. */
function collectWrites(e: Ref, written: Map<string, number>): boolean {
  const k = id(e);
  if (k === binaryen.CallId || k === binaryen.CallIndirectId || k === binaryen.LoopId) return false;
  const access = describeAccess(e, k);
  if (access?.kind === "range" || k === binaryen.AtomicWaitId) return false;
  const add = (key: string) => written.set(key, (written.get(key) ?? 0) + 1);
  if (k === binaryen.LocalSetId) add(`l${nodes.LocalSet.getIndex(e)}`);
  if (k === binaryen.GlobalSetId) add(`g${nodes.GlobalSet.getName(e)}`);
  return childrenOf(e, k).every((c) => collectWrites(c, written));
}

/** Whether `e` accesses memory anywhere. */
function touchesMemory(e: Ref): boolean {
  const k = id(e);
  return describeAccess(e, k) !== undefined || childrenOf(e, k).some(touchesMemory);
}

/** How many branches in `e` go to `label`. */
function branchesTo(e: Ref, label: string): number {
  const k = id(e);
  let n = 0;
  if (k === binaryen.BreakId && nodes.Break.getName(e) === label) n++;
  if (k === binaryen.SwitchId) {
    const info = binaryen.getExpressionInfo(e) as unknown as { names: string[]; defaultName: string };
    n += [...info.names, info.defaultName].filter((l) => l === label).length;
  }
  return childrenOf(e, k).reduce((sum, c) => sum + branchesTo(c, label), n);
}

/** `(local.set $i (i32.add (local.get $i) (i32.const c)))`: returns c when 1 <= c <= 2^20. */
function increment(e: Ref, index: number): number | undefined {
  if (id(e) !== binaryen.LocalSetId || nodes.LocalSet.getIndex(e) !== index || binaryen.getExpressionType(e) !== binaryen.none) return undefined;
  const c = stepOf(e)?.constant;
  return c !== undefined && c >= 1 && c <= MAX_STEP ? c : undefined;
}

/** The step s of `x = x + s` (or `s + x`, `x - c`), when `set` writes that; s may be any expression. */
function stepOf(set: Ref): Step | undefined {
  const x = nodes.LocalSet.getIndex(set);
  const v = nodes.LocalSet.getValue(set);
  if (id(v) !== binaryen.BinaryId) return undefined;
  const op = nodes.Binary.getOp(v);
  const [l, r] = [nodes.Binary.getLeft(v), nodes.Binary.getRight(v)];
  const step = (e: Ref): Step => {
    const c = constI32(e);
    return c === undefined ? { value: e } : { constant: c };
  };
  if (op === binaryen.AddInt32) return localGet(l) === x ? step(r) : localGet(r) === x ? step(l) : undefined;
  const c = constI32(r);
  if (op === binaryen.SubInt32 && localGet(l) === x && c !== undefined && c !== -(2 ** 31)) return { constant: -c };
  return undefined;
}


/**
 * The induction variables of a bottom-tested loop: locals written once, unconditionally, by
 * `x = x + s` with s a constant (1 <= |s| <= 2^20) or a value the loop does not change.
 */
function inductionSteps(statements: Ref[], written: Map<string, number>): Map<number, Step> {
  const steps = new Map<number, Step>();
  const walk = (e: Ref, conditional: boolean) => {
    const k = id(e);
    if (k === binaryen.LocalSetId && !conditional && written.get(`l${nodes.LocalSet.getIndex(e)}`) === 1) {
      const step = stepOf(e);
      const c = step?.constant;
      const fits = c === undefined ? step?.value !== undefined && invariant(step.value, written) : c !== 0 && Math.abs(c) <= MAX_STEP;
      if (fits) steps.set(nodes.LocalSet.getIndex(e), step!);
    }
    const inner = conditional || k === binaryen.IfId || (k === binaryen.BlockId && nodes.Block.getName(e) !== null);
    childrenOf(e, k).forEach((c, i) => walk(c, k === binaryen.IfId && i === 0 ? conditional : inner));
  };
  for (const s of statements) walk(s, false);
  return steps;
}

/**
 * The exit test of a bottom-tested loop, on a counter with a constant step (file comment), and
 * the expression that reads the counter in it.
 */
function exitTest(cond: Ref, steps: Map<number, Step>, written: Map<string, number>): { space: BottomTested; read: Ref } | undefined {
  const counterOf = (x: Ref): number | undefined => {
    const local = isSet(x) && binaryen.getExpressionType(x) === binaryen.i32 ? nodes.LocalSet.getIndex(x) : localGet(x);
    // A tee is the counter's increment itself; a get must follow the increment, checked by the walk.
    return local !== undefined && steps.get(local)?.constant !== undefined ? local : undefined;
  };
  let test: BottomTested["test"] = "ne";
  let signed = false;
  let read = cond;
  let counter = counterOf(cond);
  let bound: Ref | undefined;
  if (counter === undefined) {
    if (id(cond) !== binaryen.BinaryId) return undefined;
    const exit = EXITS.get(nodes.Binary.getOp(cond));
    if (!exit) return undefined;
    const [l, r] = [nodes.Binary.getLeft(cond), nodes.Binary.getRight(cond)];
    [read, bound, test] = [l, r, exit.test];
    counter = counterOf(l);
    if (counter === undefined) [read, bound, test] = [r, l, MIRRORED[exit.test]];
    counter ??= counterOf(r);
    if (counter === undefined || !invariant(bound, written)) return undefined;
    signed = exit.signed;
  }
  const step = steps.get(counter)!.constant!;
  if ((test === "lt" || test === "le") && step < 0) return undefined;
  if ((test === "gt" || test === "ge") && step > 0) return undefined;
  return { space: { shape: "bottom", counter, step, test, bound, signed }, read };
}

/** The body's accesses, each with its address affine, and its reads of induction variables; or undefined. */
function walkBody(statements: Ref[], steps: Map<number, Step>, written: Map<string, number>): { accesses: AffineAccess[]; reads: Map<Ref, boolean> } | undefined {
  const walker = new BodyWalker(steps);
  for (const s of statements) if (!walker.walk(s, false)) return undefined;
  const { accesses, reads } = walker;
  const ctx = { steps, written, reads };
  return accesses.every((a) => translate(a.ptr, a.defs, ctx) !== undefined) ? { accesses, reads } : undefined;
}

/**
 * Walks the body in evaluation order, recording defs, accesses, and for each read of an induction
 * variable whether its increment ran before it (see the file comment).
 */
class BodyWalker {
  readonly accesses: AffineAccess[] = [];
  readonly reads = new Map<Ref, boolean>();
  private advanced = new Set<number>();
  private defs = new Map<number, Def>();

  constructor(
    private readonly steps: Map<number, Step>,
  ) {}

  /** False when the loop has a shape the analysis refuses. */
  walk(e: Ref, conditional: boolean): boolean {
    const k = id(e);
    const access = describeAccess(e, k);
    const inner = conditional || k === binaryen.IfId || (k === binaryen.BlockId && nodes.Block.getName(e) !== null);
    const children = childrenOf(e, k);
    for (let i = 0; i < children.length; i++) {
      // An `if` condition always runs; its arms may not.
      if (!this.walk(children[i], k === binaryen.IfId && i === 0 ? conditional : inner)) return false;
    }
    if (access?.kind === "single") {
      this.accesses.push({ expr: e, ptr: access.operands[0], offset: access.offset, width: access.width, access: access.access, defs: new Map(this.defs) });
    }
    if (k === binaryen.LocalGetId && this.steps.has(nodes.LocalGet.getIndex(e))) this.reads.set(e, this.advanced.has(nodes.LocalGet.getIndex(e)));
    if (k === binaryen.LocalSetId) {
      const local = nodes.LocalSet.getIndex(e);
      if (this.steps.has(local)) {
        // An induction variable's one write: unconditional, as the analysis found it.
        if (conditional) return false;
        this.advanced.add(local);
      } else if (conditional) {
        this.defs.delete(local); // what a later read sees depends on the path
      } else {
        this.defs.set(local, { value: nodes.LocalSet.getValue(e), defs: new Map(this.defs) });
      }
    }
    return true;
  }
}
