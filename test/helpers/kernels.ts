/**
 * Builds the test and example kernels once per process, and once per test run when the runner
 * gives a build cache (DSM_TEST_BUILD_CACHE, a directory that lives as long as one run of
 * dist/test/run.js: the sources cannot change under it).
 */
import { createHash } from "node:crypto";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BuildOptions } from "../../src/instrument/build.js";
import { buildKernelIsolated } from "../../src/instrument/build_worker.js";
import { runJob } from "../../src/cluster/run_job.js";
import { loadKernelModule, type KernelModule, type RunArgument } from "../../src/runtime/kernel_module.js";

export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

const cache = new Map<string, Promise<{ instrumented: KernelModule; reference: KernelModule }>>();

/** The kernel's two modules: from the run's build cache, or built (and put there). */
async function buildOnce(name: string, options: BuildOptions): Promise<{ instrumented: Uint8Array; reference: Uint8Array }> {
  const dir = process.env.DSM_TEST_BUILD_CACHE;
  if (!dir) return buildKernelIsolated(ROOT + name, options);
  const base = join(dir, createHash("sha256").update(`${name}\0${JSON.stringify(options)}`).digest("hex").slice(0, 32));
  try {
    // The instrumented module is written last: with it there, both are whole.
    return { instrumented: readFileSync(`${base}.wasm`), reference: readFileSync(`${base}.ref.wasm`) };
  } catch {
    // not built yet in this run
  }
  const out = await buildKernelIsolated(ROOT + name, options);
  for (const [file, bytes] of [[`${base}.ref.wasm`, out.reference], [`${base}.wasm`, out.instrumented]] as const) {
    writeFileSync(`${file}.${process.pid}`, bytes);
    renameSync(`${file}.${process.pid}`, file);
  }
  return out;
}

/** `name` is a path relative to the repository root, e.g. "test/kernels/spin.ts". */
export function kernel(name: string, options: BuildOptions = {}) {
  const key = `${name} ${JSON.stringify(options)}`;
  let built = cache.get(key);
  if (!built) {
    built = buildOnce(name, options).then((out) => ({
      instrumented: loadKernelModule(out.instrumented, name),
      reference: loadKernelModule(out.reference, name),
    }));
    cache.set(key, built);
  }
  return built;
}

/** The result of `name`'s uninstrumented reference build on one node, without DSM: what every run must equal. */
export async function referenceResult(name: string, args: RunArgument[]): Promise<number | string | null> {
  const { reference } = await kernel(name);
  return (await runJob(reference, args, { nodes: 1, protocol: "none", transport: "local", faultTimeoutMs: 10_000 })).result;
}
