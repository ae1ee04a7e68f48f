/**
 * The bound on the request a node's host is handling (kernel_node.ts). Requests are handled one
 * at a time, so one timer serves them all: it is armed for the earliest deadline seen and moved
 * only when a deadline is earlier, because a timer per request would cost more than a local
 * fault's whole protocol work. When it fires early (the request it was armed for is done), it
 * re-arms for the watch under way.
 */

/** One bounded request: `reject` gets `error()` at `deadline` (performance.now()). */
export interface Watch {
  readonly deadline: number;
  readonly reject: (error: Error) => void;
  readonly error: () => Error;
}

export class Watchdog {
  private watch: Watch | undefined;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;

  /** Watches a request from now on: `reject(error())` unless {@link end} comes within `ms`. */
  start(ms: number, reject: (error: Error) => void, error: () => Error): Watch {
    const watch: Watch = { deadline: performance.now() + ms, reject, error };
    this.watch = watch;
    this.arm(watch.deadline);
    return watch;
  }

  /** The request of `watch` is done (a later watch is left alone). */
  end(watch: Watch): void {
    if (this.watch === watch) this.watch = undefined;
  }

  /** Resolves like `work`, or rejects with `error()` after `ms`. */
  bounded<T>(work: PromiseLike<T>, ms: number, error: () => Error): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const watch = this.start(ms, reject, error);
      work.then(
        (value) => {
          this.end(watch);
          resolve(value);
        },
        (reason) => {
          this.end(watch);
          reject(reason);
        },
      );
    });
  }

  /** Ends the request under way at once, with `reason`. */
  abort(reason: Error): void {
    const watch = this.watch;
    this.watch = undefined;
    watch?.reject(reason);
  }

  /** Forgets the request under way and stops the timer. */
  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
    this.watch = undefined;
  }

  private arm(deadline: number): void {
    if (this.timer !== undefined) {
      if (this.timerAt <= deadline) return;
      clearTimeout(this.timer);
    }
    this.timerAt = deadline;
    this.timer = setTimeout(this.fire, Math.max(1, deadline - performance.now()));
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    this.timerAt = Infinity;
    const watch = this.watch;
    if (!watch) return;
    if (performance.now() < watch.deadline) return this.arm(watch.deadline);
    this.watch = undefined;
    watch.reject(watch.error());
  };
}
