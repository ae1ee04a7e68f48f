/**
 * Rewrites one function body: walks every expression in evaluation order, refuses kinds it does
 * not know, puts a protection check right after the operands of every memory access, and a poll
 * at the top of every loop body.
 *
 * An access `(op ptr v)` becomes `(block (local.set $t ptr) (local.set $u v) CHECK (op $t $u))`,
 * except that an operand is left in place when re-reading it after the others gives the same
 * value and runs nothing (a constant, or a local not written by a later operand), and a
 * `local.tee $x` pointer becomes a `local.set $x`.
 *
 * Checks are combined per {@link CheckGroup}. The walk closes the open group at every call, loop,
 * `if`, branch, and at the end of every named block; the next access opens a new group whose
 * check point is right before it. An access joins the open group when its base variable has not
 * been written since the group's check point (tracked with the group's serial number); when its
 * address is a pure computation of such variables, that computation is hoisted to the check point.
 *
 * After a group closes, what it checked stays known while no call, loop header or other check
 * comes; an access it covers there, on every path (the walk forgets it after an `if` whose arm
 * made a check, and at the end of a named block that made one), gets no check (`dominance`).
 *
 * An access whose base variable a test of the code bounds into private memory gets no check at
 * all (`privateAccesses`, private_bounds.ts).
 *
 * Loops: an outermost loop gets the page cache slots of the accesses in its call-free loops
 * (loop_scan.ts, check_emitter.ts), reset after every call inside it; a call-free innermost loop
 * gets a {@link LoopFrame}, which follows what the body has done so far to decide whether each
 * group's slow path may move out of the loop (loop_restart.ts); a counted one may also get an
 * unchecked copy (loop_version.ts).
 */
import binaryen from "binaryen";
import { type Layout, POLL_FLAG_ADDRESS } from "../abi.js";
import { analyseCountedLoop } from "./affine_loop.js";
import { nodes } from "./binaryen_nodes.js";
import type { CheckEmitter, CheckedAccess } from "./check_emitter.js";
import { CheckGroup } from "./check_group.js";
import { InstrumentError } from "./errors.js";
import { kindName, plainChildren } from "./expression_kinds.js";
import { LoopFrame, renameLabels, retarget } from "./loop_restart.js";
import { scanLoopNest } from "./loop_scan.js";
import { slotsWithout, versionedLeaves } from "./lean_fallback.js";
import { outerLoops } from "./leaf_caches.js";
import { PrivateBounds } from "./private_bounds.js";
import { versionLoop, worthVersioning } from "./loop_version.js";
import { AccessShapeError, describeAccess, type MemoryAccess, type RangeAccess, type SingleAccess } from "./memory_access.js";
import { laterWrites, localKey, mayWrite, type VarKey, type Writes } from "./operand_scan.js";
import { placePointer, replaceOperand } from "./operand_placement.js";
import { RERUNNABLE, type RewriteOptions } from "./rewrite_options.js";

export type { RewriteOptions } from "./rewrite_options.js";

type Ref = binaryen.ExpressionRef;

const addVar = nodes._BinaryenFunctionAddVar;

export class FunctionRewriter {
  private group: CheckGroup | undefined;
  /** What the last closed group checked, at its serial, while no check, call or loop came since. */
  private known: { serial: number; members: readonly CheckedAccess[] } | undefined;
  private serial = 0;
  private lastWrite = new Map<VarKey, number>();
  private lastCall = -1;
  /** Enclosing loops, innermost last. */
  private loops: Ref[] = [];
  /** In the current outermost loop: loops without calls, the leaves among them, free cache slots. */
  private callFree = new Set<Ref>();
  private leaves = new Set<Ref>();
  /** In the current outermost loop: the loops versioning may copy (call-free, no inner loop). */
  private versionable = new Set<Ref>();
  /** In the current outermost loop: loops whose accesses get no cache slot (lean_fallback.ts, leaf_caches.ts). */
  private uncached = new Set<Ref>();
  private freeSlots: number[] = [];
  /** The loop whose slow paths move out (loop_restart.ts), when the walk is inside one. */
  private frame: LoopFrame | undefined;
  private labels = 0;
  /** Bounds on variables that prove accesses private (private_bounds.ts). */
  private readonly bounds: PrivateBounds;

