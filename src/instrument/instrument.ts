/**
 * @fileoverview The access-check pass. It rewrites a compiled kernel so that every linear-memory
 * access is checked inline against the protection table of src/abi.ts before it runs, and every
 * loop polls the host. The protection byte of DSM page p is at `tableBase + p` (0 = read-write,
 * NO_WRITE = 1, NO_READ = 2). An access of w bytes at ea = ptr + offset spans pages
 * p1 = ea >>> shift and p2 = (ea + w - 1) >>> shift; a read misses when (t[p1] | t[p2]) & NO_READ,
 * a write when t[p1] | t[p2] is not 0. A miss calls the added import `dsm.__fault(p1, p2, access)`,
 * which returns only once every page of the range allows the access.
 *
 * A load (page size 4 KiB, tableBase 4096), before and after:
 *
 *   (f64.load offset=8 (local.get $p))
 *
 *   (block (result f64)
 *     (if (i32.and (i32.or (i32.load8_u offset=4096 (i32.shr_u (i32.add (local.get $p) (i32.const 8)) (i32.const 12)))
 *                          (i32.load8_u offset=4096 (i32.shr_u (i32.add (local.get $p) (i32.const 15)) (i32.const 12))))
 *                  (i32.const 2))
 *       (then (call $__fault <p1> <p2> (i32.const 0))))
 *     (f64.load offset=8 (local.get $p)))
 *
 * A store whose operands compute something: operands first (into fresh locals), then the check,
 * then the store, so that nothing the operands run (a call may park the kernel and let the host
 * take pages away) comes between check and access:
 *
 *   (i32.store (call $addr) (call $value))
 *
 *   (block
 *     (local.set $t0 (call $addr))
 *     (local.set $t1 (call $value))
 *     (if (i32.or (i32.load8_u offset=4096 <page of $t0>) (i32.load8_u offset=4096 <page of $t0 + 3>))
 *       (then (call $__fault <p1> <p2> (i32.const 1))))
 *     (i32.store (local.get $t0) (local.get $t1)))
 *
 * A loop polls the host at the top of its body, so a node spinning in a loop still parks when asked
 * (this is the form in a loop that calls something; loop_restart.ts shows the other):
 *
 *   (loop $l BODY)
 *
 *   (loop $l
 *     (block
 *       (if (i32.atomic.load (i32.const POLL_FLAG_ADDRESS)) (then (call $__poll)))
 *       BODY))
 *
 * Atomics (RMW and cmpxchg are writes; wait and notify reads), SIMD loads and stores (of their
 * real width: splat, extend, zero and lane forms) are single accesses like the above. memory.copy,
 * memory.fill and memory.init check whole byte ranges through one added helper function, which
 * faults with the range's first and last page; a zero length checks nothing.
 *
 * What the pass optimises (`optimizeChecks`, default on; each optimisation can be turned off alone
 * with `optimizations`, named in brackets), each step keeping every access checked against what
 * the table said after the last time the kernel could have been parked — and the kernel is parked
 * only inside a call:
 * - A one-byte access, or a constant address whose bytes share a page, reads one table byte.
 * - [groups] Accesses with no call, loop, `if`, branch or branch target between them share one
 *   check, placed before the first (check_group.ts), when their byte ranges merge into one: a read
 *   inside a write's range is covered by it; accesses of one kind on the same variable spanning at
 *   most one DSM page are checked as one range. Each one's address must be readable at the check:
 *   its variable not written in between, or a pure computation of such variables, then computed
 *   there.
 * - [dominance] An access covered by the last check made, when no call, loop header or other
 *   check came between them on any path (the check dominates it: the access is in an `if` arm or
 *   block the check precedes), gets no check of its own.
 * - [pageCaches] In a loop, an access whose innermost loop makes no call caches the page it found
 *   accessible in a local; while its bytes stay in that page the check is one subtraction and
 *   compare, no table read. Every call in the loop nest, every fault and every poll resets all such
 *   locals to a sentinel that admits only addresses beyond any memory (check_emitter.ts).
 * - [loopRestart] In an innermost loop that makes no call, the poll and the checks branch out of
 *   the loop to handlers that do the slow work and re-enter it from the top, when the code before
 *   the check may be re-run; V8 compiles a loop without calls much better (loop_restart.ts). There
 *   a check may cover several ranges (faulting on each missing one, then starting over), and after
 *   every two faults in handlers the loop runs one iteration of a copy of its body checked access
 *   by access, so that a host taking pages away during faults cannot keep it from progressing.
 * - [versioning] A counted innermost loop that makes no call and whose addresses are affine in
 *   its induction variables (`for (i = a; i < b; i += c)` over `p + i * s` and the like, or
 *   clang's `do { ...; p += 8; q += 8 } while (--n)`), or such plus a bounded index (a
 *   histogram's `(x >>> s) & 255`), gets an unchecked copy
 *   behind one guard that finds every page the loop can touch allowed, scanning the table four
 *   bytes at a time; the copy leaves for the checked loop when the guard fails or a poll is due,
 *   so that pages the host changed while the kernel was parked are checked again
 *   (loop_version.ts, affine_loop.ts):
 *
 *     (loop $l (if (i32.lt_s (local.get $i) (local.get $n)) (then BODY (br $l))))
 *
 *     (block $done
 *       (block $checked
 *         (br_if $checked <guard fails>)
 *         (loop $fast (br_if $checked <poll flag>) (if (i32.lt_s (local.get $i) (local.get $n)) (then BODY (br $fast))))
 *         (br $done))
 *       <the loop, checked as above>)
 *
 * - [leanFallback] The checked loop behind a versioned loop's guard gets no page caches: it runs
 *   only when the guard fails, and the caches made V8 compile the function worse (lean_fallback.ts).
 * - [pairLoads] The fast test of an access that may straddle two pages reads both protection
 *   bytes with one `i32.load16_u` (its first page and the next); only when that fails does the
 *   exact test decide whether to fault (pair_loads.ts).
 * - [privateAccesses] An access proven to lie at or above memoryBase (private memory, which the
 *   host never protects) gets no check; the proof is a bound on its base variable from a test the
 *   code makes, such as AssemblyScript's shadow-stack overflow test (private_bounds.ts).
 * - [leafCaches] Page caches only in innermost loops: in a loop around another loop the cached
 *   page rarely survives and the refills cost more than they save (leaf_caches.ts).
 *
 * A loop that waits on memory (`while (load(flag) == 0) {}`) is not counted: it keeps its poll
 * and its check, and so sees other nodes' writes. verify_checks.ts proves, independently of how
 * the checks were placed, that every access of the result is covered; build.ts runs it on every
 * build.
 * The pass does not run Binaryen's optimiser afterwards: it could move an access or a table load
 * across a call or a poll.
 *
 * Assumptions: the module's memory is 32-bit with a maximum below 4 GiB; the host changes a page
 * or its protection byte only while the kernel is parked in an import (abi.ts, DESIGN.md), and
 * clears the poll flag before `__poll` returns; it never protects a page at or above memoryBase
 * (`privateAccesses` relies on it: chaos mode, which takes private pages too, cannot test those
 * accesses); the table is followed by at least one byte of padding (`pairLoads`).
 *
 * Not covered (refused with an {@link InstrumentError} naming the function and instruction):
 * exceptions, tables and reference types, GC, strings, tuples (multi-value), stack switching,
 * 64-bit or multiple memories. Checks are hoisted out of counted innermost loops only: loops that
 * call something, nest a loop, or make one access that is neither affine nor affine plus a bounded
 * index (indirect or hashed addresses) find their pages one iteration at a time, and accesses in loops that call something
 * get no page cache. Only the last check made can make a later one unnecessary: any check may
 * fault, and a fault parks the kernel.
 */
