/**
 * Moves the slow paths of a hot loop out of it. V8 compiles a loop that contains no call much
 * better (it unrolls and peels it, and keeps values in registers), and the slow paths of the
 * poll and of the checks are calls. In an innermost loop with no call of its own, a slow path
 * becomes a branch out of the loop to a handler, which does the slow work and enters the loop
 * again from the top, re-running the iteration up to where it left:
 *
 *   (loop $l BODY)
 *
 *   (block $exit
 *     (loop $again
 *       (block $safe
 *         (block $check1
 *           (block $poll
 *             (loop $l
 *               (br_if $poll (i32.atomic.load (i32.const POLL_FLAG_ADDRESS)))
 *               PREFIX (br_if $check1 <cache miss>) REST)
 *             (br $exit))
 *           (call $__poll) RESETS (br $again))
 *         <table checks; after each fault: RESETS, $spins += 1, (br_if $safe (i32.ge_u $spins K))>
 *         <refill cache slots> (br $again))
 *       (local.set $spins (i32.const 0))
 *       SAFE_BODY (br $exit)))
 *
 * Re-running PREFIX (the code from the top of the body to the check) is only done when it gives
 * the same state again: PREFIX may write locals and compute, but must not touch memory, write a
 * global, read one the host can change, or read a local it writes before writing it (an
 * upward-exposed read); then every value it computes from its inputs, and every branch it takes,
 * is the same the second time. A check whose prefix does not qualify keeps its slow path inline.
 * Entering `(loop $l ...)` from the top is what `br $l` does, so the loop's own branches keep
 * their meaning.
 *
 * Progress. Re-entering from the top re-checks every check of the iteration, so it needs the
 * pages of all of them at once; a host that takes one away while resolving a fault on another
 * could keep the loop retrying forever. So after every K faults in its handlers the loop runs one
 * iteration of SAFE_BODY: a copy of the body checked one access at a time, each check right before
 * its access with no other fault in between, whose `br $l` becomes `br $again`. It completes the
 * iteration as the unoptimised code would, then the fast loop goes on.
 *
 * The poll handler may run again right after `__poll` returns if the flag is still set: the host
 * must clear it before returning (abi.ts: "host clears it").
 */
import binaryen from "binaryen";
import { nodes } from "./binaryen_nodes.js";
import { childrenOf, type VarKey } from "./operand_scan.js";

type Ref = binaryen.ExpressionRef;

/** Faults in handlers between two safe iterations. */
const SAFE_AFTER_FAULTS = 2;

export interface LoopLabels {
  exit: string;
  again: string;
  safe: string;
}

export class LoopFrame {
  /** Whether the code seen so far in the body may be re-run (see the file comment). */
  restartable = true;
  private written = new Set<VarKey>();
  private exposed = new Set<VarKey>();
  /** Locals written on every path from the top of the body to the current point. */
  private defined = new Set<VarKey>();
  private handlers: { label: string; code: Ref[] }[] = [];
  private faultHandlers = 0;

  constructor(
    readonly loop: Ref,
    readonly labels: LoopLabels,
    /** Local counting faults since the last safe iteration. */
    private readonly spins: number,
  ) {}

  read(key: VarKey): void {
    if (this.defined.has(key)) return;
    if (this.written.has(key)) this.restartable = false;
    this.exposed.add(key);
  }

  write(key: VarKey): void {
    if (this.exposed.has(key)) this.restartable = false;
    this.written.add(key);
    this.defined.add(key);
  }

  /** Something that may not run twice (a memory access, a call, a global write) ran. */
  taint(): void {
    this.restartable = false;
  }

  /** Entering code that may be skipped (an `if` arm, a block that is a branch target). */
  enterConditional(): Set<VarKey> {
    return new Set(this.defined);
  }

  /** Leaving it: its writes are no longer certain. */
  leaveConditional(saved: Set<VarKey>): void {
    this.defined = saved;
  }

  /** Registers a handler; `code` must not fall through to the loop (the frame adds `br $again`). */
  addHandler(label: string, code: Ref[]): void {
    this.handlers.push({ label, code });
  }

  /** Code a check handler runs after each fault: count it, and leave for the safe iteration every K. */
  afterFault(m: binaryen.Module): Ref[] {
    this.faultHandlers++;
    const spins = m.local.tee(this.spins, m.i32.add(m.local.get(this.spins, binaryen.i32), m.i32.const(1)), binaryen.i32);
    return [m.br(this.labels.safe, m.i32.ge_u(spins, m.i32.const(SAFE_AFTER_FAULTS)))];
  }

  get hasHandlers(): boolean {
    return this.handlers.length > 0;
  }

  /** Whether a check handler exists, so that the loop needs its safe body. */
  get needsSafeBody(): boolean {
    return this.faultHandlers > 0;
  }

  /**
   * Wraps the rewritten loop with its handlers and, if {@link needsSafeBody}, with `safe`: the
   * one-access-at-a-time copy of the body whose branches to the loop already target `$again`.
   */
  wrap(m: binaryen.Module, safe: Ref | undefined): Ref {
    const type = binaryen.getExpressionType(this.loop);
    const { exit, again } = this.labels;
    const leave = (body: Ref) => {
      if (type === binaryen.none) return m.block(null, [body, m.br(exit)]);
      if (type === binaryen.unreachable || binaryen.getExpressionType(body) === binaryen.unreachable) return body;
      return m.br(exit, undefined, body);
    };
    let inner = leave(this.loop);
    for (const h of this.handlers) inner = m.block(null, [m.block(h.label, [inner]), ...h.code, m.br(again)]);
    if (safe !== undefined) {
      const reset = m.local.set(this.spins, m.i32.const(0));
      inner = m.block(null, [m.block(this.labels.safe, [inner]), reset, leave(safe)]);
    }
    return m.block(exit, [m.loop(again, inner)], type === binaryen.unreachable ? binaryen.auto : type);
  }
}

/**
 * Gives every block and loop label defined inside `copy` (a copy of code that stays in the
 * function too) a new name ending in `suffix`, and makes the branches inside it follow, since
 * Binaryen requires label names to be unique within a function. clang's loop bodies define
 * labels (asc's innermost ones rarely do).
 */
export function renameLabels(copy: Ref, suffix: string): void {
  const renamed = new Map<string, string>();
  const define = (expr: Ref) => {
    const id = binaryen.getExpressionId(expr);
    const name = id === binaryen.BlockId ? nodes.Block.getName(expr) : id === binaryen.LoopId ? nodes.Loop.getName(expr) : null;
    if (name) {
      renamed.set(name, name + suffix);
      if (id === binaryen.BlockId) nodes.Block.setName(expr, name + suffix);
      else nodes.Loop.setName(expr, name + suffix);
    }
    for (const child of childrenOf(expr, id)) define(child);
  };
  define(copy);
  for (const [from, to] of renamed) retarget(copy, from, to);
}

/** Makes every branch to `from` in `expr` branch to `to`. */
export function retarget(expr: Ref, from: string, to: string): void {
  const id = binaryen.getExpressionId(expr);
  if (id === binaryen.BreakId && nodes.Break.getName(expr) === from) nodes.Break.setName(expr, to);
  if (id === binaryen.SwitchId) {
    for (let i = 0; i < nodes.Switch.getNumNames(expr); i++) if (nodes.Switch.getNameAt(expr, i) === from) nodes.Switch.setNameAt(expr, i, to);
    if (nodes.Switch.getDefaultName(expr) === from) nodes.Switch.setDefaultName(expr, to);
  }
  for (const child of childrenOf(expr, id)) retarget(child, from, to);
}
