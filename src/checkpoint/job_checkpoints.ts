/**
 * Checkpoints of a whole job, as the host that starts its nodes sets them up: what every node's
 * CheckpointSpec says, and the checks made before any node starts (a fresh start must not
 * overwrite a job's checkpoint; a resume needs one taken with the same setting).
 */
import { ResumeError } from "./errors.js";
import type { CheckpointSpec } from "./node_checkpoint.js";
import { checkSetting, latestCheckpoint, sha256, type JobSetting, type StoreSpec } from "./store.js";

export interface JobCheckpoints {
  store: StoreSpec;
  /** The job's name: what a later --resume names. */
  job: string;
  /** Checkpoint at the first barrier this many ms after the last; absent: none (resume only). */
  everyMs?: number;
  resume: boolean;
}

/** What of a kernel module a setting records (a runtime KernelModule has it). */
export interface SettingKernel {
  bytes: Uint8Array;
  meta: { kernel: string; layout: { pageSize: number } };
}

export function jobSetting(kernel: SettingKernel, args: readonly (number | bigint | string)[], nodes: number, protocol: string): JobSetting {
  return { kernel: kernel.meta.kernel, kernelSha256: sha256(kernel.bytes), args: args.map(String), nodes, protocol, pageSize: kernel.meta.layout.pageSize };
}

/**
 * Checks the store for `setting` and returns each node's spec; `label(node)` starts its commit
 * line. Throws ResumeError when a fresh start would replace a checkpoint, or a resume has none
 * or one of another setting.
 */
export async function prepareCheckpoints(options: JobCheckpoints, setting: JobSetting, label: (node: number) => string): Promise<(node: number) => CheckpointSpec> {
  const { manifest: latest, where } = await latestCheckpoint(options.store, options.job);
  if (options.resume) {
    if (!latest) throw new ResumeError(`job ${options.job} has no committed checkpoint in ${where}; start it without --resume`);
    checkSetting(latest, setting, where);
  } else if (latest) {
    throw new ResumeError(`job ${options.job} already has checkpoint ${latest.checkpoint} in ${where}; continue it with --resume, name this run otherwise with --job, or remove that directory`);
  }
  return (node) => ({ store: options.store, job: options.job, everyMs: options.everyMs, resume: options.resume, setting, label: label(node) });
}
