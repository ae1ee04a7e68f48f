/**
 * @fileoverview Jacobi on worker_threads over one SharedArrayBuffer: the single-machine upper
 * bound for the DSM Jacobi (no access checks, no page faults, no messages; just threads, shared
 * memory and a barrier). Same rows per worker, same update and same checksum as
 * assembly/kernels/jacobi.ts; the compute is plain JavaScript (jacobi_rows.ts), not Wasm.
 *
 *   main                               worker w (of W)
 *   spawn W workers ─────────────────▶ init own rows of both grids; post "ready"
 *   all ready: t0, GO = 1, notify ───▶ repeat iters: sweep own rows src→dst; barrier; swap
 *   all "done": checksum, ms ◀──────── post "done"
 *
 * Shared control words (Int32Array over their own SharedArrayBuffer), named in {@link Ctl}. The
 * barrier is a generation barrier: the last to arrive resets COUNT, then bumps GENERATION and
 * notifies; the others wait (spin, then Atomics.wait with a bound) for GENERATION to change. A
 * worker's writes to the grid before the barrier are visible after it, because Atomics operations
 * are sequentially consistent and order the plain accesses around them.
 */
import { Worker } from "node:worker_threads";
import { checkJacobiArgs, checksum } from "./jacobi_rows.js";

/** Control slots, as indices into the control Int32Array. */
export const Ctl = {
  /** Main sets it to 1 to start every worker at once. */
  GO: 0,
  /** Workers that reached the current barrier. */
  COUNT: 1,
  /** Barrier generation: bumped by the last arrival. */
  GENERATION: 2,
  /** Slots in use. */
  SLOTS: 3,
} as const;

export interface SabJacobiInit {
  grids: SharedArrayBuffer;
  control: SharedArrayBuffer;
  worker: number;
  workers: number;
  n: number;
  iters: number;
  /** Bound on one wait at the start signal or a barrier. */
  timeoutMs: number;
}

export interface SabJacobiOptions {
  /** Bound on each wait (start, barrier, worker report), in milliseconds. @default 10000 */
  timeoutMs?: number;
}

export class SabTimeoutError extends Error {
  override name = "SabTimeoutError";
}

export class SabWorkerError extends Error {
  override name = "SabWorkerError";
}

const WORKER_URL = new URL("./sab_jacobi_worker.js", import.meta.url);

/**
 * Runs Jacobi on `workers` threads. `ms` covers the sweeps, barriers and the checksum, not starting
 * the threads. The grid after `iters` sweeps is in the first half of the buffer when iters is even.
 */
export async function runSabJacobi(workers: number, n: number, iters: number, options: SabJacobiOptions = {}): Promise<{ result: number; ms: number }> {
  checkJacobiArgs(n, iters, workers);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const grids = new SharedArrayBuffer(2 * n * n * 8);
  const control = new SharedArrayBuffer(Ctl.SLOTS * 4);
  const ctl = new Int32Array(control);
  const threads = Array.from({ length: workers }, (_, worker) => {
    const init: SabJacobiInit = { grids, control, worker, workers, n, iters, timeoutMs };
    return new Worker(WORKER_URL, { workerData: init });
  });
  try {
    await Promise.all(threads.map((t, w) => report(t, w, "ready", timeoutMs)));
    const done = Promise.all(threads.map((t, w) => report(t, w, "done", timeoutMs + iters * timeoutMs)));
    const t0 = performance.now();
    Atomics.store(ctl, Ctl.GO, 1);
    Atomics.notify(ctl, Ctl.GO);
    await done;
    const final = new Float64Array(grids, (iters % 2) * n * n * 8, n * n);
    const result = checksum(final, n);
    return { result, ms: performance.now() - t0 };
  } finally {
    await Promise.all(threads.map((t) => t.terminate()));
  }
}

/** Resolves when worker `w` posts `what`; rejects if it fails, exits, or is silent for `ms`. */
function report(thread: Worker, w: number, what: string, ms: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => finish(new SabTimeoutError(`worker ${w}: did not report "${what}" within ${ms} ms`)), ms);
    const onMessage = (message: unknown) => {
      if (message === what) finish();
      else if (typeof message === "object" && message && "error" in message) finish(new SabWorkerError(`worker ${w}: ${(message as { error: string }).error}`));
    };
    const onError = (error: Error) => finish(new SabWorkerError(`worker ${w}: ${error.message}`, { cause: error }));
    const onExit = (code: number) => finish(new SabWorkerError(`worker ${w}: exited with code ${code} before "${what}"`));
    function finish(error?: Error) {
      clearTimeout(timer);
      thread.off("message", onMessage).off("error", onError).off("exit", onExit);
      if (error) reject(error);
      else resolve();
    }
    thread.on("message", onMessage).on("error", onError).on("exit", onExit);
  });
}
