/**
 * Picks the concrete transport and protocol for a job and runs it.
 */
import type { KernelModule, RunArgument } from "../runtime/kernel_module.js";
import { jobSetting, prepareCheckpoints, type JobCheckpoints } from "../checkpoint/job_checkpoints.js";
import { runCluster } from "./cluster.js";
import { runLocalJob, type JobResult } from "./job.js";
import { runNatsJob } from "./nats_job.js";

export const PROTOCOL_NAMES = ["migrate", "ivy", "diff", "lrc", "hlrc"] as const;
export const TRANSPORT_NAMES = ["local", "nats"] as const;

export interface JobRequest {
  nodes: number;
  protocol: string;
  transport: string;
  /** nats server URLs; empty or absent starts a private server. */
  nats?: string[];
  faultTimeoutMs: number;
  /** Bound on one barrier or lock wait. @default 120000 */
  syncTimeoutMs?: number;
  /** Checkpoints at barriers, or a resume from one (embedded transport). @default none */
  checkpoints?: JobCheckpoints;
}

export async function runJob(kernel: KernelModule, args: RunArgument[], request: JobRequest): Promise<JobResult> {
  if (request.transport === "nats") return runNatsJob(kernel, kernel.bytes, args, request);
  const checkpoint = request.checkpoints && (await prepareCheckpoints(request.checkpoints, jobSetting(kernel, args, request.nodes, request.protocol), (node) => `dsm run: node ${node}`));
  if (request.nodes === 1) {
    // One node has nobody to be coherent with: every protocol degenerates to all pages local.
    const job = await runLocalJob(kernel, args, {
      nodes: 1,
      protocol: { name: "solo", job: 0, timeoutMs: request.faultTimeoutMs },
      transport: request.transport,
      faultTimeoutMs: request.faultTimeoutMs,
      syncTimeoutMs: request.syncTimeoutMs,
      checkpoint,
    });
    return { ...job, protocol: request.protocol };
  }
  return runCluster(kernel, args, { nodes: request.nodes, protocol: request.protocol, faultTimeoutMs: request.faultTimeoutMs, syncTimeoutMs: request.syncTimeoutMs, checkpoint });
}
