/**
 * Lean fallbacks (`leanFallback`): the checked loop a versioned loop falls back to
 * (loop_version.ts) gets no page caches. It runs only when the guard fails, or from a poll to the
 * end of the loop; cache slots there buy little, while their windows, refills and resets make the
 * function larger, and V8 then compiles the unchecked copy beside it worse (red-black SOR,
 * 1024²: 1.28x with the caches, 1.05x without). The checked loop keeps every other optimisation:
 *
 *   (block $done
 *     (block $checked
 *       (br_if $checked <guard fails>)
 *       (loop $fast ...)                           ;; unchecked copy, unchanged
 *       (br $done))
 *     (loop $l (if (i32.gt_u (i32.sub ea $slot) (i32.const 4088)) (then <table test, refill $slot>)) ...))
 *
 *   becomes
 *
 *     ... (loop $l (if <table test> (then <fault>)) ...))   ;; no $slot
 *
 * Every access stays checked, so the check verifier needs nothing new.
 *
 * Not covered: loops that are not versioned keep their caches, and so do the loops around a
 * versioned one.
 */
import binaryen from "binaryen";
import { POLL_FLAG_ADDRESS } from "../abi.js";
import { analyseCountedLoop } from "./affine_loop.js";
import { worthVersioning } from "./loop_version.js";
import type { LoopNest } from "./loop_scan.js";

type Ref = binaryen.ExpressionRef;

/** The leaves of `nest` that versioning will copy, read before anything in them is rewritten. */
export function versionedLeaves(nest: LoopNest): Set<Ref> {
  const result = new Set<Ref>();
  for (const loop of nest.leaves) {
    const counted = analyseCountedLoop(loop, POLL_FLAG_ADDRESS);
    if (counted && worthVersioning(counted)) result.add(loop);
  }
  return result;
}

/** The cache slots `nest` needs when the loops in `uncached` get none. */
export function slotsWithout(nest: LoopNest, uncached: Set<Ref>): number {
  let slots = nest.cachedSites;
  for (const loop of uncached) slots -= nest.sites.get(loop) ?? 0;
  return slots;
}
