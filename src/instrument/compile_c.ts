/**
 * Compiles C and C++ kernels with Debian's clang 14, lld 14 and wasi-libc, laid out for wasm-dsm
 * exactly as compile.ts lays out AssemblyScript: imported shared memory `env.memory` with the
 * layout's maximum; static data, the C stack and the malloc heap above `layout.memoryBase`
 * (`--global-base`), so they are private to each node; the kernel API imported from module
 * "dsm" (c/wasm_dsm.h); `_start` (c/wasm_dsm.c) runs the static constructors before `run`.
 *
 *   kernel.c ──clang -c──▶ kernel.o ─┐
 *   c/wasm_dsm.c ──clang -c──▶ .o ───┴─ wasm-ld (libc, --export=run) ──▶ plain module
 *
 * Each source is compiled on its own first, so a diagnostic names its file and line before
 * linking starts, and so the defined symbols of each object tell which one is `run`: a C++
 * `run` has a mangled name (`_Z3runii`), which is exported and then renamed "run" (no
 * extern "C" needed).
 *
 * Debian's wasi-libc is built without atomics; `--shared-memory` needs them, hence
 * `--no-check-features`: one node's kernel is one thread in its memory, so a libc without
 * atomics is fine (DESIGN.md, "Measured").
 *
 * A program defines main instead of run (a WASI command): it is linked with wasi-libc's `_start`,
 * which runs main(argc, argv) and passes its status to proc_exit (Metadata.entry "main").
 *
 * A `.c.in` source is a SPLASH-2-style program: parmacs_m4.ts expands its ANL macros first. A
 * program whose objects call the PARMACS runtime (functions named dsm_parmacs_*) is linked with
 * c/wasm_dsm_parmacs.c, whose constructor sets up the fork model before main.
 *
 * Not covered: the C++ standard library (Debian ships no libc++ for wasm32: C++ kernels use the
 * C library and the language only), exceptions, threads inside a node.
 */
import binaryen from "binaryen";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, extname, join, resolve } from "node:path";
import { WASM_PAGE, type Layout } from "../abi.js";
import { CompileError } from "./compile.js";
import { definedFunctionSymbols, importedFunctionNames } from "./object_symbols.js";
import { PACKAGE_ROOT } from "./package_root.js";
import { expandParmacs, isParmacsSource, PARMACS_EXTENSION, PARMACS_HEADER_EXTENSION, PARMACS_M4 } from "./parmacs_m4.js";
import { CXX_EXTENSIONS } from "./source_kinds.js";

/** The Debian packages that make up the toolchain, for messages and .ci/run. */
export const C_TOOLCHAIN_PACKAGES = ["clang", "lld", "wasi-libc", "libclang-rt-dev-wasm32"] as const;
const INSTALL = `apt-get install ${C_TOOLCHAIN_PACKAGES.join(" ")}`;

/** Where c/wasm_dsm.h and c/wasm_dsm.c live in this package. */
export const C_API_DIR = join(PACKAGE_ROOT, "c");

export { C_EXTENSIONS, CXX_EXTENSIONS, isCSource } from "./source_kinds.js";

/** The compiler or a part of the toolchain (linker, libc, runtime library) is not installed. */
export class CompilerNotFoundError extends Error {
  override name = "CompilerNotFoundError";
}

export interface CCompileOptions {
  /** Extra compiler flags, e.g. `["-O3", "-DN=64"]` (after the defaults, so they win). */
  cflags?: string[];
  /**
   * The clang to run: a name on PATH or a path. @default "clang-14" when on PATH, else "clang"
   */
  clang?: string;
}

/** Bytes of C stack per node (wasm-ld's default, 64 KiB, is small for C programs). */
export const C_STACK_BYTES = 1 << 20;

/** What compileC made: the module, what the runtime calls, and the memory it needs. */
export interface CBuild {
  wasm: Uint8Array;
  /** `run`: exports run (named "run"); `main`: a program whose `_start` runs main. */
  entry: "run" | "main";
  /** At least the layout's, more when static data and stack need it. */
  initialPages: number;
  /**
   * Every file the module was made from (absolute paths): the sources, the headers clang read
   * (its -MD lists), a PARMACS program's macro inputs. For build_cache.ts.
   */
  inputs: string[];
}