import binaryen from "binaryen";
import { FAULT_IMPORT, IMPORT_MODULE, type Layout, POLL_IMPORT } from "../abi.js";
import { CheckEmitter } from "./check_emitter.js";
import { CHECK_OPTIMIZATIONS, type CheckOptimization } from "./check_optimizations.js";
import { InstrumentError } from "./errors.js";
import { FunctionRewriter } from "./function_rewriter.js";

export { InstrumentError } from "./errors.js";

export { CHECK_OPTIMIZATIONS, type CheckOptimization } from "./check_optimizations.js";

export interface InstrumentOptions {
  /** Insert a poll at the top of every loop body. @default true */
  polls?: boolean;
  /**
   * Use the cheaper, equally strong checks described in the file comment (combined checks, page
   * caches in call-free loops); false checks each access on its own, for comparison. @default true
   */
  optimizeChecks?: boolean;
  /**
   * Turns single optimisations off (false) while `optimizeChecks` is on: `groups` (one check for
   * accesses with no call or branch between them), `dominance` (no check for an access the last
   * check covers on every path to it), `pageCaches` (a cached page per access in
   * call-free loops), `loopRestart` (slow paths moved out of call-free innermost loops),
   * `versioning` (an unchecked copy of each counted loop behind one guard over all its pages),
   * `leanFallback` (no page caches in the checked loop behind a versioned loop's guard),
   * `pairLoads` (one 16-bit table load tests both pages an access may straddle),
   * `privateAccesses` (no check for an access proven to lie in private memory), `leafCaches`
   * (page caches in innermost loops only).
   * @default every optimisation on
   */
  optimizations?: Partial<Record<CheckOptimization, boolean>>;
}

