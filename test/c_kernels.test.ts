/**
 * C and C++ kernels (src/instrument/compile_c.ts, c/wasm_dsm.h): the C Jacobi, matmul, radix sort and FFT equal
 * their AssemblyScript twins on 1, 2 and 4 nodes under every protocol and under chaos mode; the build
 * has the module contract of an AssemblyScript build and passes the static checker; errors name
 * the file and line, or the packages to install. Every C build is made once.
 *
 * Needs Debian's clang 14 toolchain for wasm (apt-get install clang lld wasi-libc
 * libclang-rt-dev-wasm32); without it every test says SKIPPED, and fails under CI=true.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { runCluster } from "../src/cluster/cluster.js";
import { runJob } from "../src/cluster/run_job.js";
import { buildKernel } from "../src/instrument/build.js";
import { CompileError } from "../src/instrument/compile.js";
import { CompilerNotFoundError } from "../src/instrument/compile_c.js";
import { assertChecked } from "../src/instrument/verify_checks.js";
import { UNWIND_EXPORTS } from "../src/instrument/unwind.js";
import { GLOBAL_EXPORT_PREFIX } from "../src/abi.js";
import type { KernelModule } from "../src/runtime/kernel_module.js";
import { runChaosJob } from "./helpers/chaos_job.js";
import { kernel, ROOT } from "./helpers/kernels.js";
import { tempDir } from "./helpers/temp_dir.js";

const C_JACOBI = "assembly/kernels/c/jacobi.c";
const AS_JACOBI = "assembly/kernels/jacobi.ts";
const ARGS = [40, 6];
const PROTOCOLS = ["migrate", "ivy", "diff", "lrc", "hlrc"];
const INSTALL = "apt-get install clang lld wasi-libc libclang-rt-dev-wasm32";

const dir = tempDir("dsm-c-");

/** The built C Jacobi, or null (and SKIPPED) where the toolchain is missing outside CI. */
let built: Promise<{ instrumented: KernelModule; reference: KernelModule } | null> | undefined;
function cJacobi() {
  built ??= kernel(C_JACOBI).catch((error: Error) => {
    if (error.name !== "CompilerNotFoundError" || process.env.CI === "true") throw error;
    return null;
  });
  return built;
}
function skipped(test: string): boolean {
  process.stderr.write(`SKIPPED (C toolchain not installed: ${INSTALL}): ${test}\n`);
  return true;
}

/** Each C kernel beside its AssemblyScript twin, the arguments, and the checksum both give. */
const TWINS = [
  { c: C_JACOBI, as: AS_JACOBI, args: ARGS, checksum: 14742.4443359375 },
  { c: "assembly/kernels/c/matmul.c", as: "assembly/kernels/matmul.ts", args: [37], checksum: 2564.5 },
  // An i64 result past 2^53 comes back as its decimal string.
  { c: "assembly/kernels/c/intsort.c", as: "assembly/kernels/intsort.ts", args: [4096, 20, 7], checksum: "1558523018044967986" },
  // Floating point bit for bit: the same operations in the same order as the AssemblyScript FFT.
  { c: "assembly/kernels/c/fft2d.c", as: "assembly/kernels/fft2d.ts", args: [6], checksum: -13976.33009141655 },
];

const twinResults = new Map<string, unknown>();
async function assemblyScriptResult(file: string, args: number[]) {
  if (!twinResults.has(file)) twinResults.set(file, (await runJob((await kernel(file)).reference, args, { nodes: 1, protocol: "none", transport: "local", faultTimeoutMs: 10_000 })).result);
  return twinResults.get(file);
}
async function cKernel(file: string) {
  if (file === C_JACOBI) return cJacobi();
  if (!(await cJacobi())) return null; // no toolchain: skip without building again
  return kernel(file);
}

