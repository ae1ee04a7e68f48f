/**
 * Private accesses (`privateAccesses`): an access whose bytes provably lie at or above
 * `memoryBase` touches private memory (AssemblyScript's data, shadow stack and heap), whose
 * pages the host never protects (abi.ts, DESIGN.md: private pages are read-write for good), so
 * it needs no check at all, as Shasta leaves stack accesses unchecked. The proof is a bound on
 * the value of the address's base variable, learnt from a test the code already makes, as
 * AssemblyScript's shadow stack does at every frame:
 *
 *   (global.set $sp (i32.sub (global.get $sp) (i32.const 4)))
 *   (br_if $overflow (i32.lt_s (global.get $sp) (i32.const DATA_END)))  ;; falls through: DATA_END <= $sp < 2^31
 *   (i32.store (global.get $sp) (local.get $x))                         ;; no check: DATA_END >= memoryBase
 *   (global.set $sp (i32.add (global.get $sp) (i32.const 4)))         ;; DATA_END + 4 <= $sp < 2^31 + 4
 *
 * A bound `lo <= X <= hi` (unsigned) is learnt where `(i32.lt_s X (i32.const C))` or
 * `(i32.lt_u X (i32.const C))` (or `gt` with the operands swapped) is 0: from the fall-through of
 * a `br_if`, or after an `if` whose `then` arm cannot fall through. `X = X ± c` shifts it while it
 * stays within [0, 2^32); any other write of X drops it. An access of w bytes at X + d is private
 * when lo + d >= memoryBase and hi + d + w - 1 < 2^32: its address does not wrap. Bounds are
 * about values, not protections: a park does not change them, only a write of the variable (a
 * call may write a global, so calls drop the bounds of globals; an import cannot write a global
 * that is neither imported nor exported, as the runtime's imports never call back into the
 * module).
 *
 * The pass (through {@link PrivateBounds}) keeps a bound from where it is learnt to the next write
 * or call in straight-line code, forgets what was learnt inside an `if` arm, a named block or a
 * loop when leaving it, and forgets everything at a loop header. The check verifier tracks the
 * same bounds as facts along every path (verify_facts.ts), with the recognisers below.
 *
 * Chaos mode (src/runtime/chaos.ts) takes private pages away too, to put their checks to the
 * test; the accesses proven private here have none, so chaos cannot test them, and a write to a
 * taken page would be lost when chaos gives the page back. A real host never takes those pages.
 *
 * Not covered: bounds from other tests (`ge`, ranges of two tests, `select`), bounds kept across
 * a call (the callee may move a global; AssemblyScript's frames give the stack pointer back, but
 * proving it did not measure as worth the analysis), and accesses whose address is not a
 * variable plus a constant.
 */
import binaryen from "binaryen";
import { nodes } from "./binaryen_nodes.js";
import { globalKey, localKey, type VarKey } from "./operand_scan.js";

type Ref = binaryen.ExpressionRef;

/** An unsigned range of values, 0 <= lo <= hi < 2^32. */
export interface Bound {
  lo: number;
  hi: number;
}

const TWO_32 = 2 ** 32;

function variable(e: Ref): VarKey | undefined {
  const id = binaryen.getExpressionId(e);
  if (id === binaryen.LocalGetId) return localKey(nodes.LocalGet.getIndex(e));
  if (id === binaryen.GlobalGetId && binaryen.getExpressionType(e) === binaryen.i32) return globalKey(nodes.GlobalGet.getName(e));
  return undefined;
}

function constant(e: Ref): number | undefined {
  if (binaryen.getExpressionId(e) !== binaryen.ConstId || binaryen.getExpressionType(e) !== binaryen.i32) return undefined;
  return nodes.Const.getValueI32(e) | 0;
}

/** The variable and its bound where `cond` is 0 (see the file comment). */
export function boundWhenFalse(cond: Ref): { key: VarKey; bound: Bound } | undefined {
  if (binaryen.getExpressionId(cond) !== binaryen.BinaryId) return undefined;
  const op = nodes.Binary.getOp(cond);
  const [left, right] = [nodes.Binary.getLeft(cond), nodes.Binary.getRight(cond)];
  const swapped = op === binaryen.GtSInt32 || op === binaryen.GtUInt32;
  if (!swapped && op !== binaryen.LtSInt32 && op !== binaryen.LtUInt32) return undefined;
  const key = variable(swapped ? right : left);
  const c = constant(swapped ? left : right);
  if (key === undefined || c === undefined) return undefined;
  const signed = op === binaryen.LtSInt32 || op === binaryen.GtSInt32;
  if (signed) return c >= 0 ? { key, bound: { lo: c, hi: 2 ** 31 - 1 } } : undefined;
  return { key, bound: { lo: c >>> 0, hi: TWO_32 - 1 } };
}

