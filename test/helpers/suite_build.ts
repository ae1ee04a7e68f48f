/**
 * Building suite kernels for tests and benchmarks, cached in memory and on disk
 * (node_modules/.cache/wasm-dsm-suite/) under a key made of everything the bytes depend on: the
 * kernel source, the kernel API source, the layout, the compiler version and, for instrumented
 * builds, the compiled instrumentation itself. A changed kernel or pass is rebuilt; nothing else.
 *
 * Two builds:
 * - {@link buildUninstrumented}: compile only, stamped with metadata like `dsm build`'s reference
 *   module. Needs no instrumentation, so it works while the pass is being changed.
 * - {@link buildSuiteKernel}: `dsm build` itself (instrumented and reference modules).
 */
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import binaryen from "binaryen";
import { ABI_VERSION, computeLayout, encodeMetadata, METADATA_SECTION, type Layout, type LayoutOptions, type Metadata, type WasmNumType } from "../../src/abi.js";
import { runLocalJob, type JobResult } from "../../src/cluster/job.js";
import type { BuildOptions } from "../../src/instrument/build.js";
import { compileKernel } from "../../src/instrument/compile.js";
import { withCustomSection } from "../../src/instrument/custom_section.js";
import { loadKernelModule, type KernelModule } from "../../src/runtime/kernel_module.js";
import { SUITE_ROOT } from "./suite.js";

const CACHE_DIR = join(SUITE_ROOT, "node_modules/.cache/wasm-dsm-suite");
/** The compiled instrumentation (dist/src/instrument/), part of an instrumented build's key. */
const PASS_DIR = fileURLToPath(new URL("../../src/instrument/", import.meta.url));
const memo = new Map<string, Promise<unknown>>();

function cacheKey(kind: string, file: string, options: unknown): string {
  const hash = createHash("sha256");
  hash.update(JSON.stringify([kind, file, options, ABI_VERSION]));
  hash.update(readFileSync(join(SUITE_ROOT, file)));
  hash.update(readFileSync(join(SUITE_ROOT, "assembly/index.ts")));
  hash.update(readFileSync(join(SUITE_ROOT, "node_modules/assemblyscript/package.json")));
  if (kind === "instrumented") {
    for (const name of readdirSync(PASS_DIR).filter((f) => f.endsWith(".js")).sort()) hash.update(name).update(readFileSync(join(PASS_DIR, name)));
  }
  return hash.digest("hex").slice(0, 24);
}

function readCached(name: string): Uint8Array | undefined {
  try {
    return readFileSync(join(CACHE_DIR, name));
  } catch {
    return undefined;
  }
}

function writeCached(name: string, bytes: Uint8Array): void {
  mkdirSync(CACHE_DIR, { recursive: true });
  // Write then rename, so a concurrent reader never sees half a module.
  const partial = join(CACHE_DIR, `${name}.${process.pid}.tmp`);
  writeFileSync(partial, bytes);
  renameSync(partial, join(CACHE_DIR, name));
}

function remember<T>(key: string, make: () => Promise<T>): Promise<T> {
  let found = memo.get(key) as Promise<T> | undefined;
  if (!found) {
    found = make();
    memo.set(key, found);
    found.catch(() => memo.delete(key));
  }
  return found;
}

/** Compiles `file` (repository-relative) without instrumentation and stamps it with metadata. */
export function buildUninstrumented(file: string, options: LayoutOptions = {}): Promise<KernelModule> {
  const layout = computeLayout(options);
  const key = cacheKey("plain", file, layout);
  return remember(key, async () => {
    const cached = readCached(`${key}.wasm`);
    if (cached) return loadKernelModule(cached, file);
    const plain = await compileKernel(join(SUITE_ROOT, file), layout);
    const meta: Metadata = { abi: ABI_VERSION, instrumented: false, layout, run: runSignature(plain), kernel: file.split("/").pop()! };
    const bytes = withCustomSection(plain, METADATA_SECTION, encodeMetadata(meta));
    writeCached(`${key}.wasm`, bytes);
    return loadKernelModule(bytes, file);
  });
}