const Twin = suite("C kernels equal their AssemblyScript twins");
for (const t of TWINS) {
  const name = t.c.split("/").pop();
  Twin(`${name}: the uninstrumented C build gives the AssemblyScript checksum`, async () => {
    const c = await cKernel(t.c);
    if (!c && skipped(`${name} reference`)) return;
    const job = await runJob(c!.reference, t.args, { nodes: 1, protocol: "none", transport: "local", faultTimeoutMs: 10_000 });
    assert.is(job.result, await assemblyScriptResult(t.as, t.args));
    assert.is(job.result, t.checksum);
  });
  for (const protocol of PROTOCOLS) {
    for (const nodes of [1, 2, 4]) {
      Twin(`${name} on ${nodes} node(s) with ${protocol} over the embedded transport`, async () => {
        const c = await cKernel(t.c);
        if (!c && skipped(`${name} on ${nodes} nodes with ${protocol}`)) return;
        const job =
          nodes === 1
            ? await runJob(c!.instrumented, t.args, { nodes, protocol, transport: "local", faultTimeoutMs: 10_000 })
            : await runCluster(c!.instrumented, t.args, { nodes, protocol });
        assert.is(job.result, t.checksum);
        if (nodes > 1) assert.ok(job.stats.messages > 0, "a multi-node run sends messages");
      });
    }
  }
  Twin(`${name} under chaos mode (pages taken at every park, private ones too) on 1 and 2 nodes`, async () => {
    const c = await cKernel(t.c);
    if (!c && skipped(`${name} under chaos`)) return;
    for (const nodes of [1, 2]) {
      const { job, chaos } = await runChaosJob(c!.instrumented, t.args, { nodes, protocol: "diff", seed: 7 });
      assert.is(job.result, t.checksum);
      assert.ok(chaos.taken > 0, "chaos took pages away");
    }
  });
}
Twin.run();

const Contract = suite("a C build has the module contract of an AssemblyScript build");
Contract("imports only env.memory and module dsm, exports _start and run(i32, i32): f64, and passes the static checker", async () => {
  const c = await cJacobi();
  if (!c && skipped("C module contract")) return;
  const { module, meta, bytes } = c!.instrumented;
  const imports = WebAssembly.Module.imports(module).map((i) => `${i.module}.${i.name}`);
  assert.equal(imports.filter((i) => !i.startsWith("dsm.")), ["env.memory"]);
  assert.ok(imports.includes("dsm.__fault") && imports.includes("dsm.barrier"), imports.join(" "));
  const exports = WebAssembly.Module.exports(module).map((e) => e.name);
  // Besides _start and run: what checkpoints need (instrument/unwind.ts), the C stack pointer among the globals.
  assert.equal(exports.filter((e) => !(UNWIND_EXPORTS as readonly string[]).includes(e) && !e.startsWith(GLOBAL_EXPORT_PREFIX)).sort(), ["_start", "run"]);
  assert.ok(UNWIND_EXPORTS.every((e) => exports.includes(e)), exports.join(" "));
  assert.ok(exports.some((e) => e.startsWith(GLOBAL_EXPORT_PREFIX)), exports.join(" "));
  assert.equal(meta.run, { params: ["i32", "i32"], result: "f64" });
  assert.is(meta.kernel, "jacobi.c");
  assert.is(meta.instrumented, true);
  assert.not.throws(() => assertChecked(bytes, meta.layout, C_JACOBI));
  assert.is(c!.reference.meta.instrumented, false);
  assert.equal(c!.reference.meta.layout, meta.layout);
});
Contract.run();

// Kernels outside the repository: the header must be found without -I.
const CXX = join(dir, "scale.cpp");
writeFileSync(
  CXX,
  `#include <wasm_dsm.h>
#include <stdlib.h>
// C++, no extern "C": dsm build finds run under its mangled name.
static double twice(double x) { return 2 * x; }
double run(long long n, float scale) {
  double *a = static_cast<double *>(dsm_shared_alloc(n * sizeof(double)));
  double *mine = static_cast<double *>(malloc(n * sizeof(double)));  // private heap
  for (long long i = dsm_node_id(); i < n; i += dsm_node_count()) a[i] = twice(i) * scale;
  dsm_barrier();
  double s = 0;
  for (long long i = 0; i < n; i++) mine[i] = a[i];
  for (long long i = 0; i < n; i++) s += mine[i];
  free(mine);
  return dsm_node_id() == 0 ? s : 0;
}
`,
);

