import { suite } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { writeFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ABI_VERSION, computeLayout, encodeMetadata } from "../src/abi.js";
import { withCustomSection } from "../src/instrument/custom_section.js";
import { parseSize } from "../src/cli/options.js";
import { BUILD_HELP } from "../src/cli/build_command.js";
import { buildKernel } from "../src/instrument/build.js";
import { CHECK_OPTIMIZATIONS } from "../src/instrument/instrument.js";
import { ROOT } from "./helpers/kernels.js";
import { tempDir } from "./helpers/temp_dir.js";

const DSM = join(ROOT, "bin/dsm.js");

function dsm(...args: string[]) {
  const r = spawnSync(process.execPath, [DSM, ...args], { encoding: "utf8", timeout: 60_000 });
  return { code: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
}

const dir = tempDir("dsm-cli-");
// A kernel far from this repository: "wasm-dsm" must still resolve.
const KERNEL = join(dir, "sum.ts");
writeFileSync(
  KERNEL,
  `import { nodeId, sharedAlloc, barrier } from "wasm-dsm";
export function run(n: i32, scale: f64): f64 {
  const a = sharedAlloc(<usize>n * 8);
  for (let i = 0; i < n; i++) store<f64>(a + (<usize>i << 3), <f64>i * scale);
  barrier();
  let s: f64 = 0;
  for (let i = 0; i < n; i++) s += load<f64>(a + (<usize>i << 3));
  return nodeId() == 0 ? s : 0;
}
`,
);

const Cli = suite("dsm command line");

Cli("build writes the instrumented and reference modules for a kernel outside the repository", () => {
  const r = dsm("build", KERNEL, "-o", join(dir, "sum.wasm"));
  assert.is(r.code, 0, r.err);
  assert.ok(r.out.startsWith(`wrote ${join(dir, "sum.wasm")}`), r.out);
  assert.ok(readFileSync(join(dir, "sum.ref.wasm")).length > 0);
});

Cli("build --no-opt turns off the named check optimisations and refuses unknown names, listing them", async () => {
  const all = dsm("build", KERNEL, "-o", join(dir, "sum-noopt.wasm"), "--no-opt", "all");
  assert.is(all.code, 0, all.err);
  const unoptimised = await buildKernel(KERNEL, { optimizeChecks: false });
  assert.equal(new Uint8Array(readFileSync(join(dir, "sum-noopt.wasm"))), unoptimised.instrumented);
  const some = dsm("build", KERNEL, "-o", join(dir, "sum-some.wasm"), "--no-opt", "versioning, groups");
  assert.is(some.code, 0, some.err);
  const without = await buildKernel(KERNEL, { optimizations: { versioning: false, groups: false } });
  assert.equal(new Uint8Array(readFileSync(join(dir, "sum-some.wasm"))), without.instrumented);
  assert.not.equal(without.instrumented, unoptimised.instrumented);
  const bad = dsm("build", KERNEL, "--no-opt", "fast");
  assert.is(bad.code, 2);
  assert.match(bad.err, `--no-opt "fast": unknown; use one of ${CHECK_OPTIMIZATIONS.join(", ")}, all`);
  for (const name of CHECK_OPTIMIZATIONS) assert.ok(BUILD_HELP.replace(/\s+/g, " ").includes(name), `dsm build --help names ${name}`);
});

Cli("run --json on one node returns the exact result and the documented fields", () => {
  const r = dsm("run", join(dir, "sum.wasm"), "--nodes", "1", "--json", "--", "1000", "0.5");
  assert.is(r.code, 0, r.err);
  const job = JSON.parse(r.out);
  assert.is(job.result, 0.5 * ((999 * 1000) / 2));
  assert.equal(Object.keys(job).sort(), ["instrumented", "kernel", "kernelMs", "nodes", "pageSize", "perNode", "protocol", "result", "stats", "transport", "wallMs"]);
  assert.is(job.nodes, 1);
  assert.is(job.pageSize, 4096);
  assert.ok(typeof job.kernelMs === "number" && job.kernelMs >= 0);
  for (const key of ["readFaults", "writeFaults", "messages", "bytes"]) assert.type(job.stats[key], "number");
  assert.is(job.perNode.length, 1);
});

Cli("run --baseline on the .wasm uses the reference build next to it and agrees", () => {
  const r = dsm("run", join(dir, "sum.wasm"), "--baseline", "--json", "--", "1000", "0.5");
  assert.is(r.code, 0, r.err);
  const job = JSON.parse(r.out);
  assert.is(job.result, 249750);
  assert.is(job.instrumented, false);
});

Cli("run --baseline on the .ts source builds and runs the reference", () => {
  const r = dsm("run", KERNEL, "--baseline", "--json", "--", "10", "2");
  assert.is(r.code, 0, r.err);
  assert.is(JSON.parse(r.out).result, 90);
});

const bad: [string, string[], string][] = [
  ["an unknown command", ["frobnicate"], `dsm: UsageError: unknown command "frobnicate"; use build, run, node, bench or demo (dsm --help)`],
  ["zero nodes", ["run", "x.wasm", "--nodes", "0"], `dsm: UsageError: --nodes "0": expected a whole number from 1 to 64`],
  ["an unknown protocol", ["run", "x.wasm", "--protocol", "mesi"], `dsm: UsageError: --protocol "mesi": unknown; use one of migrate, ivy, diff, lrc, hlrc`],
  ["an unknown transport", ["run", "x.wasm", "--transport", "udp"], `dsm: UsageError: --transport "udp": unknown; use one of local, nats`],
  ["a missing kernel file", ["run", "missing.wasm"], `dsm: UsageError: kernel "missing.wasm": no such file`],
  ["a bad page size", ["build", "k.ts", "--page-size", "3000"], ""],
  ["a page size that is not a size", ["build", "k.ts", "--page-size", "big"], `dsm: UsageError: --page-size "big": expected a size in bytes such as 4096, 64K or 64M`],
];
for (const [what, args, message] of bad) {
  Cli(`rejects ${what} with a clear message`, () => {
    const r = dsm(...args);
    assert.is(r.code === 0, false);
    if (message) assert.is(r.err, message);
  });
}

Cli("rejects a page size that is not a power of two, naming the value", () => {
  const r = dsm("build", KERNEL, "--page-size", "3000");
  assert.is(r.code, 1);
  assert.is(r.err, "dsm: LayoutError: page size 3000: must be a power of two from 1024 to 65536 bytes (e.g. --page-size 4096)");
});

Cli("rejects the wrong number of kernel arguments, showing run's signature", () => {
  const r = dsm("run", join(dir, "sum.wasm"), "--", "10");
  assert.is(r.err, "dsm: KernelArgumentError: sum.ts: run(i32, f64) takes 2 argument(s), got 1; pass them after --, e.g. -- 10 1.5");
});

Cli("rejects a kernel argument of the wrong type", () => {
  const r = dsm("run", join(dir, "sum.wasm"), "--", "ten", "1");
  assert.is(r.err, `dsm: KernelArgumentError: argument 1 "ten": expected an integer (i32)`);
});

Cli("refuses a module without metadata and one built for another ABI", () => {
  const plain = join(dir, "plain.wasm");
  writeFileSync(plain, new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]));
  assert.is(dsm("run", plain).err, `dsm: KernelModuleError: ${plain}: no "wasm-dsm" metadata section; it was not built by dsm build (run: dsm build <kernel.ts|kernel.c|module.wasm>)`);
  const other = join(dir, "other.wasm");
  const meta = { abi: ABI_VERSION + 1, instrumented: true, layout: computeLayout(), run: { params: [], result: "none" }, kernel: "k.ts" } as const;
  writeFileSync(other, withCustomSection(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]), "wasm-dsm", encodeMetadata(meta as never)));
  assert.is(dsm("run", other).err, `dsm: KernelModuleError: ${other}: built for ABI version ${ABI_VERSION + 1}, this runtime speaks ${ABI_VERSION}; rebuild it with this version's dsm build`);
});

