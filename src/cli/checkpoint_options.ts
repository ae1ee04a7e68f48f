/**
 * The checkpoint options of `dsm run` (and, with another store default, of `dsm node`):
 * --checkpoint-every SECONDS, --checkpoint-store DIR, --resume, --job NAME.
 */
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import type { JobCheckpoints } from "../checkpoint/job_checkpoints.js";
import { UsageError } from "./options.js";

export const CHECKPOINT_OPTIONS = {
  "checkpoint-every": { type: "string" },
  "checkpoint-store": { type: "string" },
  resume: { type: "boolean" },
  job: { type: "string" },
} as const;

export const CHECKPOINT_HELP = `  --checkpoint-every S  checkpoint the job at the first barrier S seconds (a decimal number)
                        after the start or the last checkpoint (env DSM_CHECKPOINT_EVERY);
                        each node prints "checkpoint N committed (BYTES bytes, MS ms)"
  --checkpoint-store DIR
                        where checkpoints go (default: ${join(tmpdir(), "wasm-dsm-checkpoints")});
                        a job's are removed once it finishes
  --job NAME            the job's name in the store (default: the kernel's file name without
                        its extension)
  --resume              continue job NAME from its last committed checkpoint; the kernel,
                        arguments, node count, protocol and page size must be the same`;

export const DEFAULT_CHECKPOINT_DIR = join(tmpdir(), "wasm-dsm-checkpoints");

const JOB_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;

/** The checkpoint part of a run, or undefined when it neither checkpoints nor resumes. */
export function parseCheckpointOptions(values: Record<string, string | boolean | undefined>, kernelPath: string): JobCheckpoints | undefined {
  const everyText = (values["checkpoint-every"] as string | undefined) ?? (process.env.DSM_CHECKPOINT_EVERY || undefined);
  const resume = Boolean(values.resume);
  if (everyText === undefined && !resume) {
    if (values["checkpoint-store"] !== undefined) throw new UsageError(`--checkpoint-store applies with --checkpoint-every or --resume; add one of them`);
    return undefined;
  }
  let everyMs: number | undefined;
  if (everyText !== undefined) {
    const seconds = Number(everyText);
    if (!/^\d+(\.\d+)?$/.test(everyText.trim()) || !(seconds > 0) || seconds > 86_400 * 365) {
      throw new UsageError(`--checkpoint-every "${everyText}": expected a number of seconds above 0, such as 60 or 0.5`);
    }
    everyMs = seconds * 1000;
  }
  const job = (values.job as string | undefined) ?? basename(kernelPath).replace(/\.[^.]*(\.in)?$/, "");
  if (!JOB_NAME.test(job)) throw new UsageError(`--job "${job}": a job name is 1 to 64 letters, digits, "_", "." or "-", not starting with "." or "-"`);
  const dir = (values["checkpoint-store"] as string | undefined) ?? DEFAULT_CHECKPOINT_DIR;
  return { store: { kind: "dir", path: resolve(dir) }, job, everyMs, resume };
}