const Sources = suite("C and C++ sources anywhere on disk");
Sources("a C++ kernel outside the repository includes wasm_dsm.h without -I and exports run(i64, f32): f64", async () => {
  try {
    const out = await buildKernel(CXX);
    assert.equal(out.meta.run, { params: ["i64", "f32"], result: "f64" });
    const { loadKernelModule } = await import("../src/runtime/kernel_module.js");
    const job = await runCluster(loadKernelModule(out.instrumented, CXX), [100n, 0.5], { nodes: 2, protocol: "ivy" });
    assert.is(job.result, 4950); // sum of 2 * i * 0.5 for i < 100
  } catch (error) {
    if (!(error instanceof CompilerNotFoundError) || process.env.CI === "true") throw error;
    skipped("C++ kernel outside the repository");
  }
});
Sources("a C file that does not compile fails with the compiler's message naming file and line", async () => {
  const bad = join(dir, "bad.c");
  writeFileSync(bad, `#include <wasm_dsm.h>\ndouble run(int n) {\n  return n + undefined_name;\n}\n`);
  try {
    await buildKernel(bad);
    assert.unreachable("the build should fail");
  } catch (error) {
    if (error instanceof CompilerNotFoundError && process.env.CI !== "true" && skipped("bad C file")) return;
    assert.instance(error, CompileError);
    assert.match((error as Error).message, `kernel ${bad} failed to compile:`);
    assert.match((error as Error).message, `${bad}:3:14: error: use of undeclared identifier 'undefined_name'`);
  }
});
Sources("a C kernel without run is refused, naming the file and the fix", async () => {
  const none = join(dir, "norun.c");
  writeFileSync(none, `int other(int n) { return n; }\n`);
  try {
    await buildKernel(none);
    assert.unreachable("the build should fail");
  } catch (error) {
    if (error instanceof CompilerNotFoundError && process.env.CI !== "true" && skipped("C kernel without run")) return;
    assert.instance(error, CompileError);
    assert.is((error as Error).message, `kernel ${none}: defines no function run or main; add one, e.g. double run(int n, int iters) { ... } or int main(int argc, char **argv) { ... }`);
  }
});
Sources("a missing compiler is a CompilerNotFoundError naming the packages to install", async () => {
  try {
    await buildKernel(join(ROOT, C_JACOBI), { clang: join(dir, "no-such-clang") });
    assert.unreachable("the build should fail");
  } catch (error) {
    assert.instance(error, CompilerNotFoundError);
    assert.is((error as Error).message, `${join(dir, "no-such-clang")} not found; C and C++ kernels need Debian's clang 14 toolchain for wasm: install it (${INSTALL})`);
  }
});
Sources.run();

