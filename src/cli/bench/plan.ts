/**
 * What `dsm bench` runs: the matrix of kernels × protocols × node counts × transports × page sizes,
 * read from the command-line options and validated at the edge. `--quick` is a preset for the
 * options the user did not give; an explicit option always wins over it.
 */
import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import { parseChoice, parseInteger, parseSize, UsageError } from "../options.js";
import { PROTOCOL_NAMES, TRANSPORT_NAMES } from "../../cluster/run_job.js";
import { BENCH_SUITE, benchKernel, C_BENCH_SUITE, kernelAt, languageOf, SIZE_NAMES, type BenchKernel, type SizeName } from "./suite.js";

export interface BenchPlan {
  kernels: BenchKernel[];
  size: SizeName;
  /** Arguments of `run` for the one selected kernel, in place of its size's. @default undefined */
  args?: number[];
  /** Per-kernel arguments in place of the size's (the `--quick` preset). @default undefined */
  argsByKernel?: Record<string, number[]>;
  protocols: string[];
  nodes: number[];
  transports: string[];
  /** DSM page sizes in bytes. @default [4096] */
  pageSizes: number[];
  /** Bytes of shared region of every build. @default 64 MiB (the build default) */
  sharedSize?: number;
  /** Repetitions of every configuration, interleaved. @default 3 */
  reps: number;
  /** Message-passing and SharedArrayBuffer Jacobi rows when jacobi is selected. @default true */
  baselines: boolean;
  /** nats server URLs for the nats transport; empty starts a private server. @default [] */
  nats: string[];
  /** Bound on one page fault. @default 10000 (or DSM_TIMEOUT_MS) */
  faultTimeoutMs: number;
  /** Bound on one barrier or lock wait. @default 120000 (or DSM_SYNC_TIMEOUT_MS) */
  syncTimeoutMs: number;
  /** Report folder. @default "bench-report" */
  out: string;
  /** Reuse builds from the on-disk cache. @default true */
  cache: boolean;
}

/** The option values `dsm bench` reads (strings as typed; booleans for flags). */
export interface BenchOptionValues {
  kernels?: string;
  languages?: string;
  protocols?: string;
  nodes?: string;
  transports?: string;
  "page-sizes"?: string;
  size?: string;
  args?: string;
  "shared-size"?: string;
  reps?: string;
  out?: string;
  nats?: string;
  timeout?: string;
  "sync-timeout"?: string;
  quick?: boolean;
  "no-baselines"?: boolean;
  "no-cache"?: boolean;
}

export const DEFAULT_OUT = "bench-report";

/** `--languages`: which version of each named suite kernel runs. */
export const LANGUAGE_CHOICES = ["as", "c"] as const;
type LanguageChoice = (typeof LANGUAGE_CHOICES)[number];
export const MAX_NODES = 64;

/**
 * The `--quick` preset: every kernel on 1, 2 and 4 nodes with every protocol, local transport,
 * one repetition; the whole run, builds included, takes 3-5 minutes on a 2-core machine, most of
 * it in the 4-node rows. Sizes are where one uninstrumented node takes ~100 ms or more (measured
 * on a quiet 2-vCPU VM, in the comments), so rows show protocols rather than start-up costs.
 *
 * Three kernels are smaller, set instead by their slowest configuration, 4 nodes on 2 cores, where
 * kernel threads outnumber the cores and every barrier and fault waits for a thread to be
 * scheduled: falseshare and sparse do a few words of work per page between a barrier and a fault
 * on it, so their DSM rows take hundreds of times the single node at any size; lu has a barrier per
 * column, and at n = 384 its 4-node rows took 6-21 s each. At ~100 ms on one node each of the three
 * would take minutes; at these sizes each takes 15-30 s, and its DSM rows still run for seconds of
 * protocol work rather than start-up.
 */
