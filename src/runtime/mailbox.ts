/**
 * The fault mailbox: the kernel's worker calls its host (the node's main thread) through control
 * words at the bottom of the shared memory (Slot.* in abi.ts).
 *
 *   worker                                   host
 *   write KIND, ARG0..ARG3
 *   Atomics.store(REQ_SEQ, s); notify  ──▶   polling sees REQ_SEQ == s, or Atomics.waitAsync wakes
 *   spin on ACK_SEQ (if a core is free),      Atomics.store(SEEN, s)
 *   then Atomics.wait                         kernel is parked: handle, change pages
 *                                            write STATUS, RESULT
 *   ACK_SEQ == s: read STATUS, RESULT  ◀──   Atomics.store(ACK_SEQ, s); notify
 *
 * Ordering rule: each side writes its payload slots before the Atomics.store that publishes the
 * sequence number, and reads the other side's payload only after observing it (Atomics are
 * sequentially consistent, so the payload writes are visible). Page bytes the host wrote while
 * the kernel was parked are published by the same ACK store.
 */
import { Reply, Request, Slot } from "../abi.js";

export interface MailboxRequest {
  seq: number;
  kind: Request;
  args: [number, number, number, number];
}

/** Bytes of a {@link CoreGauge}'s shared buffer. */
export const GAUGE_BYTES = 8;

/**
 * Kernel threads of one process that are using a CPU now (computing or spinning), and how many of
 * them only spin, in two shared Int32Array slots: the host counts itself separately. Spinning
 * saves the ~45 µs of waking a sleeping thread, but only while the thread that must answer has a
 * core; with more runnable threads than cores the spin takes the CPU the reply needs (intsort on
 * 4 nodes over 2 cores spun 5–10 s against 0.7 s without). So a worker spins only while the
 * threads running, itself and the host fit the cores. The host polls while the threads that
 * compute and itself fit: a spinning worker gives way within its bound and only waits for a
 * host, and a host asleep while one spins wakes ~60 µs late (a node spinning at a barrier made a
 * tenth of another node's faults that slow). The counts are advisory: a stale read costs time,
 * never correctness.
 */
export class CoreGauge {
  readonly running: Int32Array;

  constructor(
    buffer: SharedArrayBuffer = new SharedArrayBuffer(GAUGE_BYTES),
    /** CPUs this process may use. */
    readonly cores = 1,
  ) {
    this.running = new Int32Array(buffer, 0, 2);
  }

  get buffer(): SharedArrayBuffer {
    return this.running.buffer as SharedArrayBuffer;
  }

  enter(): void {
    Atomics.add(this.running, 0, 1);
  }

  leave(): void {
    Atomics.sub(this.running, 0, 1);
  }

  /** A running thread starts or ends a spin. */
  spinning(delta: 1 | -1): void {
    Atomics.add(this.running, 1, delta);
  }

  /** Whether a running thread may keep its core to spin: all running threads and the host fit. */
  mayspin(): boolean {
    return Atomics.load(this.running, 0) + 1 <= this.cores;
  }

  /** Whether the host may poll: the threads that compute (not those that spin) and the host fit. */
  maypoll(): boolean {
    return Atomics.load(this.running, 0) - Atomics.load(this.running, 1) + 1 <= this.cores;
  }
}

/**
 * Spin of a worker that shares a {@link CoreGauge}: about the ~45 µs a wake-up costs, the
 * classic bound for spinning before blocking (never more than twice the best choice). A typical
 * local fault is answered within it; a barrier usually is not, and then sleeping wastes nothing.
 */
export const GAUGED_SPIN_US = 60;

/**
 * A spinning worker whose request the host has not picked up after this many microseconds stops
 * spinning. The host picks a request up within ~3 µs while it has a core. On the 2-vCPU VM it
 * often had none right after the worker woke from a sleep, most likely because the woken worker
 * was placed on the host's CPU while the other idled (a test of bare wake-ups found that for one
 * in six): the host then saw the request only when the spin ended, 60 µs later, and a tenth of
 * all faults took that long.
 */
