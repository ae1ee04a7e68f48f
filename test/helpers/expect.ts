/** Bounded waiting and error capture shared by the tests. */

/** `work`, or a rejection naming `what` if it does not settle within `ms`. */
export function within<T>(work: PromiseLike<T>, ms = 3000, what = "promise"): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not settled within ${ms} ms`)), ms);
  });
  return Promise.race([work, bound]).finally(() => clearTimeout(timer));
}

/**
 * Returns `collector(expected, timeoutMs = defaultMs)`: it collects `expected` items, and its
 * `done` rejects if they do not all arrive within `timeoutMs`.
 */
export function collectorWithin(defaultMs: number) {
  return function collector<T>(expected: number, timeoutMs = defaultMs) {
    const items: T[] = [];
    let resolve!: (items: T[]) => void;
    let reject!: (error: Error) => void;
    const done = new Promise<T[]>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const timer = setTimeout(() => reject(new Error(`waited ${timeoutMs} ms for ${expected} items, got ${items.length}`)), timeoutMs);
    if (expected === 0) {
      clearTimeout(timer);
      resolve(items);
    }
    return {
      items,
      done,
      push(item: T) {
        items.push(item);
        if (items.length === expected) {
          clearTimeout(timer);
          resolve(items);
        }
      },
    };
  };
}

/** The error `promise` rejects with; throws if it resolves. */
export async function rejection(promise: PromiseLike<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a rejection");
}

/** The error `fn` throws; throws if it returns. */
export function thrown(fn: () => void): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected an exception");
}