  constructor(
    private readonly m: binaryen.Module,
    private readonly func: binaryen.FunctionRef,
    /** How messages name the function: its export name, else its internal name. */
    private readonly name: string,
    private readonly emitter: CheckEmitter,
    private readonly layout: Layout,
    private readonly options: RewriteOptions,
  ) {
    this.bounds = new PrivateBounds(layout.memoryBase, options.hostGlobals);
  }

  rewrite(): void {
    const body = nodes.Function.getBody(this.func);
    const rewritten = this.visit(body);
    this.close();
    if (rewritten !== body) nodes.Function.setBody(this.func, rewritten);
  }

  private visit(expr: Ref): Ref {
    const id = binaryen.getExpressionId(expr);
    const access = this.describe(expr, id);
    if (access) {
      const rewritten = access.kind === "single" ? this.visitSingle(expr, access) : this.visitRange(expr, access);
      this.frame?.taint();
      return rewritten;
    }
    const children = plainChildren(expr, id);
    if (!children) {
      throw new InstrumentError(
        `function "${this.name}": cannot instrument instruction "${kindName(id)}"; kernels may use plain, atomic, SIMD and bulk memory instructions only, so build without that feature`,
      );
    }
    if (id === binaryen.LoopId) return this.visitLoop(expr);
    const isIf = id === binaryen.IfId;
    const named = id === binaryen.BlockId && nodes.Block.getName(expr) !== null;
    // Code in an `if` arm or before a branch out of a named block may be skipped.
    let saved = named || isIf ? this.frame?.enterConditional() : undefined;
    const boundsBefore = named || isIf ? this.bounds.snapshot() : undefined;
    // What was checked before a block or an `if` arm dominates it, not the code after it.
    let dominating = named ? this.known : undefined;
    let checkedInArm = false;
    children.refs.forEach((child, i) => {
      const rewritten = this.visit(child);
      if (rewritten !== child) children.set(i, rewritten);
      if (isIf) {
        this.close();
        if (i > 0 && this.known !== dominating) checkedInArm = true;
        if (i === 0) dominating = this.known;
        else this.known = dominating; // the other arm does not run after this one
        if (saved && i > 0) this.frame!.leaveConditional(saved);
        saved = this.frame?.enterConditional();
      }
    });
    if (isIf && checkedInArm) this.known = undefined; // a check in an arm may have faulted
    if (boundsBefore) this.bounds.restore(boundsBefore);
    if (isIf || id === binaryen.BreakId) this.bounds.learnAfter(expr);
    if (named) {
      this.close();
      this.known = this.knownSince(dominating);
      if (saved) this.frame!.leaveConditional(saved);
    }
    if (this.frame && (!RERUNNABLE.has(id) || (id === binaryen.GlobalGetId && this.options.hostGlobals.has(nodes.GlobalGet.getName(expr))))) {
      this.frame.taint();
    }
    if (id === binaryen.LocalGetId) this.frame?.read(localKey(nodes.LocalGet.getIndex(expr)));
    else if (id === binaryen.LocalSetId) {
      const key = localKey(nodes.LocalSet.getIndex(expr));
      this.noteWrite(key, this.serial);
      this.frame?.write(key);
      this.bounds.write(key, nodes.LocalSet.getValue(expr));
    } else if (id === binaryen.GlobalSetId) {
      this.noteWrite(`g${nodes.GlobalSet.getName(expr)}`, this.serial);
      this.bounds.write(`g${nodes.GlobalSet.getName(expr)}`, (binaryen.getExpressionInfo(expr) as unknown as { value: Ref }).value);
    } else if (id === binaryen.CallId || id === binaryen.CallIndirectId) {
      this.close();
      this.lastCall = this.serial;
      this.known = undefined;
      this.bounds.call();
      return this.withResets(expr);
    } else if (id === binaryen.BreakId || id === binaryen.SwitchId || id === binaryen.ReturnId || id === binaryen.UnreachableId) {
      this.close();
    }
    return expr;
  }

