/**
 * Emits the code the instrumentation inserts: the check before a group of accesses, the range
 * check of bulk operations (through range_helper.ts), and the poll at the top of a loop body.
 *
 * The protection byte of DSM page p is at `tableBase + p`, so reading it is one `i32.load8_u`
 * with `tableBase` as its static offset. The table is read with plain loads: the host changes it
 * only while the kernel is parked inside a call, and that call orders the accesses.
 *
 * Page caches. An access inside a loop may own a cache slot: a local holding the start of a byte
 * window of one page size in which the access (its kind) was found allowed with no call since.
 * The check then starts with `(ea - slot) >u (pageSize - width)`, true unless all `width` bytes
 * lie in the window, and reads the table only then. After the table allowed the access, the slot
 * gets the base of the access's page, or, for an access straddling two pages (both checked), its
 * own address: a window inside those two pages that covers it. Every call may park the kernel, so
 * after every call in the loop nest the rewriter (and this emitter, after its own calls) resets
 * all slots to the sentinel 2^32 - pageSize: the window it describes lies above any memory of a
 * module whose maximum is below 4 GiB, so an access it admits traps whatever the check says.
 */
import binaryen from "binaryen";
import { Access, type Layout, NO_READ, POLL_FLAG_ADDRESS } from "../abi.js";
import type { VarKey } from "./operand_scan.js";
import { addLoopHelpers, type LoopHelperNames } from "./loop_helpers.js";
import { addRangeHelper } from "./range_helper.js";
import { pairLoad, pairMiss } from "./pair_loads.js";

type Ref = binaryen.ExpressionRef;

/**
 * One access to check: `width` bytes at `base + offset` (i32 arithmetic, wrapping), where the
 * base is a local or global read at check time, or 0 when `base` is undefined (an absolute address).
 */
export interface CheckedAccess {
  base: VarKey | undefined;
  offset: number;
  width: number;
  access: Access;
  /** Index of the local caching this access's page, if it has one. */
  slot?: number;
}

/** Internal names of the functions the checks call. */
export interface HookNames extends LoopHelperNames {
  fault: string;
  poll: string;
  range: string;
}

export class CheckEmitter {
  private labels = 0;
  private rangeHelperAdded = false;
  private loopHelpersAdded = false;
  /** Cache slots live at this point of the function; reset after every call. */
  slots: number[] = [];
  /** Test an access that may straddle two pages with one 16-bit table load first (pair_loads.ts). */
  pairLoads = false;

  constructor(
    private readonly m: binaryen.Module,
    private readonly layout: Layout,
    readonly names: HookNames,
  ) {}

  /** The names of the versioned loops' helpers (loop_helpers.ts), added on first use. */
  loopHelpers(): LoopHelperNames {
    if (!this.loopHelpersAdded) addLoopHelpers(this.m, this.layout, this.names);
    this.loopHelpersAdded = true;
    return this.names;
  }

  /** `(if (i32.atomic.load (i32.const POLL_FLAG_ADDRESS)) (then (call $poll) RESETS))` */
  poll(): Ref {
    const m = this.m;
    return m.if(m.i32.atomic.load(0, m.i32.const(POLL_FLAG_ADDRESS)), this.afterCall(m.call(this.names.poll, [], binaryen.none)));
  }

  /** `call` followed by the resets of all live cache slots. */
  afterCall(call: Ref): Ref {
    const type = binaryen.getExpressionType(call);
    if (this.slots.length === 0 || type === binaryen.unreachable) return call;
    return this.m.block(null, [call, ...this.resets()]);
  }

  /** The sets returning every live cache slot to the sentinel. */
  resets(): Ref[] {
    const sentinel = -this.layout.pageSize | 0;
    return this.slots.map((s) => this.m.local.set(s, this.m.i32.const(sentinel)));
  }

  /** `(br_if $label (i32.atomic.load (i32.const POLL_FLAG_ADDRESS)))`, for a loop whose poll moved out. */
  pollExit(label: string): Ref {
    const m = this.m;
    return m.br(label, m.i32.atomic.load(0, m.i32.const(POLL_FLAG_ADDRESS)));
  }

  /** The handler of a moved-out poll: `(call $poll)` and the slot resets. */
  pollHandler(): Ref[] {
    return [this.afterCall(this.m.call(this.names.poll, [], binaryen.none))];
  }

