/**
 * Runs a job with every node in this process, over the local network or over NATS (one
 * connection per node to one nats-server), so callers (tests, benchmarks) can read each node's memory afterwards.
 */
import { createProtocol } from "../protocol/index.js";
import { runLocalJob, type JobResult } from "./job.js";
import { jobNumber, newJobName } from "./job_id.js";
import type { KernelModule } from "../runtime/kernel_module.js";
import type { KernelNode, NodeResult } from "../runtime/kernel_node.js";
import { LocalNetwork } from "../transport/local_transport.js";
import { NatsTransport } from "../transport/nats_transport.js";
import type { Transport } from "../transport/transport.js";

export const DEFAULT_SYNC_TIMEOUT_MS = 120_000;

export interface ClusterOptions {
  nodes: number;
  protocol: string;
  /** A nats server URL runs the nodes over NATS; otherwise the local network. */
  natsUrl?: string;
  faultTimeoutMs?: number;
  /** @default 120000 */
  syncTimeoutMs?: number;
  inspect?: (node: KernelNode, result: NodeResult) => void;
}

export async function runCluster(kernel: KernelModule, args: (number | bigint)[], options: ClusterOptions): Promise<JobResult> {
  const name = newJobName();
  const job = jobNumber(name);
  let network: LocalNetwork | undefined;
  let transports: Transport[];
  if (options.natsUrl) {
    transports = await Promise.all(
      Array.from({ length: options.nodes }, (_, nodeId) => NatsTransport.connect({ servers: options.natsUrl!, job: name, nodeId, nodeCount: options.nodes })),
    );
  } else {
    network = new LocalNetwork(options.nodes);
    transports = Array.from({ length: options.nodes }, (_, id) => network!.transport(id));
  }
  try {
    return await runLocalJob(kernel, args, {
      nodes: options.nodes,
      protocol: options.protocol,
      transport: options.natsUrl ? "nats" : "local",
      faultTimeoutMs: options.faultTimeoutMs ?? 10_000,
      // The protocol's own bound fires first and names the node waited on.
      syncTimeoutMs: (options.syncTimeoutMs ?? DEFAULT_SYNC_TIMEOUT_MS) + 2000,
      inspect: options.inspect,
      environment: (id, port) => {
        const coherence = createProtocol(options.protocol, {
          transport: transports[id],
          port,
          job,
          timeoutMs: options.faultTimeoutMs ?? 10_000,
          syncTimeoutMs: options.syncTimeoutMs ?? DEFAULT_SYNC_TIMEOUT_MS,
          placement: "allocation",
        });
        return { coherence, counters: () => ({ ...transports[id].counters }), close: async () => coherence.close() };
      },
    });
  } finally {
    await Promise.all(transports.map((t) => t.close().catch(() => undefined)));
    await network?.close();
  }
}
