/**
 * @fileoverview The check verifier: proves, for an instrumented module, that every linear-memory
 * access is covered by a check that runs before it with no call in between, and reports each
 * access it cannot prove. It knows nothing of how the pass placed its checks: it walks every path
 * of every function in evaluation order, learning facts from the tests the code makes and the
 * calls it makes (verify_facts.ts), forgetting them at every call and variable write, keeping at
 * each join only the facts of every incoming path (loops to a fixed point), and at each access
 * asks whether the facts cover all its bytes for its kind (a write fact covers a read):
 *
 *   (if (i32.and (i32.or (i32.load8_u offset=TABLE (i32.shr_u (local.get $p) (i32.const 12)))
 *                        (i32.load8_u offset=TABLE (i32.shr_u (i32.add (local.get $p) (i32.const 7)) (i32.const 12))))
 *                (i32.const 2))
 *     (then (call $__fault ...)))          ;; else-path: page($p) and page($p + 7) readable;
 *                                          ;; then-path: the fault call made $p..$p+7 readable
 *   (f64.load (local.get $p))              ;; bytes $p..$p+7: covered
 *
 * Two page facts `key + x`, `key + y` (x <= y < x + pageSize) cover every byte between them, as
 * those bytes lie in page(x) or page(y). Accesses the instrumentation makes itself are exempt:
 * one-byte loads of the protection table at a page number (`shr_u` by the page shift, or a
 * constant below the table size), and the atomic load of the poll flag. The range helper of bulk
 * operations is recognised by being identical to the one range_helper.ts emits; a call of it that
 * returned 0 (the fall-through of a `br_if` on its result) did not park the kernel.
 *
 * An access a `bound` fact proves to lie in private memory, at or above memoryBase, needs no check:
 * the host never protects those pages (private_bounds.ts, verify_private.ts).
 *
 * A versioned loop's unchecked copy (loop_version.ts) is proven by its guard: where
 * `(br_if $checked (i32.eqz G))` falls through, each term of G's `i32.and` tree holds; at a loop
 * entered there, the verifier analyses the loop itself as a counted loop (affine_loop.ts), builds
 * the guard terms that loop needs, and covers its accesses when every one of them is among the
 * terms that hold. The analysis of counted loops and the f64 address forms are shared with the
 * pass: the verifier re-derives them from the copy as emitted, not from what the pass decided,
 * but a flaw in that shared analysis would not be caught here (the chaos tests would catch it).
 *
 * Not covered: a check the verifier does not recognise reads as no check (it then reports the
 * access: it may be wrong in the safe direction only). Address arithmetic is i32 and wraps as
 * the pass's does: an access whose bytes cross 4 GiB traps on the memory bound.
 */
import binaryen from "binaryen";
import { Access, FAULT_IMPORT, IMPORT_MODULE, type Layout, POLL_FLAG_ADDRESS } from "../abi.js";
import { nodes } from "./binaryen_nodes.js";
import { kindName, plainChildren } from "./expression_kinds.js";
import { AccessShapeError, describeAccess, type MemoryAccess } from "./memory_access.js";
import { analyseCountedLoop } from "./affine_loop.js";
import type { LoopHelperNames } from "./loop_helpers.js";
import { guardTerms } from "./loop_version.js";
import { loopHelpers, rangeHelpers } from "./verify_helpers.js";
import { addressOf, constant, covered, factId, guardFacts, infoOf, type Fact, join, kill, operandKey, pageAddress, sameState, type State, tableLoad, withFact, zeroFacts } from "./verify_facts.js";
import { exportNames, hostGlobals, KERNEL_FEATURES } from "./instrument.js";
import { boundAfterWrite, carriedBounds, privateCovered } from "./verify_private.js";
import { windowKind } from "./verify_windows.js";

type Ref = binaryen.ExpressionRef;

export interface UncheckedAccess {
  /** The function, by export name when it has one, else its internal name. */
  func: string;
  /** The instruction kind, e.g. "Load", "MemoryCopy". */
  instruction: string;
  /** What could not be proven. */
  detail: string;
}

export class UncheckedAccessError extends Error {
  override name = "UncheckedAccessError";
  constructor(
    readonly accesses: UncheckedAccess[],
    source: string,
  ) {
    const first = accesses[0];
    super(`${source}: ${accesses.length} memory access(es) not covered by a check, first in function "${first.func}": ${first.instruction} ${first.detail}; this is a bug in the instrumentation, report it with the kernel`);
  }
}

/** Throws {@link UncheckedAccessError} when some access of `wasm` is not proven checked. */
export function assertChecked(wasm: Uint8Array, layout: Layout, source: string): void {
  const found = verifyChecks(wasm, layout);
  if (found.length > 0) throw new UncheckedAccessError(found, source);
}

