/**
 * A doorbell: how one thread tells another that something for it has arrived, in shared memory.
 * Every thread that consumes messages (a kernel's worker, or a host thread relaying for it) owns
 * one bell; producers ring it after they publish.
 *
 *   producer                                   owner
 *   publish (ring HEAD store)                  seen = SEQ
 *   Atomics.add(SEQ, 1)                        drain everything published
 *   if SLEEPING: Atomics.notify(SEQ)           nothing: SLEEPING = 1; if SEQ == seen: Atomics.wait(SEQ, seen, bound)
 *                                              SLEEPING = 0
 *
 * Ordering rule: a producer publishes before it adds to SEQ, and reads SLEEPING after; the owner
 * sets SLEEPING before it compares SEQ and waits. All four are sequentially consistent atomics,
 * so either the owner sees the new SEQ and does not sleep, or the producer sees SLEEPING and
 * wakes it: no wake-up is lost. An owner that only spins never sets SLEEPING, and producers then
 * skip the notify (a system call when someone waits).
 *
 * Running threads: where threads share a count of those that use a CPU (runtime/core_gauge.ts),
 * the producer that wakes a sleeper counts it as running at once (SLEEPING 1 → 2), before the
 * woken thread gets a CPU: otherwise threads spinning meanwhile would see room and keep both
 * cores, and the woken thread, the one with work, would wait for them.
 */

/** Int32 slots of a bell. */
const SEQ = 0;
const SLEEPING = 1;
export const BELL_BYTES = 8;

/** SLEEPING values. */
const AWAKE = 0;
const ASLEEP = 1;
const WOKEN = 2;

export class Bell {
  readonly words: Int32Array;
  private readonly running: Int32Array | undefined;

  constructor(
    readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(BELL_BYTES),
    /** The owner's count of running threads (Int32 slot 0), if it keeps one: a wake-up adds to it. */
    running?: SharedArrayBuffer,
  ) {
    this.words = new Int32Array(buffer, 0, 2);
    this.running = running && new Int32Array(running, 0, 1);
  }

  /** The current count; an owner reads it before draining, and waits for it to move. */
  get seq(): number {
    return Atomics.load(this.words, SEQ);
  }

  /** Producer side: something was published for the owner. */
  ring(): void {
    const w = this.words;
    Atomics.add(w, SEQ, 1);
    if (Atomics.load(w, SLEEPING) !== ASLEEP) return;
    if (this.running) {
      // Counted once, by whichever producer wins; the sleeper then does not count itself.
      if (Atomics.compareExchange(w, SLEEPING, ASLEEP, WOKEN) !== ASLEEP) return;
      Atomics.add(this.running, 0, 1);
    }
    Atomics.notify(w, SEQ);
  }

  /**
   * Owner side: blocks until the count moves from `seen` or `ms` pass (a bound, never a way to
   * make progress). Returns at once when it has moved already. True when a producer woke it and
   * counted it as running (see the file comment).
   */
  sleep(seen: number, ms: number): boolean {
    const w = this.words;
    Atomics.store(w, SLEEPING, ASLEEP);
    if (Atomics.load(w, SEQ) === seen) Atomics.wait(w, SEQ, seen, Math.max(0, ms));
    return Atomics.exchange(w, SLEEPING, AWAKE) === WOKEN;
  }

  /**
   * {@link sleep} for a thread that must not block (the main thread): resolves when the count
   * moves or `ms` pass, to true when a producer woke it and counted it as running. A pending
   * Atomics.waitAsync does not keep Node's event loop alive, so a timer for the bound does.
   */
  async sleepAsync(seen: number, ms: number): Promise<boolean> {
    const w = this.words;
    Atomics.store(w, SLEEPING, ASLEEP);
    if (Atomics.load(w, SEQ) === seen) {
      const wait = Atomics.waitAsync(w, SEQ, seen, Math.max(0, ms));
      if (wait.async) {
        const timer = setTimeout(() => undefined, Math.max(0, ms));
        try {
          await wait.value;
        } finally {
          clearTimeout(timer);
        }
      }
    }
    return Atomics.exchange(w, SLEEPING, AWAKE) === WOKEN;
  }
}
