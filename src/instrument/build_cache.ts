/**
 * Builds of kernels kept on disk (node_modules/.cache/wasm-dsm-builds/ in this package), so that
 * `dsm run kernel.ts` and `dsm node kernel.c` build a kernel once and not at every run (3.5-4.5 s
 * each on 2 vCPUs), and `dsm bench` reuses them across runs.
 *
 * A build is found by a key over everything the bytes depend on besides the files they were made
 * from: the source paths, the build options, the ABI version, the compiler's version (asc's, or
 * clang's) and the compiled instrumentation (dist/src/instrument/, the ABI module). The entry keeps
 * the files the build read, each with the SHA-256 of its bytes, or null for a name the compiler
 * looked for and did not find (asc probes `x.ts`, then `x/index.ts`): an AssemblyScript import,
 * a C header (clang's -MD list, system headers included), a PARMACS program's templates and
 * macros. The entry is used only while every one of those files still has the same bytes, or
 * is still missing. A build whose C inputs changed while it ran is not kept.
 *
 * One file per key, written whole and renamed into place: a reader sees a complete entry or none.
 * A cache that cannot be read or written is only a slower run, never an error. DSM_BUILD_CACHE
 * names another directory, or turns the cache off with "off".
 */
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ABI_VERSION, type Metadata } from "../abi.js";
import type { BuildOptions, BuildOutput } from "./build.js";
import { PACKAGE_ROOT } from "./package_root.js";
import { isCSource } from "./source_kinds.js";

/** A file a build read: its absolute path and the SHA-256 of its bytes, or null when it was missing. */
export interface BuildInput {
  path: string;
  sha: string | null;
}

export const DEFAULT_BUILD_CACHE_DIR = join(PACKAGE_ROOT, "node_modules/.cache/wasm-dsm-builds");
/** The compiled instrumentation and compilers' drivers (dist/src/instrument/) and the ABI module. */
const PASS_DIR = fileURLToPath(new URL("./", import.meta.url));
const ABI_MODULE = fileURLToPath(new URL("../abi.js", import.meta.url));
/** First bytes of an entry file; a file without them is not an entry. */
const MAGIC = "wasm-dsm build 1\n";

/** The cache directory DSM_BUILD_CACHE names: unset for the default, "off" (or "0") for none. */
export function buildCacheDir(env: Record<string, string | undefined> = process.env): string | undefined {
  const setting = env.DSM_BUILD_CACHE?.trim();
  if (setting === undefined || setting === "") return DEFAULT_BUILD_CACHE_DIR;
  if (setting === "off" || setting === "0") return undefined;
  return resolve(setting);
}

/** SHA-256 of a file's bytes, or null when it cannot be read. */
export function fileSha(path: string): string | null {
  try {
    return sha(readFileSync(path));
  } catch {
    return null;
  }
}

export function sha(bytes: Uint8Array | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * The build of `sources` with `options`: from `dir` (buildCacheDir()) when an entry's inputs are
 * all unchanged, else from `make`, kept in `dir` when it says what it read. No `dir`: always `make`.
 */
export async function cachedBuild(
  sources: string | readonly string[],
  options: BuildOptions,
  make: () => Promise<BuildOutput>,
  dir: string | undefined,
): Promise<BuildOutput & { cached: boolean }> {
  if (!dir) return { ...(await make()), cached: false };
  const list = (typeof sources === "string" ? [sources] : [...sources]).map((s) => resolve(s));
  const key = keyOf(list, options);
  const found = readEntry(join(dir, `${key}.build`));
  if (found) return { ...found, cached: true };
  const built = await make();
  if (built.inputs) writeEntry(dir, key, built);
  return { ...built, cached: false };
}

function keyOf(sources: readonly string[], options: BuildOptions): string {
  const hash = createHash("sha256");
  hash.update(JSON.stringify([ABI_VERSION, sources, options]));
  hash.update(sources.some(isCSource) ? clangVersion() : ascVersion());
  for (const name of readdirSync(PASS_DIR).filter((f) => f.endsWith(".js")).sort()) hash.update(name).update(readFileSync(join(PASS_DIR, name)));
  hash.update(readFileSync(ABI_MODULE));
  return hash.digest("hex").slice(0, 32);
}

function ascVersion(): string {
  try {
    const path = createRequire(import.meta.url).resolve("assemblyscript/package.json");
    return (JSON.parse(readFileSync(path, "utf8")) as { version: string }).version;
  } catch {
    return "no asc";
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

/**
 * An entry file: MAGIC, then a JSON line (metadata and inputs), then the instrumented and the
 * reference module, each after its length as a 4-byte little-endian number.
 */
function readEntry(path: string): BuildOutput | undefined {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    return undefined;
  }
  try {
    if (bytes.toString("latin1", 0, MAGIC.length) !== MAGIC) return undefined;
    const lineEnd = bytes.indexOf(10, MAGIC.length);
    const head = JSON.parse(bytes.toString("utf8", MAGIC.length, lineEnd)) as { meta: Metadata; inputs: BuildInput[] };
    for (const input of head.inputs) if (fileSha(input.path) !== input.sha) return undefined;
    let at = lineEnd + 1;
    const next = (): Uint8Array => {
      const length = bytes.readUInt32LE(at);
      const part = new Uint8Array(bytes.subarray(at + 4, at + 4 + length));
      if (part.byteLength !== length) throw new RangeError("truncated entry");
      at += 4 + length;
      return part;
    };
    const instrumented = next();
    const reference = next();
    return { instrumented, reference, meta: head.meta, inputs: head.inputs };
  } catch {
    return undefined;
  }
}

function writeEntry(dir: string, key: string, built: BuildOutput): void {
  try {
    mkdirSync(dir, { recursive: true });
    const head = Buffer.from(`${MAGIC}${JSON.stringify({ meta: built.meta, inputs: built.inputs })}\n`, "utf8");
    const length = (n: number) => {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(n);
      return b;
    };
    const partial = join(dir, `${key}.build.${process.pid}.tmp`);
    writeFileSync(partial, Buffer.concat([head, length(built.instrumented.byteLength), built.instrumented, length(built.reference.byteLength), built.reference]));
    renameSync(partial, join(dir, `${key}.build`));
  } catch {
    // Not writable (a read-only install): the next run builds again.
  }
}

/**
 * `paths` as build inputs, hashed now; undefined when one changed after `since` (a Date.now()
 * taken before the build read them), since the bytes the build read are then unknown.
 */
export function inputsSince(paths: Iterable<string>, since: number): BuildInput[] | undefined {
  const inputs: BuildInput[] = [];
  for (const path of paths) {
    let mtime: number;
    try {
      mtime = statSync(path).mtimeMs;
    } catch {
      inputs.push({ path, sha: null });
      continue;
    }
    if (mtime >= since) return undefined;
    inputs.push({ path, sha: fileSha(path) });
  }
  return inputs;
}
