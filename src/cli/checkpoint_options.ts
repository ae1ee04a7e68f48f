/**
 * The checkpoint options of `dsm run` and `dsm node`: --checkpoint-every SECONDS,
 * --checkpoint-store DIR|nats, --resume, --job NAME; `dsm node` adds --rejoin-timeout.
 */
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import type { JobCheckpoints } from "../checkpoint/job_checkpoints.js";
import type { NatsAuth } from "../transport/nats_transport.js";
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

export const NODE_CHECKPOINT_HELP = `checkpoints (every node of the job gives the same):
  --checkpoint-every S  checkpoint the job at the first barrier S seconds (a decimal number)
                        after the start or the last checkpoint (env DSM_CHECKPOINT_EVERY);
                        each node prints "dsm node: checkpoint N committed (BYTES bytes, MS ms)".
                        When a node is lost, the others wait for a replacement and every node
                        goes on from the last committed checkpoint; a node started while the
                        job has one joins from it (a replacement, or every node after a restart)
  --checkpoint-store S  nats (default: a JetStream object store bucket dsm-ckpt-<job> on the
                        --nats cluster, which must run JetStream) or a directory every node reaches
  --rejoin-timeout MS   how long the nodes left wait for a replacement (default 60000,
                        env DSM_REJOIN_TIMEOUT_MS); then they exit 1 naming the lost rank
  --resume              require a checkpoint to go on from (without it, a job with none starts)`;

export const DEFAULT_CHECKPOINT_DIR = join(tmpdir(), "wasm-dsm-checkpoints");

const JOB_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;

/** Where `dsm node`'s checkpoints go by default (`--checkpoint-store nats`): the job's nats cluster. */
export interface NatsDefault {
  servers: string[];
  auth: NatsAuth;
}

/**
 * The checkpoint part of a run, or undefined when it neither checkpoints nor resumes. `job` is
 * the job's name when the command has one of its own (dsm node); `nats` makes "nats" the default
 * store (else a directory under the system's temp dir).
 */
export function parseCheckpointOptions(values: Record<string, string | boolean | undefined>, kernelPath: string, nats?: NatsDefault): JobCheckpoints | undefined {
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
  const where = (values["checkpoint-store"] as string | undefined) ?? (nats ? "nats" : DEFAULT_CHECKPOINT_DIR);
  if (where === "nats") {
    if (!nats) throw new UsageError(`--checkpoint-store nats applies to dsm node, whose nats cluster keeps them; give dsm run a directory`);
    return { store: { kind: "nats", servers: nats.servers, auth: nats.auth }, job, everyMs, resume };
  }
  return { store: { kind: "dir", path: resolve(where) }, job, everyMs, resume };
}
