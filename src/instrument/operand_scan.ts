/**
 * Small analyses of expression trees the rewriter relies on: which locals and globals a subtree
 * may write, whether an address expression is "variable plus constant", and whether an address
 * computation is pure enough to be evaluated earlier.
 */
import binaryen from "binaryen";
import { nodes } from "./binaryen_nodes.js";
import { plainChildren } from "./expression_kinds.js";
import { describeAccess } from "./memory_access.js";

type Ref = binaryen.ExpressionRef;

/** Key of a variable an address may be based on: `l<index>` for a local, `g<name>` for a global. */
export type VarKey = string;
export const localKey = (index: number): VarKey => `l${index}`;
export const globalKey = (name: string): VarKey => `g${name}`;

/** What a subtree may write. A call may write any global. */
export interface Writes {
  vars: Set<VarKey>;
  calls: boolean;
}

export function emptyWrites(): Writes {
  return { vars: new Set(), calls: false };
}

/** Adds to `into` every variable `expr` may write when it runs. */
export function collectWrites(expr: Ref, into: Writes): Writes {
  const id = binaryen.getExpressionId(expr);
  if (id === binaryen.LocalSetId) into.vars.add(localKey(nodes.LocalSet.getIndex(expr)));
  else if (id === binaryen.GlobalSetId) into.vars.add(globalKey(nodes.GlobalSet.getName(expr)));
  else if (id === binaryen.CallId || id === binaryen.CallIndirectId) into.calls = true;
  for (const child of childrenOf(expr, id)) collectWrites(child, into);
  return into;
}

export function mayWrite(writes: Writes, key: VarKey): boolean {
  return writes.vars.has(key) || (writes.calls && key.startsWith("g"));
}

export function childrenOf(expr: Ref, id: number): Ref[] {
  const plain = plainChildren(expr, id);
  if (plain) return plain.refs;
  // Unknown kinds are refused by the walker before any scan could miss their writes.
  return describeAccess(expr, id)?.operands ?? [];
}

/** An address `var + delta` (wrapping i32), or an absolute one when `key` is undefined. */
export interface Address {
  key: VarKey | undefined;
  delta: number;
}

/**
 * Recognises `const`, `local.get`, `global.get`, and `x + const` / `const + x` / `x - const` with
 * x a local or global: address forms that can be re-read at check time instead of spilled.
 */
export function addressForm(expr: Ref): Address | undefined {
  const id = binaryen.getExpressionId(expr);
  if (id === binaryen.ConstId) {
    if (binaryen.getExpressionType(expr) !== binaryen.i32) return undefined;
    return { key: undefined, delta: nodes.Const.getValueI32(expr) | 0 };
  }
  const variable = variableKey(expr);
  if (variable) return { key: variable, delta: 0 };
  if (id !== binaryen.BinaryId) return undefined;
  const op = nodes.Binary.getOp(expr);
  const left = nodes.Binary.getLeft(expr);
  const right = nodes.Binary.getRight(expr);
  const constant = (e: Ref) => (binaryen.getExpressionId(e) === binaryen.ConstId ? nodes.Const.getValueI32(e) | 0 : undefined);
  if (op === binaryen.AddInt32) {
    const [l, r] = [variableKey(left), variableKey(right)];
    if (l && constant(right) !== undefined) return { key: l, delta: constant(right)! };
    if (r && constant(left) !== undefined) return { key: r, delta: constant(left)! };
  }
  if (op === binaryen.SubInt32) {
    const l = variableKey(left);
    if (l && constant(right) !== undefined) return { key: l, delta: -constant(right)! | 0 };
  }
  return undefined;
}

function variableKey(expr: Ref): VarKey | undefined {
  const id = binaryen.getExpressionId(expr);
  if (id === binaryen.LocalGetId) return localKey(nodes.LocalGet.getIndex(expr));
  if (id === binaryen.GlobalGetId) return globalKey(nodes.GlobalGet.getName(expr));
  return undefined;
}

const PURE_I32_OPS = new Set<number>([
  binaryen.AddInt32,
  binaryen.SubInt32,
  binaryen.MulInt32,
  binaryen.AndInt32,
  binaryen.OrInt32,
  binaryen.XorInt32,
  binaryen.ShlInt32,
  binaryen.ShrUInt32,
  binaryen.ShrSInt32,
  binaryen.RotLInt32,
  binaryen.RotRInt32,
]);

/**
 * The variables read by `expr` when it is built only from constants, local.get, global.get and
 * i32 arithmetic that cannot trap; undefined otherwise. Such an expression gives the same value
 * wherever it is evaluated, as long as none of those variables is written in between.
 */
export function pureReads(expr: Ref): VarKey[] | undefined {
  const id = binaryen.getExpressionId(expr);
  if (id === binaryen.ConstId) return binaryen.getExpressionType(expr) === binaryen.i32 ? [] : undefined;
  const variable = variableKey(expr);
  if (variable) return [variable];
  if (id !== binaryen.BinaryId || !PURE_I32_OPS.has(nodes.Binary.getOp(expr))) return undefined;
  const left = pureReads(nodes.Binary.getLeft(expr));
  const right = left && pureReads(nodes.Binary.getRight(expr));
  return left && right ? [...left, ...right] : undefined;
}

/** For each operand, what the operands after it may write. */
export function laterWrites(operands: Ref[]): Writes[] {
  const result: Writes[] = new Array(operands.length);
  let acc = emptyWrites();
  for (let i = operands.length - 1; i >= 0; i--) {
    result[i] = { vars: new Set(acc.vars), calls: acc.calls };
    acc = collectWrites(operands[i], acc);
  }
  return result;
}
