/**
 * Futures and flows: how protocol code waits without the JavaScript event loop.
 *
 * A node's protocol runs in its kernel's thread, inside the kernel's calls (a fault, a poll, a
 * barrier): the kernel's `run` is one synchronous call from JavaScript, so while it lasts no
 * promise job and no timer of that thread ever runs. Protocol code therefore never awaits a
 * Promise. It returns a {@link Future}, which settles inside the handling of the message that
 * completes it and runs its callbacks right there, synchronously.
 *
 * Steps in sequence are written as a {@link flow}: a generator that yields futures and is resumed
 * synchronously when each settles, so `const grant = yield* wait(endpoint.call(...))` reads as
 * `await` did, with no microtask in between.
 *
 *   fault ─▶ flow starts ─▶ endpoint.call ─▶ Future (pending)   … the reactor waits, serving …
 *   reply handled ─▶ future.resolve ─▶ flow resumes in that handler ─▶ flow's Future resolves
 *   ─▶ the kernel's import sees it settled and returns
 *
 * A Future is also a thenable, so code on the main thread and tests may `await` one; that `then`
 * is the only place a Promise is made, and protocol code must not use it.
 */

type Settled<T> = (error: Error | undefined, value: T | undefined) => void;

const PENDING = 0;
const RESOLVED = 1;
const REJECTED = 2;

export class Future<T = void> implements PromiseLike<T> {
  private state: typeof PENDING | typeof RESOLVED | typeof REJECTED = PENDING;
  private value: T | undefined;
  private error: Error | undefined;
  /** One callback is the common case; more are kept in an array. */
  private waiter: Settled<T> | Settled<T>[] | undefined;

  static resolved<T = void>(value?: T): Future<T> {
    const f = new Future<T>();
    f.resolve(value as T);
    return f;
  }

  static rejected<T = void>(error: unknown): Future<T> {
    const f = new Future<T>();
    f.reject(error);
    return f;
  }

  /** A future for what `fn` returns or throws, now. */
  static try<T>(fn: () => T | Future<T>): Future<T> {
    try {
      const value = fn();
      return value instanceof Future ? value : Future.resolved(value);
    } catch (error) {
      return Future.rejected(error);
    }
  }

  get settled(): boolean {
    return this.state !== PENDING;
  }

  get failed(): boolean {
    return this.state === REJECTED;
  }

  /** The value of a resolved future; throws the error of a rejected one, or when still pending. */
  get result(): T {
    if (this.state === RESOLVED) return this.value as T;
    if (this.state === REJECTED) throw this.error;
    throw new Error("future read before it settled");
  }

  /** The error of a rejected future. */
  get reason(): Error | undefined {
    return this.error;
  }

  /** Settles with `value`; callbacks run now, in order. A second settlement is ignored. */
  resolve(value: T): void {
    if (this.state !== PENDING) return;
    this.state = RESOLVED;
    this.value = value;
    this.notify();
  }

  reject(error: unknown): void {
    if (this.state !== PENDING) return;
    this.state = REJECTED;
    this.error = error instanceof Error ? error : new Error(String(error));
    this.notify();
  }

  /** Runs `fn` when settled: now if it already is, else inside the settlement. */
  onSettle(fn: Settled<T>): void {
    if (this.state !== PENDING) return fn(this.error, this.value);
    const w = this.waiter;
    if (w === undefined) this.waiter = fn;
    else if (typeof w === "function") this.waiter = [w, fn];
    else w.push(fn);
  }

  /** Settles `other` as this one settles. */
  forward(other: Future<T>): void {
    this.onSettle((error, value) => (error ? other.reject(error) : other.resolve(value as T)));
  }

  /** For main-thread callers and tests only (see the file comment): makes a Promise. */
  then<R1 = T, R2 = never>(onResolved?: ((value: T) => R1 | PromiseLike<R1>) | null, onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null): Promise<R1 | R2> {
    return new Promise<T>((resolve, reject) => this.onSettle((error, value) => (error ? reject(error) : resolve(value as T)))).then(onResolved, onRejected);
  }

  private notify(): void {
    const w = this.waiter;
    if (w === undefined) return;
    this.waiter = undefined;
    if (typeof w === "function") return w(this.error, this.value);
    for (const fn of w) fn(this.error, this.value);
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyFuture = Future<any>;

/** A sequence of steps: yields the futures it waits for (through {@link wait}) and returns its result. */
export type Flow<T> = Generator<AnyFuture, T, unknown>;

/** Inside a flow: `const x = yield* wait(future)` is the value of `future`, or throws its error. */
export function* wait<T>(future: Future<T>): Generator<AnyFuture, T, unknown> {
  if (future.settled) return future.result;
  return (yield future) as T;
}

/**
 * Runs a flow now, up to its first wait for a future that is still pending, and resumes it
 * synchronously each time the future it waits for settles. Returns the flow's result as a future.
 */
export function flow<T>(steps: Flow<T>): Future<T> {
  const out = new Future<T>();
  const step = (error: Error | undefined, value: unknown): void => {
    for (;;) {
      let next: IteratorResult<AnyFuture, T>;
      try {
        next = error ? steps.throw(error) : steps.next(value);
      } catch (thrown) {
        return out.reject(thrown);
      }
      if (next.done) return out.resolve(next.value);
      const waited = next.value;
      if (!waited.settled) return waited.onSettle(step);
      // Settled already: go on in this loop instead of recursing.
      error = waited.reason;
      value = error ? undefined : waited.result;
    }
  };
  step(undefined, undefined);
  return out;
}

/** Resolves when every future has resolved; rejects with the first error. */
export function all(futures: readonly AnyFuture[]): Future<void> {
  const out = new Future<void>();
  let left = futures.length;
  if (left === 0) {
    out.resolve();
    return out;
  }
  const one = (error: Error | undefined): void => {
    if (error) return out.reject(error);
    if (--left === 0) out.resolve();
  };
  for (const f of futures) f.onSettle(one);
  return out;
}

/** A resolved future of nothing, shared (it never changes). */
export const DONE: Future<void> = Future.resolved();