/** Which optimisations `options` turns on. */
export function enabledOptimizations(options: InstrumentOptions): Record<CheckOptimization, boolean> {
  const all = options.optimizeChecks ?? true;
  const result = {} as Record<CheckOptimization, boolean>;
  for (const name of CHECK_OPTIMIZATIONS) result[name] = all && (options.optimizations?.[name] ?? true);
  return result;
}

/** The features kernels are compiled with; binaryen's reader leaves them unset. */
export const KERNEL_FEATURES =
  binaryen.Features.MVP |
  binaryen.Features.Atomics |
  binaryen.Features.MutableGlobals |
  binaryen.Features.NontrappingFPToInt |
  binaryen.Features.SIMD128 |
  binaryen.Features.BulkMemory |
  binaryen.Features.BulkMemoryOpt |
  binaryen.Features.SignExt;

const MAX_WASM_PAGES = 65535;

const HOOKS = {
  fault: "__dsm_fault",
  poll: "__dsm_poll",
  range: "__dsm_check_range",
  inexact: "__dsm_inexact",
  exact: "__dsm_exact",
  pages: "__dsm_pages_allow",
};

/** Returns `wasm` with every memory access checked against the protection table of `layout`. */
export function instrument(wasm: Uint8Array, layout: Layout, options: InstrumentOptions = {}): Uint8Array {
  const m = readModule(wasm);
  try {
    prepare(m);
    const emitter = new CheckEmitter(m, layout, HOOKS);
    const enabled = enabledOptimizations(options);
    emitter.pairLoads = enabled.pairLoads;
    const rewriteOptions = { polls: options.polls ?? true, ...enabled, hostGlobals: hostGlobals(m) };
    const functions: binaryen.FunctionRef[] = [];
    for (let i = 0; i < m.getNumFunctions(); i++) functions.push(m.getFunctionByIndex(i));
    const exported = exportNames(m);
    for (const func of functions) {
      const info = binaryen.getFunctionInfo(func);
      if (info.module || Object.values(HOOKS).includes(info.name)) continue; // imports and our own helper
      new FunctionRewriter(m, func, exported.get(info.name) ?? info.name, emitter, layout, rewriteOptions).rewrite();
    }
    if (!m.validate()) throw invalid(wasm);
    return m.emitBinary();
  } finally {
    m.dispose();
  }
}

