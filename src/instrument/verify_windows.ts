/**
 * How the check verifier (verify_checks.ts) recognises a page-cache slot being set
 * (check_emitter.ts): the `window` facts of verify_facts.ts, learnt from the value stored.
 */
import binaryen from "binaryen";
import { Access, type Layout } from "../abi.js";
import { nodes } from "./binaryen_nodes.js";
import { addressOf, constant, type Fact, infoOf, pageAddress } from "./verify_facts.js";

type Ref = binaryen.ExpressionRef;

/** The access kind a value stored in a cache slot describes a window for, if any. */
export function windowKind(value: Ref, state: Map<string, Fact>, layout: Layout): Access | undefined {
  const P = layout.pageSize;
  if (constant(value) === (-P | 0)) return Access.Write; // the sentinel: above any memory
  const aligned = alignedAddress(value, layout);
  if (aligned) return pageKind(state, aligned.key, aligned.delta);
  if (binaryen.getExpressionId(value) !== binaryen.SelectId) return undefined;
  const info = infoOf(value, "Select");
  const a = addressOf(info.ifTrue);
  const b = alignedAddress(info.ifFalse, layout);
  if (!a || !b || a.key !== b.key || a.delta !== b.delta || a.key === "c") return undefined;
  const cond = info.condition;
  if (binaryen.getExpressionId(cond) !== binaryen.BinaryId || nodes.Binary.getOp(cond) !== binaryen.NeInt32) return undefined;
  const first = pageAddress(nodes.Binary.getLeft(cond), layout);
  const last = pageAddress(nodes.Binary.getRight(cond), layout);
  if (!first || !last || first.key !== a.key || first.delta !== a.delta || last.key !== a.key) return undefined;
  const width = ((last.delta - a.delta) | 0) + 1;
  if (width < 1 || width > P) return undefined;
  const k1 = pageKind(state, a.key, a.delta);
  const k2 = pageKind(state, a.key, last.delta);
  if (k1 === undefined || k2 === undefined) return undefined;
  return k1 === Access.Write && k2 === Access.Write ? Access.Write : Access.Read;
}

/** `(i32.and A (i32.const -pageSize))`: returns A. */
function alignedAddress(expr: Ref, layout: Layout): { key: string; delta: number } | undefined {
  if (binaryen.getExpressionId(expr) !== binaryen.BinaryId || nodes.Binary.getOp(expr) !== binaryen.AndInt32) return undefined;
  if (constant(nodes.Binary.getRight(expr)) !== (-layout.pageSize | 0)) return undefined;
  const a = addressOf(nodes.Binary.getLeft(expr));
  return a && a.key !== "c" ? a : undefined;
}

/** The strongest kind a page fact gives the page of `key + delta`. */
function pageKind(state: Map<string, Fact>, key: string, delta: number): Access | undefined {
  let best: Access | undefined;
  for (const f of state.values()) {
    if (f.type === "page" && f.key === key && f.delta === delta) best = best === Access.Write ? best : f.kind;
  }
  return best;
}
