/**
 * The kernel suite: every kernel users run on wasm-dsm, with the arguments for tests (`tiny`), for a
 * short single-node run (`quick`, ~0.2-1 s uninstrumented) and for a full benchmark run (`full`),
 * the sharing pattern it stresses, and node 0's result at the tiny size (`expected`), which every
 * node count and protocol must reproduce exactly. `expected` is pinned here and checked against the
 * plain TypeScript references in {@link REFERENCES} by test/kernels_suite.test.ts.
 *
 * Building and running suite kernels (with a disk cache) is in suite_build.ts.
 */
import { fileURLToPath } from "node:url";
import { jsonValue } from "../../src/cli/job.js";
import * as dense from "./reference_dense.js";
import * as irregular from "./reference_irregular.js";

/** The repository root (this file runs from dist/test/helpers/). */
export const SUITE_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

export interface SuiteKernel {
  name: string;
  /** Path of the kernel source, relative to the repository root. */
  file: string;
  /** Arguments of `run` for tests: small, a few pages, each shared by several nodes. */
  tiny: number[];
  /** Arguments for a ~0.2-1 s single-node uninstrumented run. */
  quick: number[];
  /** Arguments for a full benchmark run; fits the default 64 MiB shared region. */
  full: number[];
  stresses: string;
  /** Node 0's result at `tiny`, as a job reports it (an i64 beyond 2^53 as a decimal string). */
  expected: number | string;
}

export const SUITE: SuiteKernel[] = [
  {
    name: "jacobi",
    file: "assembly/kernels/jacobi.ts",
    tiny: [64, 5],
    quick: [1024, 100],
    full: [1536, 300],
    stresses: "nearest-neighbour sharing: one boundary row of each neighbour per sweep",
    expected: 22630.228515625,
  },
  {
    name: "sor",
    file: "assembly/kernels/sor.ts",
    tiny: [64, 5],
    quick: [1024, 100],
    full: [1536, 300],
    stresses: "nearest-neighbour sharing, two barriers per iteration (red-black)",
    expected: 18580.5113726003,
  },
  {
    name: "matmul",
    file: "assembly/kernels/matmul.ts",
    tiny: [32],
    quick: [512],
    full: [1024],
    stresses: "read-mostly sharing: every node reads all of B",
    expected: -1859,
  },
  {
    name: "wordfreq",
    file: "assembly/kernels/wordfreq.ts",
    tiny: [200, 6],
    quick: [30000, 32],
    full: [100000, 128],
    stresses: "mostly private work; one lock-protected merge into a small shared table",
    expected: "-7674186182961102292",
  },
  {
    name: "intsort",
    file: "assembly/kernels/intsort.ts",
    tiny: [4096, 20, 7],
    quick: [4000000, 31, 7],
    full: [6000000, 31, 7],
    stresses: "all-to-all: per-node histogram rows read by all, scattered writes over the whole array",
    expected: "1558523018044967986",
  },
  {
    name: "tsp",
    file: "assembly/kernels/tsp.ts",
    tiny: [9, 1],
    quick: [14, 1],
    full: [16, 1],
    stresses: "lock-protected migratory work queue and a shared bound",
    expected: 2994,
  },
  {
    name: "nbody",
    file: "assembly/kernels/nbody.ts",
    tiny: [64, 2],
    quick: [1024, 10],
    full: [2048, 20],
    stresses: "lock-protected force accumulation by every node; positions read by all",
    expected: 671.0186177445391,
  },
  {
    name: "fft2d",
    file: "assembly/kernels/fft2d.ts",
    tiny: [5],
    quick: [10],
    full: [10],
    stresses: "all-to-all transpose between row FFTs",
    expected: -3375.061169834964,
  },
  {
    name: "lu",
    file: "assembly/kernels/lu.ts",
    tiny: [32],
    quick: [768],
    full: [1536],
    stresses: "shrinking working set, pivot row read by all, one barrier per column",
    expected: 11561.631848703806,
  },
  {
    name: "falseshare",
    file: "assembly/kernels/falseshare.ts",
    tiny: [600, 5],
    quick: [16384, 3000],
    full: [65536, 8000],
    stresses: "false sharing: disjoint words of the same pages written by every node between barriers",
    expected: "8029011123918569260",
  },
  {
    name: "sparse",
    file: "assembly/kernels/sparse.ts",
    tiny: [6, 5],
    quick: [1024, 1000],
    full: [4096, 2000],
    stresses: "sparse updates: a few words per page changed between reads by all other nodes",
    expected: "1307702758841500377",
  },
];

/** Single-node TypeScript re-implementations, by kernel name (see reference_dense.ts, reference_irregular.ts). */
export const REFERENCES: Record<string, (...args: number[]) => number | bigint> = {
  jacobi: dense.jacobi,
  sor: dense.sor,
  matmul: dense.matmul,
  lu: dense.lu,
  fft2d: dense.fft2d,
  intsort: irregular.intsort,
  tsp: irregular.tsp,
  nbody: irregular.nbody,
  wordfreq: irregular.wordfreq,
  falseshare: irregular.falseshare,
  sparse: irregular.sparse,
};

/** A reference result in the form a job reports it. */
export function referenceResult(name: string, args: number[]): number | string | null {
  const reference = REFERENCES[name];
  if (!reference) throw new Error(`no TypeScript reference for kernel "${name}"; add one to REFERENCES`);
  return jsonValue(reference(...args));
}

export function suiteKernel(name: string): SuiteKernel {
  const found = SUITE.find((k) => k.name === name);
  if (!found) throw new Error(`kernel "${name}" is not in the suite; one of: ${SUITE.map((k) => k.name).join(", ")}`);
  return found;
}
