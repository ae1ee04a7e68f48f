/**
 * Pair loads (`pairLoads`): the fast test of an access that may straddle two pages reads the
 * protection bytes of its first page p and of p + 1 with one `i32.load16_u` instead of two
 * `i32.load8_u` of p and of the page of its last byte (which is p or p + 1). Only when that test
 * fails does the exact test run, which then decides whether to fault; so a protected page next
 * to an allowed one costs a second test, never a fault, and never a restart of a loop
 * (loop_restart.ts branches out on the exact test only). A 4-byte read at $p, before and after:
 *
 *   (if (i32.and (i32.or (i32.load8_u offset=TABLE (i32.shr_u (local.get $p) (i32.const 12)))
 *                        (i32.load8_u offset=TABLE (i32.shr_u (i32.add (local.get $p) (i32.const 3)) (i32.const 12))))
 *                (i32.const 2))
 *     (then (call $__fault ...)))
 *
 *   (if (i32.and (i32.load16_u offset=TABLE (i32.shr_u (local.get $p) (i32.const 12))) (i32.const 0x0202))
 *     (then (if <the exact test above> (then (call $__fault ...)))))
 *
 * A write tests the 16-bit value against 0 (both bytes read-write). The check verifier
 * (verify_facts.ts) learns from a pair test that is 0 that the pages of `A` and of `A + pageSize`
 * allow the access, and two allowed bytes at most a page apart cover every byte between them.
 *
 * Bounds: p is at most the table's last entry, so the load reads at most one byte past the table,
 * where the pad before the shared region lies (abi.ts: the table starts at 4 KiB and the region
 * at a 64 KiB boundary). That byte stands for page 0 (the page number wraps), the control words,
 * which are never protected: the fact the verifier learns for it is true whatever the byte holds.
 *
 * Not covered: one-byte accesses and constant addresses (their pages are known exactly and read
 * one byte each already), and the page caches' window tests, which read no table.
 */
import binaryen from "binaryen";
import { Access, NO_READ } from "../abi.js";

type Ref = binaryen.ExpressionRef;

/** The read mask of a pair: NO_READ in both bytes. */
export const PAIR_NO_READ = (NO_READ << 8) | NO_READ;

/** One access's contribution to a fast test: a table load and whether it is a read. */
export interface PairTerm {
  load: Ref;
  access: Access;
}

/**
 * True when some term's pages forbid its access: the OR of the write terms, and of the read
 * terms masked with {@link PAIR_NO_READ} (a one-byte term's second mask byte tests nothing).
 */
export function pairMiss(m: binaryen.Module, terms: PairTerm[]): Ref {
  const writes = terms.filter((t) => t.access === Access.Write).map((t) => t.load);
  const reads = terms.filter((t) => t.access === Access.Read).map((t) => t.load);
  const parts = [...writes];
  if (reads.length > 0) parts.push(m.i32.and(orAll(m, reads), m.i32.const(PAIR_NO_READ)));
  return orAll(m, parts);
}

/** `(i32.load16_u offset=TABLE PAGE)`: the protection bytes of `page` and the page after it. */
export function pairLoad(m: binaryen.Module, tableBase: number, page: Ref): Ref {
  return m.i32.load16_u(tableBase, 1, page);
}

function orAll(m: binaryen.Module, terms: Ref[]): Ref {
  return terms.reduce((acc, t) => m.i32.or(acc, t));
}
