/**
 * The f64 forms of the addresses of a counted loop (affine_loop.ts): what each access's address is
 * as a function of the loop's induction variables, built into the guard of a versioned loop
 * (loop_version.ts) at its first and at its last iteration. The forms, their exactness and the
 * bounded terms are described in affine_loop.ts's file comment.
 */
import binaryen from "binaryen";
import { nodes } from "./binaryen_nodes.js";

type Ref = binaryen.ExpressionRef;

/** A def of a local written at the loop's top level: its value, and the defs it sees. */
export interface Def {
  value: Ref;
  defs: Map<number, Def>;
}

/** An induction variable's step: an i32 constant, or an i32 value the loop does not change. */
export type Step = { constant: number; value?: undefined } | { constant?: undefined; value: Ref };

/** Operations allowed in a value computed once for the whole loop: pure and never trapping. */
const PURE = new Set<number>([
  binaryen.AddInt32, binaryen.SubInt32, binaryen.MulInt32, binaryen.AndInt32, binaryen.OrInt32, binaryen.XorInt32,
  binaryen.ShlInt32, binaryen.ShrUInt32, binaryen.ShrSInt32, binaryen.RotLInt32, binaryen.RotRInt32,
]);

/** The largest bound on a bounded term (and on an access's width plus its slack). */
const MAX_SLACK = 2 ** 31;

export const exprId = (e: Ref) => binaryen.getExpressionId(e);
const id = exprId;
export const constI32 = (e: Ref) => (id(e) === binaryen.ConstId && binaryen.getExpressionType(e) === binaryen.i32 ? nodes.Const.getValueI32(e) | 0 : undefined);
export const localGet = (e: Ref) => (id(e) === binaryen.LocalGetId ? nodes.LocalGet.getIndex(e) : undefined);

/** Built only from constants, pure i32 operations and variables the loop does not write. */
export function invariant(e: Ref, written: Map<string, number> | Set<string>): boolean {
  const k = id(e);
  if (constI32(e) !== undefined) return true;
  if (k === binaryen.LocalGetId) return !written.has(`l${nodes.LocalGet.getIndex(e)}`);
  if (k === binaryen.GlobalGetId) return binaryen.getExpressionType(e) === binaryen.i32 && !written.has(`g${nodes.GlobalGet.getName(e)}`);
  if (k !== binaryen.BinaryId || !PURE.has(nodes.Binary.getOp(e))) return false;
  return invariant(nodes.Binary.getLeft(e), written) && invariant(nodes.Binary.getRight(e), written);
}

export interface FormContext {
  steps: Map<number, Step>;
  written: Map<string, number> | Set<string>;
  reads: Map<Ref, boolean>;
}

/** Builds f64 expressions; `exact` wraps each operation (loop_helpers.ts). */
export interface FormBuilder {
  m: binaryen.Module;
  exact(x: Ref): Ref;
  /** Induction variable `local`'s value, as f64, in the iteration the form is built for. */
  iv(local: number, advanced: boolean): Ref;
}

/** An address's f64 form without its bounded terms (none: zero), and their largest sum. */
type Form = { variant: boolean; build?: (b: FormBuilder) => Ref; slack: number };

/** The f64 form of the access's address plus its offset, and its slack (see the file comment). */
export function addressForm(a: { ptr: Ref; offset: number; width: number; defs: Map<number, Def> }, ctx: FormContext): { build: (b: FormBuilder) => Ref; slack: number } | undefined {
  const form = translate(a.ptr, a.defs, ctx);
  if (!form || form.slack + a.width > MAX_SLACK) return undefined;
  const build = form.build;
  if (!build) return { build: (b) => b.m.f64.const(a.offset), slack: form.slack };
  return { build: (b) => (a.offset === 0 ? build(b) : b.exact(b.m.f64.add(build(b), b.m.f64.const(a.offset)))), slack: form.slack };
}