/** c when `value` is `(i32.add X (i32.const c))` or `(i32.sub X (i32.const -c))` of the variable `key`. */
export function selfShift(value: Ref, key: VarKey): number | undefined {
  if (binaryen.getExpressionId(value) !== binaryen.BinaryId) return undefined;
  const op = nodes.Binary.getOp(value);
  const [left, right] = [nodes.Binary.getLeft(value), nodes.Binary.getRight(value)];
  const c = constant(right);
  if (c === undefined || variable(left) !== key) return undefined;
  if (op === binaryen.AddInt32) return c;
  if (op === binaryen.SubInt32) return -c;
  return undefined;
}

/** `b` moved by `c`, or undefined when some value would wrap. */
export function shifted(b: Bound, c: number): Bound | undefined {
  const lo = b.lo + c;
  const hi = b.hi + c;
  return lo >= 0 && hi < TWO_32 ? { lo, hi } : undefined;
}

/** Whether `width` bytes at X + delta lie in [memoryBase, 2^32) for every X in `b`. */
export function privateAccess(b: Bound, delta: number, width: number, memoryBase: number): boolean {
  return b.lo + delta >= memoryBase && b.hi + delta + width - 1 < TWO_32;
}

/** The pass's view (see the file comment): bounds in straight-line code. */
export class PrivateBounds {
  private bounds = new Map<VarKey, Bound>();
  private writes = 0;
  private lastWrite = new Map<VarKey, number>();
  private lastCall = -1;

  constructor(
    private readonly memoryBase: number,
    /** Globals the host can change while the kernel is parked: never bounded. */
    private readonly hostGlobals: ReadonlySet<string>,
  ) {}

  /**
   * After `expr`, a `br_if` (its fall-through) or an `if` whose `then` arm cannot fall through
   * and that has no `else`: its test was 0.
   */
  learnAfter(expr: Ref): void {
    const id = binaryen.getExpressionId(expr);
    const info = binaryen.getExpressionInfo(expr) as unknown as { condition: Ref; value?: Ref; ifTrue?: Ref; ifFalse?: Ref };
    if (!info.condition || (id === binaryen.BreakId && info.value)) return;
    if (id === binaryen.IfId && (info.ifFalse || binaryen.getExpressionType(info.ifTrue!) !== binaryen.unreachable)) return;
    this.learn(info.condition);
  }

  /** `cond` was 0. */
  learn(cond: Ref): void {
    const found = boundWhenFalse(cond);
    if (!found || (found.key.startsWith("g") && this.hostGlobals.has(found.key.slice(1)))) return;
    const old = this.bounds.get(found.key);
    const lo = Math.max(old?.lo ?? 0, found.bound.lo);
    const hi = Math.min(old?.hi ?? TWO_32 - 1, found.bound.hi);
    if (lo <= hi) this.bounds.set(found.key, { lo, hi });
  }

  /** `key` was set to `value` (whose bound, for a shift, is read before the write). */
  write(key: VarKey, value: Ref): void {
    const c = selfShift(value, key);
    const old = this.bounds.get(key);
    const next = old && c !== undefined ? shifted(old, c) : undefined;
    this.lastWrite.set(key, ++this.writes);
    if (next) this.bounds.set(key, next);
    else this.bounds.delete(key);
  }

  /** A call ran: it may have written any global. */
  call(): void {
    this.lastCall = ++this.writes;
    for (const key of [...this.bounds.keys()]) if (key.startsWith("g")) this.bounds.delete(key);
  }

  /** What holds now, to restore when leaving code that may be skipped or left early. */
  snapshot(): { bounds: Map<VarKey, Bound>; at: number } {
    return { bounds: new Map(this.bounds), at: this.writes };
  }

  /** The snapshot's bounds whose variables were not written since it was taken. */
  restore(s: { bounds: Map<VarKey, Bound>; at: number }): void {
    const unchanged = (key: VarKey) => (this.lastWrite.get(key) ?? -1) <= s.at && !(key.startsWith("g") && this.lastCall > s.at);
    this.bounds = new Map([...s.bounds].filter(([key]) => unchanged(key)));
  }

  clear(): void {
    this.bounds.clear();
  }

  /** Whether `width` bytes at `key + delta` are private memory. */
  covers(key: VarKey | undefined, delta: number, width: number): boolean {
    const b = key === undefined ? undefined : this.bounds.get(key);
    return b !== undefined && privateAccess(b, delta, width, this.memoryBase);
  }
}
