/**
 * The build cache (src/instrument/build_cache.ts): a kernel is built once and reused while every
 * file its build read has the same bytes; an edited import or header, a file that appears where the
 * compiler looked for one, other options, all build again; a cache that cannot be written is only
 * a slower run. And `dsm run` on a source picks up an edit of a file the kernel imports.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { buildKernel, type BuildOptions } from "../src/instrument/build.js";
import { buildCacheDir, cachedBuild, DEFAULT_BUILD_CACHE_DIR, inputsSince } from "../src/instrument/build_cache.js";
import { dependencies } from "../src/instrument/compile_c.js";
import { PARMACS_M4 } from "../src/instrument/parmacs_m4.js";
import { ROOT } from "./helpers/kernels.js";
import { tempDir } from "./helpers/temp_dir.js";

const dir = tempDir("dsm-build-cache-");
const DSM = join(ROOT, "bin/dsm.js");
const INSTALL = "apt-get install clang lld wasi-libc libclang-rt-dev-wasm32";

/** Writes `text` to `path` dated a minute ago: a C build keeps nothing whose input changed just before it started. */
function writeOld(path: string, text: string): void {
  writeFileSync(path, text);
  const then = new Date(Date.now() - 60_000);
  utimesSync(path, then, then);
}

/** A build through the cache in `cache` that counts the builds it had to make. */
function counted(cache: string | undefined) {
  let builds = 0;
  const build = (source: string, options: BuildOptions = {}) =>
    cachedBuild(
      source,
      options,
      () => {
        builds++;
        return buildKernel(source, options);
      },
      cache,
    );
  return { build, builds: () => builds };
}

function kernelWithImport(name: string, scale: number): string {
  const at = join(dir, name);
  mkdirSync(at, { recursive: true });
  writeFileSync(join(at, "kernel.ts"), `import { SCALE } from "./scale";\nexport function run(n: i32): i32 { return n * SCALE; }\n`);
  writeFileSync(join(at, "scale.ts"), `export const SCALE: i32 = ${scale};\n`);
  return join(at, "kernel.ts");
}

/** run(n) of a built module, instantiated without the DSM (the kernel touches no shared memory). */
function runOf(bytes: Uint8Array, n: number): number {
  const memory = new WebAssembly.Memory({ initial: 1100, maximum: 4096, shared: true });
  const imports = new Proxy({}, { get: () => new Proxy({}, { get: (_t, name) => (name === "memory" ? memory : () => 0) }) });
  const { exports } = new WebAssembly.Instance(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>), imports as WebAssembly.Imports);
  return (exports.run as (n: number) => number)(n);
}

const Cache = suite("build cache");

Cache("a kernel is built once, then found with the same bytes while its files are unchanged", async () => {
  const source = kernelWithImport("same", 3);
  const { build, builds } = counted(join(dir, "cache-same"));
  const first = await build(source);
  const second = await build(source);
  assert.equal([first.cached, second.cached, builds()], [false, true, 1]);
  assert.equal(second.instrumented, first.instrumented);
  assert.equal(second.reference, first.reference);
  assert.equal(second.meta, first.meta);
  assert.is(runOf(second.reference, 5), 15);
});

Cache("an edited import, another option, or a file appearing where the compiler looked, builds again", async () => {
  const source = kernelWithImport("edited", 3);
  const { build, builds } = counted(join(dir, "cache-edited"));
  await build(source);
  writeFileSync(join(dir, "edited", "scale.ts"), `export const SCALE: i32 = 7;\n`);
  const edited = await build(source);
  assert.equal([edited.cached, builds(), runOf(edited.reference, 5)], [false, 2, 35]);
  const other = await build(source, { pageSize: 8192 });
  assert.equal([other.cached, builds(), other.meta.layout.pageSize], [false, 3, 8192]);
  // asc looked for an asconfig.json beside the kernel and found none: one there is a new input.
  assert.ok(
    edited.inputs!.some((i) => i.path === join(dir, "edited", "asconfig.json") && i.sha === null),
    `inputs: ${edited.inputs!.map((i) => i.path).join(", ")}`,
  );
  writeFileSync(join(dir, "edited", "asconfig.json"), "{}\n");
  const probed = await build(source);
  assert.equal([probed.cached, builds()], [false, 4]);
  assert.equal([(await build(source)).cached, builds()], [true, 4]);
});

Cache("a cache that cannot be written builds every time, without an error", async () => {
  const blocked = join(dir, "not-a-directory");
  writeFileSync(blocked, "a file where the cache directory would be\n");
  const source = kernelWithImport("blocked", 2);
  const { build, builds } = counted(blocked);
  const runs = [await build(source), await build(source)];
  assert.equal([runs.map((r) => r.cached), builds()], [[false, false], 2]);
  const off = counted(undefined);
  await off.build(source);
  await off.build(source);
  assert.is(off.builds(), 2);
});

Cache("DSM_BUILD_CACHE names the directory, or turns the cache off", () => {
  assert.is(buildCacheDir({}), DEFAULT_BUILD_CACHE_DIR);
  assert.is(buildCacheDir({ DSM_BUILD_CACHE: "off" }), undefined);
  assert.is(buildCacheDir({ DSM_BUILD_CACHE: "0" }), undefined);
  assert.is(buildCacheDir({ DSM_BUILD_CACHE: "/tmp/builds" }), "/tmp/builds");
});

