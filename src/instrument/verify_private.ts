/**
 * How the check verifier (verify_checks.ts) follows the bounds that prove accesses private
 * (private_bounds.ts): `bound` facts (verify_facts.ts) are learnt where a test is known to be 0,
 * moved by `X = X ± c`, dropped by any other write of X, and kept across calls that cannot write
 * X: every call keeps the bounds of locals; a call of an import also keeps those of globals the
 * host cannot see (neither imported nor exported), which no import can write (the runtime's
 * imports never call back into the module).
 */
import binaryen from "binaryen";
import type { Layout } from "../abi.js";
import type { Fact, Key } from "./verify_facts.js";
import { privateAccess, selfShift, shifted } from "./private_bounds.js";

type Ref = binaryen.ExpressionRef;

/** The bound of `key` after `key = value`, from its bound before (read in `state`). */
export function boundAfterWrite(state: Map<string, Fact>, key: Key, value: Ref): Fact | undefined {
  const c = selfShift(value, key);
  if (c === undefined) return undefined;
  for (const f of state.values()) {
    if (f.type !== "bound" || f.key !== key) continue;
    const next = shifted(f, c);
    if (next) return { type: "bound", key, lo: next.lo, hi: next.hi };
  }
  return undefined;
}

/** The bound facts a call keeps (see the file comment). */
export function carriedBounds(state: Map<string, Fact>, importCall: boolean, hostGlobals: ReadonlySet<string>): Fact[] {
  return [...state.values()].filter(
    (f) => f.type === "bound" && (f.key.startsWith("l") || (importCall && f.key.startsWith("g") && !hostGlobals.has(f.key.slice(1)))),
  );
}

/** Whether a bound proves the `width` bytes at `key + delta` private memory. */
export function privateCovered(state: Map<string, Fact>, key: Key, delta: number, width: number, layout: Layout): boolean {
  return [...state.values()].some((f) => f.type === "bound" && f.key === key && privateAccess(f, delta, width, layout.memoryBase));
}