export const PICKUP_US = 10;

/** Most requests a gauged worker waits for without spinning after spins that failed. */
const MAX_SPIN_SKIP = 64;

/**
 * When a gauged worker spins for one class of requests. A spin that ended without a reply makes
 * the next 1, 2, 4 … 64 requests of the class sleep at once, so a machine busy with other work
 * loses little to spinning. When that spin ended because the host had not even picked the
 * request up (PICKUP_US), a request that slept but was answered within the spin bound shows a
 * spin would have paid, and spinning starts again: on the 2-vCPU VM such failures came in runs
 * right after wake-ups, and doubling the skip on each kept a worker asleep, at ~7 µs a wake, for
 * half of all faults. A spin that ran its full bound met a slow request (one waiting for another
 * node, say), and there a quick answer after sleeping proves nothing: it was quick because the
 * worker slept and gave its core back (sparse on 2 nodes ran 3× slower when such answers
 * restarted the spinning).
 */
class SpinPolicy {
  /** Requests still to wait for without spinning, and the next failure's skip. */
  private skip = 0;
  private backoff = 1;
  /** The last failed spin ended because the host had not picked its request up (see slept). */
  private forgivable = false;

  constructor(private readonly spinMicros: number) {}

  /** Whether this request may spin (when the gauge also finds a core free). */
  mayTry(): boolean {
    if (this.skip === 0) return true;
    this.skip--;
    return false;
  }

  /**
   * A spin ended, answered or not. `unseen`: it ended because the host had not picked the request
   * up, so it says nothing about how long requests take.
   */
  spun(answered: boolean, unseen: boolean): void {
    if (answered) {
      this.backoff = 1;
      return;
    }
    this.skip = this.backoff;
    this.backoff = Math.min(this.backoff * 2, MAX_SPIN_SKIP);
    this.forgivable = unseen;
  }

  /** A request not answered while it spun (or that did not spin) got its reply `waitedMicros` after it was sent. */
  slept(waitedMicros: number): void {
    if (!this.forgivable || waitedMicros > this.spinMicros) return;
    this.skip = 0;
    this.backoff = 1;
  }
}

/** Requests that wait for other nodes (see {@link MailboxClient}). */
const SYNC_REQUESTS: ReadonlySet<Request> = new Set<Request>([Request.Barrier, Request.Lock, Request.Unlock, Request.Done]);

/** Worker side. Blocking: a kernel import calls it and gets the reply. */
export class MailboxClient {
  private seq = 0;
  /**
   * Gauged workers keep one spin policy for faults (and other requests the host answers by
   * itself) and one for barriers and locks, which wait for other nodes' compute and usually
   * outlast a spin: a node that waits at every barrier must not stop spinning for its faults,
   * nor spin through every barrier because its faults are quick.
   */
  private readonly quick: SpinPolicy;
  private readonly sync: SpinPolicy;

  constructor(
    private readonly control: Int32Array,
    /**
     * Microseconds to spin before sleeping in Atomics.wait. Waking a sleeping worker costs about
     * 45 µs here, more than a local fault takes, so the worker spins through the typical fault.
     */
    private readonly spinMicros = 300,
    /**
     * When given, spin only while the process's running threads fit its cores (this thread counts
     * as running), and as {@link SpinPolicy} allows.
     */
    private readonly gauge?: CoreGauge,
    /** Backstop only: the host bounds every wait itself and answers Abort. */
    private readonly backstopMs = 30 * 60 * 1000,
    /** A spin ends when the host has not picked the request up within this many microseconds. */
    private readonly pickupMicros = PICKUP_US,
  ) {
    this.quick = new SpinPolicy(spinMicros);
    this.sync = new SpinPolicy(spinMicros);
  }

