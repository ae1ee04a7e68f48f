/** Runs a kernel on embedded nodes of lrc with a chosen garbage-collection bound (for the GC tests). */
import { runLocalJob } from "../../src/cluster/job.js";
import type { KernelModule } from "../../src/runtime/kernel_module.js";

export async function runLrcWithGcBound(module: KernelModule, args: (number | bigint)[], nodes: number, gcBytes: number, job = 5) {
  return runLocalJob(module, args, {
    nodes,
    protocol: { name: "lrc", job, timeoutMs: 10_000, gcBytes },
    transport: "local",
    faultTimeoutMs: 10_000,
    syncTimeoutMs: 20_000,
  });
}
