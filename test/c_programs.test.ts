/**
 * C programs with main(argc, argv) (issue 17, item 3): the words after `--` are argv on every
 * node; node 0's stdout and stderr are the command's, the other nodes' lines go to stderr
 * prefixed with the node; node 0's exit status is the result and the exit code.
 *
 * Needs Debian's clang 14 toolchain for wasm; without it every test says SKIPPED, and fails
 * under CI=true.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ABI_VERSION, computeLayout, decodeMetadata, MetadataError } from "../src/abi.js";
import { runCluster } from "../src/cluster/cluster.js";
import { runJob } from "../src/cluster/run_job.js";
import { parseRunArguments } from "../src/runtime/kernel_module.js";
import { kernel, ROOT } from "./helpers/kernels.js";
import { tempDir } from "./helpers/temp_dir.js";

const PROGRAM = "test/kernels/c/args_program.c";
const INSTALL = "apt-get install clang lld wasi-libc libclang-rt-dev-wasm32";
const SUM_64 = "337.130655"; // sum of sqrt(i) for i < 64, as printf %.6f prints it
const dir = tempDir("dsm-cprog-");

function toolchain(test: string): boolean {
  if (spawnSync("clang", ["--version"]).status === 0) return true;
  if (process.env.CI === "true") assert.unreachable(`the C toolchain is required in CI (${INSTALL})`);
  process.stderr.write(`SKIPPED (C toolchain not installed: ${INSTALL}): ${test}\n`);
  return false;
}

const DSM = join(ROOT, "bin/dsm.js");
function dsm(args: string[]) {
  const r = spawnSync(process.execPath, [DSM, ...args], { encoding: "utf8", timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const Program = suite("C programs with main(argc, argv)");
Program("the build records main as the entry and passes the words after -- through as argv", async () => {
  if (!toolchain("C program build")) return;
  const { instrumented, reference } = await kernel(PROGRAM);
  assert.is(instrumented.meta.entry, "main");
  assert.equal(instrumented.meta.run, { params: [], result: "i32" });
  assert.ok(WebAssembly.Module.exports(instrumented.module).some((e) => e.name === "_start"));
  assert.is(reference.meta.entry, "main");
  assert.equal(parseRunArguments(instrumented.meta, ["-n", "8", "x y"]), ["-n", "8", "x y"]);
});
for (const [nodes, protocol] of [[1, "diff"], [2, "ivy"], [4, "lrc"]] as const) {
  Program(`node 0's exit status is the result on ${nodes} node(s) with ${protocol}; the other nodes' statuses are not`, async () => {
    if (!toolchain(`C program on ${nodes} nodes`)) return;
    const { instrumented } = await kernel(PROGRAM);
    const job =
      nodes === 1
        ? await runJob(instrumented, ["-s", "9"], { nodes, protocol, transport: "local", faultTimeoutMs: 10_000 })
        : await runCluster(instrumented, ["-s", "9"], { nodes, protocol });
    assert.is(job.result, 9);
  });
}
Program("dsm run: node 0's stdout is the command's, other nodes' output is prefixed on stderr, the status is the exit code", () => {
  if (!toolchain("dsm run with a C program")) return;
  const out = join(dir, "prog.wasm");
  assert.is(dsm(["build", join(ROOT, PROGRAM), "-o", out]).code, 0);
  const r = dsm(["run", out, "--nodes", "2", "--", "-s", "4", "one", "two words"]);
  assert.is(r.code, 4, r.err);
  assert.is(r.out, `args_program: n=64 sum=${SUM_64} [one] [two words]\n`);
  const lines = r.err.trim().split("\n").sort();
  assert.equal(lines, ["[node 1] args_program: n=64 sum=" + SUM_64 + " [one] [two words]", "[node 1] node 1 of 2 done", "node 0 of 2 done"]);
});
Program("dsm run --json prints the job after the program's output; a bad option is the program's own exit status", () => {
  if (!toolchain("dsm run --json with a C program")) return;
  const r = dsm(["run", join(dir, "prog.wasm"), "--json", "--", "-n", "4"]);
  assert.is(r.code, 0, r.err);
  const [line, json] = r.out.trim().split("\n");
  assert.is(line, "args_program: n=4 sum=4.146264");
  assert.is(JSON.parse(json).result, 0);
  const bad = dsm(["run", join(dir, "prog.wasm"), "--", "-x"]);
  assert.is(bad.code, 2);
  assert.is(bad.err, "args_program: unrecognized option: x\n");
});
Program("a file defining both run and main is refused, naming both", async () => {
  if (!toolchain("C file with run and main")) return;
  const both = join(dir, "both.c");
  writeFileSync(both, "int run(int n) { return n; }\nint main(void) { return 0; }\n");
  const { buildKernel } = await import("../src/instrument/build.js");
  try {
    await buildKernel(both);
    assert.unreachable("the build should fail");
  } catch (error) {
    assert.is((error as Error).name, "CompileError");
    assert.is((error as Error).message, `kernel ${both}: defines both run (in ${both}) and main (in ${both}); keep run for a kernel or main for a program`);
  }
});
Program("a module whose metadata names another entry is refused at load", () => {
  const meta = { abi: ABI_VERSION, instrumented: true, layout: computeLayout(), run: { params: [], result: "i32" }, kernel: "x.c", entry: "start" };
  assert.throws(
    () => decodeMetadata(new TextEncoder().encode(JSON.stringify(meta)), "x.wasm"),
    (error: Error) => error instanceof MetadataError && error.message === `x.wasm: entry "start" in the "wasm-dsm" section is neither "run" nor "main"; rebuild it with dsm build`,
  );
});
Program.run();
