/**
 * Child-process entry for `dsm run --transport nats`: one node per OS process. The parent sends
 * a NodeProcessConfig over the IPC channel; the child connects to NATS, runs its node and sends
 * back a NodeProcessReport.
 */
import { readFileSync } from "node:fs";
import { createProtocol } from "../protocol/index.js";
import { createSolo } from "../protocol/solo.js";
import { KernelNode } from "../runtime/kernel_node.js";
import { loadKernelModule } from "../runtime/kernel_module.js";
import { NatsTransport } from "../transport/nats_transport.js";
import { jobNumber } from "./job_id.js";
import { jsonValue, type PerNodeResult } from "./job.js";

export interface NodeProcessConfig {
  kernelPath: string;
  job: string;
  nodeId: number;
  nodeCount: number;
  protocol: string;
  servers: string[];
  /** Kernel arguments; i64 values travel as decimal strings. */
  args: (number | string)[];
  i64: boolean[];
  faultTimeoutMs: number;
  syncTimeoutMs: number;
}

export type NodeProcessReport = { type: "result"; node: PerNodeResult } | { type: "error"; name: string; message: string };

async function runNodeProcess(config: NodeProcessConfig): Promise<PerNodeResult> {
  const kernel = loadKernelModule(readFileSync(config.kernelPath), config.kernelPath);
  const transport = await NatsTransport.connect({ servers: config.servers, job: config.job, nodeId: config.nodeId, nodeCount: config.nodeCount });
  try {
    const node = new KernelNode(kernel, config.nodeId, config.nodeCount);
    const coherence =
      config.nodeCount === 1
        ? createSolo(node)
        : createProtocol(config.protocol, {
            transport,
            port: node,
            job: jobNumber(config.job),
            timeoutMs: config.faultTimeoutMs,
            syncTimeoutMs: config.syncTimeoutMs,
          });
    const args = config.args.map((a, i) => (config.i64[i] ? BigInt(a) : Number(a)));
    try {
      const r = await node.run(coherence, args, { faultTimeoutMs: config.faultTimeoutMs, syncTimeoutMs: config.syncTimeoutMs + 2000 });
      return { node: r.node, value: jsonValue(r.value), kernelMs: r.kernelMs, stats: { ...r.stats, ...coherence.stats(), ...transport.counters } };
    } finally {
      await coherence.close().catch(() => undefined);
    }
  } finally {
    await transport.close().catch(() => undefined);
  }
}

process.once("message", (config: NodeProcessConfig) => {
  runNodeProcess(config).then(
    (node) => process.send!({ type: "result", node } satisfies NodeProcessReport, () => process.exit(0)),
    (error: Error) => process.send!({ type: "error", name: error.name, message: error.message } satisfies NodeProcessReport, () => process.exit(1)),
  );
});
