/**
 * Runs a kernel on 1-4 nodes in this process with chaos mode (src/runtime/chaos.ts) on every
 * node, inside its worker: one node with the solo protocol, several with `protocol` over the
 * embedded ring network.
 */
import { runCluster } from "../../src/cluster/cluster.js";
import { runLocalJob, type JobResult } from "../../src/cluster/job.js";
import type { ProtocolTuning } from "../../src/protocol/protocol_options.js";
import type { ChaosCounters } from "../../src/runtime/chaos.js";
import type { KernelModule } from "../../src/runtime/kernel_module.js";
import { typedArgs } from "./suite_build.js";

export interface ChaosJobOptions {
  nodes: number;
  protocol: string;
  seed: number;
  /** Bound on every wait for another node. @default 10000 */
  timeoutMs?: number;
  /** Take private pages too (ChaosOptions.privatePages). @default true */
  privatePages?: boolean;
  /** Protocol tuning of a run on several nodes (runCluster's). */
  tuning?: ProtocolTuning;
}

export interface ChaosJobResult {
  job: JobResult;
  /** Chaos counters summed over the nodes. */
  chaos: ChaosCounters;
}

export async function runChaosJob(kernel: KernelModule, args: number[], options: ChaosJobOptions): Promise<ChaosJobResult> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const chaos = (id: number) => ({ seed: options.seed * 31 + id, privatePages: options.privatePages });
  const job =
    options.nodes > 1
      ? await runCluster(kernel, typedArgs(kernel, args), { nodes: options.nodes, protocol: options.protocol, faultTimeoutMs: timeoutMs, syncTimeoutMs: timeoutMs, chaos, tuning: options.tuning })
      : await runLocalJob(kernel, typedArgs(kernel, args), {
          nodes: 1,
          protocol: { name: "solo", job: 0, timeoutMs },
          transport: "none",
          faultTimeoutMs: timeoutMs,
          syncTimeoutMs: timeoutMs + 2000,
          chaos,
        });
  const s = job.stats as Record<string, number>;
  return { job, chaos: { taken: s.chaosTaken ?? 0, givenBack: s.chaosGivenBack ?? 0, faultsAbsorbed: s.chaosAbsorbed ?? 0, parks: s.chaosParks ?? 0 } };
}
