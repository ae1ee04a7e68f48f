/**
 * Runs a kernel on embedded nodes of lrc with a chosen garbage-collection bound (for the GC
 * tests), single-writer pages off: a page one node alone writes would hold no twin or diff to
 * collect.
 */
import { runLocalJob } from "../../src/cluster/job.js";
import type { KernelModule } from "../../src/runtime/kernel_module.js";

export async function runLrcWithGcBound(module: KernelModule, args: (number | bigint)[], nodes: number, gcBytes: number, job = 5) {
  return runLocalJob(module, args, {
    nodes,
    protocol: { name: "lrc", job, timeoutMs: 10_000, gcBytes, singleWriter: false },
    transport: "local",
    faultTimeoutMs: 10_000,
    syncTimeoutMs: 20_000,
  });
}
