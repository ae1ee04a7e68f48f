/**
 * What the function rewriter (function_rewriter.ts) is told, and which expression kinds it may
 * re-run when a loop restarts from the top (loop_restart.ts).
 */
import binaryen from "binaryen";

export interface RewriteOptions {
  polls: boolean;
  /** Combine the checks of accesses with no call or branch between them (check_group.ts). */
  groups: boolean;
  /** Cache the page of each access in a call-free loop (check_emitter.ts). */
  pageCaches: boolean;
  /** Move the slow paths of call-free innermost loops out of them (loop_restart.ts). */
  loopRestart: boolean;
  /** Give counted loops with affine addresses an unchecked copy behind one guard (loop_version.ts). */
  versioning: boolean;
  /** Page caches in innermost loops only (leaf_caches.ts). */
  leafCaches: boolean;
  /** No check for an access proven to lie in private memory (private_bounds.ts). */
  privateAccesses: boolean;
  /** No page caches in the checked loop behind a versioned loop's guard (lean_fallback.ts). */
  leanFallback: boolean;
  /** Leave out a check that the last check made covers on every path (function_rewriter.ts). */
  dominance: boolean;
  /** Globals the host can change (imported or exported): reading one is not re-runnable. */
  hostGlobals: ReadonlySet<string>;
}

/** Kinds that only compute or branch: re-running them gives the same result (loop_restart.ts). */
export const RERUNNABLE = new Set<number>([
  binaryen.NopId,
  binaryen.BlockId,
  binaryen.IfId,
  binaryen.LoopId,
  binaryen.BreakId,
  binaryen.SwitchId,
  binaryen.LocalGetId,
  binaryen.LocalSetId,
  binaryen.GlobalGetId,
  binaryen.ConstId,
  binaryen.UnaryId,
  binaryen.BinaryId,
  binaryen.SelectId,
  binaryen.DropId,
  binaryen.ReturnId,
  binaryen.UnreachableId,
  binaryen.SIMDExtractId,
  binaryen.SIMDReplaceId,
  binaryen.SIMDShuffleId,
  binaryen.SIMDTernaryId,
  binaryen.SIMDShiftId,
]);
