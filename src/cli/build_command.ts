import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import type { BuildOptions } from "../instrument/build.js";
import { CHECK_OPTIMIZATIONS, type CheckOptimization } from "../instrument/check_optimizations.js";
import { isCSource } from "../instrument/source_kinds.js";
import { parseChoice, parseSize, parseCommandLine, UsageError } from "./options.js";

export const BUILD_HELP = `usage: dsm build <kernel.ts> [-o out.wasm] [options]
       dsm build <kernel.c|.cc|.cpp> [more.c ...] [-o out.wasm] [--cflags "..."] [options]
       dsm build <prog.c.in> [more.c.in ...] [-o out.wasm] [options]
       dsm build <module.wasm> [-o out.wasm] [options]

Compiles an AssemblyScript kernel, or C/C++ sources (clang 14 for wasm32-wasi, -O2; the
header wasm_dsm.h is found without -I), or takes a module from any other compiler that
keeps the module contract (imports from module "dsm", a shared env.memory, data above
the private base, an exported run or _start: see the README), instruments every memory
access, and writes
  out.wasm       the instrumented module (for dsm run)
  out.ref.wasm   the uninstrumented reference build (for dsm run --baseline)

options:
  -o, --out FILE        output path (default: the first source's name with .wasm;
                        module.dsm.wasm for module.wasm)
  --cflags "FLAGS"      more clang flags for C/C++ sources, e.g. --cflags "-O3 -DN=64"
  --page-size N         DSM page size, a power of two from 1K to 64K (default 4K)
  --shared-size N       bytes of shared region for sharedAlloc (default 64M)
  --max-memory N        declared maximum memory of a node (default 256M)
  --no-polls            no poll points at loop headers (a node in a long loop then
                        answers other nodes only when it faults or syncs)
  --no-opt LIST         turn off check optimisations to measure them (every access
                        stays checked), any of:
                        ${wrap(CHECK_OPTIMIZATIONS.join(", ") + "; or all", 62, "                        ")}

A .c.in source is a SPLASH-2-style program with the ANL (PARMACS) macros: m4 expands it
with parmacs/wasm-dsm.m4 (and the .h.in files beside it) before clang compiles it.`;

/** `text` broken at spaces into lines of at most `width` characters, continued after `indent`. */
export function wrap(text: string, width: number, indent: string): string {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && (line + " " + word).length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  lines.push(line);
  return lines.join(`\n${indent}`);
}

export const LAYOUT_OPTIONS = {
  "page-size": { type: "string" },
  "shared-size": { type: "string" },
  "max-memory": { type: "string" },
  "no-polls": { type: "boolean" },
  "no-opt": { type: "string" },
  cflags: { type: "string" },
} as const;

/** Reads the layout and instrumentation options shared by build and run. */
export function buildOptionsFrom(values: Record<string, string | boolean | undefined>): BuildOptions {
  const options: BuildOptions = {};
  if (typeof values["page-size"] === "string") options.pageSize = parseSize("page-size", values["page-size"]);
  if (typeof values["shared-size"] === "string") options.regionBytes = parseSize("shared-size", values["shared-size"]);
  if (typeof values["max-memory"] === "string") options.maxMemoryBytes = parseSize("max-memory", values["max-memory"]);
  if (values["no-polls"]) options.polls = false;
  if (typeof values["no-opt"] === "string") Object.assign(options, parseNoOpt(values["no-opt"]));
  if (typeof values.cflags === "string") options.cflags = parseCflags(values.cflags);
  return options;
}

/** `--cflags "-O3 -DN=64"`: words split at spaces (no shell quoting; one flag per word). */
function parseCflags(text: string): string[] {
  return text.split(/\s+/).filter(Boolean);
}

const SOURCE_KINDS = "an AssemblyScript file (.ts), C/C++ files (.c, .cc, .cpp, .cxx), PARMACS programs (.c.in) or a WebAssembly module (.wasm)";

