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
import { BENCH_SUITE, type BenchKernel } from "../../src/cli/bench/suite.js";
import { jsonValue } from "../../src/cluster/job.js";
import * as dense from "./reference_dense.js";
import * as irregular from "./reference_irregular.js";

/** The repository root (this file runs from dist/test/helpers/). */
export const SUITE_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

export interface SuiteKernel extends BenchKernel {
  /** Node 0's result at `tiny` (an i64 beyond 2^53 as a decimal string). */
  expected: number | string;
}

/** Node 0's result at the tiny size, as a job reports it; checked against {@link REFERENCES}. */
const EXPECTED: Record<string, number | string> = {
  jacobi: 22630.228515625,
  sor: 18580.511372600307,
  matmul: -1859,
  wordfreq: "-7674186182961102292",
  intsort: "1558523018044967986",
  tsp: 2994,
  nbody: 671.0186177445391,
  fft2d: -3375.061169834964,
  lu: 11561.631848703806,
  falseshare: "8029011123918569260",
  sparse: "1307702758841500377",
};

export const SUITE: SuiteKernel[] = BENCH_SUITE.map((kernel) => ({ ...kernel, expected: EXPECTED[kernel.name] }));

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
