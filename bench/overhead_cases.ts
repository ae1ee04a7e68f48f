/**
 * What bench/overhead.ts measures: the kernels of the suite at sizes giving ~50-300 ms plain
 * single-node runs on a 2-vCPU machine, and their C twins at the same sizes; and the
 * instrumentation variants compared with the uninstrumented build: every optimisation on, each
 * one off alone, and none (one check per access).
 */
import { CHECK_OPTIMIZATIONS, type InstrumentOptions } from "../src/instrument/instrument.js";

export interface OverheadCase {
  kernel: string;
  /** Path of the kernel source, relative to the repository root. */
  file: string;
  /** Geometric means are taken per language: clang's code and asc's are checked differently well. */
  language: "AssemblyScript" | "C";
  args: number[];
}

/** Every parallel kernel of assembly/kernels/ (history and faultlat measure the runtime, not checks). */
export const OVERHEAD_CASES: OverheadCase[] = [
  { kernel: "jacobi", file: "assembly/kernels/jacobi.ts", language: "AssemblyScript", args: [1024, 150] },
  { kernel: "sor", file: "assembly/kernels/sor.ts", language: "AssemblyScript", args: [1024, 150] },
  { kernel: "matmul", file: "assembly/kernels/matmul.ts", language: "AssemblyScript", args: [640] },
  { kernel: "wordfreq", file: "assembly/kernels/wordfreq.ts", language: "AssemblyScript", args: [30000, 32] },
  { kernel: "intsort", file: "assembly/kernels/intsort.ts", language: "AssemblyScript", args: [4000000, 31, 7] },
  { kernel: "tsp", file: "assembly/kernels/tsp.ts", language: "AssemblyScript", args: [14, 1] },
  { kernel: "nbody", file: "assembly/kernels/nbody.ts", language: "AssemblyScript", args: [1024, 10] },
  { kernel: "fft2d", file: "assembly/kernels/fft2d.ts", language: "AssemblyScript", args: [10] },
  { kernel: "lu", file: "assembly/kernels/lu.ts", language: "AssemblyScript", args: [960] },
  { kernel: "falseshare", file: "assembly/kernels/falseshare.ts", language: "AssemblyScript", args: [16384, 9000] },
  { kernel: "sparse", file: "assembly/kernels/sparse.ts", language: "AssemblyScript", args: [1024, 3000] },
  // The C twins (assembly/kernels/c/), at their AssemblyScript kernels' sizes.
  { kernel: "jacobi.c", file: "assembly/kernels/c/jacobi.c", language: "C", args: [1024, 150] },
  { kernel: "matmul.c", file: "assembly/kernels/c/matmul.c", language: "C", args: [640] },
  { kernel: "intsort.c", file: "assembly/kernels/c/intsort.c", language: "C", args: [4000000, 31, 7] },
  { kernel: "fft2d.c", file: "assembly/kernels/c/fft2d.c", language: "C", args: [10] },
];

export interface OverheadVariant {
  /** `all`, `none`, or `no-<optimisation>`. */
  name: string;
  options: InstrumentOptions;
}

/** `all`, then each optimisation off alone, then `none`; `polls` applies to every variant. */
export function overheadVariants(polls: boolean): OverheadVariant[] {
  return [
    { name: "all", options: { polls } },
    ...CHECK_OPTIMIZATIONS.map((name) => ({ name: `no-${name}`, options: { polls, optimizations: { [name]: false } } })),
    { name: "none", options: { polls, optimizeChecks: false } },
  ];
}
