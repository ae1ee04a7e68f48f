/**
 * `dsm node` with checkpoints: a node of a job that survives the loss of a node.
 *
 *   store has no checkpoint of the job ──▶ round 1: the job from the start
 *   store has checkpoint N (a restart, or this node replaces a lost one)
 *                                       ──▶ round "rN": every node resumes from checkpoint N
 *   a rank is lost mid-round (NodeLostError) and a checkpoint N is committed
 *     ──▶ this node stays: it joins round "rN" with its own rank and waits up to the rejoin
 *         timeout for a replacement (a `dsm node` of the same job, kernel, node count and
 *         arguments, given the lost rank or taking the free one); then every node resumes
 *   no replacement in time, or no checkpoint yet ──▶ NodeLostError naming the lost rank, and
 *         where its checkpoint is kept
 *
 * A round has its own rendezvous and heartbeat subjects and protocol job number
 * (member_node.ts), so nothing of an earlier round reaches it.
 */
import { ResumeError } from "../checkpoint/errors.js";
import { jobSetting, type JobCheckpoints } from "../checkpoint/job_checkpoints.js";
import type { CheckpointSpec } from "../checkpoint/node_checkpoint.js";
import { checkSetting, latestCheckpoint } from "../checkpoint/store.js";
import { NodeLostError } from "./heartbeat.js";
import { runMemberNode, type MemberNodeConfig, type MemberNodeOutcome } from "./member_node.js";
import { RendezvousTimeoutError } from "./rendezvous.js";

export interface Recovery {
  checkpoints: JobCheckpoints;
  /** How long the nodes left wait for a replacement. */
  rejoinTimeoutMs: number;
  /** Progress lines for stderr. */
  log(line: string): void;
}

export async function runCheckpointedNode(config: MemberNodeConfig, recovery: Recovery): Promise<MemberNodeOutcome> {
  const { checkpoints } = recovery;
  const setting = jobSetting(config.kernel, config.args, config.nodes, config.protocol);
  const first = await latestCheckpoint(checkpoints.store, checkpoints.job);
  const where = first.where;
  let from = first.manifest;
  if (!from && checkpoints.resume) throw new ResumeError(`job ${checkpoints.job} has no committed checkpoint in ${where}; start it without --resume`);
  let rank = config.rank;
  let joinTimeoutMs = config.joinTimeoutMs;
  let lost: NodeLostError | undefined;
  for (;;) {
    if (from) checkSetting(from, setting, where);
    const spec = (): CheckpointSpec => ({ store: checkpoints.store, job: checkpoints.job, everyMs: checkpoints.everyMs, resume: from !== undefined, setting, label: `dsm node` });
    try {
      return await runMemberNode({
        ...config,
        rank,
        joinTimeoutMs,
        round: from ? `r${from.checkpoint}` : undefined,
        checkpoint: spec,
        onJoined: (self, members, server) => {
          rank = self.rank;
          config.onJoined?.(self, members, server);
        },
      });
    } catch (error) {
      if (lost && error instanceof RendezvousTimeoutError) {
        lost.message += `; no replacement joined within ${recovery.rejoinTimeoutMs} ms; checkpoint ${from!.checkpoint} of job ${checkpoints.job} is kept: start every node again to resume from it`;
        throw lost;
      }
      if (!(error instanceof NodeLostError)) throw error;
      const next = (await latestCheckpoint(checkpoints.store, checkpoints.job)).manifest;
      if (!next) {
        error.message += "; no checkpoint was committed yet, so the job cannot go on";
        throw error;
      }
      lost = error;
      from = next;
      joinTimeoutMs = recovery.rejoinTimeoutMs;
      recovery.log(
        `dsm node: rank ${error.rank} lost; waiting up to ${Math.round(recovery.rejoinTimeoutMs / 1000)} s for a replacement ` +
          `(dsm node --job ${config.job} --nodes ${config.nodes} --rank ${error.rank} with the same kernel and arguments) to resume from checkpoint ${next.checkpoint}`,
      );
    }
  }
}