  /**
   * The check of accesses that run with no call between them, placed before the first. Fast path:
   * one test per cached access, else one branch on the OR of all protection bytes. Slow path: see
   * {@link slowPath}.
   */
  group(list: CheckedAccess[]): Ref {
    const m = this.m;
    if (list.every((a) => a.slot === undefined)) {
      // retry tests each access exactly; a single access needs the exact test before faulting.
      if (list.length > 1) return m.if(this.pairTest(list) ?? this.miss(list), this.retry(list));
      return this.guarded(list, (exact) => m.if(exact, this.fault(list[0])));
    }
    const tests = this.tests(list);
    if (tests.length === 1) return m.if(tests[0], m.block(null, this.slowPath(list)));
    const ok = `__dsm_ok${this.labels}`;
    const miss = `__dsm_miss${this.labels++}`;
    return m.block(ok, [m.block(miss, [...tests.map((t) => m.br(miss, t)), m.br(ok)]), ...this.slowPath(list)]);
  }

  /**
   * The same check, its slow path moved out of the loop: the fast path tests each cached access's
   * slot, reads the table for one that missed and refills its slot, and branches to `label` when
   * the table forbids an access; the slow path, run there, faults and starts over like
   * {@link retry}, running `afterFault` (which may leave) after each fault, then refills the slots.
   */
  groupExit(list: CheckedAccess[], label: string, afterFault: () => Ref[]): { fast: Ref; slow: Ref[] } {
    const m = this.m;
    // A cached access whose page changed reads the table in place and refills its slot; only a
    // miss in the table leaves the loop (leaving and re-entering costs far more than a table read).
    // A failed pair test runs the exact test, which alone decides to leave: a pair test that
    // left would come back to the same failed test for ever when the next page is protected.
    const leave = (a: CheckedAccess) => this.guarded([a], (exact) => m.br(label, exact));
    const tests = list.map((a) => (a.slot === undefined ? leave(a) : m.if(this.cacheMiss(a), m.block(null, [leave(a), ...this.refill([a])]))));
    return { fast: tests.length === 1 ? tests[0] : m.block(null, tests), slow: [this.retry(list, afterFault), ...this.refill(list)] };
  }

  /**
   * Per access: true when its cached page does not cover it, or (no slot) when the table forbids
   * it; the slow path these lead to tests the table exactly, so a pair test may stand for it.
   */
  private tests(list: CheckedAccess[]): Ref[] {
    return list.map((a) => (a.slot === undefined ? (this.pairTest([a]) ?? this.miss([a])) : this.cacheMiss(a)));
  }

  /**
   * `(if PAIR_TEST (then inner(EXACT_TEST)))` when pair loads apply to `list` (pair_loads.ts),
   * else `inner(EXACT_TEST)`.
   */
  private guarded(list: CheckedAccess[], inner: (exact: Ref) => Ref): Ref {
    const pair = this.pairTest(list);
    const code = inner(this.miss(list));
    return pair === undefined ? code : this.m.if(pair, code);
  }

  /** The pair test of `list` (pair_loads.ts), or undefined when it would read no fewer bytes. */
  private pairTest(list: CheckedAccess[]): Ref | undefined {
    if (!this.pairLoads || !list.some((a) => a.width > 1 && a.base !== undefined)) return undefined;
    const terms = list.flatMap((a) =>
      a.width > 1 && a.base !== undefined
        ? [{ load: pairLoad(this.m, this.layout.tableBase, this.page(a, 0)), access: a.access }]
        : this.pages(a).map((p) => ({ load: this.m.i32.load8_u(this.layout.tableBase, 1, p), access: a.access })),
    );
    return pairMiss(this.m, terms);
  }

  /**
   * Reads the table: faults on the first access that misses and starts over, because resolving a
   * fault parks the kernel and the host may take away a page another access of the group needs;
   * leaves only after a pass with no fault. Then refills the cache slots (see {@link refill}).
   */
  private slowPath(list: CheckedAccess[]): Ref[] {
    const m = this.m;
    const recheck = list.length === 1 ? m.if(this.miss(list), this.fault(list[0])) : this.retry(list);
    return [recheck, ...this.refill(list)];
  }

  /**
   * Sets each cached access's slot, once the table allowed it with no call since: to the base of
   * its page, or, for an access straddling two pages (both checked), to its own address, so that
   * the window covers it and lies inside those two pages.
   */
  private refill(list: CheckedAccess[]): Ref[] {
    const m = this.m;
    return list
      .filter((a) => a.slot !== undefined)
      .map((a) => {
        const base = m.i32.and(this.address(a, 0), m.i32.const(-this.layout.pageSize | 0));
        if (a.width === 1) return m.local.set(a.slot!, base);
        const straddles = m.i32.ne(this.page(a, 0), this.page(a, a.width - 1));
        return m.local.set(a.slot!, m.select(straddles, this.address(a, 0), base));
      });
  }

