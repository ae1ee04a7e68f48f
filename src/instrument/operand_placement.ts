/**
 * Where an access's operands are read for its check (function_rewriter.ts): the pointer in place
 * when re-reading it gives the same value, from the local a `local.tee` writes, or from a spill.
 */
import binaryen from "binaryen";
import { nodes } from "./binaryen_nodes.js";
import type { MemoryAccess, SingleAccess } from "./memory_access.js";
import { addressForm, localKey, mayWrite, pureReads, type VarKey, type Writes } from "./operand_scan.js";

type Ref = binaryen.ExpressionRef;

const addVar = nodes._BinaryenFunctionAddVar;

export interface PointerPlacement {
  /** What the check reads: the pointer is `base + delta`. */
  base: VarKey | undefined;
  delta: number;
  /** Code storing the pointer into `base`, run where the pointer was evaluated. */
  set: Ref | undefined;
  /** True when `base` is a fresh local written by `set`. */
  spilled: boolean;
  /** For a spill of a pure computation: the variables it reads (it may then be hoisted). */
  pure: VarKey[] | undefined;
}

/**
 * Decides how the access and its check read the pointer: in place (`x`, `x ± c`, a constant),
 * from the local a `local.tee` writes, or from a spill into a fresh local.
 */
export function placePointer(m: binaryen.Module, func: binaryen.FunctionRef, access: SingleAccess, later: Writes): PointerPlacement {
  const operand = access.operands[0];
  const form = addressForm(operand);
  if (form && (form.key === undefined || !mayWrite(later, form.key))) {
    return { base: form.key, delta: form.delta, set: undefined, spilled: false, pure: undefined };
  }
  if (binaryen.getExpressionId(operand) === binaryen.LocalSetId) {
    const index = nodes.LocalSet.getIndex(operand);
    if (!mayWrite(later, localKey(index))) {
      replaceOperand(access, 0, m.local.get(index, binaryen.i32));
      // The tee counted as a write when it was visited; the set runs at the same point.
      return { base: localKey(index), delta: 0, set: m.local.set(index, nodes.LocalSet.getValue(operand)), spilled: false, pure: undefined };
    }
  }
  const temp = addVar(func, binaryen.i32);
  replaceOperand(access, 0, m.local.get(temp, binaryen.i32));
  return { base: localKey(temp), delta: 0, set: m.local.set(temp, operand), spilled: true, pure: pureReads(operand) };
}

/** Sets operand i of the access, in the expression and in its description. */
export function replaceOperand(access: MemoryAccess, i: number, operand: Ref): void {
  access.setOperand(i, operand);
  access.operands[i] = operand;
}
