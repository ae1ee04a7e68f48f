/**
 * Compiles an AssemblyScript kernel with the AssemblyScript compiler's programmatic API, laid out
 * for wasm-dsm: imported shared memory with a declared maximum, everything of AssemblyScript's
 * above `layout.memoryBase`, and the start function exported (as `_start`) so the runtime runs it
 * after the protection table is ready.
 *
 * `import … from "wasm-dsm"` resolves for a kernel anywhere on disk: asc asks for
 * `node_modules/wasm-dsm/index.ts` (relative to the importing file); the readFile hook answers
 * with this package's `assembly/index.ts`.
 */
import { readFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import asc from "assemblyscript/dist/asc.js";
import type { Layout } from "../abi.js";
import { PACKAGE_ROOT } from "./package_root.js";

export class CompileError extends Error {
  override name = "CompileError";
}

const API_DIR = join(PACKAGE_ROOT, "assembly");

export interface CompileOptions {
  /** asc optimisation level. @default 3 */
  optimizeLevel?: number;
  /**
   * Told of every file the compiler asked for, with its text, or null when it is missing (asc
   * probes several names for an import): what the module depends on, for build_cache.ts.
   */
  read?: (path: string, text: string | null) => void;
}

/** Compiles `sourcePath` and returns the uninstrumented module bytes. */
export async function compileKernel(sourcePath: string, layout: Layout, options: CompileOptions = {}): Promise<Uint8Array> {
  const absolute = resolve(sourcePath);
  let text: string;
  try {
    text = readFileSync(absolute, "utf8");
    options.read?.(absolute, text);
  } catch (cause) {
    throw new CompileError(`kernel ${sourcePath}: cannot read it (${(cause as NodeJS.ErrnoException).code ?? cause}); check the path`, { cause });
  }
  const dir = dirname(absolute);
  const entry = basename(absolute);
  let output: Uint8Array | undefined;
  const diagnostics: string[] = [];
  const sink = { write: (chunk: string | Uint8Array) => (diagnostics.push(String(chunk)), true) };
  const argv = [
    entry,
    "--outFile", "kernel.wasm",
    `-O${options.optimizeLevel ?? 3}`,
    "--runtime", "incremental",
    "--importMemory",
    "--sharedMemory",
    "--initialMemory", String(layout.initialPages),
    "--maximumMemory", String(layout.maximumPages),
    "--memoryBase", String(layout.memoryBase),
    "--enable", "threads,simd,bulk-memory",
    "--exportStart", "_start",
    "--exportRuntime",
    "--noColors",
  ];
  const { error } = await asc.main(argv, {
    readFile(name: string, baseDir: string) {
      const normal = name.replace(/\\/g, "/");
      const api = normal.match(/(?:^|\/)node_modules\/wasm-dsm\/(.+\.ts)$/);
      if (normal === entry && baseDir === ".") return text;
      const path = api ? join(API_DIR, api[1]) : resolve(dir, baseDir, name);
      const found = readOrNull(path);
      options.read?.(path, found);
      return found;
    },
    writeFile(name: string, contents: Uint8Array | string) {
      if (name.endsWith(".wasm") && typeof contents !== "string") output = contents;
    },
    listFiles() {
      return [];
    },
    stdout: sink,
    stderr: sink,
  });
  if (error || !output) {
    const detail = diagnostics.join("").trim() || String(error);
    throw new CompileError(`kernel ${sourcePath} failed to compile:\n${detail}`);
  }
  return output;
}

function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}
