/**
 * What the access checks cost: runs each example kernel uninstrumented and instrumented in this
 * process, on one node with an all-zero protection table (every page read-write, so no check
 * ever faults), and reports median run() times, their ratio, and the geometric mean of ratios.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/overhead.js [--reps N] [--no-optimize] [--no-polls]
 *
 * Repetitions alternate plain and instrumented, each on a fresh memory and instance, after one
 * warm-up run of each (V8 compiles hot functions with its optimising tier after a first run).
 * Prints one readable line and one JSON line per kernel, then the geometric mean.
 */
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { computeLayout, type Layout } from "../src/abi.js";
import { compileKernel } from "../src/instrument/compile.js";
import { instrument } from "../src/instrument/instrument.js";

interface Case {
  kernel: string;
  args: number[];
}

const CASES: Case[] = [
  { kernel: "matmul", args: [640] },
  { kernel: "jacobi", args: [1024, 120] },
  { kernel: "wordfreq", args: [200000, 4] },
];

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

class BenchError extends Error {
  override name = "BenchError";
}

interface Variant {
  name: "plain" | "instrumented";
  module: WebAssembly.Module;
  times: number[];
  result: unknown;
}

/** Counts of hook calls; with an all-zero table both must stay 0. */
const hooks = { faults: 0, polls: 0 };

function imports(layout: Layout, memory: WebAssembly.Memory): WebAssembly.Imports {
  return {
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

/** One run on a fresh memory and instance; returns the milliseconds run() took. */
function runOnce(variant: Variant, layout: Layout, args: number[]): number {
  const memory = new WebAssembly.Memory({ initial: layout.initialPages, maximum: layout.maximumPages, shared: true });
  const instance = new WebAssembly.Instance(variant.module, imports(layout, memory));
  const exports = instance.exports as { _start(): void; run(...args: number[]): unknown };
  exports._start();
  const start = performance.now();
  const result = exports.run(...args);
  const ms = performance.now() - start;
  if (variant.result !== undefined && variant.result !== result) {
    throw new BenchError(`${variant.name} run returned ${String(result)}, an earlier run ${String(variant.result)}`);
  }
  variant.result = result;
  return ms;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

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

async function main(): Promise<void> {
  const reps = Number(option("--reps") ?? 7);
  if (!Number.isInteger(reps) || reps < 1) throw new BenchError(`--reps ${option("--reps")}: must be a positive integer`);
  const optimizeChecks = !process.argv.includes("--no-optimize");
  const polls = !process.argv.includes("--no-polls");
  const layout = computeLayout();
  const rev = gitRev();
  const ratios: number[] = [];
  for (const c of CASES) {
    const plainBytes = await compileKernel(join(ROOT, "assembly", "kernels", `${c.kernel}.ts`), layout);
    const checkedBytes = instrument(plainBytes, layout, { optimizeChecks, polls });
    const variants: Variant[] = [
      { name: "plain", module: new WebAssembly.Module(plainBytes as Uint8Array<ArrayBuffer>), times: [], result: undefined },
      { name: "instrumented", module: new WebAssembly.Module(checkedBytes as Uint8Array<ArrayBuffer>), times: [], result: undefined },
    ];
    for (const v of variants) runOnce(v, layout, c.args); // warm-up
    for (let r = 0; r < reps; r++) for (const v of variants) v.times.push(runOnce(v, layout, c.args));
    const [plain, checked] = variants;
    if (plain.result !== checked.result) {
      throw new BenchError(`${c.kernel}: instrumented run returned ${String(checked.result)}, plain run ${String(plain.result)}`);
    }
    if (hooks.faults !== 0 || hooks.polls !== 0) {
      throw new BenchError(`${c.kernel}: ${hooks.faults} faults and ${hooks.polls} polls with an all-zero protection table; expected none`);
    }
    const plainMs = median(plain.times);
    const checkedMs = median(checked.times);
    const ratio = checkedMs / plainMs;
    ratios.push(ratio);
    const size = c.args.join("x");
    console.log(`${c.kernel.padEnd(9)} ${size.padEnd(9)} plain ${plainMs.toFixed(1).padStart(7)} ms  instrumented ${checkedMs.toFixed(1).padStart(7)} ms  ratio ${ratio.toFixed(2)}x`);
    console.log(JSON.stringify({ kernel: c.kernel, size, reps, optimizeChecks, polls, plainMs: round(plainMs), instrumentedMs: round(checkedMs), ratio: round(ratio), result: String(plain.result), rev }));
  }
  const geomean = Math.exp(ratios.reduce((a, r) => a + Math.log(r), 0) / ratios.length);
  console.log(`geomean ratio ${geomean.toFixed(2)}x over ${ratios.length} kernels`);
  console.log(JSON.stringify({ kernel: "geomean", optimizeChecks, polls, ratio: round(geomean), rev }));
}

const round = (x: number) => Math.round(x * 1000) / 1000;

main().catch((error) => {
  console.error(error instanceof Error ? `${error.name}: ${error.message}` : error);
  process.exit(1);
});