/** The form of `e`, an address or part of one, or undefined when it is not affine. */
export function translate(e: Ref, defs: Map<number, Def>, ctx: FormContext): Form | undefined {
  const k = id(e);
  const c = constI32(e);
  if (c !== undefined) return { variant: false, build: (b) => b.m.f64.const(c), slack: 0 };
  if (k === binaryen.LocalGetId) {
    const local = nodes.LocalGet.getIndex(e);
    if (ctx.steps.has(local)) {
      const advanced = ctx.reads.get(e);
      return advanced === undefined ? undefined : { variant: true, build: (b) => b.iv(local, advanced), slack: 0 };
    }
    const def = defs.get(local);
    if (def) return translate(def.value, def.defs, ctx);
  }
  if (k === binaryen.LocalSetId && binaryen.getExpressionType(e) === binaryen.i32) {
    // A tee's value; the write itself is recorded as a def (or an increment) where the walk met it.
    return translate(nodes.LocalSet.getValue(e), defs, ctx);
  }
  if (k === binaryen.BinaryId) {
    const form = binary(e, defs, ctx);
    if (form) return form;
  }
  // One value for the whole loop: read as an unsigned number, computed before the loop.
  if (binaryen.getExpressionType(e) === binaryen.i32 && invariant(e, ctx.written)) {
    return { variant: false, build: (b) => b.m.f64.convert_u.i32(b.m.copyExpression(e)), slack: 0 };
  }
  const bound = boundOf(e);
  return bound === undefined ? undefined : { variant: false, slack: bound };
}

function binary(e: Ref, defs: Map<number, Def>, ctx: FormContext): Form | undefined {
  const op = nodes.Binary.getOp(e);
  if (op !== binaryen.AddInt32 && op !== binaryen.SubInt32 && op !== binaryen.MulInt32 && op !== binaryen.ShlInt32) return undefined;
  const l = translate(nodes.Binary.getLeft(e), defs, ctx);
  if (!l) return undefined;
  if (op === binaryen.ShlInt32) {
    const shift = constI32(nodes.Binary.getRight(e));
    if (shift === undefined) return undefined;
    return scaled(l, 2 ** (shift & 31));
  }
  const r = translate(nodes.Binary.getRight(e), defs, ctx);
  if (!r) return undefined;
  if (op === binaryen.AddInt32) {
    const slack = l.slack + r.slack;
    if (!l.build || !r.build) return { variant: l.variant || r.variant, build: l.build ?? r.build, slack };
    const [lb, rb] = [l.build, r.build];
    return { variant: l.variant || r.variant, build: (b) => b.exact(b.m.f64.add(lb(b), rb(b))), slack };
  }
  if (op === binaryen.MulInt32) {
    // A product with a constant is scaled; otherwise neither side may carry a bounded term.
    const factor = constI32(nodes.Binary.getRight(e)) ?? constI32(nodes.Binary.getLeft(e));
    if (factor !== undefined) return scaled(constI32(nodes.Binary.getRight(e)) === undefined ? r : l, factor);
    if ((l.variant && r.variant) || l.slack > 0 || r.slack > 0) return undefined;
  }
  // sub: the subtrahend may not carry a bounded term (it would widen the range downwards).
  if (r.slack > 0 || !l.build || !r.build) return undefined;
  const [lb, rb] = [l.build, r.build];
  const f = op === binaryen.SubInt32 ? "sub" : "mul";
  return { variant: l.variant || r.variant, build: (b) => b.exact(b.m.f64[f](lb(b), rb(b))), slack: l.slack };
}

/** `form * factor`: a bounded term stays one only for a factor >= 0. */
function scaled(form: Form, factor: number): Form | undefined {
  if (form.slack > 0 && (factor < 0 || form.slack * factor > MAX_SLACK)) return undefined;
  const build = form.build;
  return { variant: form.variant, build: build && ((b) => b.exact(b.m.f64.mul(build(b), b.m.f64.const(factor)))), slack: form.slack * factor };
}

/** The largest value of a bounded term, read as unsigned, or undefined (see the file comment). */
function boundOf(e: Ref): number | undefined {
  const k = id(e);
  if (binaryen.getExpressionType(e) !== binaryen.i32) return undefined;
  if (k === binaryen.LoadId) {
    const load = binaryen.getExpressionInfo(e) as unknown as { isSigned: boolean; bytes: number };
    return load.isSigned || load.bytes > 2 ? undefined : 2 ** (8 * load.bytes) - 1;
  }
  if (k === binaryen.LocalSetId) return boundOf(nodes.LocalSet.getValue(e));
  if (k !== binaryen.BinaryId) return undefined;
  const op = nodes.Binary.getOp(e);
  const [l, r] = [nodes.Binary.getLeft(e), nodes.Binary.getRight(e)];
  const c = constI32(r);
  if (op === binaryen.AndInt32) {
    const mask = c ?? constI32(l);
    return mask !== undefined && mask >= 0 ? mask : undefined;
  }
  if (op === binaryen.ShrUInt32 && c !== undefined && (c & 31) > 0) return 2 ** (32 - (c & 31)) - 1;
  if (op === binaryen.RemUInt32 && c !== undefined && c !== 0) return (c >>> 0) - 1;
  return undefined;
}
