/**
 * One worker of the SharedArrayBuffer Jacobi (see sab_jacobi.ts): initialises its rows of both
 * grids, waits for GO and a first barrier, then sweeps its rows with a barrier after every sweep. Posts "ready" and
 * "done", or `{ error }` when a wait runs past its bound.
 */
import { parentPort, workerData } from "node:worker_threads";
import { initRows, rowsOf, sweepRows } from "./jacobi_rows.js";
import { Ctl, type SabJacobiInit } from "./sab_jacobi.js";

/** Spins before sleeping in a wait: a barrier between busy threads usually opens within this. */
const SPINS = 20_000;

class WaitBoundError extends Error {
  override name = "WaitBoundError";
}

/** Waits until ctl[slot] differs from `value`, spinning first, then sleeping; throws after `ms`. */
function waitWhile(ctl: Int32Array, slot: number, value: number, ms: number, what: string): void {
  for (let i = 0; i < SPINS; i++) if (Atomics.load(ctl, slot) !== value) return;
  const deadline = performance.now() + ms;
  while (Atomics.load(ctl, slot) === value) {
    const left = deadline - performance.now();
    if (left <= 0) throw new WaitBoundError(`${what}: no progress after ${ms} ms`);
    Atomics.wait(ctl, slot, value, left);
  }
}

function barrier(ctl: Int32Array, parties: number, ms: number): void {
  const generation = Atomics.load(ctl, Ctl.GENERATION);
  if (Atomics.add(ctl, Ctl.COUNT, 1) === parties - 1) {
    // Reset the count before opening the barrier, so nobody arrives at the next one early.
    Atomics.store(ctl, Ctl.COUNT, 0);
    Atomics.add(ctl, Ctl.GENERATION, 1);
    Atomics.notify(ctl, Ctl.GENERATION);
  } else {
    waitWhile(ctl, Ctl.GENERATION, generation, ms, "barrier");
  }
}

function main(init: SabJacobiInit): void {
  const { n, iters, worker, workers, timeoutMs } = init;
  const ctl = new Int32Array(init.control);
  let src = new Float64Array(init.grids, 0, n * n);
  let dst = new Float64Array(init.grids, n * n * 8, n * n);
  const { lo, hi } = rowsOf(worker, workers, n);
  initRows(src, n, lo, hi, 0);
  initRows(dst, n, lo, hi, 0);
  parentPort!.postMessage("ready");
  waitWhile(ctl, Ctl.GO, 0, timeoutMs, "start signal");
  // Every worker's initial rows are visible to its neighbours after this.
  barrier(ctl, workers, timeoutMs);
  for (let t = 0; t < iters; t++) {
    sweepRows(src, dst, n, lo, hi, 0);
    barrier(ctl, workers, timeoutMs);
    [src, dst] = [dst, src];
  }
  parentPort!.postMessage("done");
}

try {
  main(workerData as SabJacobiInit);
} catch (error) {
  parentPort!.postMessage({ error: (error as Error).message });
}
