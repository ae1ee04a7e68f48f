/**
 * Which compiler a kernel source goes to, by its file name alone. Kept apart from the compilers
 * (compile.ts, compile_c.ts, parmacs_m4.ts), which load Binaryen and AssemblyScript: the command
 * line asks this of every kernel it is given, and `dsm run` or `dsm node` on a built module
 * should not pay for loading them.
 */
import { extname } from "node:path";

export const C_EXTENSIONS = [".c"] as const;
export const CXX_EXTENSIONS = [".cc", ".cpp", ".cxx"] as const;
/** C with the PARMACS macros, expanded by m4 first (parmacs_m4.ts). */
export const PARMACS_EXTENSION = ".c.in";

export function isParmacsSource(path: string): boolean {
  return path.toLowerCase().endsWith(PARMACS_EXTENSION);
}

/** A C or C++ source file, by its extension; `.c.in` is C with the PARMACS macros (parmacs_m4.ts). */
export function isCSource(path: string): boolean {
  if (isParmacsSource(path)) return true;
  const ext = extname(path).toLowerCase();
  return (C_EXTENSIONS as readonly string[]).includes(ext) || (CXX_EXTENSIONS as readonly string[]).includes(ext);
}
