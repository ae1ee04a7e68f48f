/**
 * Bounded waits on promises: every wait has a bound, and its timer is cleared once it settles
 * (so a settled wait keeps no process alive). Used by the transports, the cluster's control
 * channel and the checkpoint part threads.
 */

/** Settles as `work` does, or rejects with `onTimeout()` once `ms` pass first. */
export function bounded<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/** Waits for `work` at most `ms`: true when it resolved in time, false when the time ran out (a rejection of `work` rejects). */
export function within(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  return Promise.race([work.then(() => true), late]).finally(() => clearTimeout(timer));
}
