/**
 * Picks the concrete transport and protocol for a job and runs it.
 */
import { createSolo } from "../protocol/solo.js";
import type { KernelModule } from "../runtime/kernel_module.js";
import { runCluster } from "./cluster.js";
import { runLocalJob, type JobResult } from "./job.js";
import { runNatsJob } from "./nats_job.js";

export const PROTOCOL_NAMES = ["migrate", "ivy", "diff", "lrc"] as const;
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
}

export async function runJob(kernel: KernelModule, args: (number | bigint)[], request: JobRequest): Promise<JobResult> {
  if (request.transport === "nats") return runNatsJob(kernel, kernel.bytes, args, request);
  if (request.nodes === 1) {
    // One node has nobody to be coherent with: every protocol degenerates to all pages local.
    return runLocalJob(kernel, args, {
      ...request,
      environment: (_id, port) => ({ coherence: createSolo(port), counters: () => ({ messages: 0, bytes: 0 }), close: async () => {} }),
    });
  }
  return runCluster(kernel, args, { nodes: request.nodes, protocol: request.protocol, faultTimeoutMs: request.faultTimeoutMs, syncTimeoutMs: request.syncTimeoutMs });
}
