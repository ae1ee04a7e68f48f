/**
 * `dsm demo` (npm start): the main job on the embedded default. Builds the example Jacobi kernel
 * and runs it as the uninstrumented baseline and on DSM nodes, printing one line per run.
 */
import { fileURLToPath } from "node:url";
import { buildKernelIsolated } from "../instrument/build_worker.js";
import { loadKernelModule } from "../runtime/kernel_module.js";
import { runJob, type JobRequest } from "./run_job.js";
import type { JobResult } from "./job.js";

const JACOBI = fileURLToPath(new URL("../../../assembly/kernels/jacobi.ts", import.meta.url));

export interface DemoRun {
  label: string;
  request: JobRequest;
  baseline?: boolean;
}

export function demoRuns(): DemoRun[] {
  const base = { nodes: 1, protocol: "none", transport: "none", faultTimeoutMs: 10_000 };
  return [
    { label: "baseline (no DSM)", request: base, baseline: true },
    { label: "1 node", request: { ...base, protocol: "diff", transport: "local" } },
  ];
}

export async function demoCommand(_argv: string[]): Promise<number> {
  const args = [512, 50];
  console.log(`building ${JACOBI} …`);
  const built = await buildKernelIsolated(JACOBI);
  const instrumented = loadKernelModule(built.instrumented, "jacobi.wasm");
  const reference = loadKernelModule(built.reference, "jacobi.ref.wasm");
  console.log(`jacobi ${args.join("×")}: run(${args.join(", ")})`);
  let baselineMs = 0;
  for (const run of demoRuns()) {
    const job: JobResult = await runJob(run.baseline ? reference : instrumented, args, run.request);
    if (run.baseline) baselineMs = job.kernelMs;
    const ratio = baselineMs ? ` (${(job.kernelMs / baselineMs).toFixed(2)}× baseline)` : "";
    console.log(
      `  ${run.label.padEnd(24)} result ${job.result}  ${job.kernelMs.toFixed(1).padStart(8)} ms${ratio}  faults ${job.stats.readFaults + job.stats.writeFaults}  messages ${job.stats.messages}`,
    );
  }
  return 0;
}
