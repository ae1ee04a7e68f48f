/**
 * Leaf caches (`leafCaches`): page caches (check_emitter.ts) only in innermost loops. In a
 * call-free loop that runs another loop, an access of the outer body runs once per inner run; its
 * address rarely stays in the page it cached (a bit-reversal swap, a row pointer), so the window
 * test usually misses and the refill (a table read and a `select`) costs more than the plain
 * check. Such accesses keep their ordinary check:
 *
 *   (loop $rows                                  ;; call-free, runs $cols
 *     (if (i32.gt_u (i32.sub ea $slot) (i32.const 4088)) (then <table test, refill $slot>))
 *     (f64.load ea)
 *     (loop $cols ...))
 *
 *   becomes
 *
 *   (loop $rows
 *     (if <table test> (then <fault>))
 *     (f64.load ea)
 *     (loop $cols ...))                          ;; its accesses keep their caches
 *
 * Every access stays checked, so the check verifier needs nothing new. Measured on fft2d (the
 * bit-reversal loop around its bit loop): 1.44-1.50x with the caches, 1.34-1.37x without.
 */
import binaryen from "binaryen";
import type { LoopNest } from "./loop_scan.js";

type Ref = binaryen.ExpressionRef;

/** The call-free loops of `nest` that run another loop: their own accesses get no cache. */
export function outerLoops(nest: LoopNest): Set<Ref> {
  return new Set([...nest.callFree].filter((loop) => !nest.leaves.has(loop)));
}