  private describe(expr: Ref, id: number): MemoryAccess | undefined {
    try {
      return describeAccess(expr, id);
    } catch (cause) {
      if (!(cause instanceof AccessShapeError)) throw cause;
      throw new InstrumentError(`function "${this.name}": cannot instrument instruction "${kindName(id)}": ${cause.message}`, { cause });
    }
  }

  /**
   * `(loop $l body)` becomes `(loop $l (block POLL body))`; a loop header is a branch target. An
   * outermost loop gets its cache slots, set to the sentinel right before it. A leaf loop without
   * calls moves its slow paths out (loop_restart.ts).
   */
  private visitLoop(loop: Ref): Ref {
    const outermost = this.loops.length === 0;
    let init: Ref[] = [];
    if (outermost && (this.options.pageCaches || this.options.loopRestart || this.options.versioning)) {
      const nest = scanLoopNest(loop);
      this.callFree = nest.callFree;
      this.leaves = this.options.loopRestart ? nest.leaves : new Set();
      this.versionable = this.options.versioning ? nest.leaves : new Set();
      this.uncached = this.options.versioning && this.options.leanFallback ? versionedLeaves(nest) : new Set();
      if (this.options.leafCaches) for (const loop of outerLoops(nest)) this.uncached.add(loop);
      const slots = this.options.pageCaches ? slotsWithout(nest, this.uncached) : 0;
      this.freeSlots = Array.from({ length: slots }, () => addVar(this.func, binaryen.i32));
      this.emitter.slots = [...this.freeSlots];
      init = this.emitter.resets();
    }
    const n = this.labels++;
    const copy = this.versionable.has(loop) ? this.m.copyExpression(loop) : undefined;
    const counted = copy ? analyseCountedLoop(copy, POLL_FLAG_ADDRESS) : undefined;
    const outerFrame = this.frame;
    let frame: LoopFrame | undefined;
    let original: Ref | undefined;
    if (this.leaves.has(loop)) {
      const labels = { exit: `__dsm_exit${n}`, again: `__dsm_again${n}`, safe: `__dsm_safe${n}` };
      frame = new LoopFrame(loop, labels, addVar(this.func, binaryen.i32));
      original = this.m.copyExpression(nodes.Loop.getBody(loop));
    }
    this.frame = frame;
    this.loops.push(loop);
    this.close();
    this.known = undefined; // the loop header joins the back edges
    this.bounds.clear();
    const body = this.visit(nodes.Loop.getBody(loop));
    this.close();
    this.bounds.clear();
    let poll: Ref | undefined;
    if (this.options.polls && frame) {
      poll = this.emitter.pollExit(`__dsm_poll${n}`);
      frame.addHandler(`__dsm_poll${n}`, this.emitter.pollHandler());
    } else if (this.options.polls) {
      poll = this.emitter.poll();
    }
    const type = binaryen.getExpressionType(body);
    nodes.Loop.setBody(loop, poll ? this.m.block(null, [poll, body], type === binaryen.unreachable ? binaryen.auto : type) : body);
    this.loops.pop();
    this.frame = outerFrame;
    this.known = undefined;
    const safe = frame?.needsSafeBody ? this.safeBody(original!, nodes.Loop.getName(loop), frame.labels.again, `__dsm_s${n}`) : undefined;
    let result = frame?.hasHandlers ? frame.wrap(this.m, safe) : loop;
    if (counted && worthVersioning(counted)) {
      const labels = { done: `__dsm_vdone${n}`, checked: `__dsm_vchecked${n}`, fast: `__dsm_fast${n}` };
      result = versionLoop(this.m, counted, copy!, result, this.emitter.loopHelpers(), labels) ?? result;
    }
    if (!outermost) return result;
    this.emitter.slots = [];
    this.leaves = new Set();
    this.versionable = new Set();
    this.uncached = new Set();
    if (init.length === 0) return result;
    const resultType = binaryen.getExpressionType(result);
    return this.m.block(null, [...init, result], resultType === binaryen.unreachable ? binaryen.auto : resultType);
  }

