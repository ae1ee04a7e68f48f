/**
 * Child-process entry for `dsm run --transport nats`: one node per OS process. The parent sends
 * a NodeProcessConfig over the IPC channel; the child joins its siblings through NATS (rendezvous,
 * then heartbeats: a sibling that hangs or is cut off stops this one within seconds, see
 * member_node.ts), runs its node and sends back a NodeProcessReport.
 */
import { readFileSync } from "node:fs";
import { loadKernelModule } from "../runtime/kernel_module.js";
import { spinMicrosFor, type PerNodeResult } from "./job.js";
import { runMemberNode } from "./member_node.js";
import type { NatsAuth } from "../transport/nats_transport.js";

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
  auth: NatsAuth;
}

export type NodeProcessReport = { type: "result"; node: PerNodeResult } | { type: "error"; name: string; message: string };

/** Bound on the rendezvous of the sibling processes, which all start at once. */
const JOIN_TIMEOUT_MS = 30_000;

async function runNodeProcess(config: NodeProcessConfig): Promise<PerNodeResult> {
  const kernel = loadKernelModule(readFileSync(config.kernelPath), config.kernelPath);
  // A program's argv stays words; run's arguments are numbers again.
  const args = kernel.meta.entry === "main" ? config.args.map(String) : config.args.map((a, i) => (config.i64[i] ? BigInt(a) : Number(a)));
  const outcome = await runMemberNode({
    kernel,
    job: config.job,
    nodes: config.nodeCount,
    rank: config.nodeId,
    protocol: config.protocol,
    servers: config.servers,
    auth: config.auth,
    args,
    faultTimeoutMs: config.faultTimeoutMs,
    syncTimeoutMs: config.syncTimeoutMs,
    joinTimeoutMs: JOIN_TIMEOUT_MS,
    // Every node of the job runs on this machine, each process a kernel thread and a host thread.
    spinMicros: spinMicrosFor(2 * config.nodeCount - 1),
    // The parent collects every node's report itself.
    reportWaitMs: 0,
  });
  return outcome.node;
}

process.once("message", (config: NodeProcessConfig) => {
  runNodeProcess(config).then(
    (node) => process.send!({ type: "result", node } satisfies NodeProcessReport, () => process.exit(0)),
    (error: Error) => process.send!({ type: "error", name: error.name, message: error.message } satisfies NodeProcessReport, () => process.exit(1)),
  );
});
