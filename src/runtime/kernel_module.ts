/**
 * A compiled kernel as the runtime sees it: the WebAssembly.Module, its metadata section, and the
 * argument conversion for its `run` export.
 */
import { setFlagsFromString } from "node:v8";
import { decodeMetadata, METADATA_SECTION, MetadataError, type Metadata, type WasmNumType } from "../abi.js";
import { KernelArgumentError, KernelModuleError } from "./errors.js";

/** One argument of a job: a number for `run`, or a word of argv for a program with main. */
export type RunArgument = number | bigint | string;

export interface KernelModule {
  module: WebAssembly.Module;
  /** The module's bytes, for handing it to node processes. */
  bytes: Uint8Array;
  meta: Metadata;
  /** For messages: the file it came from. */
  source: string;
}

/**
 * Compiles a kernel with V8's optimising compiler from the start. By default V8 first compiles
 * Wasm with its baseline compiler and optimises a function only for its next call, and a kernel
 * spends its whole run in one call of `run`: it would run baseline code to the end (jacobi 2048²
 * × 100: 1300 ms against 630 ms optimised). The flag is process-wide, so it is set only around
 * this compilation, which then compiles every function at once (not lazily at its first call).
 */
function compileOptimised(bytes: Uint8Array): WebAssembly.Module {
  setFlagsFromString("--no-liftoff");
  setFlagsFromString("--no-wasm-lazy-compilation");
  try {
    return new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
  } finally {
    setFlagsFromString("--wasm-lazy-compilation");
    setFlagsFromString("--liftoff");
  }
}

/** Compiles and validates module bytes; refuses modules without wasm-dsm metadata. */
export function loadKernelModule(bytes: Uint8Array, source: string): KernelModule {
  let module: WebAssembly.Module;
  try {
    module = compileOptimised(bytes);
  } catch (cause) {
    throw new KernelModuleError(`${source}: not a valid WebAssembly module (${(cause as Error).message}); build it with dsm build`, { cause });
  }
  const sections = WebAssembly.Module.customSections(module, METADATA_SECTION);
  if (sections.length !== 1) {
    throw new KernelModuleError(`${source}: no "${METADATA_SECTION}" metadata section; it was not built by dsm build (run: dsm build <kernel.ts|kernel.c|module.wasm>)`);
  }
  let meta: Metadata;
  try {
    meta = decodeMetadata(sections[0], source);
  } catch (cause) {
    if (cause instanceof MetadataError) throw new KernelModuleError(cause.message, { cause });
    throw cause;
  }
  const exports = WebAssembly.Module.exports(module);
  if (meta.entry === "main") {
    if (!exports.some((e) => e.name === "_start" && e.kind === "function")) {
      throw new KernelModuleError(`${source}: the program exports no function "_start"; rebuild it with dsm build`);
    }
  } else if (!exports.some((e) => e.name === "run" && e.kind === "function")) {
    throw new KernelModuleError(`${source}: the kernel exports no function "run"; export one: export function run(...): f64`);
  }
  return { module, bytes, meta, source };
}

/** Converts command-line strings to `run`'s parameter types; throws naming the bad argument. */
export function parseRunArguments(meta: Metadata, raw: readonly string[]): RunArgument[] {
  if (meta.entry === "main") return [...raw]; // argv[1..], as given
  const params = meta.run.params;
  if (raw.length !== params.length) {
    const sig = `run(${params.join(", ")})`;
    throw new KernelArgumentError(`${meta.kernel}: ${sig} takes ${params.length} argument(s), got ${raw.length}; pass them after --, e.g. -- ${params.map(exampleOf).join(" ")}`);
  }
  return raw.map((text, i) => parseNumber(text, params[i], i));
}

function exampleOf(type: WasmNumType): string {
  return type.startsWith("f") ? "1.5" : "10";
}

function parseNumber(text: string, type: WasmNumType, index: number): number | bigint {
  const bad = (why: string) => new KernelArgumentError(`argument ${index + 1} "${text}": ${why}`);
  if (type === "i64") {
    if (!/^[-+]?\d+$/.test(text.trim())) throw bad("expected an integer (i64)");
    const v = BigInt(text.trim());
    if (v < -(2n ** 63n) || v >= 2n ** 63n) throw bad("out of range for i64");
    return v;
  }
  if (type === "i32") {
    if (!/^[-+]?\d+$/.test(text.trim())) throw bad("expected an integer (i32)");
    const v = Number(text);
    if (v < -(2 ** 31) || v > 2 ** 32 - 1) throw bad("out of range for i32");
    return v | 0;
  }
  const v = Number(text);
  if (text.trim() === "" || Number.isNaN(v) && text.trim().toLowerCase() !== "nan") throw bad(`expected a number (${type})`);
  return v;
}