  /**
   * The body of a leaf loop checked one access at a time (loop_restart.ts): `copy` is the body as
   * it was before rewriting; its branches to the loop go to `again` instead.
   */
  private safeBody(copy: Ref, loopName: string | null, again: string, suffix: string): Ref {
    if (loopName !== null) retarget(copy, loopName, again);
    renameLabels(copy, suffix);
    const naive = new FunctionRewriter(this.m, this.func, this.name, this.emitter, this.layout, { ...this.options, groups: false, pageCaches: false, loopRestart: false, versioning: false, dominance: false });
    return naive.rewriteExpression(copy);
  }

  /** Rewrites a detached expression of this function (no enclosing loop). */
  rewriteExpression(expr: Ref): Ref {
    const rewritten = this.visit(expr);
    this.close();
    return rewritten;
  }

  /** A cache slot for an access in the current loop, when that loop makes no call. */
  private takeSlot(): number | undefined {
    const loop = this.loops[this.loops.length - 1];
    return loop !== undefined && this.callFree.has(loop) && !this.uncached.has(loop) ? this.freeSlots.shift() : undefined;
  }

  /** `expr` (a call or a wait), followed by resets of the live cache slots. */
  private withResets(expr: Ref): Ref {
    const type = binaryen.getExpressionType(expr);
    if (this.emitter.slots.length === 0 || type === binaryen.unreachable) return expr;
    if (type === binaryen.none) return this.emitter.afterCall(expr);
    const temp = addVar(this.func, type);
    return this.m.block(null, [this.m.local.set(temp, expr), ...this.emitter.resets(), this.m.local.get(temp, type)], type);
  }

  /** Visits the operands in order; returns the serial current right after each one ran. */
  private visitOperands(access: MemoryAccess): number[] {
    return access.operands.map((operand, i) => {
      const rewritten = this.visit(operand);
      if (rewritten !== operand) replaceOperand(access, i, rewritten);
      return this.serial;
    });
  }

  private visitSingle(expr: Ref, access: SingleAccess): Ref {
    const after = this.visitOperands(access);
    if (access.operands.some((o) => binaryen.getExpressionType(o) === binaryen.unreachable)) return expr; // never runs
    const later = laterWrites(access.operands);
    const spills: Ref[] = [];
    for (let i = 1; i < access.operands.length; i++) {
      const spill = this.placeOperand(access, i, later[i], after[i]);
      if (spill) spills.push(spill);
    }
    const ptr = placePointer(this.m, this.func, access, later[0]);
    if (ptr.spilled) this.noteWrite(ptr.base!, after[0]);
    const blocks = binaryen.getExpressionId(expr) === binaryen.AtomicWaitId;
    const prior = { base: ptr.base, offset: (ptr.delta + access.offset) | 0, width: access.width, access: access.access };
    const unchecked = !blocks && this.options.privateAccesses && this.bounds.covers(ptr.base, prior.offset, prior.width);
    if (unchecked || (!blocks && !this.group && this.covered(prior))) {
      const prologue = ptr.set ? [ptr.set, ...spills] : spills;
      return prologue.length === 0 ? expr : this.m.block(null, [...prologue, expr], binaryen.getExpressionType(expr));
    }
    const checked: CheckedAccess = { ...prior, slot: this.takeSlot() };
    const group = this.options.groups ? this.group : undefined;
    if (group && !this.stable(ptr.base, group) && ptr.pure?.every((k) => this.stable(k, group)) && group.accepts(checked)) {
      group.hoist(ptr.set!);
      ptr.set = undefined;
    } else if (!group || !this.stable(ptr.base, group) || !group.accepts(checked)) {
      return this.openGroup(expr, ptr.set ? [ptr.set, ...spills] : spills, checked, blocks);
    }
    group.add(checked);
    if (blocks) this.close();
    const prologue = ptr.set ? [ptr.set, ...spills] : spills;
    const code = blocks ? this.withResets(expr) : expr;
    return prologue.length === 0 ? code : this.m.block(null, [...prologue, code], binaryen.getExpressionType(expr));
  }