/** Every access of `wasm` that no check is proven to cover, in function order. */
export function verifyChecks(wasm: Uint8Array, layout: Layout): UncheckedAccess[] {
  const m = binaryen.readBinary(wasm);
  try {
    m.setFeatures(KERNEL_FEATURES);
    const names = exportNames(m);
    const faults = new Set<string>();
    const imports = new Set<string>();
    const functions: binaryen.FunctionInfo[] = [];
    for (let i = 0; i < m.getNumFunctions(); i++) {
      const info = binaryen.getFunctionInfo(m.getFunctionByIndex(i));
      if (info.module === IMPORT_MODULE && info.base === FAULT_IMPORT) faults.add(info.name);
      if (info.module) imports.add(info.name);
      if (!info.module) functions.push(info);
    }
    const helpers = rangeHelpers(functions, faults, layout);
    const loop = loopHelpers(functions, layout);
    const host = hostGlobals(m);
    const found: UncheckedAccess[] = [];
    for (const info of functions) {
      if (helpers.has(info.name) || info.name === loop?.exact || info.name === loop?.pages) continue;
      const walker = new Walker(m, layout, faults, helpers, loop, names.get(info.name) ?? info.name, { imports, hostGlobals: host });
      walker.walk(info.body, new Map());
      found.push(...walker.found.values());
    }
    return found;
  } finally {
    m.dispose();
  }
}

class Walker {
  readonly found = new Map<Ref, UncheckedAccess>();
  /** Accesses of versioned loops' unchecked copies whose guard was proven to cover them. */
  private verified = new Set<Ref>();
  /** States reaching each enclosing label by a branch, innermost binding last. */
  private labels = new Map<string, State[][]>();

  constructor(
    private readonly m: binaryen.Module,
    private readonly layout: Layout,
    private readonly faults: Set<string>,
    private readonly helpers: Set<string>,
    private readonly loopNames: LoopHelperNames | undefined,
    private readonly func: string,
    /** Imported functions and host-visible globals, for the bounds calls keep (verify_private.ts). */
    private readonly seen: { imports: Set<string>; hostGlobals: Set<string> },
  ) {}

  /** Walks `expr` from `state` (mutated); returns the state after it. */
  walk(expr: Ref, state: State): State {
    if (state === undefined) return undefined;
    const id = binaryen.getExpressionId(expr);
    switch (id) {
      case binaryen.BlockId:
        return this.block(expr, state);
      case binaryen.LoopId:
        return this.loop(expr, state);
      case binaryen.IfId:
        return this.ifElse(expr, state);
      case binaryen.BreakId:
        return this.br(expr, state);
      case binaryen.SwitchId: {
        state = this.children(expr, id, state);
        if (state === undefined) return undefined;
        const info = infoOf(expr, "Switch");
        for (const name of new Set([...info.names, info.defaultName])) this.branchTo(name, state);
        return undefined;
      }
      case binaryen.ReturnId:
      case binaryen.UnreachableId:
        this.children(expr, id, state);
        return undefined;
      case binaryen.CallId:
        return this.call(expr, state);
      case binaryen.CallIndirectId: {
        state = this.children(expr, id, state);
        return state === undefined ? undefined : new Map(carriedBounds(state, false, this.seen.hostGlobals).map((f) => [factId(f), f]));
      }
      case binaryen.LocalSetId:
        return this.localSet(expr, state);
      case binaryen.GlobalSetId: {
        state = this.children(expr, id, state);
        if (state === undefined) return state;
        const key = `g${nodes.GlobalSet.getName(expr)}`;
        const bound = boundAfterWrite(state, key, (binaryen.getExpressionInfo(expr) as unknown as { value: Ref }).value);
        kill(state, key);
        if (bound) withFact(state, bound);
        return state;
      }
    }
    let access: MemoryAccess | undefined;
    try {
      access = describeAccess(expr, id);
    } catch (cause) {
      if (!(cause instanceof AccessShapeError)) throw cause;
      this.report(expr, id, `has an unexpected shape (${cause.message})`);
      return state;
    }
    if (access) {
      for (const operand of access.operands) state = this.walk(operand, state);
      if (state !== undefined) this.checkAccess(expr, id, access, state);
      return state;
    }
    if (!plainChildren(expr, id)) {
      this.report(expr, id, "is an instruction the verifier does not know");
      return state;
    }
    return this.children(expr, id, state);
  }

  private children(expr: Ref, id: number, state: State): State {
    for (const child of plainChildren(expr, id)?.refs ?? []) state = this.walk(child, state);
    return state;
  }

