/**
 * Builds the bench kernels: `dsm build` of each (kernel, build options) once per process, and on
 * disk under node_modules/.cache/wasm-dsm-bench/ so a second `dsm bench` or `npm start` skips the
 * compiler. The key covers everything the bytes depend on: the kernel source, the kernel API
 * source (assembly/index.ts, or c/wasm_dsm.h and wasm_dsm.c for C), the compiler version (asc's, or clang's), the ABI version, the options and the compiled instrumentation
 * itself, so a changed kernel or pass is rebuilt and nothing else is. A cache that cannot be read
 * or written is only a slower run, never an error.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { spawnSync } from "node:child_process";
import { ABI_VERSION } from "../../abi.js";
import { C_API_DIR, isCSource } from "../../instrument/compile_c.js";
import type { BuildOptions } from "../../instrument/build.js";
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

const CACHE_DIR = join(REPOSITORY_ROOT, "node_modules/.cache/wasm-dsm-bench");
/** The compiled instrumentation (dist/src/instrument/). */
const PASS_DIR = fileURLToPath(new URL("../../instrument/", import.meta.url));

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
    const key = this.useDisk ? cacheKey(source, options) : "";
    const hit = this.useDisk ? readCached(key) : undefined;
    if (hit) return { ...load(kernel, hit.instrumented, hit.reference), cached: true };
    const built = await buildKernelIsolated(source, options);
    if (this.useDisk) writeCached(key, built.instrumented, built.reference);
    return { ...load(kernel, built.instrumented, built.reference), cached: false };
  }
}

function load(kernel: BenchKernel, instrumented: Uint8Array, reference: Uint8Array) {
  return {
    instrumented: loadKernelModule(instrumented, kernel.file),
    reference: loadKernelModule(reference, kernel.file.replace(/\.[^./]+$/, ".ref.wasm")),
  };
}

function cacheKey(source: string, options: BuildOptions): string {
  const hash = createHash("sha256");
  hash.update(JSON.stringify([ABI_VERSION, options]));
  hash.update(readFileSync(source));
  if (isCSource(source)) {
    for (const file of ["wasm_dsm.h", "wasm_dsm.c"]) hash.update(readFileSync(join(C_API_DIR, file)));
    hash.update(clangVersion());
  } else {
    hash.update(readFileSync(join(REPOSITORY_ROOT, "assembly/index.ts")));
    hash.update(compilerVersion());
  }
  for (const name of readdirSync(PASS_DIR).filter((f) => f.endsWith(".js")).sort()) hash.update(name).update(readFileSync(join(PASS_DIR, name)));
  return hash.digest("hex").slice(0, 24);
}

function compilerVersion(): string {
  try {
    const path = createRequire(import.meta.url).resolve("assemblyscript/package.json");
    return (JSON.parse(readFileSync(path, "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

/** The version line of the clang a C build runs; a changed compiler is a new key. */
function clangVersion(): string {
  for (const name of ["clang-14", "clang"]) {
    const result = spawnSync(name, ["--version"], { encoding: "utf8" });
    if (result.status === 0) return result.stdout;
  }
  return "no clang";
}

function readCached(key: string): { instrumented: Uint8Array; reference: Uint8Array } | undefined {
  try {
    return { instrumented: readFileSync(join(CACHE_DIR, `${key}.wasm`)), reference: readFileSync(join(CACHE_DIR, `${key}.ref.wasm`)) };
  } catch {
    return undefined;
  }
}

function writeCached(key: string, instrumented: Uint8Array, reference: Uint8Array): void {
  try {
    mkdirSync(CACHE_DIR, { recursive: true });
    // Reference first, then the instrumented module, each written whole and renamed into place:
    // a reader that finds the instrumented module finds a complete pair.
    for (const [name, bytes] of [
      [`${key}.ref.wasm`, reference],
      [`${key}.wasm`, instrumented],
    ] as const) {
      const partial = join(CACHE_DIR, `${name}.${process.pid}.tmp`);
      writeFileSync(partial, bytes);
      renameSync(partial, join(CACHE_DIR, name));
    }
  } catch {
    // Not writable (a read-only install): the next run builds again.
  }
}
