/**
 * Time and deferred work for protocol code, which must not depend on the JavaScript event loop
 * (see future.ts): the thread that runs a node's protocol may be inside its kernel's `run` for
 * the whole job. A {@link Scheduler} is the seam. {@link TimerQueue} keeps timers and deferred work
 * for whoever drives it:
 *
 * - in a kernel's worker, the reactor (runtime/reactor.ts) runs due work at every poll, while it
 *   waits inside a fault or sync call, and sleeps at most until the next timer;
 * - on the main thread, {@link LoopScheduler} drives one from the event loop (tests, and
 *   protocols run outside a worker);
 * - in tests of timing, a queue over a clock the test sets ({@link TimerQueue} with `now`), run by
 *   hand, so behaviour that depends on elapsed time never depends on how busy the machine is.
 *
 * Nothing a protocol needs to make progress may wait for a timer: timers are for retransmission
 * and for giving up (deadlines), never for "a little later".
 */
import { KeptList } from "./kept_list.js";

export interface Scheduler {
  /** Milliseconds on a monotonic clock (performance.now() unless a test sets the clock). */
  now(): number;
  /** Runs `fn` once, at or after `time` (a now() value). Returns a handle for {@link cancel}. */
  at(time: number, fn: () => void): TimerHandle;
  /** The timer will not run; cancelling one that ran or was cancelled changes nothing. */
  cancel(handle: TimerHandle): void;
  /**
   * Runs `fn` once the work under way ends (the handling of a message or a call into the
   * protocol), before the node waits or its kernel runs again.
   */
  soon(fn: () => void): void;
  /**
   * Runs `fn` when nothing more urgent waits: at the node's next poll or wait, after its kernel
   * has had its answer. For bookkeeping that should stay off the path of a fault.
   */
  later(fn: () => void): void;
}

interface Timer {
  due: number;
  /** Order of arming, for ties. */
  seq: number;
  /** Null once cancelled (the entry stays in the heap until it reaches the top). */
  fn: (() => void) | null;
}

/** What {@link Scheduler.at} returns: only for passing back to cancel. */
export type TimerHandle = object;

/**
 * Timers in a binary heap by due time (ties in order of arming), and two work lists. A cancelled
 * timer is only marked; it leaves the heap when it reaches the top, so cancelling allocates
 * nothing (a protocol arms and cancels timers on every exchange).
 */
export class TimerQueue implements Scheduler {
  private heap: Timer[] = [];
  private nextSeq = 1;
  private live = 0;
  private readonly soonList = new KeptList<() => void>();
  private laterList = new KeptList<() => void>();
  /** An empty list for the next laterList (runLater swaps the two, so queueing allocates nothing). */
  private laterSpare: KeptList<() => void> | undefined = new KeptList();

  constructor(
    readonly now: () => number = () => performance.now(),
    /** Told when the earliest due time moves earlier, or when work is queued (due = now). */
    private readonly onArm?: (due: number) => void,
  ) {}

  at(time: number, fn: () => void): TimerHandle {
    const timer: Timer = { due: time, seq: this.nextSeq++, fn };
    this.push(timer);
    this.live++;
    if (this.onArm && this.heap[0] === timer) this.onArm(time);
    return timer;
  }

  cancel(handle: TimerHandle): void {
    const timer = handle as Timer;
    if (timer.fn === null) return;
    timer.fn = null;
    this.live--;
  }

  soon(fn: () => void): void {
    this.soonList.push(fn);
    if (this.soonList.length === 1) this.onArm?.(-Infinity);
  }

  later(fn: () => void): void {
    this.laterList.push(fn);
    if (this.laterList.length === 1) this.onArm?.(-Infinity);
  }

  /** Whether soon() work waits. */
  get hasSoon(): boolean {
    return this.soonList.length > 0;
  }

  /** Whether later() work waits. */
  get hasLater(): boolean {
    return this.laterList.length > 0;
  }

  /** Runs the soon() work, including what it queues in turn; true if there was any. */
  runSoon(): boolean {
    if (this.soonList.length === 0) return false;
    // Re-read the list each time: the work queues more.
    const list = this.soonList;
    for (let i = 0; i < list.length; i++) list.at(i)();
    list.clear();
    return true;
  }

  /** Runs the later() work queued so far (and the soon() work it causes); true if there was any. */
  runLater(): boolean {
    if (this.laterList.length === 0) return false;
    const batch = this.laterList;
    // A runLater inside this one (none today) finds no spare and makes an array.
    this.laterList = this.laterSpare ?? new KeptList();
    this.laterSpare = undefined;
    for (let i = 0; i < batch.length; i++) {
      batch.at(i)();
      this.runSoon();
    }
    batch.clear();
    this.laterSpare = batch;
    return true;
  }

  /** Runs every timer due at `now` (and the soon() work each causes); true if any ran. */
  runDue(now = this.now()): boolean {
    let ran = false;
    for (;;) {
      const top = this.heap[0];
      if (!top || top.due > now) break;
      this.pop();
      const fn = top.fn;
      if (fn === null) continue;
      top.fn = null;
      this.live--;
      ran = true;
      fn();
      this.runSoon();
    }
    return ran;
  }

  /** The due time of the earliest live timer, or Infinity. */
  nextDue(): number {
    for (;;) {
      const top = this.heap[0];
      if (!top) return Infinity;
      if (top.fn !== null) return top.due;
      this.pop();
    }
  }

  /** Timers armed and not yet run or cancelled. */
  get pending(): number {
    return this.live;
  }

  private push(timer: Timer): void {
    const h = this.heap;
    h.push(timer);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!earlier(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && earlier(h[l]!, h[m]!)) m = l;
      if (r < h.length && earlier(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}

function earlier(a: Timer, b: Timer): boolean {
  return a.due < b.due || (a.due === b.due && a.seq < b.seq);
}

/**
 * A {@link TimerQueue} driven by Node's event loop, for protocols that run on the main thread
 * (tests over LocalNetwork, and any in-process use outside a kernel worker): soon() work runs in
 * a microtask, later() work on the next turn, timers from one setTimeout armed for the earliest.
 * Like any timer, an armed one keeps the process alive: a call waiting for its retransmission
 * must not let a test's process end under it.
 */
export class LoopScheduler extends TimerQueue {
  private timer: NodeJS.Timeout | undefined;
  private timerDue = Infinity;
  private microtask = false;
  private immediate = false;

  constructor() {
    super(
      () => performance.now(),
      (due) => this.arm(due),
    );
  }

  private arm(due: number): void {
    if (due === -Infinity) {
      if (this.hasSoon && !this.microtask) {
        this.microtask = true;
        queueMicrotask(this.onMicrotask);
      }
      if (this.hasLater && !this.immediate) {
        this.immediate = true;
        setImmediate(this.onImmediate);
      }
      return;
    }
    if (due >= this.timerDue) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerDue = due;
    this.timer = setTimeout(this.onTimer, Math.max(1, due - this.now()));
  }

  private readonly onMicrotask = (): void => {
    this.microtask = false;
    this.runSoon();
  };

  private readonly onImmediate = (): void => {
    this.immediate = false;
    this.runLater();
    this.runSoon();
  };

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.timerDue = Infinity;
    this.runDue();
    this.runSoon();
    const next = this.nextDue();
    if (next !== Infinity) this.arm(next);
  };
}
