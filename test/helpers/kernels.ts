/** Builds the test and example kernels once per process. */
import { fileURLToPath } from "node:url";
import type { BuildOptions } from "../../src/instrument/build.js";
import { buildKernelIsolated } from "../../src/instrument/build_worker.js";
import { runJob } from "../../src/cluster/run_job.js";
import { loadKernelModule, type KernelModule, type RunArgument } from "../../src/runtime/kernel_module.js";

export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

const cache = new Map<string, Promise<{ instrumented: KernelModule; reference: KernelModule }>>();

/** `name` is a path relative to the repository root, e.g. "test/kernels/spin.ts". */
export function kernel(name: string, options: BuildOptions = {}) {
  const key = `${name} ${JSON.stringify(options)}`;
  let built = cache.get(key);
  if (!built) {
    built = buildKernelIsolated(ROOT + name, options).then((out) => ({
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