export const QUICK_PRESET = {
  protocols: "ivy,diff,migrate,lrc,hlrc",
  nodes: "1,2,4",
  transports: "local",
  reps: "1",
  size: "quick",
  argsByKernel: {
    jacobi: [1024, 60], // 109 ms
    sor: [1024, 64], // 107 ms
    matmul: [544], // 110 ms
    wordfreq: [20000, 32], // 104 ms
    intsort: [2000000, 31, 7], // 116 ms
    tsp: [13, 1], // 99 ms
    nbody: [2048, 1], // 105 ms
    fft2d: [10], // 210 ms (a power of two: 9 takes 50 ms)
    lu: [192], // 3 ms
    falseshare: [8192, 150], // 2 ms
    sparse: [128, 50], // 3 ms
  } as Record<string, number[]>,
};

/**
 * Node counts when --nodes is not given: 1, 2, 4, ... up to the cores of this machine (at least
 * 1,2). More nodes than cores is single-host emulation, where fault-heavy kernels slow down by an
 * order of magnitude; it is there when asked for, not by default.
 */
export function defaultNodes(cores = availableParallelism()): string {
  const counts = [1];
  while (counts.at(-1)! * 2 <= Math.max(2, cores)) counts.push(counts.at(-1)! * 2);
  return counts.join(",");
}

export function planBench(values: BenchOptionValues, env: Record<string, string | undefined> = process.env): BenchPlan {
  const preset = values.quick ? QUICK_PRESET : undefined;
  const args = values.args === undefined ? undefined : list("args", values.args, parseArgument);
  const languages = list("languages", values.languages ?? "as", (l) => parseChoice("languages", l, LANGUAGE_CHOICES));
  const kernels = selectKernels(values.kernels, languages, args);
  // Twins take the same arguments: --kernels jacobi --languages as,c --args 512,10 is one kernel in two languages.
  if (args && new Set(kernels.map((k) => k.twin ?? k.name)).size !== 1) {
    throw new UsageError(`--args "${values.args}": gives the arguments of one kernel, but ${kernels.length} are selected; add --kernels NAME`);
  }
  const size = parseChoice("size", values.size ?? preset?.size ?? "quick", SIZE_NAMES);
  const transports = list("transports", values.transports ?? preset?.transports ?? "local", (t) => parseChoice("transports", t, TRANSPORT_NAMES));
  if (values.nats !== undefined && !transports.includes("nats")) {
    throw new UsageError(`--nats "${values.nats}": applies to the nats transport only; add --transports nats (or local,nats)`);
  }
  return {
    kernels,
    size,
    args,
    // An explicit --size means that size, not the preset's in-between one.
    argsByKernel: preset && values.size === undefined ? preset.argsByKernel : undefined,
    protocols: list("protocols", values.protocols ?? preset?.protocols ?? PROTOCOL_NAMES.join(","), (p) => parseChoice("protocols", p, PROTOCOL_NAMES)),
    nodes: list("nodes", values.nodes ?? preset?.nodes ?? defaultNodes(), (n) => parseInteger("nodes", n, 1, MAX_NODES)).sort((a, b) => a - b),
    transports,
    pageSizes: list("page-sizes", values["page-sizes"] ?? "4K", parsePageSize).sort((a, b) => a - b),
    sharedSize: values["shared-size"] === undefined ? undefined : parseSize("shared-size", values["shared-size"]),
    reps: parseInteger("reps", values.reps ?? preset?.reps ?? "3", 1, 100),
    baselines: !values["no-baselines"],
    nats: values.nats === undefined ? [] : list("nats", values.nats, (url) => url),
    faultTimeoutMs: parseInteger("timeout", values.timeout ?? env.DSM_TIMEOUT_MS ?? "10000", 1, 3_600_000),
    syncTimeoutMs: parseInteger("sync-timeout", values["sync-timeout"] ?? env.DSM_SYNC_TIMEOUT_MS ?? "120000", 1, 86_400_000),
    out: values.out ?? DEFAULT_OUT,
    cache: !values["no-cache"],
  };
}

/**
 * The kernels `--kernels` and `--languages` select, in the order given, each name's languages in
 * the order given (twins side by side). A suite name (`jacobi`) stands for its version in every
 * selected language, `as` the AssemblyScript kernel, `c` its C twin (`jacobi.c`); a twin's own
 * name (`jacobi.c`) selects it alone; the path of a .ts, .c, .cc or .cpp file selects that
 * kernel, run with `--args`. Without --kernels: every suite kernel that has a version in a
 * selected language.
 */