  private block(expr: Ref, state: State): State {
    const name = nodes.Block.getName(expr);
    const info = infoOf(expr, "Block");
    if (name) this.bind(name);
    for (const child of info.children) state = this.walk(child, state);
    return name ? join(this.layout, [state, ...this.unbind(name)]) : state;
  }

  /** The header's facts: those of the entry and of every branch back, to a fixed point. */
  private loop(expr: Ref, entry: State): State {
    const name = nodes.Loop.getName(expr);
    const body = nodes.Loop.getBody(expr);
    if (entry !== undefined) this.verifyVersioned(expr, entry);
    let header: State = entry;
    for (;;) {
      if (name) this.bind(name);
      const exit = this.walk(body, header === undefined ? undefined : new Map(header));
      const back = name ? this.unbind(name) : [];
      const next = join(this.layout, [entry, ...back]);
      if (sameState(next, header)) return exit;
      header = next;
      // Header facts only shrink, so what an earlier pass reported stays unproven; reports are
      // kept by instruction, so a re-walk does not repeat them.
    }
  }

  /**
   * A loop entered where a guard's terms hold: when it is a counted loop whose guard terms
   * (rebuilt here from the loop itself) all hold, its accesses are covered.
   */
  private verifyVersioned(loop: Ref, entry: Map<string, Fact>): void {
    const texts = new Set([...entry.values()].flatMap((f) => (f.type === "term" ? [f.text] : [])));
    if (texts.size === 0 || !this.loopNames) return;
    const counted = analyseCountedLoop(loop, POLL_FLAG_ADDRESS);
    const terms = counted && guardTerms(this.m, counted, this.loopNames);
    if (!counted || !terms) return;
    if (![...terms.limits, ...terms.pages].every((t) => texts.has(binaryen.emitText(t)))) return;
    for (const a of counted.accesses) this.verified.add(a.expr);
  }

  private ifElse(expr: Ref, state: Map<string, Fact>): State {
    const info = infoOf(expr, "If");
    const after = this.walk(info.condition, state);
    if (after === undefined) return undefined;
    const otherwise = this.learn(new Map(after), info.condition);
    const thenExit = this.walk(info.ifTrue, new Map(after));
    const elseExit = info.ifFalse ? this.walk(info.ifFalse, otherwise) : otherwise;
    return join(this.layout, [thenExit, elseExit]);
  }

  private br(expr: Ref, state: Map<string, Fact>): State {
    const info = infoOf(expr, "Break");
    let after: State = state;
    if (info.value) after = this.walk(info.value, after);
    if (!info.condition) {
      if (after !== undefined) this.branchTo(info.name, after);
      return undefined;
    }
    const cond = info.condition;
    if (after === undefined) return undefined;
    // A range helper call whose result is the condition: it returned 0 on the fall-through path,
    // so it did not park the kernel there, and the facts from before it still hold.
    if (binaryen.getExpressionId(cond) === binaryen.CallId && this.helpers.has(infoOf(cond, "Call").target)) {
      const before = new Map(after);
      const taken = this.call(cond, after);
      if (taken !== undefined) this.branchTo(info.name, taken);
      const fallthrough = this.walkOperands(cond, before);
      if (fallthrough !== undefined && taken !== undefined) for (const [id, f] of taken) fallthrough.set(id, f);
      return fallthrough;
    }
    after = this.walk(cond, after);
    if (after === undefined) return undefined;
    this.branchTo(info.name, new Map(after));
    if (binaryen.getExpressionId(cond) === binaryen.UnaryId && nodes.Unary.getOp(cond) === binaryen.EqZInt32) {
      for (const fact of guardFacts(nodes.Unary.getValue(cond))) withFact(after, fact);
    }
    return this.learn(after, cond);
  }

  private walkOperands(call: Ref, state: State): State {
    for (const operand of infoOf(call, "Call").operands) state = this.walk(operand, state);
    return state;
  }

  private learn(state: Map<string, Fact>, cond: Ref): Map<string, Fact> {
    for (const fact of zeroFacts(cond, this.layout)) withFact(state, fact);
    return state;
  }

