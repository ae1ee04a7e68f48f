/**
 * The kernels `dsm bench` and `dsm demo` run: every kernel of assembly/kernels/ that is a parallel
 * program, with its arguments at three sizes and the sharing pattern it stresses; and the C twins
 * of four of them (assembly/kernels/c/), named by their file (`jacobi.c`), which give the same
 * results at the same arguments.
 *
 * test/helpers/suite.ts adds each kernel's pinned result at the tiny size and its TypeScript
 * reference.
 */
import { basename, extname } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (this file runs from dist/src/cli/bench/). */
export const REPOSITORY_ROOT = fileURLToPath(new URL("../../../../", import.meta.url));

export const SIZE_NAMES = ["tiny", "quick", "full"] as const;
export type SizeName = (typeof SIZE_NAMES)[number];

/** The languages a bench kernel is written in, as rows and reports name them. */
export const KERNEL_LANGUAGES = ["AssemblyScript", "C", "C++"] as const;
export type KernelLanguage = (typeof KERNEL_LANGUAGES)[number];

export interface BenchKernel {
  name: string;
  /** Path of the kernel source, relative to the repository root (or absolute, for a kernel given by path). */
  file: string;
  language: KernelLanguage;
  /** The AssemblyScript kernel a C kernel is the twin of: the same arguments give the same result. */
  twin?: string;
  /** Arguments of `run` for tests: small, but several pages per node. */
  tiny: number[];
  /** Arguments for a ~0.2-1 s single-node uninstrumented run. */
  quick: number[];
  /** Arguments for a full benchmark run; fits the default 64 MiB shared region. */
  full: number[];
  stresses: string;
}

export const BENCH_SUITE: readonly BenchKernel[] = [
  {
    name: "jacobi",
    file: "assembly/kernels/jacobi.ts",
    language: "AssemblyScript",
    tiny: [64, 5],
    quick: [1024, 100],
    full: [1536, 300],
    stresses: "nearest-neighbour sharing: one boundary row of each neighbour per sweep",
  },
  {
    name: "sor",
    file: "assembly/kernels/sor.ts",
    language: "AssemblyScript",
    tiny: [64, 5],
    quick: [1024, 100],
    full: [1536, 300],
    stresses: "nearest-neighbour sharing, two barriers per iteration (red-black)",
  },
  {
    name: "matmul",
    file: "assembly/kernels/matmul.ts",
    language: "AssemblyScript",
    tiny: [32],
    quick: [512],
    full: [1024],
    stresses: "read-mostly sharing: every node reads all of B",
  },
  {
    name: "wordfreq",
    file: "assembly/kernels/wordfreq.ts",
    language: "AssemblyScript",
    tiny: [200, 6],
    quick: [30000, 32],
    full: [100000, 128],
    stresses: "mostly private work; one lock-protected merge into a small shared table",
  },
  {
    name: "intsort",
    file: "assembly/kernels/intsort.ts",
    language: "AssemblyScript",
    tiny: [4096, 20, 7],
    quick: [4000000, 31, 7],
    full: [6000000, 31, 7],
    stresses: "all-to-all: per-node histogram rows read by all, scattered writes over the whole array",
  },
  {
    name: "tsp",
    file: "assembly/kernels/tsp.ts",
    language: "AssemblyScript",
    tiny: [9, 1],
    quick: [14, 1],
    full: [16, 1],
    stresses: "lock-protected migratory work queue and a shared bound",
  },
  {
    name: "nbody",
    file: "assembly/kernels/nbody.ts",
    language: "AssemblyScript",
    tiny: [64, 2],
    quick: [1024, 10],
    full: [2048, 20],
    stresses: "lock-protected force accumulation by every node; positions read by all",
  },
  {
    name: "fft2d",
    file: "assembly/kernels/fft2d.ts",
    language: "AssemblyScript",
    tiny: [5],
    quick: [10],
    full: [10],
    stresses: "all-to-all transpose between row FFTs",
  },
  {
    name: "lu",
    file: "assembly/kernels/lu.ts",
    language: "AssemblyScript",
    tiny: [32],
    quick: [768],
    full: [1536],
    stresses: "shrinking working set, pivot row read by all, one barrier per column",
  },
  {
    name: "falseshare",
    file: "assembly/kernels/falseshare.ts",
    language: "AssemblyScript",
    tiny: [600, 5],
    quick: [16384, 3000],
    full: [65536, 8000],
    stresses: "false sharing: disjoint words of the same pages written by every node between barriers",
  },
  {
    name: "sparse",
    file: "assembly/kernels/sparse.ts",
    language: "AssemblyScript",
    tiny: [6, 5],
    quick: [1024, 1000],
    full: [4096, 2000],
    stresses: "sparse updates: a few words per page changed between reads by all other nodes",
  },
];

/** The C twins: each AssemblyScript kernel's sizes and sharing pattern, under its file's name. */
export const C_BENCH_SUITE: readonly BenchKernel[] = ["jacobi", "matmul", "intsort", "fft2d"].map((twin) => {
  const as = BENCH_SUITE.find((k) => k.name === twin)!;
  return { ...as, name: `${twin}.c`, file: `assembly/kernels/c/${twin}.c`, language: "C", twin };
});

/**
 * Not a row of the report: a kernel every protocol runs before the measured jobs (jobs.ts
 * protocolWarmUps), so V8 has compiled the protocol's code by then. Its `quick` arguments are
 * run(pages per node, rounds); the stride (the page size) is added at run time.
 */
export const WARM_UP_KERNEL: BenchKernel = {
  name: "warmup",
  file: "assembly/kernels/warmup.ts",
  language: "AssemblyScript",
  tiny: [2, 2],
  // ~1 s per protocol on 2 nodes, ~2 s on 4, on 2 vCPUs: V8 keeps compiling protocol code for
  // thousands of faults and hundreds of barriers (fewer rounds left jacobi's first runs slower).
  quick: [8, 100],
  full: [8, 100],
  stresses: "every protocol path a computing kernel takes: read and write faults, locks, barriers",
};

/** What WARM_UP_KERNEL's run(pages, rounds, stride) returns on `nodes` nodes. */
export function warmUpResult(pages: number, rounds: number, nodes: number): number {
  return (pages * rounds * (rounds - 1)) / 2 + (rounds * pages * (pages - 1)) / 2 + rounds * nodes;
}

export function benchKernelNames(): string[] {
  return BENCH_SUITE.map((k) => k.name);
}

/** A kernel of either suite by name (`jacobi`, `jacobi.c`). */
export function benchKernel(name: string): BenchKernel | undefined {
  return BENCH_SUITE.find((k) => k.name === name) ?? C_BENCH_SUITE.find((k) => k.name === name);
}

/** The language of a kernel source, by its extension; undefined for anything else. */
export function languageOf(file: string): KernelLanguage | undefined {
  const ext = extname(file).toLowerCase();
  if (ext === ".ts") return "AssemblyScript";
  if (ext === ".c") return "C";
  if ([".cc", ".cpp", ".cxx"].includes(ext)) return "C++";
  return undefined;
}

/**
 * A kernel outside the suites, given by the path of its source: named by its file name, run
 * with the arguments the user gives (`args`) at every size.
 */
export function kernelAt(path: string, language: KernelLanguage, args: number[]): BenchKernel {
  return { name: basename(path), file: path, language, tiny: args, quick: args, full: args, stresses: "" };
}