Cli("refuses a file that is not WebAssembly", () => {
  const junk = join(dir, "junk.wasm");
  writeFileSync(junk, "hello");
  assert.match(dsm("run", junk).err, `dsm: KernelModuleError: ${junk}: not a valid WebAssembly module`);
});

Cli("reports a kernel that fails to compile with the compiler's diagnostic", () => {
  const broken = join(dir, "broken.ts");
  writeFileSync(broken, "export function run(): i32 { return nope; }\n");
  const r = dsm("build", broken);
  assert.is(r.code, 1);
  assert.match(r.err, `dsm: CompileError: kernel ${broken} failed to compile:`);
  assert.match(r.err, "nope");
});

Cli("refuses a kernel without an exported run, saying what to add", () => {
  const norun = join(dir, "norun.ts");
  writeFileSync(norun, "export function main(): i32 { return 1; }\n");
  const r = dsm("build", norun);
  assert.is(r.code, 1);
  assert.is(r.err, `dsm: CompileError: kernel ${norun}: exports no function "run"; add: export function run(n: i32): f64 { ... }`);
});

Cli("parses sizes with binary units", () => {
  assert.is(parseSize("shared-size", "64M"), 64 * 1024 * 1024);
  assert.is(parseSize("page-size", "4k"), 4096);
  assert.is(parseSize("page-size", "1024"), 1024);
});

Cli.run();
