/**
 * What the access checks cost: runs each kernel of the suite, and each C twin, uninstrumented and
 * in every instrumentation variant (bench/overhead_cases.ts) in this process, on one node with an
 * all-zero protection table (every page read-write, so no check ever faults), and reports median
 * run() times, each variant's ratio to the plain build, and per language (AssemblyScript, C) the
 * geometric mean and the worst of the ratios per variant.
 *
 *   npm run bench:overhead -- [--reps N] [--kernels a,b.c] [--languages AssemblyScript,C]
 *                             [--variants all,none,...] [--no-polls] [--no-optimize] [--report FILE.md]
 *
 * The C kernels need Debian's clang 14 toolchain for wasm; without it they are left out, and the
 * run says so.
 *
 * Repetitions interleave the plain build and the variants, each run on a fresh memory and
 * instance, after one warm-up run of each (V8 compiles hot functions with its optimising tier
 * after a first run). Prints one readable line and one JSON line per kernel and variant, then
 * the geometric mean per variant; `--report` also writes the per-kernel table as Markdown.
 * `--no-optimize` is short for `--variants none`.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import binaryen from "binaryen";
import { computeLayout, type Layout } from "../src/abi.js";
import { compileKernel } from "../src/instrument/compile.js";
import { compileC, CompilerNotFoundError } from "../src/instrument/compile_c.js";
import { WASI_MODULE } from "../src/runtime/wasi.js";
import { instrument } from "../src/instrument/instrument.js";
import { addUnwinding } from "../src/instrument/unwind.js";
import { OVERHEAD_CASES, overheadVariants, type OverheadVariant } from "./overhead_cases.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

class BenchError extends Error {
  override name = "BenchError";
}

interface Build {
  name: string;
  module: WebAssembly.Module;
  times: number[];
  result: unknown;
}

/** Counts of hook calls; with an all-zero table both must stay 0. */
const hooks = { faults: 0, polls: 0 };

function imports(layout: Layout, memory: WebAssembly.Memory, module: WebAssembly.Module): WebAssembly.Imports {
  // A C kernel's libc may import WASI calls; these kernels make none while they run.
  const wasi = Object.fromEntries(
    WebAssembly.Module.imports(module)
      .filter((i) => i.module === WASI_MODULE && i.kind === "function")
      .map((i) => [i.name, () => { throw new BenchError(`kernel called WASI function ${i.name}`); }]),
  );
  return {
    [WASI_MODULE]: wasi,
    env: {
      memory,
      abort: (msg: number, file: number, line: number, column: number) => {
        throw new BenchError(`kernel aborted at ${line}:${column} (message at ${msg}, file at ${file})`);
      },
    },
    dsm: {
      nodeId: () => 0,
      nodeCount: () => 1,
      barrier: () => {},
      lock: () => {},
      unlock: () => {},
      now: () => performance.now() * 1000,
      regionBase: () => layout.regionBase,
      regionBytes: () => layout.regionBytes,
      pageSize: () => layout.pageSize,
      allocated: () => {},
      __fault: () => void hooks.faults++,
      __poll: () => void hooks.polls++,
    },
  };
}

/** `run`'s arguments, with i64 parameters as BigInt (as the runtime passes them). */
function typedArgs(wasm: Uint8Array, args: number[]): (number | bigint)[] {
  const m = binaryen.readBinary(wasm);
  try {
    const run = binaryen.getFunctionInfo(m.getFunction(binaryen.getExportInfo(m.getExport("run")).value));
    const params = binaryen.expandType(run.params);
    return args.map((a, i) => (params[i] === binaryen.i64 ? BigInt(a) : a));
  } finally {
    m.dispose();
  }
}

