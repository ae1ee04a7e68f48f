/**
 * `dsm bench` with C kernels: --kernels and --languages select the C twins (jacobi.c) or a kernel
 * source by path; a tiny run of the C Jacobi has its own uninstrumented baseline and warm-up, every
 * row equal to the AssemblyScript Jacobi's pinned result, and the rows, tables and charts name C.
 *
 * The runs need Debian's clang 14 toolchain for wasm (apt-get install clang lld wasi-libc
 * libclang-rt-dev-wasm32); without it they say SKIPPED, and fail under CI=true.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { benchCommand } from "../src/cli/bench_command.js";
import { argsFor, planBench, QUICK_PRESET } from "../src/cli/bench/plan.js";
import { SILENT_PROGRESS } from "../src/cli/bench/progress.js";
import { C_BENCH_SUITE } from "../src/cli/bench/suite.js";
import { SUITE } from "./helpers/suite.js";

const INSTALL = "apt-get install clang lld wasi-libc libclang-rt-dev-wasm32";
function toolchain(test: string): boolean {
  if (spawnSync("clang", ["--version"]).status === 0) return true;
  if (process.env.CI === "true") assert.unreachable(`the C toolchain is required in CI (${INSTALL})`);
  process.stderr.write(`SKIPPED (C toolchain not installed: ${INSTALL}): ${test}\n`);
  return false;
}

const dir = mkdtempSync(join(tmpdir(), "dsm-bench-c-"));
const SCALE = join(dir, "scale.c");
writeFileSync(
  SCALE,
  `#include <wasm_dsm.h>
double run(int n) {
  double *a = dsm_shared_alloc(n * sizeof(double));
  for (int i = dsm_node_id(); i < n; i += dsm_node_count()) a[i] = i;
  dsm_barrier();
  double s = 0;
  for (int i = 0; i < n; i++) s += a[i];
  return dsm_node_id() == 0 ? s : 0;
}
`,
);

const Plan = suite("dsm bench: choosing C kernels");

Plan("--languages c selects every C twin; as,c puts each twin beside its AssemblyScript kernel", () => {
  assert.equal(planBench({ languages: "c" }, {}).kernels.map((k) => k.name), ["jacobi.c", "matmul.c", "intsort.c", "fft2d.c"]);
  const both = planBench({ kernels: "fft2d,jacobi", languages: "as,c" }, {}).kernels;
  assert.equal(both.map((k) => `${k.name} ${k.language} ${k.file}`), [
    "fft2d AssemblyScript assembly/kernels/fft2d.ts",
    "fft2d.c C assembly/kernels/c/fft2d.c",
    "jacobi AssemblyScript assembly/kernels/jacobi.ts",
    "jacobi.c C assembly/kernels/c/jacobi.c",
  ]);
  // Without --languages, the suite kernels only, as before; a twin's own name selects it.
  assert.is(planBench({}, {}).kernels.every((k) => k.language === "AssemblyScript"), true);
  assert.equal(planBench({ kernels: "matmul,jacobi.c" }, {}).kernels.map((k) => k.name), ["matmul", "jacobi.c"]);
});

Plan("a C twin takes its AssemblyScript kernel's sizes, --quick arguments and --args", () => {
  const quick = planBench({ quick: true, languages: "c" }, {});
  for (const k of quick.kernels) assert.equal(argsFor(quick, k), QUICK_PRESET.argsByKernel[k.twin!], k.name);
  const tiny = planBench({ kernels: "intsort.c", size: "tiny" }, {});
  assert.equal(argsFor(tiny, tiny.kernels[0]), [4096, 20, 7]);
  const twins = planBench({ kernels: "jacobi", languages: "as,c", args: "48,3" }, {});
  assert.equal(twins.kernels.map((k) => argsFor(twins, k)), [[48, 3], [48, 3]]);
  for (const k of C_BENCH_SUITE) assert.ok(SUITE.some((s) => s.name === k.twin), k.name);
});

Plan("a kernel source given by path is named by its file, runs with --args, and needs them", () => {
  const plan = planBench({ kernels: SCALE, args: "100" }, {});
  assert.equal(plan.kernels.map((k) => [k.name, k.language, k.file]), [["scale.c", "C", SCALE]]);
  assert.equal(argsFor(plan, plan.kernels[0]), [100]);
  const message = (() => {
    try {
      planBench({ kernels: SCALE }, {});
    } catch (error) {
      return (error as Error).message;
    }
  })();
  assert.is(message, `--kernels "${SCALE}": a kernel outside the suite runs with the arguments you give; add --args, e.g. --args 1024,100`);
});

Plan.run();

const Run = suite("dsm bench on tiny C kernels");

Run("the C Jacobi: its own uninstrumented baseline, warmed up, every row correct and equal to the AssemblyScript Jacobi; rows and charts name C", async () => {
  if (!toolchain("dsm bench --kernels jacobi.c")) return;
  const out = join(dir, "report");
  const printed: string[] = [];
  const warm: string[] = [];
  let phase = "";
  const progress = { ...SILENT_PROGRESS, begin: (p: string) => void (phase = p), finish: (label: string) => void (phase === "warm-up" && warm.push(label)) };
  const argv = ["--kernels", "jacobi.c", "--size", "tiny", "--nodes", "1,2", "--protocols", "lrc", "--reps", "1", "--no-baselines", "--out", out, "--json"];
  assert.is(await benchCommand(argv, { stdout: (t) => printed.push(t), progress }), 0);
  const rows = printed.map((line) => JSON.parse(line));
  assert.equal(rows.map((r) => `${r.kernel} ${r.language} ${r.nodes} ${r.protocol}`), ["jacobi.c C 1 none", "jacobi.c C 1 lrc", "jacobi.c C 2 lrc"]);
  const expected = SUITE.find((k) => k.name === "jacobi")!.expected;
  for (const row of rows) assert.equal([row.correct, row.result, row.args], [true, expected, [64, 5]], `${row.nodes} ${row.protocol}`);
  assert.ok(rows[2].messages > 0);
  assert.equal(warm, ["lrc protocol code, 2 nodes", "jacobi.c uninstrumented", "jacobi.c 1 node (no protocol) local 4K"]);
  const md = readFileSync(join(out, "report.md"), "utf8");
  assert.ok(md.includes("\n## jacobi.c (64,5)\n\nIn C. Stresses: nearest-neighbour sharing"), md);
  assert.ok(md.includes("![jacobi.c in C (64,5): speedup over the uninstrumented single node](charts/jacobi.c-speedup.svg)"));
  assert.ok(readFileSync(join(out, "charts", "jacobi.c-bytes.svg"), "utf8").includes("jacobi.c in C (64,5): bytes per protocol"));
});

Run("a C kernel given by path runs against its own uninstrumented build, and the table names its language", async () => {
  if (!toolchain("dsm bench --kernels path/to/kernel.c")) return;
  const printed: string[] = [];
  const argv = ["--kernels", SCALE, "--args", "1000", "--nodes", "1", "--protocols", "diff", "--reps", "1", "--out", join(dir, "path-report")];
  assert.is(await benchCommand(argv, { stdout: (t) => printed.push(t), progress: SILENT_PROGRESS }), 0);
  const lines = printed[0].split("\n");
  assert.match(lines[0], /^kernel\s+language\s+args\s+nodes/);
  assert.match(lines[1], /^scale\.c\s+C\s+1000\s+1\s+none\s/);
  assert.match(lines[2], /^scale\.c\s+C\s+1000\s+1\s+diff\s.*\byes$/);
  const results = JSON.parse(readFileSync(join(dir, "path-report", "results.json"), "utf8"));
  assert.equal(results.rows.map((r: { result: number }) => r.result), [499500, 499500]);
});

Run.after(() => rmSync(dir, { recursive: true, force: true }));
Run.run();
