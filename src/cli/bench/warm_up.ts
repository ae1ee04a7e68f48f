/**
 * How long a protocol's warm-up runs before dsm bench measures anything. The protocols are
 * JavaScript in the kernels' threads, and V8 compiles their hot functions with its optimising tier
 * on its own helper threads, which the node workers' pool sets below the kernels
 * (runtime/helper_threads.ts). Measured on 2 vCPUs with 2-node Jacobi 1024×100 under ivy, in a
 * process that had run the warm-up kernel once with those threads below the kernels, as the bench
 * did: they went on compiling for ~40 more jobs (~6 s; future.ts's wait, on every fault's path,
 * was first marked for optimisation at job 3 and compiled at job 28), each slice they got stopping
 * a kernel for a 4 ms scheduler tick, and jobs took a median 108-116 ms. After ~2 s of the warm-up
 * kernel with them at full priority (the pool's holdHelpers) and then set below: 91-102 ms.
 *
 * So the warm-up kernel runs again and again for {@link WarmUpBounds.ms}. Its end cannot be told
 * from the helpers' CPU time instead: garbage collection keeps them at 5-40 % of a core while
 * kernels run, and stray compilations come and go for minutes.
 */

export interface WarmUpBounds {
  /** Runs at least this many times... */
  minRuns: number;
  /** ...and again until this many ms have passed since the first started. */
  ms: number;
}

/** Quick and full bench sizes: ~20 runs of the warm-up kernel on 2 nodes, on 2 vCPUs. */
export const WARM_UP_BOUNDS: WarmUpBounds = { minRuns: 1, ms: 2_000 };

export interface WarmUpOutcome<S> {
  /** The last run's result. */
  last: S;
  runs: number;
  /** Wall time of all runs, in ms. */
  ms: number;
}

/** Calls `run` at least `minRuns` times and until `ms` have passed by `now` (a clock in ms). */
export async function warmFor<S>(run: () => Promise<S>, now: () => number, bounds: WarmUpBounds): Promise<WarmUpOutcome<S>> {
  const start = now();
  let runs = 0;
  for (;;) {
    const last = await run();
    runs++;
    const ms = now() - start;
    if (runs >= bounds.minRuns && ms >= bounds.ms) return { last, runs, ms };
  }
}
