/**
 * Looks at a loop nest before it is rewritten, to decide which accesses get a page cache slot
 * (see check_emitter.ts): those whose innermost loop runs no call anywhere in its body. In a loop
 * that calls something every slot would be reset on every iteration, so a slot would only cost.
 */
import binaryen from "binaryen";
import { describeAccess } from "./memory_access.js";
import { childrenOf } from "./operand_scan.js";

type Ref = binaryen.ExpressionRef;

export interface LoopNest {
  /** Loops whose body (nested loops included) contains no call, bulk operation or wait. */
  callFree: Set<Ref>;
  /** Call-free loops with no loop inside: their slow paths can move out (see loop_restart.ts). */
  leaves: Set<Ref>;
  /** Number of single accesses whose innermost loop is call-free: the slots to allocate. */
  cachedSites: number;
  /** Single accesses by innermost loop. */
  sites: Map<Ref, number>;
}

export function scanLoopNest(root: Ref): LoopNest {
  const callFree = new Set<Ref>();
  const hasLoop = new Set<Ref>();
  const sites = new Map<Ref, number>();
  const walk = (expr: Ref, innermost: Ref | undefined): boolean => {
    const id = binaryen.getExpressionId(expr);
    const access = describeAccess(expr, id);
    let calls = id === binaryen.CallId || id === binaryen.CallIndirectId || id === binaryen.AtomicWaitId || access?.kind === "range";
    if (access?.kind === "single" && innermost !== undefined) sites.set(innermost, (sites.get(innermost) ?? 0) + 1);
    if (id === binaryen.LoopId && innermost !== undefined) hasLoop.add(innermost);
    const inner = id === binaryen.LoopId ? expr : innermost;
    for (const child of childrenOf(expr, id)) calls = walk(child, inner) || calls;
    if (id === binaryen.LoopId && !calls) callFree.add(expr);
    return calls;
  };
  walk(root, undefined);
  let cachedSites = 0;
  for (const [loop, count] of sites) if (callFree.has(loop)) cachedSites += count;
  const leaves = new Set([...callFree].filter((loop) => !hasLoop.has(loop)));
  return { callFree, leaves, cachedSites, sites };
}