const DSM = join(ROOT, "bin/dsm.js");
function dsm(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const r = spawnSync(process.execPath, [DSM, ...args], { encoding: "utf8", timeout: 60_000, env });
  return { code: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
}
function toolchain(): boolean {
  if (spawnSync("clang", ["--version"]).status === 0) return true;
  if (process.env.CI === "true") assert.unreachable(`the C toolchain is required in CI (${INSTALL})`);
  return !skipped("dsm build with C sources");
}

const Cli = suite("dsm build and dsm run with C sources");
Cli("dsm build a.c b.c -o k.wasm writes both modules, and dsm run runs them and the source", () => {
  if (!toolchain()) return;
  writeFileSync(join(dir, "a.c"), `#include <wasm_dsm.h>\nint helper(int);\nint run(int n) { return dsm_node_id() == 0 ? helper(n) : 0; }\n`);
  writeFileSync(join(dir, "b.c"), `int helper(int n) { return n * HELPER_SCALE; }\n`);
  const out = join(dir, "k.wasm");
  // binaryen's wasm-opt on PATH (as under npm test) must not touch the module: clang 14 runs it
  // when the link command has -O.
  const env = { ...process.env, PATH: `${join(ROOT, "node_modules/.bin")}:${process.env.PATH}` };
  const build = dsm(["build", join(dir, "a.c"), join(dir, "b.c"), "-o", out, "--cflags", "-DHELPER_SCALE=3 -O1"], env);
  assert.is(build.code, 0, build.err);
  assert.ok(build.out.startsWith(`wrote ${out} (`), build.out);
  assert.ok(readFileSync(join(dir, "k.ref.wasm")).length > 0);
  const run = dsm(["run", out, "--nodes", "2", "--json", "--", "14"]);
  assert.is(run.code, 0, run.err);
  assert.is(JSON.parse(run.out).result, 42);
  const source = dsm(["run", join(ROOT, C_JACOBI), "--nodes", "2", "--protocol", "lrc", "--json", "--", ...ARGS.map(String)]);
  assert.is(source.code, 0, source.err);
  assert.is(JSON.parse(source.out).kernel, "jacobi.c");
});
Cli("without clang on PATH, dsm build says which packages to install", () => {
  const env = { ...process.env, PATH: join(dir, "empty-path") };
  const r = dsm(["build", join(ROOT, C_JACOBI), "-o", join(dir, "nope.wasm")], env);
  assert.is(r.code, 1);
  assert.match(r.err, `CompilerNotFoundError: clang not found on PATH (looked for clang-14 and clang); C and C++ kernels need Debian's clang 14 toolchain for wasm: install it (${INSTALL})`);
});
Cli("dsm build refuses to mix AssemblyScript with C, and --cflags for AssemblyScript", () => {
  const mixed = dsm(["build", join(ROOT, AS_JACOBI), join(ROOT, C_JACOBI)]);
  assert.is(mixed.code, 2);
  assert.match(mixed.err, `kernel "${join(ROOT, AS_JACOBI)}": an AssemblyScript kernel is built alone, got 2 files`);
  const flags = dsm(["build", join(ROOT, AS_JACOBI), "--cflags", "-O3"]);
  assert.is(flags.code, 2);
  assert.match(flags.err, `--cflags applies to C/C++ sources; ${join(ROOT, AS_JACOBI)} is AssemblyScript`);
  const other = dsm(["build", join(dirname(DSM), "dsm.js")]);
  assert.is(other.code, 2);
  assert.match(other.err, `kernel "${join(dirname(DSM), "dsm.js")}": expected an AssemblyScript file (.ts), C/C++ files (.c, .cc, .cpp, .cxx), PARMACS programs (.c.in) or a WebAssembly module (.wasm)`);
});
Cli.run();

const PROBE = "test/kernels/c/wasi_probe.c";
const Wasi = suite("what a C kernel's libc may do inside run");
async function probe(what: number, nodes = 2) {
  const { instrumented } = await kernel(PROBE);
  return runCluster(instrumented, [what], { nodes, protocol: "diff" });
}
async function probeFails(what: number): Promise<Error> {
  try {
    await probe(what);
  } catch (error) {
    return error as Error;
  }
  throw assert.unreachable(`probe ${what} should fail`);
}
Wasi("fopen fails without stopping the kernel, and the clocks work", async () => {
  if (!(await cJacobi()) && skipped("C kernel WASI calls")) return;
  assert.is((await probe(1)).result, 1);
  assert.is((await probe(2)).result, 1);
});
Wasi("exit() inside run is a KernelExitError naming the node and the status", async () => {
  if (!(await cJacobi()) && skipped("C kernel exit")) return;
  const error = await probeFails(3);
  assert.is(error.name, "KernelExitError");
  assert.match(error.message, /node [01]: the kernel called exit\(3\) inside run; return from run instead/);
});
Wasi("a shared allocation past the region is a SharedRegionExhaustedError naming the size and the fix", async () => {
  if (!(await cJacobi()) && skipped("C kernel shared region exhausted")) return;
  const error = await probeFails(4);
  assert.is(error.name, "SharedRegionExhaustedError");
  assert.match(error.message, /node [01]: sharedAlloc\(1073741824\) does not fit in what is left of the 67108864-byte shared region; rebuild with a larger --shared-size/);
});
Wasi("a WASI call the host does not provide is an UnsupportedWasiCallError naming it", async () => {
  if (!(await cJacobi()) && skipped("C kernel unsupported WASI call")) return;
  const error = await probeFails(5);
  assert.is(error.name, "UnsupportedWasiCallError");
  assert.match(error.message, /node [01]: the kernel called WASI function poll_oneoff, which wasm-dsm does not provide/);
});
Wasi("dsm run: output goes to stderr, other nodes' lines prefixed with the node; stdout has the result", () => {
  if (!toolchain()) return;
  const out = join(dir, "probe.wasm");
  assert.is(dsm(["build", join(ROOT, PROBE), "-o", out]).code, 0);
  const r = dsm(["run", out, "--nodes", "2", "--json", "--", "0"]);
  assert.is(r.code, 0, r.err);
  assert.is(JSON.parse(r.out).result, 7);
  const lines = r.err.split("\n").sort();
  assert.ok(lines.includes("hello from node 0 of 2"), r.err);
  assert.ok(lines.includes("[node 1] hello from node 1 of 2"), r.err);
  assert.ok(lines.includes("[node 1] unfinished 1"), r.err);
  assert.ok(lines.includes("unfinished 0"), r.err);
});
Wasi.run();