/** `dsm build` of `file` (repository-relative): the instrumented module and its reference. */
export function buildSuiteKernel(file: string, options: BuildOptions = {}): Promise<{ instrumented: KernelModule; reference: KernelModule }> {
  const key = cacheKey("instrumented", file, options);
  return remember(key, async () => {
    let checked = readCached(`${key}.checked.wasm`);
    let plain = readCached(`${key}.plain.wasm`);
    if (!checked || !plain) {
      // Loaded here, so the uninstrumented path never loads the pass.
      const { buildKernel } = await import("../../src/instrument/build.js");
      const out = await buildKernel(join(SUITE_ROOT, file), options);
      checked = out.instrumented;
      plain = out.reference;
      writeCached(`${key}.checked.wasm`, checked);
      writeCached(`${key}.plain.wasm`, plain);
    }
    return { instrumented: loadKernelModule(checked, file), reference: loadKernelModule(plain, file) };
  });
}

const TYPES = new Map<number, WasmNumType>([
  [binaryen.i32, "i32"],
  [binaryen.i64, "i64"],
  [binaryen.f32, "f32"],
  [binaryen.f64, "f64"],
]);

function runSignature(wasm: Uint8Array): Metadata["run"] {
  const module = binaryen.readBinary(wasm);
  try {
    const info = binaryen.getExportInfo(module.getExport("run"));
    const fn = binaryen.getFunctionInfo(module.getFunction(info.value));
    const params = binaryen.expandType(fn.params).map((t) => TYPES.get(t)!);
    const results = binaryen.expandType(fn.results);
    return { params, result: results.length === 0 ? "none" : TYPES.get(results[0])! };
  } finally {
    module.dispose();
  }
}

/** `run`'s arguments with i64 parameters as BigInt, as the runtime passes them. */
export function typedArgs(kernel: KernelModule, args: number[]): (number | bigint)[] {
  return args.map((a, i) => (kernel.meta.run.params[i] === "i64" ? BigInt(a) : a));
}

/**
 * Runs a module on `nodes` nodes with the solo protocol: no coherence, every node has its own
 * memory. Only one node gives a meaningful result; more nodes are for checking set-up, not sharing.
 */
export function runSolo(kernel: KernelModule, args: number[], nodes = 1): Promise<JobResult> {
  return runLocalJob(kernel, typedArgs(kernel, args), {
    nodes,
    protocol: { name: "solo", job: 0, timeoutMs: 10_000 },
    transport: "none",
  });
}

/**
 * `file` instrumented with `options` in this process (cheap: the compiled module is cached), its
 * checks proven by the static checker (verify_checks.ts), and stamped like `dsm build`'s output.
 */
export function buildSuiteVariant(file: string, options: BuildOptions = {}): Promise<KernelModule> {
  return remember(`variant ${file} ${JSON.stringify(options)}`, async () => {
    const layout = computeLayout(options);
    const plain = await compiledOnly(file, layout);
    const { instrument } = await import("../../src/instrument/instrument.js");
    const { assertChecked } = await import("../../src/instrument/verify_checks.js");
    const checked = instrument(plain, layout, options);
    assertChecked(checked, layout, file);
    const meta: Metadata = { abi: ABI_VERSION, instrumented: true, layout, run: runSignature(plain), kernel: file.split("/").pop()! };
    return loadKernelModule(withCustomSection(checked, METADATA_SECTION, encodeMetadata(meta)), file);
  });
}

/** The compiled module without metadata, cached like the others. */
function compiledOnly(file: string, layout: Layout): Promise<Uint8Array> {
  const key = cacheKey("compiled", file, layout);
  return remember(key, async () => {
    const cached = readCached(`${key}.wasm`);
    if (cached) return cached;
    const plain = await compileKernel(join(SUITE_ROOT, file), layout);
    writeCached(`${key}.wasm`, plain);
    return plain;
  });
}
