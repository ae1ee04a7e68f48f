/**
 * The reactor: how a node's protocol makes progress inside its kernel's thread. There is no event
 * loop there (the kernel's `run` is one synchronous call), so the reactor is driven by the kernel's
 * own calls:
 *
 *   poll point (POLL_WORD raised) ──▶ service(): handle every waiting message, due timers, later() work
 *   fault / barrier / lock        ──▶ wait(future): the same, over and over, until the future settles;
 *                                     spin on the node's bell while a core is free, else sleep on it
 *
 * A message for this node is published into its ring by the sender's own thread, which rings the
 * bell and raises the poll word (ring_link.ts): a kernel that computes parks at its next loop
 * header and serves it; one that waits wakes. Every wait is bounded: by the call's deadline, which
 * becomes the error `timeout()` builds, and by the next timer.
 *
 * The parking invariant holds by construction: protocol code runs only inside service() and
 * wait(), which run only inside the kernel's calls (or before it starts and after it returned),
 * so the kernel is parked whenever a page changes (worker_node.ts marks those calls and
 * MemoryPort checks it).
 *
 * A wait ends as soon as its future settles, with messages possibly still waiting: the kernel
 * then gets its answer first, and the poll word stays raised so it serves them at its next loop
 * header. That way a page just received is used at least once before a waiting request can take
 * it away again.
 *
 * Timers (retransmissions, deadlines of background calls) need the kernel to call in. A kernel
 * that computes for long with no message arriving would not; so before the kernel runs again the
 * reactor publishes its next due time in {@link Reactor.wakeAt}'s word, and the node's host thread
 * raises the poll word when that time comes (node_thread.ts). That only recovers lost messages and
 * ends calls at their deadline; no normal step waits for it.
 */
import type { AnyFuture } from "../protocol/future.js";
import { TimerQueue } from "../protocol/scheduler.js";
import type { RingLink } from "../transport/ring_link.js";
import { CoreGauge } from "./core_gauge.js";
import { HostAbort } from "./errors.js";

/** Int32 slots of a node's host word buffer, shared by its worker and its host thread. */
export const HostWord = {
  /** Set by the host: every wait and poll of the node throws HostAbort. */
  ABORT: 0,
  /** Set (and notified) by the worker once its kernel and final barrier are done. */
  DONE: 1,
} as const;
/** Float64 slot (byte offset) of the performance.timeOrigin + now() at which the next timer is due; 0 when none. */
export const WAKE_AT_OFFSET = 8;
export const HOST_WORD_BYTES = 16;

export interface ReactorOptions {
  /** The kernel's poll word: raised by producers, lowered here before each drain. */
  poll: { words: Int32Array; index: number };
  /** The node's host words (HostWord, WAKE_AT_OFFSET). */
  host: SharedArrayBuffer;
  /** Running threads of the process: spin only while they fit the cores. Absent: spin always. */
  gauge?: CoreGauge;
  /** Longest spin on the bell before sleeping, in microseconds; 0 never spins. */
  spinMicros: number;
  /** The clock of the timers (tests set it). @default performance.now */
  now?: () => number;
}

/**
 * A spin reads the clock once per this many looks at the bell (a power of 2). A look costs
 * nanoseconds, a clock reading far more and a little garbage (performance.now builds an array), and
 * a node spinning through a barrier read the clock every ~0.3 µs: a third of what its worker
 * allocated in a Jacobi job, collected in pauses its peer waited through. Every ~10 µs is plenty
 * for a budget of hundreds.
 */
const SPIN_LOOKS_PER_CLOCK = 4096;

/** Longest single sleep, in ms, however far the deadline: keeps abort checks and wake-at updates regular. */
const MAX_SLEEP_MS = 1000;

export class Reactor {
  readonly timers: TimerQueue;
  private readonly poll: Int32Array;
  private readonly pollIndex: number;
  private readonly abortWord: Int32Array;
  private readonly wakeAt: Float64Array;
  private readonly spinMs: number;
  /** The current spin budget (see spin). */
  private budgetMs: number;
  /** Counters for the node's statistics. */
  readonly counters = {
    spins: 0,
    spinHits: 0,
    sleeps: 0,
    /** Messages handled at poll points, and while waiting in a call. */
    servedAtPolls: 0,
    servedWaiting: 0,
  };

  constructor(
    private readonly link: RingLink,
    private readonly options: ReactorOptions,
  ) {
    this.timers = new TimerQueue(options.now ?? (() => performance.now()));
    this.poll = options.poll.words;
    this.pollIndex = options.poll.index;
    this.abortWord = new Int32Array(options.host, 0, 2);
    this.wakeAt = new Float64Array(options.host, WAKE_AT_OFFSET, 1);
    this.spinMs = options.spinMicros / 1000;
    this.budgetMs = this.spinMs;
  }

  /** Throws HostAbort when the host asked the node to stop. */
  checkAbort(): void {
    if (Atomics.load(this.abortWord, HostWord.ABORT) !== 0) throw new HostAbort("the host aborted the run");
  }