/** Checks the sources of a build: one .ts, any number of C/C++ files, or one .wasm. */
export function checkSources(sources: readonly string[], cflags: boolean): void {
  if (sources.length === 0) throw new UsageError(`build takes ${SOURCE_KINDS}, got none; e.g. dsm build kernel.ts -o kernel.wasm`);
  const bad = sources.find((s) => !s.endsWith(".ts") && !isCSource(s) && !s.endsWith(".wasm"));
  if (bad !== undefined) throw new UsageError(`kernel "${bad}": expected ${SOURCE_KINDS}`);
  const wasm = sources.filter((s) => s.endsWith(".wasm"));
  if (wasm.length > 0 && sources.length > 1) throw new UsageError(`kernel "${wasm[0]}": a WebAssembly module is built alone, got ${sources.length} files; link it first`);
  if (wasm.length > 0 && cflags) throw new UsageError(`--cflags applies to C/C++ sources; ${wasm[0]} is a WebAssembly module`);
  const ts = sources.filter((s) => s.endsWith(".ts"));
  if (ts.length > 0 && sources.length > 1) {
    throw new UsageError(`kernel "${ts[0]}": an AssemblyScript kernel is built alone, got ${sources.length} files; pass only ${ts[0]} (its imports are found from it)`);
  }
  if (ts.length > 0 && cflags) throw new UsageError(`--cflags applies to C/C++ sources; ${ts[0]} is AssemblyScript`);
}

/** `--no-opt groups,versioning` or `--no-opt all`: the optimisations to turn off. */
function parseNoOpt(text: string): Pick<BuildOptions, "optimizeChecks" | "optimizations"> {
  const names = text.split(",").map((name) => name.trim());
  if (names.includes("all")) return { optimizeChecks: false };
  const optimizations: Partial<Record<CheckOptimization, boolean>> = {};
  for (const name of names) optimizations[parseChoice("no-opt", name, [...CHECK_OPTIMIZATIONS, "all"] as const) as CheckOptimization] = false;
  return { optimizations };
}

export async function buildCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv);
  if (values.help) {
    console.log(BUILD_HELP);
    return 0;
  }
  checkSources(positionals, values.cflags !== undefined);
  const out = (values.out as string | undefined) ?? defaultOut(positionals[0]);
  if (!out.endsWith(".wasm")) throw new UsageError(`--out "${out}": expected a path ending in .wasm`);
  if (resolve(out) === resolve(positionals[0]) || resolve(referencePath(out)) === resolve(positionals[0])) {
    throw new UsageError(`--out "${out}": would overwrite the module it is built from; choose another path`);
  }
  // Binaryen and the compilers load only when something is built (source_kinds.ts).
  const { buildKernel } = await import("../instrument/build.js");
  const built = await buildKernel(positionals, buildOptionsFrom(values));
  const ref = referencePath(out);
  writeFileSync(out, built.instrumented);
  writeFileSync(ref, built.reference);
  console.log(`wrote ${out} (${built.instrumented.length} bytes, instrumented) and ${ref} (${built.reference.length} bytes, reference); page size ${built.meta.layout.pageSize}, shared region ${built.meta.layout.regionBytes} bytes`);
  return 0;
}

/** `kernel.ts` → `kernel.wasm`; a module is not overwritten: `module.wasm` → `module.dsm.wasm`. */
function defaultOut(source: string): string {
  return source.endsWith(".wasm") ? source.replace(/\.wasm$/, ".dsm.wasm") : source.replace(/\.c\.in$/i, ".c").replace(/\.[^./]+$/, ".wasm");
}

/** Where the uninstrumented reference build of `out.wasm` lives. */
export function referencePath(wasmPath: string): string {
  return wasmPath.replace(/\.wasm$/, ".ref.wasm");
}

function parse(argv: string[]) {
  return parseCommandLine("build", argv, { out: { type: "string", short: "o" }, help: { type: "boolean", short: "h" }, ...LAYOUT_OPTIONS });
}
