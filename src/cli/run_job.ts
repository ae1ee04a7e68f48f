/**
 * Picks the concrete transport and protocol for a job and runs it.
 */
import { createSolo } from "../protocol/solo.js";
import type { KernelModule } from "../runtime/kernel_module.js";
import { runLocalJob, type JobResult } from "./job.js";
import { UsageError } from "./options.js";

export const PROTOCOL_NAMES = ["migrate", "ivy", "diff"] as const;
export const TRANSPORT_NAMES = ["local", "nats"] as const;

export interface JobRequest {
  nodes: number;
  protocol: string;
  transport: string;
  nats?: string[];
  faultTimeoutMs: number;
}

export async function runJob(kernel: KernelModule, args: (number | bigint)[], request: JobRequest): Promise<JobResult> {
  if (request.nodes === 1) {
    // One node has nobody to be coherent with: every protocol degenerates to all pages local.
    return runLocalJob(kernel, args, {
      ...request,
      environment: (_id, port) => ({ coherence: createSolo(port), counters: () => ({ messages: 0, bytes: 0 }), close: async () => {} }),
    });
  }
  throw new UsageError(`--nodes ${request.nodes}: multi-node runs are not available in this build; use --nodes 1`);
}
