/**
 * The module contract for modules from other compilers (src/instrument/module_contract.ts):
 * `dsm build module.wasm` instruments a hand-written module that keeps it, which then runs on
 * two nodes, and refuses one that breaks a rule with a ModuleContractError naming the rule and
 * the fix (messages pinned). The AssemblyScript and C builds keep the contract too.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import binaryen from "binaryen";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { computeLayout } from "../src/abi.js";
import { runCluster } from "../src/cluster/cluster.js";
import { buildKernel } from "../src/instrument/build.js";
import { checkModuleContract, ModuleContractError } from "../src/instrument/module_contract.js";
import { loadKernelModule } from "../src/runtime/kernel_module.js";
import { kernel, ROOT } from "./helpers/kernels.js";

const layout = computeLayout();
const MAX = layout.maximumPages;
const dir = mkdtempSync(join(tmpdir(), "dsm-contract-"));

/** WAT to module bytes, with the features the runtime accepts. */
function wasm(wat: string, features = 0): Uint8Array {
  let module: binaryen.Module;
  try {
    module = binaryen.parseText(wat);
  } catch (error) {
    // binaryen throws plain objects
    throw new Error(`bad WAT: ${(error as { message?: string }).message ?? String(error)}`);
  }
  try {
    module.setFeatures(binaryen.Features.MVP | binaryen.Features.Atomics | binaryen.Features.BulkMemory | binaryen.Features.MutableGlobals | binaryen.Features.SignExt | features);
    return module.emitBinary();
  } finally {
    module.dispose();
  }
}

const MEMORY = `(import "env" "memory" (memory 17 ${MAX} shared))`;
const API = `
  (import "dsm" "nodeId" (func $nodeId (result i32)))
  (import "dsm" "nodeCount" (func $nodeCount (result i32)))
  (import "dsm" "barrier" (func $barrier))
  (import "dsm" "regionBase" (func $regionBase (result i32)))
  (import "dsm" "allocated" (func $allocated (param i32 i32)))`;
/** Node 0 stores 3n in a shared page; after a barrier every node reads it: run(n) = 3n + nodes. */
const RUN = `
  (func (export "run") (param $n i32) (result i32)
    (local $a i32)
    (local.set $a (call $regionBase))
    (call $allocated (local.get $a) (i32.const 4096))
    (if (i32.eqz (call $nodeId)) (then (i32.store (local.get $a) (i32.mul (local.get $n) (i32.const 3)))))
    (call $barrier)
    (i32.add (i32.load (local.get $a)) (call $nodeCount)))`;
const GOOD = `(module ${MEMORY} ${API} (data (i32.const ${layout.memoryBase}) "private") ${RUN})`;

function contractError(bytes: Uint8Array): string {
  try {
    checkModuleContract(bytes, layout, "m.wasm");
  } catch (error) {
    assert.instance(error, ModuleContractError);
    return (error as Error).message;
  }
  throw assert.unreachable("the module should break the contract");
}

const Rules = suite("a module that breaks the contract is refused, naming the rule and the fix");
const RULES: [string, string, string][] = [
  [
    "memory not imported",
    `(module (memory 17 ${MAX} shared) (func (export "run") (result i32) (i32.const 0)))`,
    `m.wasm: defines its own memory; import it instead, as "env.memory" (wasm-ld: --import-memory --shared-memory --max-memory=${MAX * 65536})`,
  ],
  ["memory imported under another name", `(module (import "env" "mem" (memory 17 ${MAX} shared)) ${API} ${RUN})`, `m.wasm: imports its memory as "env.mem"; import it as "env.memory"`],
  ["memory not shared", `(module (import "env" "memory" (memory 17 ${MAX})) ${API} ${RUN})`, `m.wasm: imports a memory that is not shared; declare it shared (wasm-ld: --shared-memory, with the atomics and bulk-memory features)`],
  [
    "memory maximum too small",
    `(module (import "env" "memory" (memory 17 100 shared)) ${API} ${RUN})`,
    `m.wasm: declares a memory maximum of 100 pages, below the layout's ${MAX} (${MAX * 65536} bytes); link with --max-memory=${MAX * 65536}, or build with a smaller --max-memory`,
  ],
  [
    "static data below the private base",
    `(module ${MEMORY} ${API} (data (i32.const 1024) "x") ${RUN})`,
    `m.wasm: data segment 0 starts at 1024, below the private base ${layout.memoryBase} (control words, protection table and shared region lie below it); place static data, stack and heap at or above it (wasm-ld: --global-base=${layout.memoryBase}, without --stack-first)`,
  ],
  [
    "an import from another module",
    `(module ${MEMORY} ${API} (import "env" "printf" (func (param i32 i32) (result i32))) ${RUN})`,
    `m.wasm: imports function "printf" from module "env"; wasm-dsm provides module "dsm" (nodeId, nodeCount, barrier, lock, unlock, now, regionBase, regionBytes, pageSize, allocated) and "wasi_snapshot_preview1"; import from those only`,
  ],
  [
    "an import dsm does not provide",
    `(module ${MEMORY} ${API} (import "dsm" "toString" (func)) ${RUN})`,
    `m.wasm: imports "dsm.toString", which wasm-dsm does not provide; import only nodeId, nodeCount, barrier, lock, unlock, now, regionBase, regionBytes, pageSize, allocated from "dsm"`,
  ],
  ["a dsm import with the wrong signature", `(module ${MEMORY} ${API} (import "dsm" "lock" (func (param f64))) ${RUN})`, `m.wasm: imports "dsm.lock" as (f64) -> none; declare it (i32) -> none`],
  ["an instrumentation hook imported", `(module ${MEMORY} ${API} (import "dsm" "__fault" (func (param i32 i32 i32))) ${RUN})`, `m.wasm: imports "dsm.__fault", which the instrumentation adds; give dsm build the uninstrumented module`],
  [
    "neither run nor _start exported",
    `(module ${MEMORY} (func (export "main") (result i32) (i32.const 0)))`,
    `m.wasm: exports no function "run" or "_start"; export run with numeric parameters and result (e.g. run(i32, i32) -> f64), or _start for a program with main`,
  ],
  [
    "run with a parameter that is not a number",
    `(module ${MEMORY} (func (export "run") (param externref) (result i32) (i32.const 0)))`,
    `m.wasm: exports run as (non-numeric) -> i32; run may take only i32, i64, f32 and f64 and return one of them or nothing`,
  ],
  ["run exported as something else", `(module ${MEMORY} (global (export "run") i32 (i32.const 0)))`, `m.wasm: export "run" is not a function; export a function under that name`],
  ["a table imported", `(module ${MEMORY} ${API} (import "env" "table" (table 1 funcref)) ${RUN})`, `m.wasm: imports table "env.table"; import only functions from "dsm" and "wasi_snapshot_preview1", and the memory "env.memory"`],
];
for (const [rule, wat, message] of RULES) {
  Rules(`${rule}`, () => {
    assert.is(contractError(wasm(wat, binaryen.Features.ReferenceTypes)), message);
  });
}
Rules("bytes that are not a module", () => {
  assert.is(contractError(new Uint8Array([0, 97, 115, 109, 2, 0, 0, 0])), `m.wasm: not a valid WebAssembly module; check that the compiler wrote a .wasm file (threads, bulk memory and sign extension are the features allowed)`);
});
Rules.run();