  /** Sends a request and blocks until the host replies; returns RESULT, throws on Abort. */
  call(kind: Request, a0 = 0, a1 = 0, a2 = 0, a3 = 0): number {
    const c = this.control;
    c[Slot.KIND] = kind;
    c[Slot.ARG0] = a0;
    c[Slot.ARG1] = a1;
    c[Slot.ARG2] = a2;
    c[Slot.ARG3] = a3;
    const seq = ++this.seq | 0;
    Atomics.store(c, Slot.REQ_SEQ, seq);
    Atomics.notify(c, Slot.REQ_SEQ);
    let done = false;
    const sent = performance.now();
    const policy = this.gauge ? (SYNC_REQUESTS.has(kind) ? this.sync : this.quick) : undefined;
    if (this.spinMicros > 0 && (!policy || (policy.mayTry() && this.gauge!.mayspin()))) {
      const spinUntil = sent + this.spinMicros / 1000;
      const pickupBy = sent + this.pickupMicros / 1000;
      let unseen = false;
      this.gauge?.spinning(1);
      for (let i = 1; ; i++) {
        if (Atomics.load(c, Slot.ACK_SEQ) === seq) {
          done = true;
          break;
        }
        if ((i & 255) === 0) {
          const now = performance.now();
          if (now >= spinUntil) break;
          // Not even picked up: the host has no core, most likely because it waits behind this
          // very thread on one CPU (a woken thread often lands on its waker's). Sleep to let it run.
          if (now >= pickupBy && Atomics.load(c, Slot.SEEN) !== seq) {
            unseen = true;
            break;
          }
        }
      }
      this.gauge?.spinning(-1);
      policy?.spun(done, unseen);
    }
    if (!done) {
      this.gauge?.leave();
      try {
        const deadline = Date.now() + this.backstopMs;
        while (Atomics.load(c, Slot.ACK_SEQ) !== seq) {
          const left = deadline - Date.now();
          if (left <= 0) throw new HostAbort(`host did not answer request ${seq} within ${this.backstopMs} ms`);
          Atomics.wait(c, Slot.ACK_SEQ, (seq - 1) | 0, Math.min(left, 1000));
        }
      } finally {
        this.gauge?.enter();
      }
      policy?.slept((performance.now() - sent) * 1000);
    }
    if (c[Slot.STATUS] !== Reply.Ok) throw new HostAbort("the host aborted the run");
    return c[Slot.RESULT];
  }
}

/** Thrown inside the worker to unwind the kernel when the host gives up; the host reports why. */
export class HostAbort extends Error {
  override name = "HostAbort";
}

/** Microseconds the host polls for the next request (one check per event-loop turn) before sleeping. */
export const HOST_POLL_US = 50;
/**
 * Microseconds a polling host first checks for the next request without yielding to the event
 * loop: a kernel faulting page after page sends its next request about a microsecond after the
 * reply, while one turn of the event loop takes 2–3 µs. Work the protocol defers while the kernel
 * is busy (PagePort.busy) waits for a turn in which no request is found.
 */
export const HOST_SPIN_US = 3;
/** Most requests a host waits for without polling after polls that found nothing. */
const MAX_SKIP = 64;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Host side. Delivers each request to `handle` and publishes its reply.
 *
 * Waking a host asleep in Atomics.waitAsync takes about 10 µs on a 2-vCPU VM, as long as the
 * protocol work of a local fault, so after a reply the host first polls for the next request,
 * one check per turn of the event loop (timers, I/O and other nodes keep running), for up to
 * `pollMicros`. Polling pays only while the kernel faults in quick succession on a CPU of its
 * own; when the kernel shares the host's CPU, polling only delays it. With a {@link CoreGauge}
 * the host polls whenever the kernel threads that compute and itself fit the cores. Without one, a
 * poll that finds nothing makes the host sleep at once for the next 1, 2, 4 … 64 requests, and
 * one that finds a request starts that count over.
 */
