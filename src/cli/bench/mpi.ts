/**
 * The `mpi` rows of dsm bench: Jacobi in C with Open MPI halo exchange (bench/baselines/jacobi_mpi.c),
 * compiled with the machine's `mpicc` and run natively with `mpirun`, one rank per node. It is the
 * comparison the field makes, DSM against message passing on the same machines (TreadMarks against
 * PVM), and it has no Wasm, no access checks and no JavaScript: the program a user would write
 * instead of a DSM kernel.
 *
 * The executable is built once per source and compiler under the bench cache
 * (node_modules/.cache/wasm-dsm-bench/). Where `mpicc` or `mpirun` is missing the bench says so in
 * its notes and has no mpi rows. Open MPI refuses to run as root without its two opt-in variables;
 * a bench run as root sets them for its own mpirun.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { REPOSITORY_ROOT } from "./suite.js";

const run = promisify(execFile);

export const MPI_SOURCE = join(REPOSITORY_ROOT, "bench/baselines/jacobi_mpi.c");
const CACHE_DIR = join(REPOSITORY_ROOT, "node_modules/.cache/wasm-dsm-bench");
/** Flags: optimised as a user would build it; no fused multiply-add, so the checksum equals the kernel's. */
export const MPI_CFLAGS = ["-O2", "-ffp-contract=off"];
export const MPI_PACKAGES = "openmpi-bin libopenmpi-dev";

export class MpiMissingError extends Error {
  override name = "MpiMissingError";
}

export class MpiRunError extends Error {
  override name = "MpiRunError";
}

export interface MpiJacobiRun {
  result: number;
  ms: number;
  messages: number;
  bytes: number;
}

export interface MpiJacobi {
  /** The executable. */
  path: string;
  /** Runs it on `ranks` ranks; rejects with MpiRunError naming the command and its output. */
  run(ranks: number, n: number, iters: number, timeoutMs: number): Promise<MpiJacobiRun>;
}

/** Builds (or finds in the cache) the MPI Jacobi; rejects with MpiMissingError without mpicc or mpirun. */
export async function loadMpiJacobi(env: NodeJS.ProcessEnv = process.env): Promise<MpiJacobi> {
  let version: string;
  try {
    version = (await run("mpicc", ["--version"], { env })).stdout;
    await run("mpirun", ["--version"], { env });
  } catch (cause) {
    throw new MpiMissingError(`mpicc and mpirun not found (${(cause as Error).message.split("\n")[0]}); install them with: apt-get install ${MPI_PACKAGES}`, { cause });
  }
  const source = readFileSync(MPI_SOURCE);
  const key = createHash("sha256").update(source).update(version).update(MPI_CFLAGS.join(" ")).digest("hex").slice(0, 16);
  const path = join(CACHE_DIR, `jacobi_mpi-${key}`);
  if (!existsSync(path)) {
    mkdirSync(CACHE_DIR, { recursive: true });
    const partial = `${path}.${process.pid}.tmp`;
    try {
      await run("mpicc", [...MPI_CFLAGS, "-o", partial, MPI_SOURCE], { env });
    } catch (cause) {
      const e = cause as Error & { stderr?: string };
      throw new MpiRunError(`mpicc ${MPI_CFLAGS.join(" ")} ${MPI_SOURCE} failed: ${(e.stderr || e.message).trim()}`, { cause });
    }
    renameSync(partial, path);
  }
  return { path, run: (ranks, n, iters, timeoutMs) => runMpi(path, ranks, n, iters, timeoutMs, env) };
}

/** The mpirun command line for `ranks` ranks: unbound (as the DSM's threads are), oversubscribed past the cores. */
export function mpirunArgs(path: string, ranks: number, n: number, iters: number, cores = availableParallelism()): string[] {
  return ["-np", String(ranks), "--bind-to", "none", ...(ranks > cores ? ["--oversubscribe"] : []), path, String(n), String(iters)];
}

async function runMpi(path: string, ranks: number, n: number, iters: number, timeoutMs: number, env: NodeJS.ProcessEnv): Promise<MpiJacobiRun> {
  const args = mpirunArgs(path, ranks, n, iters);
  const asRoot = process.getuid?.() === 0 ? { OMPI_ALLOW_RUN_AS_ROOT: "1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: "1" } : {};
  let stdout: string;
  try {
    ({ stdout } = await run("mpirun", args, { env: { ...env, ...asRoot }, timeout: timeoutMs, killSignal: "SIGKILL" }));
  } catch (cause) {
    const e = cause as Error & { stderr?: string; killed?: boolean };
    const why = e.killed ? `no result within ${timeoutMs} ms` : (e.stderr || e.message).trim().split("\n").slice(0, 5).join("; ");
    throw new MpiRunError(`mpirun ${args.join(" ")}: ${why}`, { cause });
  }
  return parseMpiOutput(stdout, `mpirun ${args.join(" ")}`);
}

/** Rank 0's line: `result R ms T messages M bytes B`. */
export function parseMpiOutput(stdout: string, command: string): MpiJacobiRun {
  const m = /^result (\S+) ms (\S+) messages (\d+) bytes (\d+)$/m.exec(stdout);
  const result = m ? Number(m[1]) : NaN;
  const ms = m ? Number(m[2]) : NaN;
  if (!m || !Number.isFinite(result) || !Number.isFinite(ms)) {
    throw new MpiRunError(`${command}: expected a line "result R ms T messages M bytes B", got: ${JSON.stringify(stdout.slice(0, 200))}`);
  }
  return { result, ms, messages: Number(m[3]), bytes: Number(m[4]) };
}