function selectKernels(text: string | undefined, languages: LanguageChoice[], args: number[] | undefined): BenchKernel[] {
  const explicit = text !== undefined;
  const items = explicit ? list("kernels", text, (item) => item) : BENCH_SUITE.map((k) => k.name);
  const selected: BenchKernel[] = [];
  for (const item of items) {
    const suite = BENCH_SUITE.find((k) => k.name === item);
    if (suite) {
      for (const language of languages) {
        const version = language === "as" ? suite : C_BENCH_SUITE.find((k) => k.twin === item);
        if (version) selected.push(version);
        else if (explicit) throw new UsageError(`--kernels "${item}": has no C version (--languages c); the C kernels are ${C_BENCH_SUITE.map((k) => k.name).join(", ")}`);
      }
      continue;
    }
    const named = benchKernel(item);
    if (named) {
      selected.push(named);
      continue;
    }
    selected.push(kernelFromPath(item, args));
  }
  const unique = [...new Map(selected.map((k) => [`${k.name}|${k.file}`, k])).values()];
  const clash = unique.find((k, i) => unique.findIndex((o) => o.name === k.name) !== i);
  if (clash) throw new UsageError(`--kernels: two kernels named "${clash.name}" (${unique.filter((k) => k.name === clash.name).map((k) => k.file).join(" and ")}); rows are named by file name, so rename one`);
  return unique;
}

/** A kernel outside the suite, given by the path of its source; it needs --args. */
function kernelFromPath(item: string, args: number[] | undefined): BenchKernel {
  const language = languageOf(item);
  if (!language) {
    const c = C_BENCH_SUITE.map((k) => k.name).join(", ");
    throw new UsageError(`--kernels "${item}": unknown; use one of ${BENCH_SUITE.map((k) => k.name).join(", ")}, the C kernels ${c}, or the path of a .ts, .c, .cc or .cpp file`);
  }
  if (!existsSync(item)) throw new UsageError(`--kernels "${item}": no such file; give the path of a kernel source, or a suite kernel's name`);
  if (!args) throw new UsageError(`--kernels "${item}": a kernel outside the suite runs with the arguments you give; add --args, e.g. --args 1024,100`);
  return kernelAt(resolve(item), language, args);
}

/** The `--quick` preset's arguments for `kernel` (a C twin's are its AssemblyScript kernel's). */
export function presetArgs(plan: BenchPlan, kernel: BenchKernel): number[] | undefined {
  return plan.argsByKernel?.[kernel.name] ?? (kernel.twin ? plan.argsByKernel?.[kernel.twin] : undefined);
}

/** The arguments of `run` a plan gives `kernel`. */
export function argsFor(plan: BenchPlan, kernel: BenchKernel): number[] {
  return plan.args ?? presetArgs(plan, kernel) ?? kernel[plan.size];
}

/** A comma-separated option value: each item parsed, duplicates dropped, order kept. */
function list<T>(option: string, text: string, parse: (item: string) => T): T[] {
  const items = text.split(",").map((s) => s.trim());
  if (items.some((s) => s === "")) throw new UsageError(`--${option} "${text}": expected a comma-separated list without empty items, e.g. ${EXAMPLES[option] ?? "a,b"}`);
  return [...new Set(items.map(parse))];
}

const EXAMPLES: Record<string, string> = {
  kernels: "jacobi,matmul",
  languages: "as,c",
  protocols: "ivy,diff",
  nodes: "1,2,4",
  transports: "local,nats",
  "page-sizes": "4K,16K",
  args: "1024,100",
  nats: "nats://127.0.0.1:4222",
};

function parsePageSize(text: string): number {
  const bytes = parseSize("page-sizes", text);
  if (bytes < 1024 || bytes > 65536 || (bytes & (bytes - 1)) !== 0) {
    throw new UsageError(`--page-sizes "${text}": expected a power of two from 1K to 64K, e.g. 4K`);
  }
  return bytes;
}

function parseArgument(text: string): number {
  const v = Number(text);
  if (!Number.isFinite(v)) throw new UsageError(`--args "${text}": expected a number`);
  return v;
}
