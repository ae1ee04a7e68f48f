/**
 * SPLASH-2-style programs written with the ANL (PARMACS) macros: `dsm build prog.c.in` expands
 * the macros of parmacs/wasm-dsm.m4 with GNU m4, as SPLASH-2's makefiles do, and builds the
 * result as a C program; c/wasm_dsm_parmacs.c is the runtime the macros call.
 *
 *   dir/prog.c.in ──m4 -s -Ulen -Uindex wasm-dsm.m4──▶ tmp/0/prog.c ──clang -I dir──▶ ...
 *   dir/*.h.in    ──m4 ... ──────────────────────────▶ tmp/0/*.h   (found first by #include "x.h")
 *
 * `-s` makes m4 write #line directives, so clang's diagnostics name prog.c.in and its lines.
 * Not covered: .h.in files outside the source's own directory (expand them yourself, or put
 * them beside it); other m4 builtins than len and index keep their meaning in the source, as
 * they do for SPLASH-2's own builds.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { CompileError } from "./compile.js";
import { PACKAGE_ROOT } from "./package_root.js";
import { isParmacsSource, PARMACS_EXTENSION } from "./source_kinds.js";

/** The macro file the package ships. */
export const PARMACS_M4 = join(PACKAGE_ROOT, "parmacs", "wasm-dsm.m4");
/** Header templates beside a PARMACS program, expanded with it. */
export const PARMACS_HEADER_EXTENSION = ".h.in";

export { isParmacsSource, PARMACS_EXTENSION };

/** A source as clang compiles it: the expansion of a .c.in, with its own directory to search. */
export interface ExpandedSource {
  path: string;
  includeDirs: string[];
}

/**
 * Expands every `.c.in` of `sources` (and the `.h.in` files beside each) into `dir`; other
 * sources come back as they are. `missing` builds the error for an m4 that is not installed.
 */
export function expandParmacs(sources: readonly string[], dir: string, missing: (what: string) => Error): ExpandedSource[] {
  const expanded = new Map<string, string>();
  return sources.map((source) => {
    if (!isParmacsSource(source)) return { path: source, includeDirs: [] };
    const from = dirname(resolve(source));
    let into = expanded.get(from);
    if (into === undefined) {
      into = join(dir, `m4-${expanded.size}`);
      mkdirSync(into);
      expanded.set(from, into);
      for (const header of readdirSync(from).filter((name) => name.endsWith(PARMACS_HEADER_EXTENSION))) {
        writeFileSync(join(into, header.slice(0, -3)), m4(join(from, header), missing));
      }
    }
    const path = join(into, basename(source).slice(0, -3));
    writeFileSync(path, m4(source, missing));
    return { path, includeDirs: [from] };
  });
}

function m4(file: string, missing: (what: string) => Error): string {
  const result = spawnSync("m4", ["-s", "-Ulen", "-Uindex", PARMACS_M4, file], { encoding: "utf8", maxBuffer: 256 << 20 });
  if (result.error) {
    if ((result.error as NodeJS.ErrnoException).code === "ENOENT") throw missing("m4 not found on PATH");
    throw new CompileError(`kernel ${file}: cannot run m4 (${result.error.message})`, { cause: result.error });
  }
  if (result.status !== 0) throw new CompileError(`kernel ${file}: m4 failed to expand the PARMACS macros:\n${result.stderr.trim()}`);
  return result.stdout;
}
