/**
 * `dsm bench`: option validation (messages pinned), a real run of a tiny matrix in this process
 * (JSON row schema, every row correct, report files, well-formed charts with a series per
 * protocol), and the pieces it is made of: medians and rows, the progress line, the SVG charts.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { benchCommand } from "../src/cli/bench_command.js";
import { defaultNodes, planBench, QUICK_PRESET } from "../src/cli/bench/plan.js";
import { progressOn, SILENT_PROGRESS } from "../src/cli/bench/progress.js";
import { planNotes } from "../src/cli/bench/runner.js";
import { makeRow, median, type Sample } from "../src/cli/bench/rows.js";
import { BENCH_SUITE, REPOSITORY_ROOT } from "../src/cli/bench/suite.js";
import { barChart, lineChart, niceMax } from "../src/cli/bench/svg.js";
import { UsageError } from "../src/cli/options.js";
import { SUITE } from "./helpers/suite.js";
import { execFileSync } from "node:child_process";

/** Whether Open MPI is installed (dsm bench then adds mpi rows); CI must have it. */
const HAS_MPI = (() => {
  try {
    execFileSync("mpicc", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    if (process.env.CI === "true") throw new Error("bench.test: mpicc not found; .ci/run installs openmpi-bin and libopenmpi-dev");
    process.stderr.write("SKIPPED (Open MPI not installed): bench.test expects no mpi rows\n");
    return false;
  }
})();
const MPI_ROWS = HAS_MPI ? ["jacobi 1 mpi local null", "jacobi 2 mpi local null"] : [];

/** Well-formedness of an XML document: one root, balanced tags, quoted attributes, known entities. Returns the first problem, or null. */
function xmlProblem(text: string): string | null {
  const token = /<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<\/([A-Za-z][\w:.-]*)\s*>|<([A-Za-z][\w:.-]*)((?:\s+[A-Za-z_:][\w:.-]*\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*(\/?)>|([^<]+)|(<)/g;
  const entity = /&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/;
  const stack: string[] = [];
  let roots = 0;
  for (const m of text.matchAll(token)) {
    const [whole, close, open, attrs, selfClose, chars, stray] = m;
    if (stray) return `stray "<" at ${m.index}: ${text.slice(m.index, m.index! + 30)}`;
    if (chars !== undefined) {
      if (entity.test(chars)) return `bad "&" in text at ${m.index}`;
      if (stack.length === 0 && chars.trim()) return `text outside the root at ${m.index}`;
    } else if (close) {
      if (stack.pop() !== close) return `</${close}> at ${m.index} does not close the open element`;
    } else if (open) {
      if (entity.test(attrs)) return `bad "&" in attributes of <${open}>`;
      const names = [...attrs.matchAll(/([A-Za-z_:][\w:.-]*)\s*=/g)].map((a) => a[1]);
      if (new Set(names).size !== names.length) return `repeated attribute in <${open}>`;
      if (stack.length === 0) roots++;
      if (!selfClose) stack.push(open);
    } else if (!whole.startsWith("<!--") && !whole.startsWith("<?")) {
      return `unexpected ${whole}`;
    }
  }
  if (stack.length) return `unclosed <${stack.at(-1)}>`;
  return roots === 1 ? null : `${roots} root elements`;
}

/** The data-protocol of every series in an SVG, in order. */
function seriesProtocols(svg: string): string[] {
  return [...svg.matchAll(/<g class="series" data-protocol="([^"]+)"/g)].map((m) => m[1]);
}

function usageMessage(work: () => unknown): string {
  try {
    work();
  } catch (error) {
    assert.instance(error, UsageError);
    return (error as Error).message;
  }
  throw new Error("expected a UsageError");
}

const Options = suite("dsm bench options");

const KERNEL_LIST = "jacobi, sor, matmul, wordfreq, intsort, tsp, nbody, fft2d, lu, falseshare, sparse";

for (const [what, values, message] of [
  ["an unknown kernel", { kernels: "jacobi,frob" }, `--kernels "frob": unknown; use one of ${KERNEL_LIST}, the C kernels jacobi.c, matmul.c, intsort.c, fft2d.c, or the path of a .ts, .c, .cc or .cpp file`],
  ["a kernel without a C version", { kernels: "jacobi,sor", languages: "c" }, `--kernels "sor": has no C version (--languages c); the C kernels are jacobi.c, matmul.c, intsort.c, fft2d.c`],
  ["an unknown language", { languages: "as,rust" }, `--languages "rust": unknown; use one of as, c`],
  ["a kernel source that does not exist", { kernels: "no/such/kernel.c", args: "1" }, `--kernels "no/such/kernel.c": no such file; give the path of a kernel source, or a suite kernel's name`],
  ["an unknown protocol", { protocols: "ivy,mesi" }, `--protocols "mesi": unknown; use one of migrate, ivy, diff, lrc, hlrc`],
  ["an empty item in a list", { protocols: "ivy,,diff" }, `--protocols "ivy,,diff": expected a comma-separated list without empty items, e.g. ivy,diff`],
  ["zero nodes", { nodes: "0,2" }, `--nodes "0": expected a whole number from 1 to 64`],
  ["an unknown transport", { transports: "tcp" }, `--transports "tcp": unknown; use one of local, nats`],
  ["a page size that is not a power of two", { "page-sizes": "4K,3K" }, `--page-sizes "3K": expected a power of two from 1K to 64K, e.g. 4K`],
  ["a page size that is not a size", { "page-sizes": "big" }, `--page-sizes "big": expected a size in bytes such as 4096, 64K or 64M`],
  ["an unknown size", { size: "huge" }, `--size "huge": unknown; use one of tiny, quick, full`],
  ["zero repetitions", { reps: "0" }, `--reps "0": expected a whole number from 1 to 100`],
  ["--args with several kernels", { kernels: "jacobi,sor", args: "64,5" }, `--args "64,5": gives the arguments of one kernel, but 2 are selected; add --kernels NAME`],
  ["a non-numeric argument", { kernels: "jacobi", args: "64,x" }, `--args "x": expected a number`],
  ["--nats without the nats transport", { nats: "nats://127.0.0.1:4222" }, `--nats "nats://127.0.0.1:4222": applies to the nats transport only; add --transports nats (or local,nats)`],
] as const) {
  Options(`${what} is refused with a message quoting it`, () => {
    assert.is(usageMessage(() => planBench(values, {})), message);
  });
}

Options("an unknown option or a positional argument is refused by the command", async () => {
  const io = { stdout: () => {}, progress: SILENT_PROGRESS };
  const unknown = await benchCommand(["--frob"], io).then(() => "", (e: Error) => `${e.name}: ${e.message}`);
  // The middle of the message is Node's own parseArgs wording.
  assert.ok(unknown.startsWith("UsageError: Unknown option '--frob'") && unknown.endsWith("; see dsm bench --help"), unknown);
  const positional = await benchCommand(["jacobi"], io).then(() => "", (e: Error) => `${e.name}: ${e.message}`);
  assert.is(positional, `UsageError: bench takes no positional arguments, got "jacobi"; choose kernels with --kernels`);
});

Options("with no options the plan is every kernel and protocol on local nodes up to the cores, 4K pages, 3 repetitions", () => {
  const plan = planBench({}, {});
  assert.equal(plan.kernels.map((k) => k.name), KERNEL_LIST.split(", "));
  assert.equal([plan.protocols, plan.nodes, plan.transports, plan.pageSizes, plan.reps, plan.size, plan.out], [
    ["migrate", "ivy", "diff", "lrc", "hlrc"], defaultNodes().split(",").map(Number), ["local"], [4096], 3, "quick", "bench-report",
  ]);
  assert.equal([1, 2, 3, 4, 6, 8].map(defaultNodes), ["1,2", "1,2", "1,2", "1,2,4", "1,2,4", "1,2,4,8"]);
  assert.is(plan.faultTimeoutMs, 10_000);
});

Options("the notes say the warm-up does not reach nats rows, whose nodes are new processes, only when the plan has them", () => {
  const NATS_NOTE = "nats rows run one new process per node for every repetition";
  const count = (plan: Parameters<typeof planNotes>[0]) => planNotes(plan, 2).filter((n) => n.startsWith(NATS_NOTE)).length;
  assert.is(count(planBench({ nodes: "1,2", transports: "local,nats" }, {})), 1);
  assert.is(count(planBench({ nodes: "1,2", transports: "local" }, {})), 0);
  // Nothing was warmed on one node, so there is nothing to say about it.
  assert.is(count(planBench({ nodes: "1", transports: "nats" }, {})), 0);
});

Options("--quick presets the matrix and its sizes; explicit options override it; lists are deduplicated and nodes sorted", () => {
  const quick = planBench({ quick: true }, {});
  assert.equal([quick.protocols, quick.nodes, quick.transports, quick.reps], [["ivy", "diff", "migrate", "lrc", "hlrc"], [1, 2, 4], ["local"], 1]);
  assert.equal(quick.argsByKernel, QUICK_PRESET.argsByKernel);
  const mixed = planBench({ quick: true, reps: "2", nodes: "4,1,4", size: "tiny", "page-sizes": "16K,4K" }, {});
  assert.equal([mixed.reps, mixed.nodes, mixed.pageSizes, mixed.argsByKernel], [2, [1, 4], [4096, 16384], undefined]);
  assert.is(planBench({ timeout: undefined }, { DSM_TIMEOUT_MS: "2500" }).faultTimeoutMs, 2500);
});

Options.run();

const SuiteList = suite("bench suite list");

SuiteList("every bench kernel exists and has a pinned result at the tiny size", () => {
  for (const k of BENCH_SUITE) {
    assert.ok(existsSync(join(REPOSITORY_ROOT, k.file)), k.file);
    const pinned = SUITE.find((t) => t.name === k.name)!.expected;
    assert.ok(typeof pinned === "number" || /^-?\d+$/.test(pinned), `${k.name}: ${pinned}`);
  }
});

SuiteList("the --quick preset has arguments of the right arity for every kernel", () => {
  assert.equal(Object.keys(QUICK_PRESET.argsByKernel).sort(), BENCH_SUITE.map((k) => k.name).sort());
  for (const k of BENCH_SUITE) assert.is(QUICK_PRESET.argsByKernel[k.name].length, k.tiny.length, k.name);
});

SuiteList("the preset runs each kernel at a size where one uninstrumented node took ~100 ms or more here, but lu, falseshare and sparse smaller", () => {
  assert.equal(QUICK_PRESET.argsByKernel, {
    jacobi: [1024, 60],
    sor: [1024, 64],
    matmul: [544],
    wordfreq: [20000, 32],
    intsort: [2000000, 31, 7],
    tsp: [13, 1],
    nbody: [2048, 1],
    fft2d: [10],
    lu: [192],
    falseshare: [8192, 150],
    sparse: [128, 50],
  });
});

SuiteList.run();

const Run = suite("dsm bench on a tiny matrix");

const ROW_KEYS = [
  "args", "bytes", "cap", "cores", "correct", "efficiency", "emulated", "error", "faults", "gitRevision", "kernel", "kernelMs",
  "language", "messages", "nodes", "pageSize", "protocol", "reps", "result", "samplesMs", "size", "speedup", "transport",
];

const out = mkdtempSync(join(tmpdir(), "dsm-bench-"));
const printed: string[] = [];
/** Progress lines of the run: [phase, label, detail]. */
const steps: [string, string, string][] = [];
let exitCode = -1;

Run.before(async () => {
  const argv = ["--kernels", "jacobi,matmul", "--size", "tiny", "--nodes", "1,2", "--protocols", "ivy,diff", "--reps", "1", "--transports", "local", "--out", out, "--json"];
  let phase = "";
  const progress = { ...SILENT_PROGRESS, begin: (p: string) => void (phase = p), finish: (label: string, detail: string) => void steps.push([phase, label, detail]) };
  exitCode = await benchCommand(argv, { stdout: (t) => printed.push(t), progress });
});

Run.after(() => rmSync(out, { recursive: true, force: true }));

Run("prints one JSON row per configuration, in order, with exactly the documented keys", () => {
  assert.is(exitCode, 0);
  const rows = printed.map((line) => JSON.parse(line));
  assert.equal(
    rows.map((r) => `${r.kernel} ${r.nodes} ${r.protocol} ${r.transport} ${r.pageSize}`),
    [
      "jacobi 1 none local 4096", "jacobi 1 ivy local 4096", "jacobi 1 diff local 4096", "jacobi 2 ivy local 4096", "jacobi 2 diff local 4096",
      "jacobi 1 mp local null", "jacobi 2 mp local null", "jacobi 1 sab local null", "jacobi 2 sab local null", ...MPI_ROWS,
      "matmul 1 none local 4096", "matmul 1 ivy local 4096", "matmul 1 diff local 4096", "matmul 2 ivy local 4096", "matmul 2 diff local 4096",
    ],
  );
  for (const row of rows) assert.equal(Object.keys(row).sort(), ROW_KEYS);
  // The hand-written baselines are JavaScript (mp, sab) and native C (mpi).
  const languages = { none: "AssemblyScript", ivy: "AssemblyScript", diff: "AssemblyScript", mp: "JavaScript", sab: "JavaScript", mpi: "C" } as Record<string, string>;
  for (const row of rows) assert.is(row.language, languages[row.protocol], `${row.kernel} ${row.protocol}`);
});

Run("each protocol first runs the warm-up kernel, unmeasured and with its exact result, and the notes say so", () => {
  const warm = steps.filter(([phase]) => phase === "warm-up").map(([, label, detail]) => `${label}: ${detail.replace(/^[\d.]+ ms/, "T")}`);
  assert.equal(warm.slice(0, 2), ["ivy protocol code, 2 nodes: T (not counted)", "diff protocol code, 2 nodes: T (not counted)"]);
  assert.ok(steps.some(([phase, label]) => phase === "build" && label === "warmup (4K pages)"));
  const results = JSON.parse(readFileSync(join(out, "results.json"), "utf8"));
  assert.is(results.meta.notes.filter((n: string) => n.startsWith("before anything was measured, each protocol ran a warm-up kernel on 2 nodes")).length, 1);
  assert.ok(!printed.some((line) => line.includes("warmup")), "the warm-up is no row");
});

Run("every row reproduces the baseline's result, with a positive speedup and the tiny arguments", () => {
  const rows = printed.map((line) => JSON.parse(line));
  for (const row of rows) {
    assert.is(row.correct, true, `${row.kernel} ${row.nodes} ${row.protocol}`);
    assert.is(row.error, null);
    assert.ok(typeof row.speedup === "number" && row.speedup > 0, `speedup ${row.speedup}`);
    assert.is(row.reps, 1);
    assert.is(row.emulated, row.nodes > row.cores);
    assert.equal(row.args, row.kernel === "jacobi" ? [64, 5] : [32]);
    if (row.protocol === "mpi") assert.is(row.result, SUITE.find((k) => k.name === "jacobi")!.expected);
  }
  const jacobi = SUITE.find((k) => k.name === "jacobi")!;
  assert.is(rows[0].result, jacobi.expected);
  assert.is(rows[0].speedup, 1);
  for (const row of rows.filter((r) => r.nodes === 1)) assert.equal([row.cap, row.efficiency], [1, row.speedup]);
  // Two nodes: 2 copies at once on 2 or more cores, measured; one core leaves a cap of 1.
  for (const row of rows.filter((r) => r.nodes === 2)) {
    assert.ok(typeof row.cap === "number" && row.cap > 0 && (row.cores > 1 || row.cap === 1), `cap ${row.cap}`);
    assert.is(row.efficiency, row.speedup / row.cap);
  }
  // Two nodes talk; one does not.
  assert.ok(rows[3].messages > 0 && rows[3].bytes > 0 && rows[3].faults > 0);
  assert.equal([rows[1].messages, rows[1].faults], [0, 0]);
});

Run("writes results.json with the same rows and the run's metadata, report.md and index.html", () => {
  const results = JSON.parse(readFileSync(join(out, "results.json"), "utf8"));
  assert.equal(Object.keys(results), ["meta", "rows"]);
  assert.equal(results.rows, printed.map((line) => JSON.parse(line)));
  assert.equal(results.meta.plan, { kernels: ["jacobi", "matmul"], size: "tiny", protocols: ["ivy", "diff"], nodes: [1, 2], transports: ["local"], pageSizes: [4096], reps: 1, baselines: true });
  const md = readFileSync(join(out, "report.md"), "utf8");
  for (const heading of ["# wasm-dsm bench report", "## Summary", "## jacobi (64,5)", "## matmul (32)", "## Traffic per protocol", "### ivy", "### diff", "### mp", ...(HAS_MPI ? ["### mpi"] : [])]) {
    assert.ok(md.includes(`\n${heading}\n`) || md.startsWith(`${heading}\n`), heading);
  }
  assert.ok(md.includes("![jacobi in AssemblyScript (64,5): speedup over the uninstrumented single node](charts/jacobi-speedup.svg)"));
  assert.ok(md.includes("\n## matmul (32)\n\nIn AssemblyScript. Stresses: read-mostly sharing: every node reads all of B.\n"));
  assert.ok(md.includes("\n| nodes | protocol | transport | page | ms | speedup | cap | efficiency | faults | messages | bytes | correct |\n"));
  assert.is(results.meta.notes.filter((n: string) => n.startsWith("cap = N uninstrumented copies run at once against one alone")).length, 1);
  assert.is(results.meta.notes.filter((n: string) => n.startsWith(HAS_MPI ? "mpi rows are Jacobi in C with Open MPI halo exchange" : "no mpi rows: mpicc and mpirun not found")).length, 1);
  const html = readFileSync(join(out, "index.html"), "utf8");
  assert.ok(html.startsWith("<!DOCTYPE html>"));
  assert.ok(html.includes("<th>cap</th><th>efficiency</th>"));
  assert.is((html.match(/<svg /g) ?? []).length, 6);
});

Run("writes well-formed SVG charts with one series per protocol", () => {
  const expected: Record<string, string[]> = {
    "jacobi-speedup.svg": ["ivy", "diff", "mp", "sab", ...(HAS_MPI ? ["mpi"] : [])],
    "jacobi-bytes.svg": ["ivy", "diff", "mp", ...(HAS_MPI ? ["mpi"] : [])],
    "jacobi-messages.svg": ["ivy", "diff", "mp", ...(HAS_MPI ? ["mpi"] : [])],
    "matmul-speedup.svg": ["ivy", "diff"],
    "matmul-bytes.svg": ["ivy", "diff"],
    "matmul-messages.svg": ["ivy", "diff"],
  };
  for (const [file, protocols] of Object.entries(expected)) {
    const svg = readFileSync(join(out, "charts", file), "utf8");
    assert.is(xmlProblem(svg), null, file);
    assert.equal(seriesProtocols(svg), protocols, file);
  }
  // The speedup chart draws the hardware cap when 2 nodes had 2 cores.
  const cores = JSON.parse(printed[0]).cores;
  assert.is(readFileSync(join(out, "charts", "jacobi-speedup.svg"), "utf8").includes(`<g class="series" data-series="cap">`), cores > 1);
  assert.ok(existsSync(join(out, "index.html")));
});

Run("--args that do not fit the kernel's run signature are refused once it is built", async () => {
  const io = { stdout: () => {}, progress: SILENT_PROGRESS };
  const run = (args: string) => benchCommand(["--kernels", "jacobi", "--args", args, "--nodes", "1", "--out", out], io).then(() => "", (e: Error) => `${e.name}: ${e.message}`);
  assert.is(await run("64"), `UsageError: --args "64": jacobi.ts has run(i32, i32), 2 argument(s); got 1`);
  assert.is(await run("64,2.5"), `UsageError: --args "64,2.5": jacobi.ts: argument 2 "2.5": expected an integer (i32)`);
});

Run.run();

const Parts = suite("bench rows, progress and charts");

const sample = (ms: number, result: number | string = 7): Sample => ({ ms, result, faults: 4, messages: 10, bytes: 100 });
const machine = { gitRevision: "abc1234", cores: 2 };
const config = { kernel: "k", language: "AssemblyScript" as const, size: "tiny", args: [1], nodes: 4, protocol: "ivy", transport: "local", pageSize: 4096 };

Parts("median takes the middle value, or the mean of the two middle values", () => {
  assert.is(median([5, 1, 3]), 3);
  assert.is(median([4, 1, 3, 2]), 2.5);
});

Parts("a row's speedup is the baseline median over its median; a different result is not correct; more nodes than cores is emulated", () => {
  const baseline = { samples: [sample(100), sample(120), sample(80)] };
  const row = makeRow(config, { samples: [sample(50), sample(40), sample(60)] }, baseline, machine);
  assert.equal([row.kernelMs, row.speedup, row.correct, row.emulated, row.samplesMs, row.reps], [50, 2, true, true, [50, 40, 60], 3]);
  assert.is(makeRow(config, { samples: [sample(50), sample(50, 8)] }, baseline, machine).correct, false);
  const failed = makeRow(config, { samples: [], error: "TimeoutError: page 3" }, baseline, machine);
  assert.equal([failed.kernelMs, failed.speedup, failed.correct, failed.error, failed.result], [null, null, false, "TimeoutError: page 3", null]);
});

Parts("progress prints one line per step off a terminal, and redraws one line on a terminal", () => {
  const plain: string[] = [];
  const p = progressOn({ write: (t) => plain.push(t) });
  p.begin("run", 2);
  p.start("a");
  p.finish("a", "1.0 ms");
  p.finish("b", "failed: x");
  p.end();
  assert.equal(plain.slice(0, 2), ["run 1/2 a: 1.0 ms\n", "run 2/2 b: failed: x\n"]);
  assert.match(plain[2], /^run: 2 of 2 in \d+ ms\n$/);
  const tty: string[] = [];
  const t = progressOn({ write: (s) => tty.push(s), isTTY: true, columns: 80 });
  t.begin("build", 4);
  t.finish("jacobi", "cached");
  assert.is(tty[0], "\r\x1b[Kbuild [------------------------] 0/4  ");
  assert.match(tty[1], /^\r\x1b\[Kbuild \[######------------------\] 1\/4  \d+ ms left  jacobi$/);
});

Parts("charts escape their text and stay well-formed; the checker catches what is not", () => {
  const series = [
    { name: `a<b & "c"`, color: "#000", attrs: { "data-protocol": `x"y` }, values: [1, null, 3] },
    { name: "ivy", color: "#111", attrs: { "data-protocol": "ivy" }, values: [null, 2, 0.5] },
  ];
  const chart = { title: "t & <u>", xLabel: "nodes", yLabel: "y", categories: ["1", "2", "4"], series, format: (v: number) => v.toFixed(1) };
  const line = lineChart({ ...chart, reference: 1 });
  const bars = barChart(chart);
  assert.is(xmlProblem(line), null);
  assert.is(xmlProblem(bars), null);
  assert.equal(seriesProtocols(bars), ["x&quot;y", "ivy"]);
  assert.is((bars.match(/<rect x=/g) ?? []).length, 4 + 2);
  assert.is(xmlProblem("<svg><g></svg>"), "</svg> at 8 does not close the open element");
  assert.is(xmlProblem("<svg>a & b</svg>"), `bad "&" in text at 5`);
  assert.is(xmlProblem(`<svg a="1" a="2"/>`), "repeated attribute in <svg>");
});

Parts("axes end at a round number at or above the largest value", () => {
  assert.equal([0.93, 1, 1.7, 2.2, 3, 480, 505, 0].map(niceMax), [1, 1, 2, 2.5, 3, 500, 600, 1]);
});

Parts.run();
