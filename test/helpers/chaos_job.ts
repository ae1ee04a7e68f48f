/**
 * Runs a kernel on 1-4 nodes in this process with chaos mode (src/runtime/chaos.ts) on every
 * node: one node with the solo protocol, several with `protocol` over the local network.
 */
import { runLocalJob, type JobResult } from "../../src/cli/job.js";
import { createProtocol } from "../../src/protocol/index.js";
import { createSolo } from "../../src/protocol/solo.js";
import { ChaosMemory, chaosCoherence, type ChaosCounters } from "../../src/runtime/chaos.js";
import type { KernelModule } from "../../src/runtime/kernel_module.js";
import type { KernelNode } from "../../src/runtime/kernel_node.js";
import { LocalNetwork } from "../../src/transport/local_transport.js";
import { prng } from "./random.js";
import { typedArgs } from "./suite_build.js";

export interface ChaosJobOptions {
  nodes: number;
  protocol: string;
  seed: number;
  /** Bound on every wait for another node. @default 10000 */
  timeoutMs?: number;
  /** Take private pages too (ChaosOptions.privatePages). @default true */
  privatePages?: boolean;
}

export interface ChaosJobResult {
  job: JobResult;
  /** Chaos counters summed over the nodes. */
  chaos: ChaosCounters;
}

export async function runChaosJob(kernel: KernelModule, args: number[], options: ChaosJobOptions): Promise<ChaosJobResult> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const network = options.nodes > 1 ? new LocalNetwork(options.nodes) : undefined;
  const transports = Array.from({ length: options.nodes }, (_, id) => network?.transport(id));
  const chaos = new Map<number, ChaosMemory>();
  try {
    const job = await runLocalJob(kernel, typedArgs(kernel, args), {
      nodes: options.nodes,
      protocol: network ? options.protocol : "none",
      transport: network ? "local" : "none",
      faultTimeoutMs: timeoutMs,
      syncTimeoutMs: timeoutMs + 2000,
      parkHook: (id, request) => chaos.get(id)!.parked(request),
      environment: (id, port) => {
        const memory = new ChaosMemory(port as KernelNode, { random: prng(options.seed * 31 + id).next, privatePages: options.privatePages });
        chaos.set(id, memory);
        const transport = transports[id];
        const inner = transport ? createProtocol(options.protocol, { transport, port: memory, job: 1, timeoutMs, syncTimeoutMs: timeoutMs }) : createSolo(memory);
        const counters = () => (transport ? { ...transport.counters } : { messages: 0, bytes: 0 });
        return { coherence: chaosCoherence(inner, memory), counters, close: async () => inner.close() };
      },
    });
    const total: ChaosCounters = { taken: 0, givenBack: 0, faultsAbsorbed: 0, parks: 0 };
    for (const m of chaos.values()) for (const key of Object.keys(total) as (keyof ChaosCounters)[]) total[key] += m.counters[key];
    return { job, chaos: total };
  } finally {
    for (const m of chaos.values()) m.stop();
    await Promise.all(transports.map((t) => t?.close().catch(() => undefined)));
    await network?.close();
  }
}
