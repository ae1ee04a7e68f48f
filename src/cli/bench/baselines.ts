/**
 * The hand-written Jacobi baselines (message passing over a transport, and worker threads over one
 * SharedArrayBuffer) live in bench/baselines/, outside src/. They are loaded here at run time, by
 * URL, so src/ keeps no compile-time dependency on bench/; the signatures they must have are the
 * types below. Compiled layout: dist/src/cli/bench/ → dist/bench/baselines/.
 */
import type { Transport } from "../../transport/transport.js";

export interface MpJacobiRun {
  result: number;
  ms: number;
  messages: number;
  bytes: number;
}

export interface JacobiBaselines {
  /** Message-passing Jacobi, every node of `transports` in this process. */
  runMpJacobi(transports: Transport[], n: number, iters: number, options?: { timeoutMs?: number }): Promise<MpJacobiRun>;
  /** Jacobi on `workers` worker threads over one SharedArrayBuffer. */
  runSabJacobi(workers: number, n: number, iters: number, options?: { timeoutMs?: number }): Promise<{ result: number; ms: number }>;
}

export class BaselinesMissingError extends Error {
  override name = "BaselinesMissingError";
}

const MP_URL = new URL("../../../bench/baselines/mp_jacobi.js", import.meta.url);
const SAB_URL = new URL("../../../bench/baselines/sab_jacobi.js", import.meta.url);

/** Loads both baselines; rejects with BaselinesMissingError when they are not built next to the CLI. */
export async function loadJacobiBaselines(): Promise<JacobiBaselines> {
  try {
    const mp = (await import(MP_URL.href)) as Pick<JacobiBaselines, "runMpJacobi">;
    const sab = (await import(SAB_URL.href)) as Pick<JacobiBaselines, "runSabJacobi">;
    if (typeof mp.runMpJacobi !== "function" || typeof sab.runSabJacobi !== "function") {
      throw new Error("runMpJacobi or runSabJacobi is not exported");
    }
    return { runMpJacobi: mp.runMpJacobi, runSabJacobi: sab.runSabJacobi };
  } catch (cause) {
    throw new BaselinesMissingError(
      `jacobi baselines not found at ${MP_URL.pathname} and ${SAB_URL.pathname} (${(cause as Error).message}); rebuild with npm run build, or pass --no-baselines`,
      { cause },
    );
  }
}