export class MailboxHost {
  /** The process's running-thread gauge, if its nodes share one: it decides when to poll. */
  gauge: CoreGauge | undefined;
  private last = 0;
  private stopped = false;
  /** Requests still to wait for without polling, and how many the next failed poll skips. */
  private skip = 0;
  private backoff = 1;

  constructor(
    private readonly control: Int32Array,
    /** Longest poll after a reply, in microseconds; 0 never polls. @default HOST_POLL_US */
    public pollMicros = HOST_POLL_US,
  ) {}

  /** Resolves with the next request, or null once stopped. */
  async next(): Promise<MailboxRequest | null> {
    const c = this.control;
    const want = (this.last + 1) | 0;
    let pollUntil = 0;
    if (this.pollMicros > 0) {
      if (this.gauge) {
        if (this.gauge.maypoll()) pollUntil = performance.now() + this.pollMicros / 1000;
      } else if (this.skip > 0) this.skip--;
      else pollUntil = performance.now() + this.pollMicros / 1000;
    }
    const spinUntil = pollUntil > 0 ? performance.now() + HOST_SPIN_US / 1000 : 0;
    // Unbounded on purpose: the kernel may compute for as long as it likes. stop() ends the wait
    // (run() calls it when the worker reports, fails or exits).
    while (!this.stopped) {
      if (Atomics.load(c, Slot.REQ_SEQ) === want) {
        if (pollUntil > 0) this.backoff = 1;
        return this.take(want);
      }
      if (pollUntil > 0) {
        const now = performance.now();
        if (now < pollUntil) {
          if (now < spinUntil) continue;
          await nextTurn();
          continue;
        }
        pollUntil = 0;
        if (!this.gauge) {
          this.skip = this.backoff;
          this.backoff = Math.min(this.backoff * 2, MAX_SKIP);
        }
      }
      // No timeout: a timeout costs a timer per wait, and stop() wakes this wait.
      const wait = Atomics.waitAsync(c, Slot.REQ_SEQ, this.last);
      if (wait.async) await wait.value;
    }
    return null;
  }

  /**
   * The worker's next request if it is published within `micros` (checked without yielding,
   * and only while the gauge leaves the host a core), else null. For a host that has just
   * answered a request and expects the next one at once (see HOST_SPIN_US).
   */
  poll(micros: number): MailboxRequest | null {
    const c = this.control;
    const want = (this.last + 1) | 0;
    const until = this.pollMicros > 0 && (!this.gauge || this.gauge.maypoll()) ? performance.now() + micros / 1000 : 0;
    for (;;) {
      if (Atomics.load(c, Slot.REQ_SEQ) === want) return this.take(want);
      if (this.stopped || performance.now() >= until) return null;
    }
  }

  private take(seq: number): MailboxRequest {
    const c = this.control;
    Atomics.store(c, Slot.SEEN, seq);
    this.last = seq;
    return { seq, kind: c[Slot.KIND] as Request, args: [c[Slot.ARG0], c[Slot.ARG1], c[Slot.ARG2], c[Slot.ARG3]] };
  }

  /** Whether the worker has published a request next() has not returned yet. */
  pending(): boolean {
    return Atomics.load(this.control, Slot.REQ_SEQ) !== this.last;
  }

  reply(request: MailboxRequest, status: number, result = 0): void {
    const c = this.control;
    c[Slot.STATUS] = status;
    c[Slot.RESULT] = result;
    Atomics.store(c, Slot.ACK_SEQ, request.seq);
    Atomics.notify(c, Slot.ACK_SEQ);
  }

  /** Ends next(): a pending Atomics.waitAsync does not keep Node's event loop alive, so wake it. */
  stop(): void {
    this.stopped = true;
    Atomics.notify(this.control, Slot.REQ_SEQ);
  }
}