const Good = suite("a module that keeps the contract");
Good("is instrumented by dsm build and runs on two nodes, sharing a page", async () => {
  const file = join(dir, "good.wasm");
  writeFileSync(file, wasm(GOOD));
  const built = await buildKernel(file);
  assert.equal(built.meta.run, { params: ["i32"], result: "i32" });
  assert.is(built.meta.kernel, "good.wasm");
  const job = await runCluster(loadKernelModule(built.instrumented, file), [14], { nodes: 2, protocol: "ivy" });
  assert.is(job.result, 44);
  assert.ok(job.stats.messages > 0);
});
Good("the AssemblyScript and C builds keep it (a C toolchain permitting)", async () => {
  assert.equal(checkModuleContract((await kernel("assembly/kernels/jacobi.ts")).reference.bytes, layout, "jacobi.ts").run, { params: ["i32", "i32"], result: "f64" });
  try {
    const c = await kernel("assembly/kernels/c/matmul.c");
    assert.is(checkModuleContract(c.reference.bytes, layout, "matmul.c").entry, "run");
  } catch (error) {
    if ((error as Error).name !== "CompilerNotFoundError" || process.env.CI === "true") throw error;
    process.stderr.write("SKIPPED (C toolchain not installed): the C build keeps the module contract\n");
  }
});
Good.run();

const DSM = join(ROOT, "bin/dsm.js");
function dsm(...args: string[]) {
  const r = spawnSync(process.execPath, [DSM, ...args], { encoding: "utf8", timeout: 60_000 });
  return { code: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
}

const Cli = suite("dsm build module.wasm");
Cli("writes module.dsm.wasm and its reference beside the module, which dsm run runs", () => {
  const file = join(dir, "cli.wasm");
  writeFileSync(file, wasm(GOOD));
  const build = dsm("build", file);
  assert.is(build.code, 0, build.err);
  assert.ok(existsSync(join(dir, "cli.dsm.wasm")) && existsSync(join(dir, "cli.dsm.ref.wasm")));
  const run = dsm("run", join(dir, "cli.dsm.wasm"), "--nodes", "2", "--json", "--", "5");
  assert.is(run.code, 0, run.err);
  assert.is(JSON.parse(run.out).result, 17);
  const again = dsm("build", join(dir, "cli.dsm.wasm"), "-o", join(dir, "twice.wasm"));
  assert.is(again.err, `dsm: ModuleContractError: ${join(dir, "cli.dsm.wasm")}: was built by dsm build already; run it with dsm run, or give dsm build the module your compiler wrote`);
  assert.is(dsm("build", file, "-o", file).err, `dsm: UsageError: --out "${file}": would overwrite the module it is built from; choose another path`);
});
Cli("a module that breaks the contract fails the build with exit code 1, naming the rule", () => {
  const file = join(dir, "bad.wasm");
  writeFileSync(file, wasm(`(module (import "env" "memory" (memory 17 ${MAX})) ${API} ${RUN})`));
  const r = dsm("build", file);
  assert.is(r.code, 1);
  assert.is(r.err, `dsm: ModuleContractError: ${file}: imports a memory that is not shared; declare it shared (wasm-ld: --shared-memory, with the atomics and bulk-memory features)`);
  assert.is(dsm("build", file, join(dir, "other.wasm")).err, `dsm: UsageError: kernel "${file}": a WebAssembly module is built alone, got 2 files; link it first`);
});
Cli.after(() => rmSync(dir, { recursive: true, force: true }));
Cli.run();
