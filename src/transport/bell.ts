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
 */

/** Int32 slots of a bell. */
const SEQ = 0;
const SLEEPING = 1;
export const BELL_BYTES = 8;

export class Bell {
  readonly words: Int32Array;

  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(BELL_BYTES)) {
    this.words = new Int32Array(buffer, 0, 2);
  }

  /** The current count; an owner reads it before draining, and waits for it to move. */
  get seq(): number {
    return Atomics.load(this.words, SEQ);
  }

  /** Producer side: something was published for the owner. */
  ring(): void {
    Atomics.add(this.words, SEQ, 1);
    if (Atomics.load(this.words, SLEEPING) !== 0) Atomics.notify(this.words, SEQ);
  }

  /**
   * Owner side: blocks until the count moves from `seen` or `ms` pass (a bound, never a way to
   * make progress). Returns at once when it has moved already.
   */
  sleep(seen: number, ms: number): void {
    const w = this.words;
    Atomics.store(w, SLEEPING, 1);
    if (Atomics.load(w, SEQ) === seen) Atomics.wait(w, SEQ, seen, Math.max(0, ms));
    Atomics.store(w, SLEEPING, 0);
  }

  /**
   * {@link sleep} for a thread that must not block (the main thread): resolves when the count
   * moves or `ms` pass. A pending Atomics.waitAsync does not keep Node's event loop alive, so a
   * timer for the bound does.
   */
  async sleepAsync(seen: number, ms: number): Promise<void> {
    const w = this.words;
    Atomics.store(w, SLEEPING, 1);
    let timer: NodeJS.Timeout | undefined;
    try {
      if (Atomics.load(w, SEQ) !== seen) return;
      const wait = Atomics.waitAsync(w, SEQ, seen, Math.max(0, ms));
      if (!wait.async) return;
      timer = setTimeout(() => undefined, Math.max(0, ms));
      await wait.value;
    } finally {
      if (timer) clearTimeout(timer);
      Atomics.store(w, SLEEPING, 0);
    }
  }
}