  /**
   * Whether the last closed group's check covers `a`: it ran with no call, loop header or other
   * check since (a check may fault and so park the kernel), on every path here (the walk forgets
   * it after an `if` or a block it was not made before), and `a`'s base variable is unchanged.
   */
  private covered(a: CheckedAccess): boolean {
    const known = this.options.dominance ? this.known : undefined;
    if (!known || this.lastCall >= known.serial || !this.stableSince(a.base, known.serial)) return false;
    return known.members.some((m) => m.base === a.base && m.access >= a.access && m.offset <= a.offset && a.offset + a.width <= m.offset + m.width);
  }

  /** `known` if it is still the last check made, else nothing (a later check may have faulted). */
  private knownSince(dominating: typeof this.known): typeof this.known {
    return dominating !== undefined && this.known === dominating ? dominating : undefined;
  }

  /** Closes the open group and starts one whose check point is right before `expr`. */
  private openGroup(expr: Ref, prologue: Ref[], checked: CheckedAccess, blocks: boolean): Ref {
    this.close();
    this.known = undefined;
    const block = this.m.block(null, [...prologue, this.m.nop(), blocks ? this.withResets(expr) : expr], binaryen.getExpressionType(expr));
    const restart = this.frame?.restartable ? { frame: this.frame, label: `__dsm_slow${this.labels++}` } : undefined;
    this.group = new CheckGroup(++this.serial, { block, index: prologue.length }, this.layout.pageSize, restart);
    this.group.add(checked);
    if (!this.options.groups || blocks) this.close();
    return block;
  }

  /** Leaves operand i in place when that is safe, else spills it; returns the spill, if any. */
  private placeOperand(access: MemoryAccess, i: number, later: Writes, after: number): Ref | undefined {
    const operand = access.operands[i];
    const id = binaryen.getExpressionId(operand);
    if (id === binaryen.ConstId) return undefined;
    if (id === binaryen.LocalGetId && !mayWrite(later, localKey(nodes.LocalGet.getIndex(operand)))) return undefined;
    const type = binaryen.getExpressionType(operand);
    const temp = addVar(this.func, type);
    replaceOperand(access, i, this.m.local.get(temp, type));
    this.noteWrite(localKey(temp), after);
    return this.m.local.set(temp, operand);
  }

  private visitRange(expr: Ref, access: RangeAccess): Ref {
    const after = this.visitOperands(access);
    if (access.operands.some((o) => binaryen.getExpressionType(o) === binaryen.unreachable)) return expr;
    this.close();
    this.known = undefined; // the range check may fault
    const later = laterWrites(access.operands);
    const prologue: Ref[] = [];
    access.operands.forEach((_, i) => {
      const spill = this.placeOperand(access, i, later[i], after[i]);
      if (spill) prologue.push(spill);
    });
    // placeOperand left each operand a constant or a local.get: re-readable for the check.
    const reread = (i: number) => () => this.m.copyExpression(access.operands[i]);
    const check = this.emitter.ranges(access.ranges.map((r) => ({ start: reread(r.start), size: reread(access.size), access: r.access })));
    return this.m.block(null, [...prologue, check, expr], binaryen.getExpressionType(expr));
  }

  /** True when `key` (undefined: an absolute address) holds the same value as at the group's check point. */
  private stable(key: VarKey | undefined, group: CheckGroup): boolean {
    return this.stableSince(key, group.serial);
  }

  private stableSince(key: VarKey | undefined, serial: number): boolean {
    if (key === undefined) return true;
    if ((this.lastWrite.get(key) ?? -1) >= serial) return false;
    return !(key.startsWith("g") && this.lastCall >= serial);
  }

  private noteWrite(key: VarKey, serial: number): void {
    this.lastWrite.set(key, Math.max(this.lastWrite.get(key) ?? -1, serial));
  }

  private close(): void {
    if (this.group) {
      this.group.close(this.m, this.emitter);
      this.known = { serial: this.group.serial, members: this.group.checked };
    }
    this.group = undefined;
  }
}
