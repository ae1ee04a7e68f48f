/**
 * Threads of one process that are using a CPU now (a kernel computing, or a thread spinning while
 * it waits), in a shared Int32Array slot every worker of the process sees. Spinning saves the
 * wake-up of a sleeping thread (tens of microseconds on a small VM, a futex and a reschedule),
 * but only while the thread that must answer has a core of its own: with more runnable threads
 * than cores the spin takes the CPU the answer needs (intsort on 4 nodes over 2 cores spun 5–10 s
 * against 0.7 s without). So a waiting thread spins only while the running threads, itself
 * included, fit the cores. The count is advisory: a stale read costs time, never correctness.
 */

/**
 * Cores a gauge leaves to a nats-server on the same machine, whose threads move every message of
 * the nodes over NATS and are not counted. With both nodes of a 2-node Jacobi in one process on 2
 * cores (hlrc over a private server, warm), a node spinning at its barrier kept the server waiting
 * for a core: a barrier arrival took 0.9-1.7 ms on average from one worker to the other, against
 * 0.44-0.85 ms with DSM_SPIN_US=0. With this reserve, in alternating runs of 8 warm jobs, the
 * median job went from 224-356 to 221-271 ms (hlrc, 6 rounds, 5 faster) and from 487-599 to
 * 317-404 ms (ivy, 2 rounds).
 */
export const LOCAL_SERVER_CORES = 1;

/** Bytes of a gauge's shared buffer. */
export const GAUGE_BYTES = 8;

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

  /** This thread starts using a CPU (it computes, or waits spinning). */
  enter(): void {
    Atomics.add(this.running, 0, 1);
  }

  /** This thread stops using a CPU (it sleeps, or is done). */
  leave(): void {
    Atomics.sub(this.running, 0, 1);
  }

  /** Whether a running thread may keep its core to spin: every running thread fits the cores. */
  mayspin(): boolean {
    return Atomics.load(this.running, 0) <= this.cores;
  }
}