/** One run on a fresh memory and instance; returns the milliseconds run() took. */
function runOnce(build: Build, layout: Layout, args: (number | bigint)[]): number {
  const memory = new WebAssembly.Memory({ initial: layout.initialPages, maximum: layout.maximumPages, shared: true });
  const instance = new WebAssembly.Instance(build.module, imports(layout, memory, build.module));
  const exports = instance.exports as { _start(): void; run(...args: (number | bigint)[]): unknown };
  exports._start();
  const start = performance.now();
  const result = exports.run(...args);
  const ms = performance.now() - start;
  if (build.result !== undefined && build.result !== result) {
    throw new BenchError(`${build.name} run returned ${String(result)}, an earlier run ${String(build.result)}`);
  }
  build.result = result;
  return ms;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const geomean = (xs: number[]) => Math.exp(xs.reduce((a, r) => a + Math.log(r), 0) / xs.length);
const round = (x: number) => Math.round(x * 1000) / 1000;

function gitRev(): string {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
}

function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function selected<T extends { name: string }>(all: T[], flag: string, list: string | undefined): T[] {
  if (list === undefined) return all;
  const names = list.split(",");
  const unknown = names.filter((n) => !all.some((x) => x.name === n));
  if (unknown.length > 0) throw new BenchError(`${flag} ${unknown.join(",")}: unknown; choose from ${all.map((x) => x.name).join(",")}`);
  return all.filter((x) => names.includes(x.name));
}

interface Row {
  kernel: string;
  language: string;
  size: string;
  plainMs: number;
  ms: Map<string, number>;
}

/** Geometric mean and worst ratio of one language's kernels under one variant. */
interface Summary {
  mean: number;
  worst: number;
}

function markdown(rows: Row[], variants: OverheadVariant[], summaries: Map<string, Summary>, reps: number, rev: string): string {
  const head = `| kernel | language | size | plain ms | ${variants.map((v) => v.name).join(" | ")} |`;
  const rule = `|---|---|---|---:|${variants.map(() => "---:").join("|")}|`;
  const lines = rows.map((r) => `| ${r.kernel} | ${r.language} | ${r.size} | ${r.plainMs.toFixed(1)} | ${variants.map((v) => `${(r.ms.get(v.name)! / r.plainMs).toFixed(2)}x`).join(" | ")} |`);
  const languages = [...new Set(rows.map((r) => r.language))];
  const means = languages.flatMap((language) => [
    `| geomean | ${language} | | | ${variants.map((v) => `${summaries.get(summaryKey(language, v.name))!.mean.toFixed(2)}x`).join(" | ")} |`,
    `| worst | ${language} | | | ${variants.map((v) => `${summaries.get(summaryKey(language, v.name))!.worst.toFixed(2)}x`).join(" | ")} |`,
  ]);
  return `# Instrumentation overhead (rev ${rev})\n\nMedian of ${reps} interleaved single-node runs, all pages read-write; ratio to the uninstrumented build; geometric mean and worst per language.\n\n${[head, rule, ...lines, ...means].join("\n")}\n`;
}

const summaryKey = (language: string, variant: string) => `${language}|${variant}`;

/** The uninstrumented module of a case and the layout it runs in (a C build may need more initial memory). */
async function plainBuild(file: string, language: string, layout: Layout): Promise<{ bytes: Uint8Array; layout: Layout }> {
  if (language === "AssemblyScript") return { bytes: await compileKernel(file, layout), layout };
  const c = compileC([file], layout);
  return { bytes: c.wasm, layout: { ...layout, initialPages: c.initialPages } };
}

async function main(): Promise<void> {
  const reps = Number(option("--reps") ?? 5);
  if (!Number.isInteger(reps) || reps < 1) throw new BenchError(`--reps ${option("--reps")}: must be a positive integer`);
  const polls = !process.argv.includes("--no-polls");
  const variants = selected(overheadVariants(polls), "--variants", process.argv.includes("--no-optimize") ? "none" : option("--variants"));
  const languages = option("--languages")?.split(",");
  const cases = selected(OVERHEAD_CASES.map((c) => ({ ...c, name: c.kernel })), "--kernels", option("--kernels")).filter((c) => !languages || languages.includes(c.language));
  const defaultLayout = computeLayout();
  const rev = gitRev();
  const ratios = new Map<string, number[]>();
  const rows: Row[] = [];
  for (const c of cases) {
    let built: { bytes: Uint8Array; layout: Layout };
    try {
      built = await plainBuild(join(ROOT, c.file), c.language, defaultLayout);
    } catch (error) {
      if (!(error instanceof CompilerNotFoundError)) throw error;
      console.log(`${c.kernel.padEnd(10)} skipped: ${error.message}`);
      continue;
    }
    const { bytes: plainBytes, layout } = built;
    const plainModule = new WebAssembly.Module(plainBytes as Uint8Array<ArrayBuffer>);
    const builds: Build[] = [{ name: "plain", module: plainModule, times: [], result: undefined }];
    for (const v of variants) {
      // As dsm build makes it: unwindable at barriers (checkpoints), then checked.
      const bytes = instrument(addUnwinding(plainBytes), layout, v.options);
      builds.push({ name: v.name, module: new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>), times: [], result: undefined });
    }
    const args = typedArgs(plainBytes, c.args);
    for (const b of builds) runOnce(b, layout, args); // warm-up
    for (let r = 0; r < reps; r++) for (const b of builds) b.times.push(runOnce(b, layout, args));
    if (hooks.faults !== 0 || hooks.polls !== 0) {
      throw new BenchError(`${c.kernel}: ${hooks.faults} faults and ${hooks.polls} polls with an all-zero protection table; expected none`);
    }
    const [plain, ...checked] = builds;
    const plainMs = median(plain.times);
    const size = c.args.join("x");
    const row: Row = { kernel: c.kernel, language: c.language, size, plainMs, ms: new Map() };
    for (const b of checked) {
      if (b.result !== plain.result) throw new BenchError(`${c.kernel}: variant ${b.name} returned ${String(b.result)}, the plain build ${String(plain.result)}`);
      const ms = median(b.times);
      const ratio = ms / plainMs;
      row.ms.set(b.name, ms);
      const key = summaryKey(c.language, b.name);
      ratios.set(key, [...(ratios.get(key) ?? []), ratio]);
      console.log(`${c.kernel.padEnd(10)} ${size.padEnd(12)} ${b.name.padEnd(14)} plain ${plainMs.toFixed(1).padStart(7)} ms  instrumented ${ms.toFixed(1).padStart(7)} ms  ratio ${ratio.toFixed(2)}x`);
      console.log(JSON.stringify({ kernel: c.kernel, language: c.language, size, variant: b.name, reps, polls, plainMs: round(plainMs), instrumentedMs: round(ms), ratio: round(ratio), result: String(plain.result), rev }));
    }
    rows.push(row);
  }
  const summaries = new Map<string, Summary>();
  for (const language of new Set(rows.map((r) => r.language))) {
    for (const v of variants) {
      const list = ratios.get(summaryKey(language, v.name))!;
      const mean = geomean(list);
      const worst = Math.max(...list);
      summaries.set(summaryKey(language, v.name), { mean, worst });
      console.log(`geomean ${language.padEnd(14)} ${v.name.padEnd(14)} ${mean.toFixed(2)}x over ${list.length} kernels, worst ${worst.toFixed(2)}x`);
      console.log(JSON.stringify({ kernel: "geomean", language, variant: v.name, polls, ratio: round(mean), worst: round(worst), kernels: list.length, rev }));
    }
  }
  const report = option("--report");
  if (report) writeFileSync(report, markdown(rows, variants, summaries, reps, rev));
}

main().catch((error) => {
  console.error(error instanceof Error ? `${error.name}: ${error.message}` : error);
  process.exit(1);
});