  /**
   * The check of a bulk operation's byte ranges, through `$range(start, size, access)`, which
   * returns 1 when it had to fault. One range: one call (the host returns only when every page of
   * the range allows the access). Several: retried until one pass needs no fault, because the
   * fault for one range parks the kernel and the host may take away a page of another.
   */
  ranges(list: { start: () => Ref; size: () => Ref; access: Access }[]): Ref {
    const m = this.m;
    if (!this.rangeHelperAdded) addRangeHelper(m, this.layout, this.names.range, this.names.fault);
    this.rangeHelperAdded = true;
    const calls = list.map((r) => m.call(this.names.range, [r.start(), r.size(), m.i32.const(r.access)], binaryen.i32));
    if (calls.length === 1) return this.afterCall(m.drop(calls[0]));
    const label = `__dsm_retry${this.labels++}`;
    return this.afterCall(m.loop(label, m.block(null, calls.map((c) => m.br(label, c)))));
  }

  /** Faults on the first access that misses, then starts over; leaves after a pass with no fault. */
  private retry(list: CheckedAccess[], afterFault: () => Ref[] = () => []): Ref {
    const m = this.m;
    const label = `__dsm_retry${this.labels++}`;
    const passes = list.map((a) => m.if(this.miss([a]), m.block(null, [this.fault(a), ...afterFault(), m.br(label)])));
    return m.loop(label, m.block(null, passes));
  }

  /** True when some byte of the access lies outside the page cached in its slot. */
  private cacheMiss(a: CheckedAccess): Ref {
    const m = this.m;
    const distance = m.i32.sub(this.address(a, 0), m.local.get(a.slot!, binaryen.i32));
    return m.i32.gt_u(distance, m.i32.const(this.layout.pageSize - a.width));
  }

  /** True when a protection byte forbids one of the accesses. */
  private miss(list: CheckedAccess[]): Ref {
    const m = this.m;
    const reads: Ref[] = [];
    const writes: Ref[] = [];
    for (const a of list) {
      const bytes = this.pages(a).map((p) => m.i32.load8_u(this.layout.tableBase, 1, p));
      (a.access === Access.Read ? reads : writes).push(...bytes);
    }
    const terms = [...writes];
    if (reads.length > 0) terms.push(m.i32.and(orAll(m, reads), m.i32.const(NO_READ)));
    return orAll(m, terms);
  }

  /** `(call $fault first last access)` and the slot resets. */
  private fault(a: CheckedAccess): Ref {
    const m = this.m;
    return this.afterCall(m.call(this.names.fault, [this.page(a, 0), this.page(a, a.width - 1), m.i32.const(a.access)], binaryen.none));
  }

  /** Page expressions whose protection bytes decide the access: one when it cannot straddle. */
  private pages(a: CheckedAccess): Ref[] {
    if (a.width === 1) return [this.page(a, 0)];
    if (a.base === undefined) {
      const first = this.constantPage(a, 0);
      const last = this.constantPage(a, a.width - 1);
      return first === last ? [this.m.i32.const(first)] : [this.m.i32.const(first), this.m.i32.const(last)];
    }
    return [this.page(a, 0), this.page(a, a.width - 1)];
  }

  private page(a: CheckedAccess, byte: number): Ref {
    if (a.base === undefined) return this.m.i32.const(this.constantPage(a, byte));
    return this.m.i32.shr_u(this.address(a, byte), this.m.i32.const(this.layout.pageShift));
  }

  /** The address of the access's byte `byte`: `base + offset + byte`, wrapping. */
  private address(a: CheckedAccess, byte: number): Ref {
    const m = this.m;
    const delta = (a.offset + byte) | 0;
    if (a.base === undefined) return m.i32.const(delta);
    const base = a.base.startsWith("l") ? m.local.get(Number(a.base.slice(1)), binaryen.i32) : m.global.get(a.base.slice(1), binaryen.i32);
    return delta === 0 ? base : m.i32.add(base, m.i32.const(delta));
  }

  private constantPage(a: CheckedAccess, byte: number): number {
    return ((a.offset + byte) >>> 0) >>> this.layout.pageShift;
  }
}

function orAll(m: binaryen.Module, terms: Ref[]): Ref {
  return terms.reduce((acc, t) => m.i32.or(acc, t));
}
