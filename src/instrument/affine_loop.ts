/**
 * Counted loops with affine addresses, for loop versioning (loop_version.ts) and for the check
 * verifier (verify_checks.ts), which re-derives from the emitted unchecked copy what the guard in
 * front of it must have checked.
 *
 * The loop form recognised is the one AssemblyScript emits for `for (let i = a; i < b; i += c)`:
 *
 *   (loop $l [(br_if $exit POLL)] (if (i32.lt_s (local.get $i) B) (then T... (br $l))))
 *
 * with the comparison `lt` or `le`, signed or unsigned (or `gt`/`ge` with the operands swapped),
 * B an expression of variables the loop does not write, and `$i` written once in the loop, by
 * `(local.set $i (i32.add (local.get $i) (i32.const c)))` at the top level of T, c >= 1. At the
 * top of every iteration i lies in [i0, B - 1] (i0: its value on entry; B - 0 for `le`), so an
 * access sees i or i + c (before or after the increment).
 *
 * An address is affine when it is built by add, sub, mul and shl by a constant from i (at most
 * linearly), constants, variables the loop does not write, and locals the loop writes once at its
 * top level (not in an `if` arm or a named block) before the access reads them, whose values are
 * such expressions in turn; any other operation is allowed on sub-expressions free of i that read
 * only variables the loop does not write (they are then one value for the whole loop).
 *
 * Each address then has an f64 form, its exact mathematical value with every variable read as an
 * unsigned number (i with the loop comparison's signedness): equal to the real i32 address modulo
 * 2^32, and linear in i, so over the iterations its extremes are at i0 and at B - 1 (plus c after
 * the increment). Every operation of the form goes through `$exact`, which flags a result that is
 * not an integer below 2^53 in magnitude, so that the form is exact or the guard fails
 * (loop_helpers.ts). If both extremes and every byte in between lie in [0, 2^32), the real
 * addresses are those values.
 */
import binaryen from "binaryen";
import { Access } from "../abi.js";
import { nodes } from "./binaryen_nodes.js";
import { describeAccess } from "./memory_access.js";
import { childrenOf } from "./operand_scan.js";

type Ref = binaryen.ExpressionRef;

/** A def of a local the loop writes once at its top level: its value and the phase it sees i in. */
interface Def {
  value: Ref;
  phase: number;
  defs: Map<number, Def>;
}

export interface AffineAccess {
  expr: Ref;
  ptr: Ref;
  offset: number;
  width: number;
  access: Access;
  /** 0 when the access runs before the increment of i in the iteration, else c. */
  phase: number;
  defs: Map<number, Def>;
}

