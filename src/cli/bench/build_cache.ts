/**
 * Builds the bench kernels: `dsm build` of each (kernel, build options) once per process, and
 * through the build cache on disk (instrument/build_cache.ts, keyed on every file a build read),
 * so a second `dsm bench` or `npm start` skips the compiler. --no-cache builds every kernel again.
 */
import { resolve } from "node:path";
import type { BuildOptions } from "../../instrument/build.js";
import { buildCacheDir, cachedBuild } from "../../instrument/build_cache.js";
import { buildKernelIsolated } from "../../instrument/build_worker.js";
import { loadKernelModule, type KernelModule } from "../../runtime/kernel_module.js";
import { REPOSITORY_ROOT, type BenchKernel } from "./suite.js";

export interface BuiltKernel {
  instrumented: KernelModule;
  /** The same kernel and layout without checks: the single-node baseline. */
  reference: KernelModule;
  /** Whether the bytes came from the on-disk cache. */
  cached: boolean;
}

export class KernelBuilds {
  private readonly builds = new Map<string, Promise<BuiltKernel>>();

  /** @param useDisk read and write the on-disk cache (off for --no-cache). */
  constructor(private readonly useDisk = true) {}

  build(kernel: BenchKernel, options: BuildOptions): Promise<BuiltKernel> {
    const memo = JSON.stringify([kernel.file, options]);
    let found = this.builds.get(memo);
    if (!found) {
      found = this.make(kernel, options);
      this.builds.set(memo, found);
    }
    return found;
  }

  private async make(kernel: BenchKernel, options: BuildOptions): Promise<BuiltKernel> {
    const source = resolve(REPOSITORY_ROOT, kernel.file);
    const built = await cachedBuild(source, options, () => buildKernelIsolated(source, options), this.useDisk ? buildCacheDir() : undefined);
    return {
      instrumented: loadKernelModule(built.instrumented, kernel.file),
      reference: loadKernelModule(built.reference, kernel.file.replace(/\.[^./]+$/, ".ref.wasm")),
      cached: built.cached,
    };
  }
}