/** Compiles and links `sources` (C or C++) into the uninstrumented module. */
export function compileC(sources: readonly string[], layout: Layout, options: CCompileOptions = {}): CBuild {
  for (const source of sources) {
    if (!existsSync(source)) throw new CompileError(`kernel ${source}: cannot read it (no such file); check the path`);
  }
  const clang = findClang(options.clang);
  const dir = mkdtempSync(join(tmpdir(), "dsm-cc-"));
  const inputs = new Set<string>(parmacsInputs(sources));
  try {
    const compile = (source: string, i: number, extra: string[] = []) => {
      const object = join(dir, `${i}-${basename(source)}.o`);
      const deps = `${object}.d`;
      run(clang, [...compileFlags(source), ...extra, ...(options.cflags ?? []), "-MD", "-MF", deps, "-c", source, "-o", object], sources);
      // What m4 wrote into the temporary directory is made from the inputs above.
      for (const path of dependencies(readFileSync(deps, "utf8"))) if (!resolve(path).startsWith(dir)) inputs.add(resolve(path));
      return object;
    };
    const expanded = expandParmacs(sources, dir, missingM4);
    const objects = expanded.map((source, i) => compile(source.path, i, source.includeDirs.flatMap((d) => ["-I", d])));
    const entry = findEntry(objects, sources);
    const api = compile(join(C_API_DIR, "wasm_dsm.c"), sources.length, entry.kind === "main" ? ["-DDSM_PROGRAM"] : []);
    if (callsParmacs(objects)) objects.push(compile(join(C_API_DIR, "wasm_dsm_parmacs.c"), sources.length + 1));
    const out = join(dir, "kernel.wasm");
    // No -O when linking: with one, clang 14 runs any wasm-opt it finds on PATH over the linked
    // module (npm puts binaryen's there), and the plain module must be clang's own.
    const linkCflags = (options.cflags ?? []).filter((flag) => !/^-O/.test(flag));
    run(clang, [...TARGET, ...linkCflags, ...objects, api, "-o", out, ...linkFlags(layout, entry)], sources);
    return { ...finish(readFileSync(out), entry, layout), inputs: [...inputs].sort() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The files a make rule from clang's -MD names after its target (paths with spaces are escaped). */
export function dependencies(rule: string): string[] {
  const body = rule.replace(/\\\r?\n/g, " ");
  const colon = body.search(/:(\s|$)/);
  if (colon < 0) return [];
  return body
    .slice(colon + 1)
    .split(/(?<!\\)\s+/)
    .filter(Boolean)
    .map((path) => path.replace(/\\ /g, " "));
}

/** A PARMACS program's inputs to m4: the program, every header template beside it, the macros. */
function parmacsInputs(sources: readonly string[]): string[] {
  const inputs: string[] = [];
  for (const source of sources) {
    if (!isParmacsSource(source)) continue;
    const from = dirname(resolve(source));
    inputs.push(resolve(source), PARMACS_M4);
    for (const name of readdirSync(from)) if (name.endsWith(PARMACS_HEADER_EXTENSION)) inputs.push(join(from, name));
  }
  return inputs;
}

const TARGET = ["--target=wasm32-wasi", "-fno-color-diagnostics"];

/** Whether an object calls the PARMACS runtime (c/wasm_dsm_parmacs.h). */
function callsParmacs(objects: readonly string[]): boolean {
  return objects.some((object) => importedFunctionNames(readFileSync(object)).some((name) => name.startsWith("dsm_parmacs_")));
}

function missingM4(what: string): CompilerNotFoundError {
  return new CompilerNotFoundError(`${what}; PARMACS programs (${PARMACS_EXTENSION}) need GNU m4 to expand their macros: install it (apt-get install m4)`);
}

/** wasi-libc's emulations that C benchmarks use: clock() and times(), getpid(). */
const EMULATED = [
  { define: "PROCESS_CLOCKS", lib: "wasi-emulated-process-clocks" },
  { define: "GETPID", lib: "wasi-emulated-getpid" },
];

function compileFlags(source: string): string[] {
  const cxx = (CXX_EXTENSIONS as readonly string[]).includes(extname(source).toLowerCase());
  // -matomics and -mbulk-memory: the instrumented module is a threads module over shared memory.
  return [...TARGET, "-O2", "-matomics", "-mbulk-memory", "-I", C_API_DIR, ...EMULATED.map((e) => `-D_WASI_EMULATED_${e.define}`), ...(cxx ? ["-x", "c++", "-fno-exceptions"] : ["-x", "c"])];
}

function linkFlags(layout: Layout, entry: Entry): string[] {
  return [
    ...(entry.kind === "run" ? ["-nostartfiles", "-Wl,--no-entry", `-Wl,--export=${entry.symbol}`] : []),
    "-Wl,--import-memory",
    "-Wl,--shared-memory",
    "-Wl,--no-check-features",
    `-Wl,--max-memory=${layout.maximumPages * WASM_PAGE}`,
    `-Wl,--global-base=${layout.memoryBase}`,
    `-Wl,-z,stack-size=${C_STACK_BYTES}`,
    "-Wl,--strip-debug",
    ...EMULATED.map((e) => `-l${e.lib}`),
  ];
}

type Entry = { kind: "run"; symbol: string } | { kind: "main" };

/** clang's names for main: `int main(int, char **)` and `int main(void)`. */
const MAIN_SYMBOLS = ["__main_argc_argv", "__original_main", "main"];

/**
 * `run` by its C name, or a C++ `run(...)` by its mangled name; else main. Refuses neither,
 * run twice, or both.
 */
function findEntry(objects: string[], sources: readonly string[]): Entry {
  const runs: { symbol: string; source: string }[] = [];
  let main: string | undefined;
  objects.forEach((object, i) => {
    for (const symbol of definedFunctionSymbols(readFileSync(object))) {
      if (symbol === "run" || /^_Z3run[A-Za-z]*$/.test(symbol)) runs.push({ symbol, source: sources[i] });
      if (MAIN_SYMBOLS.includes(symbol)) main ??= sources[i];
    }
  });
  const names = sources.join(", ");
  if (runs.length > 1) {
    throw new CompileError(`kernel ${names}: defines run more than once (${runs.map((f) => `${f.symbol} in ${f.source}`).join(", ")}); keep one`);
  }
  if (runs.length === 1 && main !== undefined) {
    throw new CompileError(`kernel ${names}: defines both run (in ${runs[0].source}) and main (in ${main}); keep run for a kernel or main for a program`);
  }
  if (runs.length === 1) return { kind: "run", symbol: runs[0].symbol };
  if (main !== undefined) return { kind: "main" };
  throw new CompileError(`kernel ${names}: defines no function run or main; add one, e.g. double run(int n, int iters) { ... } or int main(int argc, char **argv) { ... }`);
}

/** Renames a mangled `run` export and reads the memory the module declares. */
function finish(wasm: Uint8Array, entry: Entry, layout: Layout): Omit<CBuild, "inputs"> {
  const module = binaryen.readBinary(wasm);
  try {
    const initialPages = Math.max(layout.initialPages, module.getMemoryInfo().initial);
    if (entry.kind === "main") return { wasm, entry: "main", initialPages };
    const runSymbol = entry.symbol;
    if (runSymbol === "run") return { wasm, entry: "run", initialPages };
    const exp = binaryen.getExportInfo(module.getExport(runSymbol));
    module.removeExport(runSymbol);
    module.addFunctionExport(exp.value, "run");
    module.setFeatures(binaryen.Features.MVP | binaryen.Features.Atomics | binaryen.Features.BulkMemory | binaryen.Features.MutableGlobals | binaryen.Features.SignExt | binaryen.Features.NontrappingFPToInt | binaryen.Features.SIMD128);
    return { wasm: module.emitBinary(), entry: "run", initialPages };
  } finally {
    module.dispose();
  }
}

/** Runs clang; maps a missing toolchain part to CompilerNotFoundError and diagnostics to CompileError. */
function run(clang: string, args: string[], sources: readonly string[]): void {
  const result = spawnSync(clang, args, { encoding: "utf8" });
  if (result.error) {
    if ((result.error as NodeJS.ErrnoException).code === "ENOENT") throw missing(`${clang} not found`);
    throw new CompileError(`kernel ${sources.join(", ")}: cannot run ${clang} (${result.error.message})`, { cause: result.error });
  }
  if (result.status === 0) return;
  const diagnostics = `${result.stderr}${result.stdout}`.trim();
  const part = missingPart(diagnostics);
  if (part) throw missing(part);
  throw new CompileError(`kernel ${sources.join(", ")} failed to compile:\n${diagnostics}`);
}

/** What clang says when a toolchain package is missing, as a short reason. */
function missingPart(diagnostics: string): string | undefined {
  if (/"wasm-ld"|wasm-ld.*(not found|doesn't exist)/i.test(diagnostics)) return "wasm-ld (the wasm linker) not found";
  if (/unable to find library -lc\b|cannot open crt1|'(stdlib|stddef|stdint|string)\.h' file not found/.test(diagnostics)) return "wasi-libc (the C library for wasm32-wasi) not found";
  if (/libclang_rt\.builtins-wasm32|clang_rt/.test(diagnostics)) return "the compiler runtime library for wasm32 (libclang_rt.builtins-wasm32.a) not found";
  if (/unknown target|no available targets are compatible/i.test(diagnostics)) return "this clang cannot target wasm32";
  return undefined;
}

function missing(what: string): CompilerNotFoundError {
  return new CompilerNotFoundError(`${what}; C and C++ kernels need Debian's clang 14 toolchain for wasm: install it (${INSTALL})`);
}

/** The clang to run: the given one, else clang-14 or clang from PATH. */
function findClang(given: string | undefined): string {
  if (given) return given;
  for (const name of ["clang-14", "clang"]) {
    if (spawnSync(name, ["--version"], { encoding: "utf8" }).status === 0) return name;
  }
  throw missing("clang not found on PATH (looked for clang-14 and clang)");
}