/** Globals the host can see and change: imported or exported ones. */
export function hostGlobals(m: binaryen.Module): Set<string> {
  const names = new Set<string>();
  for (let i = 0; i < m.getNumGlobals(); i++) {
    const info = binaryen.getGlobalInfo(m.getGlobalByIndex(i));
    if (info.module) names.add(info.name);
  }
  for (let i = 0; i < m.getNumExports(); i++) {
    const info = binaryen.getExportInfo(m.getExportByIndex(i));
    if (info.kind === binaryen.ExternalGlobal) names.add(info.value);
  }
  return names;
}

/** Export name of each exported function, by internal name: what messages call the function. */
export function exportNames(m: binaryen.Module): Map<string, string> {
  const names = new Map<string, string>();
  for (let i = 0; i < m.getNumExports(); i++) {
    const info = binaryen.getExportInfo(m.getExportByIndex(i));
    if (info.kind === binaryen.ExternalFunction && !names.has(info.value)) names.set(info.value, info.name);
  }
  return names;
}

/** The module as WebAssembly text, for golden tests and debugging. */
export function toText(wasm: Uint8Array): string {
  const m = readModule(wasm);
  try {
    return m.emitText();
  } finally {
    m.dispose();
  }
}

function readModule(wasm: Uint8Array): binaryen.Module {
  let m: binaryen.Module;
  try {
    m = binaryen.readBinary(wasm);
  } catch (cause) {
    throw new InstrumentError("cannot read the module: it is not a valid WebAssembly binary; pass the bytes of a compiled kernel", { cause });
  }
  m.setFeatures(KERNEL_FEATURES);
  return m;
}

/**
 * The error for an output that does not validate. Input is validated only then, so that an
 * instruction the pass refuses is reported by name rather than as a validation failure.
 */
function invalid(wasm: Uint8Array): InstrumentError {
  const input = readModule(wasm);
  try {
    if (!input.validate()) {
      return new InstrumentError("the module does not validate with the kernel features (threads, SIMD, bulk memory, sign extension); compile it with compileKernel");
    }
  } finally {
    input.dispose();
  }
  return new InstrumentError("the instrumented module does not validate; this is a bug in the instrumentation, report it with the kernel");
}

/** Checks what the pass assumes about the module and adds the hook imports. */
function prepare(m: binaryen.Module): void {
  if (!m.hasMemory()) throw new InstrumentError("the module has no memory; compile the kernel with the imported shared memory");
  const memory = m.getMemoryInfo();
  if (memory.is64) throw new InstrumentError("the module's memory is 64-bit; compile the kernel for a 32-bit memory");
  // The page caches' sentinel (check_emitter.ts) relies on the last 64 KiB never being memory.
  if (memory.max === undefined || memory.max > MAX_WASM_PAGES) {
    throw new InstrumentError(`the module's memory has maximum ${memory.max ?? "none"} (64 KiB pages); declare a maximum of at most ${MAX_WASM_PAGES} pages (below 4 GiB)`);
  }
  for (let i = 0; i < m.getNumFunctions(); i++) {
    const info = binaryen.getFunctionInfo(m.getFunctionByIndex(i));
    if (info.module === IMPORT_MODULE && (info.base === FAULT_IMPORT || info.base === POLL_IMPORT)) {
      throw new InstrumentError(`the module already imports "${IMPORT_MODULE}" "${info.base}"; instrument the uninstrumented kernel`);
    }
    if (Object.values(HOOKS).includes(info.name)) throw new InstrumentError(`the module already has a function named "${info.name}"; rename it`);
  }
  const i32 = binaryen.i32;
  m.addFunctionImport(HOOKS.fault, IMPORT_MODULE, FAULT_IMPORT, binaryen.createType([i32, i32, i32]), binaryen.none);
  m.addFunctionImport(HOOKS.poll, IMPORT_MODULE, POLL_IMPORT, binaryen.none, binaryen.none);
}