  /** A poll point: handles everything waiting now (messages, due timers, later() work). */
  service(): void {
    this.checkAbort();
    Atomics.store(this.poll, this.pollIndex, 0);
    const t = this.timers;
    this.counters.servedAtPolls += this.link.pump();
    t.runSoon();
    if (t.nextDue() <= t.now()) t.runDue();
    t.runLater();
    this.leave();
  }

  /**
   * Serves until `done` settles; throws `timeout()` once `deadline` (a timers.now() value)
   * passes first, and HostAbort when the host aborts.
   */
  wait(done: AnyFuture, deadline: number, timeout: () => Error): void {
    const t = this.timers;
    const link = this.link;
    const stop = () => done.settled;
    const bell = link.bell;
    try {
      for (;;) {
        t.runSoon();
        if (done.settled) break;
        this.checkAbort();
        const seen = bell.seq;
        Atomics.store(this.poll, this.pollIndex, 0);
        let worked = false;
        const handled = link.pump(stop);
        if (handled > 0) {
          this.counters.servedWaiting += handled;
          worked = true;
          t.runSoon();
          if (done.settled) break;
          // More may have come while these were handled (a fault's next pages): take them
          // before later() work, so the Confirms of a burst of replies go in one message.
          if (link.backlog()) continue;
        }
        let now = t.now();
        if (t.nextDue() <= now) {
          worked = t.runDue(now) || worked;
          if (done.settled) break;
        }
        if (t.runLater()) {
          worked = true;
          if (done.settled) break;
        }
        if (worked) continue;
        now = t.now();
        if (now >= deadline) throw timeout();
        const until = Math.min(t.nextDue(), deadline);
        if (this.spin(seen, until)) continue;
        this.sleep(seen, until - t.now());
      }
    } finally {
      this.leave();
    }
  }

  /**
   * Spins until the bell moves (true) or the spin budget or `until` runs out (false). Sleeping is
   * dear on both sides: the waker's Atomics.notify is a system call that took ~90 µs of the
   * waking node's time here (15 % of a node's time in a Jacobi run whose waiters slept), and the
   * sleeper wakes late. So a node spins for long, while the gauge finds a core for it. The budget
   * adapts as adaptive mutexes do, within [spinMicros / 4, spinMicros]: a spin that ran out
   * halves it, one that was answered doubles it.
   */
  private spin(seen: number, until: number): boolean {
    const gauge = this.options.gauge;
    if (this.spinMs <= 0 || (gauge && !gauge.mayspin())) return false;
    const bell = this.link.bell;
    const t = this.timers;
    const end = Math.min(t.now() + this.budgetMs, until);
    this.counters.spins++;
    for (let i = 1; ; i++) {
      if (bell.seq !== seen) {
        this.counters.spinHits++;
        this.budgetMs = Math.min(this.spinMs, this.budgetMs * 2);
        return true;
      }
      if ((i & (SPIN_LOOKS_PER_CLOCK - 1)) === 0) {
        const now = t.now();
        // More threads want a core than there are now (another node started computing): stop.
        const crowded = gauge !== undefined && !gauge.mayspin();
        if (now >= end || crowded || Atomics.load(this.abortWord, HostWord.ABORT) !== 0) {
          if (now < until && !crowded) this.budgetMs = Math.max(this.spinMs / 4, this.budgetMs / 2);
          return false;
        }
      }
    }
  }

  private sleep(seen: number, ms: number): void {
    const gauge = this.options.gauge;
    this.counters.sleeps++;
    gauge?.leave();
    let counted = false;
    try {
      // A producer that woke this thread already counted it as running (bell.ts).
      counted = this.link.bell.sleep(seen, Math.min(Math.max(ms, 0), MAX_SLEEP_MS));
    } finally {
      if (!counted) gauge?.enter();
    }
  }

  /**
   * The kernel runs again: its poll word is raised exactly while later() work waits or a message
   * that was not sent deferrable does, and the host is told when the next timer is due. Messages
   * sent deferrable (Link.send) wait for the kernel's next poll, fault or sync call, so a node that
   * computes is not stopped for them; nor for a message a wait already handled, whose sender
   * raised the word while the wait ran. The word is lowered first and raised again after the look
   * at the rings: a producer publishes before it raises it, so one that publishes meanwhile is
   * either seen here or raises it afterwards.
   */
  private leave(): void {
    const t = this.timers;
    Atomics.store(this.poll, this.pollIndex, 0);
    if (t.hasLater || t.hasSoon || this.link.urgentWaiting()) Atomics.store(this.poll, this.pollIndex, 1);
    const due = t.nextDue();
    // A plain store: the host reads it as a hint only (a torn or stale value raises the poll word
    // early or late once, which costs a poll, never correctness).
    this.wakeAt[0] = due === Infinity ? 0 : performance.timeOrigin + due;
  }
}
