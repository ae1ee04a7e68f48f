/**
 * The fault mailbox: the kernel's worker calls its host (the node's main thread) through control
 * words at the bottom of the shared memory (Slot.* in abi.ts).
 *
 *   worker                                   host
 *   write KIND, ARG0..ARG3
 *   Atomics.store(REQ_SEQ, s); notify  ──▶   polling sees REQ_SEQ == s, or Atomics.waitAsync wakes
 *   spin on ACK_SEQ (if a core is free),      kernel is parked: handle, change pages
 *   then Atomics.wait
 *                                            write STATUS, RESULT
 *   ACK_SEQ == s: read STATUS, RESULT  ◀──   Atomics.store(ACK_SEQ, s); notify
 *
 * Ordering rule: each side writes its payload slots before the Atomics.store that publishes the
 * sequence number, and reads the other side's payload only after observing it (Atomics are
 * sequentially consistent, so the payload writes are visible). Page bytes the host wrote while
 * the kernel was parked are published by the same ACK store.
 */
import { Reply, Slot, type Request } from "../abi.js";

export interface MailboxRequest {
  seq: number;
  kind: Request;
  args: [number, number, number, number];
}

/**
 * Kernel threads of one process that are using a CPU now (computing or spinning), in one shared
 * Int32Array slot: the host counts itself separately. Spinning saves the ~45 µs of waking a
 * sleeping thread, but only while the thread that must answer has a core; with more runnable
 * threads than cores the spin takes the CPU the reply needs (intsort on 4 nodes over 2 cores
 * spun 5–10 s against 0.7 s without). So a worker spins only while the threads running, itself
 * and the host fit the cores. The count is advisory: a stale read costs time, never correctness.
 */
export class CoreGauge {
  readonly running: Int32Array;

  constructor(
    buffer: SharedArrayBuffer = new SharedArrayBuffer(4),
    /** CPUs this process may use. */
    readonly cores = 1,
  ) {
    this.running = new Int32Array(buffer, 0, 1);
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

  /** Whether a running thread may keep its core to spin: all running threads and the host fit. */
  mayspin(): boolean {
    return Atomics.load(this.running, 0) + 1 <= this.cores;
  }
}

/**
 * Spin of a worker that shares a {@link CoreGauge}: about the ~45 µs a wake-up costs, the
 * classic bound for spinning before blocking (never more than twice the best choice). A typical
 * local fault is answered within it; a barrier usually is not, and then sleeping wastes nothing.
 */
export const GAUGED_SPIN_US = 60;

/** Most requests a gauged worker waits for without spinning after spins that failed. */
const MAX_SPIN_SKIP = 64;

/** Worker side. Blocking: a kernel import calls it and gets the reply. */
export class MailboxClient {
  private seq = 0;
  /** Gauged workers only: requests still to wait for without spinning, and the next failure's skip. */
  private skip = 0;
  private backoff = 1;

  constructor(
    private readonly control: Int32Array,
    /**
     * Microseconds to spin before sleeping in Atomics.wait. Waking a sleeping worker costs about
     * 45 µs here, more than a local fault takes, so the worker spins through the typical fault.
     */
    private readonly spinMicros = 300,
    /**
     * When given, spin only while the process's running threads fit its cores (this thread counts
     * as running), and after a spin that ended without a reply skip spinning for the next 1, 2, 4
     * … 64 requests, so a machine busy with other work loses little to spinning.
     */
    private readonly gauge?: CoreGauge,
    /** Backstop only: the host bounds every wait itself and answers Abort. */
    private readonly backstopMs = 30 * 60 * 1000,
  ) {}

  private maySpin(): boolean {
    if (!this.gauge) return true;
    if (this.skip > 0) {
      this.skip--;
      return false;
    }
    return this.gauge.mayspin();
  }

  private spun(answered: boolean): void {
    if (answered) {
      this.backoff = 1;
      return;
    }
    this.skip = this.backoff;
    this.backoff = Math.min(this.backoff * 2, MAX_SPIN_SKIP);
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
    if (this.spinMicros > 0 && this.maySpin()) {
      const spinUntil = performance.now() + this.spinMicros / 1000;
      for (let i = 1; ; i++) {
        if (Atomics.load(c, Slot.ACK_SEQ) === seq) {
          done = true;
          break;
        }
        if ((i & 255) === 0 && performance.now() >= spinUntil) break;
      }
      if (this.gauge) this.spun(done);
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
 * the host polls whenever the running kernel threads and itself fit the cores. Without one, a
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
        if (this.gauge.mayspin()) pollUntil = performance.now() + this.pollMicros / 1000;
      } else if (this.skip > 0) this.skip--;
      else pollUntil = performance.now() + this.pollMicros / 1000;
    }
    // Unbounded on purpose: the kernel may compute for as long as it likes. stop() ends the wait
    // (run() calls it when the worker reports, fails or exits).
    while (!this.stopped) {
      if (Atomics.load(c, Slot.REQ_SEQ) === want) {
        if (pollUntil > 0) this.backoff = 1;
        this.last = want;
        return { seq: want, kind: c[Slot.KIND] as Request, args: [c[Slot.ARG0], c[Slot.ARG1], c[Slot.ARG2], c[Slot.ARG3]] };
      }
      if (pollUntil > 0) {
        if (performance.now() < pollUntil) {
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
