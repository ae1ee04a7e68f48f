/**
 * `dsm build`: compile a kernel, make its stack unwindable at barriers (unwind.ts, for
 * checkpoints), instrument it, and stamp both the instrumented module and the uninstrumented
 * reference (the plain kernel) with the metadata section the runtime requires.
 */
import binaryen from "binaryen";
import { readFileSync } from "node:fs";
import { basename, resolve } from "node:path";
import { ABI_VERSION, computeLayout, encodeMetadata, METADATA_SECTION, type LayoutOptions, type Metadata, type RunSignature, type WasmNumType } from "../abi.js";
import { inputsSince, sha, type BuildInput } from "./build_cache.js";
import { compileKernel, CompileError } from "./compile.js";
import { compileC, isCSource, type CCompileOptions } from "./compile_c.js";
import { withCustomSection } from "./custom_section.js";
import { checkModuleContract, ModuleContractError } from "./module_contract.js";
import { instrument, type InstrumentOptions } from "./instrument.js";
import { assertChecked } from "./verify_checks.js";
import { addUnwinding, exportGlobals } from "./unwind.js";

/** How far before a C build's start a changed input still makes the build one not to keep. */
const MTIME_MARGIN_MS = 50;

export interface BuildOptions extends LayoutOptions, InstrumentOptions, CCompileOptions {
  /**
   * Prove every access of the instrumented module checked (verify_checks.ts) and fail the build
   * with an UncheckedAccessError otherwise. @default true
   */
  verifyChecks?: boolean;
}

export interface BuildOutput {
  /** Checked module for dsm run. */
  instrumented: Uint8Array;
  /** Same kernel and layout without checks, for --baseline. */
  reference: Uint8Array;
  meta: Metadata;
  /** The files the build read and the hashes of their bytes (build_cache.ts); absent when unknown. */
  inputs?: BuildInput[];
}

/**
 * Builds one AssemblyScript kernel (`.ts`), or a C/C++ kernel from one or more sources (`.c`,
 * `.cc`, `.cpp`, `.cxx`; compile_c.ts), or instruments a module from any other compiler (`.wasm`)
 * once it passes the module contract (module_contract.ts). The metadata names the first source.
 */
export async function buildKernel(sources: string | readonly string[], options: BuildOptions = {}): Promise<BuildOutput> {
  const list = typeof sources === "string" ? [sources] : [...sources];
  const sourcePath = list.join(", ");
  let layout = computeLayout(options);
  let plain: Uint8Array;
  let entry: "run" | "main" = "run";
  let inputs: BuildInput[] | undefined;
  if (list.length > 0 && list.every(isCSource)) {
    // Before clang reads anything: a file changed after this is a build not to keep. File times
    // can lag the clock by a scheduler tick (coarse timestamps), hence the margin.
    const since = Date.now() - MTIME_MARGIN_MS;
    const c = compileC(list, layout, options);
    plain = c.wasm;
    entry = c.entry;
    layout = { ...layout, initialPages: c.initialPages };
    inputs = inputsSince(c.inputs, since);
  } else if (list.length === 1 && list[0].endsWith(".ts")) {
    const read = new Map<string, string | null>();
    plain = await compileKernel(list[0], layout, { read: (path, text) => read.set(path, text === null ? null : sha(text)) });
    inputs = [...read].map(([path, hash]) => ({ path, sha: hash }));
  } else if (list.length === 1 && list[0].endsWith(".wasm")) {
    plain = readModule(list[0]);
    inputs = [{ path: resolve(list[0]), sha: sha(plain) }];
    const contract = checkModuleContract(plain, layout, list[0]);
    entry = contract.entry;
    layout = { ...layout, initialPages: contract.initialPages };
  } else {
    throw new CompileError(`kernel ${sourcePath || "(none)"}: expected one AssemblyScript file (.ts), C/C++ files (.c, .cc, .cpp, .cxx) or one WebAssembly module (.wasm)`);
  }
  const run: RunSignature = entry === "main" ? { params: [], result: "i32" } : runSignature(plain, sourcePath);
  const meta: Metadata = { abi: ABI_VERSION, instrumented: true, layout, run, kernel: basename(list[0]), ...(entry === "main" ? { entry } : {}) };
  const checked = instrument(addUnwinding(plain), layout, options);
  if (options.verifyChecks ?? true) assertChecked(checked, layout, sourcePath);
  return {
    instrumented: withCustomSection(exportGlobals(checked), METADATA_SECTION, encodeMetadata(meta)),
    reference: withCustomSection(plain, METADATA_SECTION, encodeMetadata({ ...meta, instrumented: false })),
    meta,
    inputs,
  };
}

/** A ready-made module's bytes; one dsm build already stamped is refused (it would be instrumented twice). */
function readModule(path: string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new CompileError(`kernel ${path}: cannot read it (${(error as NodeJS.ErrnoException).code}); check the path`, { cause: error });
  }
  if (WebAssembly.validate(bytes as Uint8Array<ArrayBuffer>) && WebAssembly.Module.customSections(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>), METADATA_SECTION).length > 0) {
    throw new ModuleContractError(`${path}: was built by dsm build already; run it with dsm run, or give dsm build the module your compiler wrote`);
  }
  return bytes;
}

const TYPE_NAMES = new Map<number, WasmNumType>([
  [binaryen.i32, "i32"],
  [binaryen.i64, "i64"],
  [binaryen.f32, "f32"],
  [binaryen.f64, "f64"],
]);

/** Reads the signature of the exported `run`; a kernel without one is refused here. */
function runSignature(wasm: Uint8Array, source: string): RunSignature {
  const module = binaryen.readBinary(wasm);
  try {
    const exp = module.getExport("run");
    if (!exp) throw new CompileError(`kernel ${source}: exports no function "run"; add: export function run(n: i32): f64 { ... }`);
    const info = binaryen.getExportInfo(exp);
    if (info.kind !== binaryen.ExternalFunction) throw new CompileError(`kernel ${source}: export "run" is not a function`);
    const fn = binaryen.getFunctionInfo(module.getFunction(info.value));
    const params = binaryen.expandType(fn.params).map((t) => typeName(t, source));
    const results = binaryen.expandType(fn.results);
    if (results.length > 1) throw new CompileError(`kernel ${source}: run must return one number or nothing`);
    return { params, result: results.length === 0 ? "none" : typeName(results[0], source) };
  } finally {
    module.dispose();
  }
}

function typeName(type: number, source: string): WasmNumType {
  const name = TYPE_NAMES.get(type);
  if (!name) throw new CompileError(`kernel ${source}: run may take and return only i32, i64, f32 or f64 numbers`);
  return name;
}