  private call(expr: Ref, state: State): State {
    const info = infoOf(expr, "Call");
    const after = this.walkOperands(expr, state);
    if (after === undefined) return undefined;
    // The versioned loops' helpers call nothing: the kernel is not parked.
    if (info.target === this.loopNames?.exact || info.target === this.loopNames?.pages) return after;
    const result = new Map<string, Fact>();
    for (const f of carriedBounds(after, this.seen.imports.has(info.target), this.seen.hostGlobals)) withFact(result, f);
    const args = info.operands;
    if (this.faults.has(info.target) && args.length === 3) {
      const kind = constant(args[2]);
      const first = this.faultPage(args[0]);
      const last = this.faultPage(args[1]);
      if ((kind === Access.Read || kind === Access.Write) && first && last && first.key === last.key) {
        const hi = first.key === "c" ? (last.delta + this.layout.pageSize - 1) | 0 : last.delta;
        withFact(result, { type: "span", key: first.key, lo: first.delta, hi, kind });
      }
    } else if (this.helpers.has(info.target) && args.length === 3) {
      const kind = constant(args[2]);
      const start = operandKey(args[0], true);
      const size = operandKey(args[1], true);
      if ((kind === Access.Read || kind === Access.Write) && start && size) withFact(result, { type: "range", start, size, kind });
    }
    return result;
  }

  /** A fault argument: a page expression `shr_u(A, SHIFT)` (returns A) or a constant page. */
  private faultPage(expr: Ref): { key: string; delta: number } | undefined {
    const page = constant(expr);
    if (page !== undefined) return { key: "c", delta: (page << this.layout.pageShift) | 0 };
    return pageAddress(expr, this.layout);
  }

  private localSet(expr: Ref, state: Map<string, Fact>): State {
    const index = nodes.LocalSet.getIndex(expr);
    const value = nodes.LocalSet.getValue(expr);
    const after = this.walk(value, state);
    if (after === undefined) return undefined;
    const window = windowKind(value, after, this.layout);
    const bound = boundAfterWrite(after, `l${index}`, value);
    kill(after, `l${index}`);
    if (window !== undefined) withFact(after, { type: "window", slot: index, kind: window });
    if (bound) withFact(after, bound);
    return after;
  }

  private checkAccess(expr: Ref, id: number, access: MemoryAccess, state: Map<string, Fact>): void {
    if (access.kind === "range") {
      const size = operandKey(access.operands[access.size], true);
      for (const r of access.ranges) {
        const start = operandKey(access.operands[r.start], true);
        const ok = start && size && [...state.values()].some((f) => f.type === "range" && f.start === start && f.size === size && f.kind >= r.access);
        if (!ok) this.report(expr, id, `range ${r.access === Access.Write ? "write" : "read"} of operand ${r.start} is not covered by a range check`);
      }
      return;
    }
    if (this.exempt(expr, id) || this.verified.has(expr)) return;
    const a = addressOf(access.operands[0]);
    if (!a) return this.report(expr, id, "has an address the verifier cannot follow");
    const delta = (a.delta + access.offset) | 0;
    if (a.key !== "c" && privateCovered(state, a.key, delta, access.width, this.layout)) return;
    if (!covered(state, a.key, delta, access.width, access.access, this.layout)) {
      const where = a.key === "c" ? `${delta >>> 0}` : `${a.key} + ${delta}`;
      this.report(expr, id, `of ${access.width} byte(s) at ${where} (${access.access === Access.Write ? "write" : "read"}) is not covered by a check`);
    }
  }

  /** The instrumentation's own accesses: the protection table and the poll flag. */
  private exempt(expr: Ref, id: number): boolean {
    if (id !== binaryen.LoadId) return false;
    if (tableLoad(expr, this.layout)) return true;
    const info = infoOf(expr, "Load");
    // A page number is below the table's size: a pair load reads at most one byte past the table.
    if (info.offset === this.layout.tableBase && (info.bytes === 1 || info.bytes === 2) && !info.isAtomic && isPageNumber(info.ptr, this.layout)) return true;
    return info.isAtomic && info.bytes === 4 && constant(info.ptr) === POLL_FLAG_ADDRESS && info.offset === 0;
  }

  private report(expr: Ref, id: number, detail: string): void {
    this.found.set(expr, { func: this.func, instruction: kindName(id), detail });
  }

  private bind(name: string): void {
    const stack = this.labels.get(name) ?? [];
    stack.push([]);
    this.labels.set(name, stack);
  }

  private unbind(name: string): State[] {
    return this.labels.get(name)!.pop()!;
  }

  private branchTo(name: string, state: Map<string, Fact>): void {
    const stack = this.labels.get(name);
    if (stack && stack.length > 0) stack[stack.length - 1].push(new Map(state));
  }
}

/** `(i32.shr_u X (i32.const SHIFT))`: a page number, below the table's size whatever X is. */
function isPageNumber(expr: Ref, layout: Layout): boolean {
  return binaryen.getExpressionId(expr) === binaryen.BinaryId && nodes.Binary.getOp(expr) === binaryen.ShrUInt32 && constant(nodes.Binary.getRight(expr)) === layout.pageShift;
}