Cache("inputs changed after the build started make a build that is not kept; clang's make rules are read whole", () => {
  const file = join(dir, "input.h");
  writeFileSync(file, "#define N 1\n");
  const before = statSync(file).mtimeMs;
  assert.equal(inputsSince([file, join(dir, "missing.h")], before + 1)?.map((i) => [i.path, i.sha === null]), [
    [file, false],
    [join(dir, "missing.h"), true],
  ]);
  utimesSync(file, new Date(), new Date(Date.now() + 10_000));
  assert.is(inputsSince([file], Date.now()), undefined);
  assert.equal(dependencies("/tmp/a.o: /src/k.c /usr/include/stdint.h \\\n  /src/with\\ space.h \\\n  /src/last.h\n"), ["/src/k.c", "/usr/include/stdint.h", "/src/with space.h", "/src/last.h"]);
});

Cache("a C kernel builds again when a header it includes is edited", async () => {
  if (spawnSync("clang", ["--version"]).status !== 0) {
    if (process.env.CI === "true") assert.unreachable(`the C toolchain is required in CI (${INSTALL})`);
    process.stderr.write(`SKIPPED (C toolchain not installed: ${INSTALL}): C kernel and its header\n`);
    return;
  }
  const at = join(dir, "c");
  mkdirSync(at, { recursive: true });
  writeOld(join(at, "scale.h"), "#define SCALE 4\n");
  writeOld(join(at, "kernel.c"), `#include "scale.h"\nint run(int n) { return n * SCALE; }\n`);
  const { build, builds } = counted(join(dir, "cache-c"));
  const first = await build(join(at, "kernel.c"));
  assert.equal([(await build(join(at, "kernel.c"))).cached, builds()], [true, 1]);
  assert.ok(first.inputs!.some((i) => i.path === join(at, "scale.h")), "the header is an input");
  writeOld(join(at, "scale.h"), "#define SCALE 9\n");
  const edited = await build(join(at, "kernel.c"));
  assert.equal([edited.cached, builds()], [false, 2]);
  assert.equal([(await build(join(at, "kernel.c"))).cached, builds()], [true, 2]);
  // A header dated after the build started (edited while clang read it) makes a build not kept.
  writeFileSync(join(at, "scale.h"), "#define SCALE 5\n");
  const later = new Date(Date.now() + 60_000);
  utimesSync(join(at, "scale.h"), later, later);
  assert.equal([(await build(join(at, "kernel.c"))).cached, (await build(join(at, "kernel.c"))).cached, builds()], [false, false, 4]);
});

Cache("a PARMACS program's inputs are its source, the header templates beside it and the macros; an edited template builds again", async () => {
  if (spawnSync("clang", ["--version"]).status !== 0 || spawnSync("m4", ["--version"]).status !== 0) {
    if (process.env.CI === "true") assert.unreachable(`the C toolchain and m4 are required in CI (${INSTALL} m4)`);
    process.stderr.write(`SKIPPED (C toolchain or m4 not installed: ${INSTALL} m4): PARMACS program\n`);
    return;
  }
  const at = join(dir, "parmacs");
  mkdirSync(at, { recursive: true });
  for (const name of ["psum.c.in", "psum.h.in"]) writeOld(join(at, name), readFileSync(join(ROOT, "test/kernels/c/parmacs", name), "utf8"));
  const { build, builds } = counted(join(dir, "cache-parmacs"));
  const first = await build(join(at, "psum.c.in"));
  const paths = first.inputs!.map((i) => i.path);
  for (const input of [join(at, "psum.c.in"), join(at, "psum.h.in"), PARMACS_M4]) assert.ok(paths.includes(input), `${input} among ${paths.join(", ")}`);
  assert.ok(!paths.some((p) => p.startsWith(tmpdir()) && p.includes("dsm-cc-")), "no file m4 wrote is an input");
  assert.equal([(await build(join(at, "psum.c.in"))).cached, builds()], [true, 1]);
  writeOld(join(at, "psum.h.in"), `${readFileSync(join(at, "psum.h.in"), "utf8")}/* edited */\n`);
  assert.equal([(await build(join(at, "psum.c.in"))).cached, builds()], [false, 2]);
});

Cache("dsm run on a source uses the cache and picks up an edit of a file the kernel imports", () => {
  const source = kernelWithImport("cli", 3);
  const env = { ...process.env, DSM_BUILD_CACHE: join(dir, "cache-cli") };
  const run = () => {
    const r = spawnSync(process.execPath, [DSM, "run", source, "--json", "--", "5"], { encoding: "utf8", timeout: 120_000, env });
    assert.is(r.status, 0, r.stderr);
    return JSON.parse(r.stdout).result as number;
  };
  assert.equal([run(), run()], [15, 15]);
  writeFileSync(join(dir, "cli", "scale.ts"), `export const SCALE: i32 = 11;\n`);
  assert.is(run(), 55);
});

Cache.run();