export interface CountedLoop {
  loop: Ref;
  /** The induction variable and its step. */
  index: number;
  step: number;
  /** The loop condition and its bound B (an exclusive bound once `inclusive` is applied). */
  condition: Ref;
  bound: Ref;
  signed: boolean;
  inclusive: boolean;
  accesses: AffineAccess[];
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

/** Operations allowed in a value computed once for the whole loop: pure and never trapping. */
const PURE = new Set<number>([
  binaryen.AddInt32, binaryen.SubInt32, binaryen.MulInt32, binaryen.AndInt32, binaryen.OrInt32, binaryen.XorInt32,
  binaryen.ShlInt32, binaryen.ShrUInt32, binaryen.ShrSInt32, binaryen.RotLInt32, binaryen.RotRInt32,
]);

const MAX_STEP = 1 << 20;

const id = (e: Ref) => binaryen.getExpressionId(e);
const constI32 = (e: Ref) => (id(e) === binaryen.ConstId && binaryen.getExpressionType(e) === binaryen.i32 ? nodes.Const.getValueI32(e) | 0 : undefined);
const localGet = (e: Ref) => (id(e) === binaryen.LocalGetId ? nodes.LocalGet.getIndex(e) : undefined);

/** `(br_if $label (i32.atomic.load (i32.const POLL_FLAG_ADDRESS)))`, the poll exit of a fast copy. */
export function isPollExit(e: Ref, pollAddress: number): boolean {
  if (id(e) !== binaryen.BreakId) return false;
  const info = binaryen.getExpressionInfo(e) as unknown as { condition: Ref; value: Ref };
  if (!info.condition || info.value) return false;
  const c = info.condition;
  if (id(c) !== binaryen.LoadId) return false;
  const load = binaryen.getExpressionInfo(c) as unknown as { isAtomic: boolean; bytes: number; offset: number; ptr: Ref };
  return load.isAtomic && load.bytes === 4 && load.offset === 0 && constI32(load.ptr) === pollAddress;
}

/** The loop as a counted loop with affine accesses, or undefined (see the file comment). */
export function analyseCountedLoop(loop: Ref, pollAddress: number): CountedLoop | undefined {
  const name = nodes.Loop.getName(loop);
  if (!name || binaryen.getExpressionType(loop) !== binaryen.none) return undefined;
  let body = nodes.Loop.getBody(loop);
  if (id(body) === binaryen.BlockId && nodes.Block.getName(body) === null) {
    const children = (binaryen.getExpressionInfo(body) as unknown as { children: Ref[] }).children;
    if (children.length !== 2 || !isPollExit(children[0], pollAddress)) return undefined;
    body = children[1];
  }
  if (id(body) !== binaryen.IfId) return undefined;
  const ifInfo = binaryen.getExpressionInfo(body) as unknown as { condition: Ref; ifTrue: Ref; ifFalse: Ref };
  if (ifInfo.ifFalse || id(ifInfo.ifTrue) !== binaryen.BlockId) return undefined;
  const then = (binaryen.getExpressionInfo(ifInfo.ifTrue) as unknown as { children: Ref[] }).children;
  const last = then[then.length - 1];
  if (last === undefined || id(last) !== binaryen.BreakId || nodes.Break.getName(last) !== name) return undefined;
  const lastInfo = binaryen.getExpressionInfo(last) as unknown as { condition: Ref; value: Ref };
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
  const accesses: AffineAccess[] = [];
  const walker = new BodyWalker(index, step, written, accesses);
  for (const child of then) if (!walker.walk(child, false)) return undefined;
  for (const a of accesses) if (!affineForm(a, { index, written })) return undefined;
  return { loop, index, step, condition: cond, bound, signed: cmp.signed, inclusive: cmp.inclusive, accesses, written: new Set(written.keys()) };
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

/** `(local.set $i (i32.add (local.get $i) (i32.const c)))`: returns c when 1 <= c <= 2^20. */
function increment(e: Ref, index: number): number | undefined {
  if (id(e) !== binaryen.LocalSetId || nodes.LocalSet.getIndex(e) !== index || binaryen.getExpressionType(e) !== binaryen.none) return undefined;
  const v = nodes.LocalSet.getValue(e);
  if (id(v) !== binaryen.BinaryId || nodes.Binary.getOp(v) !== binaryen.AddInt32) return undefined;
  const [l, r] = [nodes.Binary.getLeft(v), nodes.Binary.getRight(v)];
  const c = localGet(l) === index ? constI32(r) : localGet(r) === index ? constI32(l) : undefined;
  return c !== undefined && c >= 1 && c <= MAX_STEP ? c : undefined;
}

/** Built only from constants, pure i32 operations and variables the loop does not write. */
export function invariant(e: Ref, written: Map<string, number> | Set<string>): boolean {
  const k = id(e);
  if (constI32(e) !== undefined) return true;
  if (k === binaryen.LocalGetId) return !written.has(`l${nodes.LocalGet.getIndex(e)}`);
  if (k === binaryen.GlobalGetId) return binaryen.getExpressionType(e) === binaryen.i32 && !written.has(`g${nodes.GlobalGet.getName(e)}`);
  if (k !== binaryen.BinaryId || !PURE.has(nodes.Binary.getOp(e))) return false;
  return invariant(nodes.Binary.getLeft(e), written) && invariant(nodes.Binary.getRight(e), written);
}

/** Walks T in evaluation order, recording defs and accesses (see the file comment). */
class BodyWalker {
  private phase = 0;
  private defs = new Map<number, Def>();

  constructor(
    private readonly index: number,
    private readonly step: number,
    private readonly written: Map<string, number>,
    private readonly accesses: AffineAccess[],
  ) {}

  /** False when the loop has a shape the analysis refuses. */
  walk(e: Ref, conditional: boolean): boolean {
    const k = id(e);
    if (k === binaryen.LocalSetId && nodes.LocalSet.getIndex(e) === this.index) {
      if (conditional || increment(e, this.index) === undefined) return false;
      this.phase = this.step;
      return true;
    }
    const access = describeAccess(e, k);
    const inner = conditional || k === binaryen.IfId || (k === binaryen.BlockId && nodes.Block.getName(e) !== null);
    const children = childrenOf(e, k);
    for (let i = 0; i < children.length; i++) {
      // An `if` condition always runs; its arms may not.
      if (!this.walk(children[i], k === binaryen.IfId && i === 0 ? conditional : inner)) return false;
    }
    if (access?.kind === "single") {
      this.accesses.push({ expr: e, ptr: access.operands[0], offset: access.offset, width: access.width, access: access.access, phase: this.phase, defs: new Map(this.defs) });
    }
    if (k === binaryen.LocalSetId && !conditional) {
      const local = nodes.LocalSet.getIndex(e);
      if (this.written.get(`l${local}`) === 1) this.defs.set(local, { value: nodes.LocalSet.getValue(e), phase: this.phase, defs: new Map(this.defs) });
    }
    return true;
  }
}

export interface FormContext {
  index: number;
  written: Map<string, number> | Set<string>;
}

/** Whether the access's address has an affine form (a dry run of {@link addressForm}). */
function affineForm(a: AffineAccess, ctx: FormContext): boolean {
  return translate(a.ptr, a.defs, a.phase, ctx) !== undefined;
}

/** Builds f64 expressions; `exact` wraps each operation (loop_helpers.ts). */
export interface FormBuilder {
  m: binaryen.Module;
  exact(x: Ref): Ref;
  /** The index's value at the top of the iteration, as f64. */
  index(): Ref;
  signed: boolean;
}

type Form = { hasIndex: boolean; build: (b: FormBuilder) => Ref };

/** The f64 form of the access's address plus its offset (see the file comment). */
export function addressForm(a: AffineAccess, ctx: FormContext): ((b: FormBuilder) => Ref) | undefined {
  const form = translate(a.ptr, a.defs, a.phase, ctx);
  if (!form) return undefined;
  return (b) => (a.offset === 0 ? form.build(b) : b.exact(b.m.f64.add(form.build(b), b.m.f64.const(a.offset))));
}

function translate(e: Ref, defs: Map<number, Def>, phase: number, ctx: FormContext): Form | undefined {
  const k = id(e);
  const c = constI32(e);
  if (c !== undefined) return { hasIndex: false, build: (b) => b.m.f64.const(c) };
  if (k === binaryen.LocalGetId) {
    const local = nodes.LocalGet.getIndex(e);
    if (local === ctx.index) {
      return { hasIndex: true, build: (b) => (phase === 0 ? b.index() : b.exact(b.m.f64.add(b.index(), b.m.f64.const(phase)))) };
    }
    const def = defs.get(local);
    if (def) return translate(def.value, def.defs, def.phase, ctx);
  }
  if (k === binaryen.LocalSetId && binaryen.getExpressionType(e) === binaryen.i32) {
    // A tee's value; the write itself is recorded as a def where the walk met it.
    return translate(nodes.LocalSet.getValue(e), defs, phase, ctx);
  }
  if (k === binaryen.BinaryId) {
    const op = nodes.Binary.getOp(e);
    if (op === binaryen.AddInt32 || op === binaryen.SubInt32 || op === binaryen.MulInt32 || op === binaryen.ShlInt32) {
      const l = translate(nodes.Binary.getLeft(e), defs, phase, ctx);
      const shift = op === binaryen.ShlInt32 ? constI32(nodes.Binary.getRight(e)) : undefined;
      const r = op === binaryen.ShlInt32 ? undefined : translate(nodes.Binary.getRight(e), defs, phase, ctx);
      if (l && op === binaryen.ShlInt32 && shift !== undefined) {
        const factor = 2 ** (shift & 31);
        return { hasIndex: l.hasIndex, build: (b) => b.exact(b.m.f64.mul(l.build(b), b.m.f64.const(factor))) };
      }
      if (l && r && !(op === binaryen.MulInt32 && l.hasIndex && r.hasIndex)) {
        const f = op === binaryen.AddInt32 ? "add" : op === binaryen.SubInt32 ? "sub" : "mul";
        return { hasIndex: l.hasIndex || r.hasIndex, build: (b) => b.exact(b.m.f64[f](l.build(b), r.build(b))) };
      }
    }
  }
  // One value for the whole loop: read as an unsigned number, computed before the loop.
  if (binaryen.getExpressionType(e) === binaryen.i32 && invariant(e, ctx.written)) {
    return { hasIndex: false, build: (b) => b.m.f64.convert_u.i32(b.m.copyExpression(e)) };
  }
  return undefined;
}
