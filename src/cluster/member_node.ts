/**
 * One node of a job whose nodes run as separate OS processes, possibly on several machines,
 * joined through NATS: `dsm node`, and each child process of `dsm run --transport nats`.
 *
 *   connect the control channel ─▶ rendezvous (ranks, same kernel/protocol/args)
 *     └ prepare(rank): NatsTransport for the rank, protocol subscribed, flushed; heartbeats start
 *   watch heartbeats ─▶ run the kernel (final barrier included) ─▶ announce done with the report
 *   rank 0 collects the other ranks' reports (bounded) for the job's statistics
 *
 * A lost or failed peer aborts this node's kernel at once; the error names the peer's rank.
 * A failure of this node is announced to the others before it is thrown.
 */
import { createHash, randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { FORMAT } from "../protocol/codec.js";
import type { CoreGauge } from "../runtime/core_gauge.js";
import { NodeThread } from "../runtime/node_thread.js";
import { natsNodesGauge } from "./cluster.js";
import type { KernelModule, RunArgument } from "../runtime/kernel_module.js";
import type { ProtocolSpec } from "../runtime/node_spec.js";
import { NatsTransport } from "../transport/nats_transport.js";
import { RelayHub } from "../transport/ring_relay.js";
import type { RingLinkSpec } from "../transport/ring_link.js";
import type { CheckpointSpec } from "../checkpoint/node_checkpoint.js";
import { NatsControlChannel } from "./control_channel.js";
import { Heartbeat } from "./heartbeat.js";
import { jobNumber } from "./job_id.js";
import { jsonValue, type PerNodeResult } from "./job.js";
import type { NatsAuth } from "../transport/nats_transport.js";
import { Rendezvous, type Fingerprint, type Member } from "./rendezvous.js";

export interface MemberNodeConfig {
  kernel: KernelModule;
  job: string;
  nodes: number;
  /** undefined: take a rank at rendezvous. */
  rank?: number;
  protocol: string;
  servers: string[];
  auth: NatsAuth;
  args: RunArgument[];
  faultTimeoutMs: number;
  syncTimeoutMs: number;
  /** Microseconds a waiting node spins before it sleeps. @default the runtime's (DSM_SPIN_US, or gauged by the process's cores) */
  spinMicros?: number;
  /** Bound on the rendezvous. @default 60000 */
  joinTimeoutMs?: number;
  /** @default 500 */
  heartbeatMs?: number;
  /** @default 3000 */
  lostAfterMs?: number;
  /** Rank 0 waits this long for the other ranks' reports. @default 2000, 0 skips collecting */
  reportWaitMs?: number;
  /** Connection events of the node's transport (disconnect, reconnect, ...). */
  onStatus?(rank: number, event: { type: string; data: unknown }): void;
  /** Called once ranks are agreed, before the kernel starts; `server` is the one the transport uses. */
  onJoined?(self: Member, members: Member[], server: string): void;
  /**
   * A round of a job resumed from a checkpoint (checkpointed_node.ts): its own rendezvous,
   * heartbeats and protocol job number. @default none: the job's first round
   */
  round?: string;
  /** This node's checkpoints (once its rank is known). @default none */
  checkpoint?: (rank: number) => CheckpointSpec;
}

export interface MemberNodeOutcome {
  self: Member;
  members: Member[];
  node: PerNodeResult;
  /** Rank 0 only: every rank's report that arrived, by rank (its own included). */
  perNode?: PerNodeResult[];
  /** Ranks whose reports did not arrive in time. */
  missingReports: number[];
}

/** The hex sha256 of a kernel's module bytes: what rendezvous compares. */
export function kernelHash(kernel: KernelModule): string {
  return createHash("sha256").update(kernel.bytes).digest("hex");
}

export function fingerprintOf(config: Pick<MemberNodeConfig, "kernel" | "protocol" | "nodes" | "args">): Fingerprint {
  return {
    kernel: kernelHash(config.kernel),
    protocol: config.protocol,
    pageSize: config.kernel.meta.layout.pageSize,
    format: FORMAT,
    nodes: config.nodes,
    args: config.args.map((a) => a.toString()),
  };
}

export async function runMemberNode(config: MemberNodeConfig): Promise<MemberNodeOutcome> {
  const uid = randomBytes(6).toString("hex");
  const control = await NatsControlChannel.connect({ servers: config.servers, job: config.job, auth: config.auth, name: `dsm-${config.job}-control-${uid}`, round: config.round });
  const member = new MemberNode(config, control);
  try {
    return await member.run(uid);
  } finally {
    await member.close();
    await control.close();
  }
}

/** What one node builds once its rank is known, and tears down at the end. */
class MemberNode {
  private rendezvous: Rendezvous | undefined;
  private preparing: Promise<void> | undefined;
  private transport: NatsTransport | undefined;
  private node: NodeThread | undefined;
  private link: RingLinkSpec | undefined;
  /** Shared by the node's worker and its relay (core_gauge.ts); none when the spin is set by hand. */
  private readonly gauge: CoreGauge | undefined;
  private readonly hub: RelayHub;
  private heartbeat: Heartbeat | undefined;
  /** The first lost or failed peer, which aborted this node. */
  private lost: Error | undefined;

  constructor(
    private readonly config: MemberNodeConfig,
    private readonly control: NatsControlChannel,
  ) {
    this.gauge = config.spinMicros === undefined ? natsNodesGauge(config.servers) : undefined;
    this.hub = new RelayHub({ running: this.gauge?.buffer });
  }

  async run(uid: string): Promise<MemberNodeOutcome> {
    const { config } = this;
    this.rendezvous = new Rendezvous(this.control, config.job, { uid, host: hostname(), pid: process.pid, rank: config.rank }, fingerprintOf(config), {
      timeoutMs: config.joinTimeoutMs,
      lostAfterMs: config.lostAfterMs,
      prepare: (rank, members) => (this.preparing = this.prepare(rank, members)),
    });
    const { self, members } = await this.rendezvous.join();
    config.onJoined?.(self, members, this.transport!.server);
    const heartbeat = this.heartbeat!;
    heartbeat.watch();
    let report: PerNodeResult;
    try {
      const r = await this.node!.run(config.args, {
        protocol: protocolSpec(config),
        link: this.link!,
        faultTimeoutMs: config.faultTimeoutMs,
        syncTimeoutMs: config.syncTimeoutMs + 2000,
        spinMicros: config.spinMicros,
        gauge: this.gauge,
        checkpoint: config.checkpoint?.(self.rank),
      });
      report = { node: r.node, value: jsonValue(r.value), kernelMs: r.kernelMs, stats: r.stats };
    } catch (error) {
      if (this.lost) throw this.lost;
      heartbeat.abort(`${(error as Error).name}: ${(error as Error).message}`);
      throw error;
    }
    // A peer lost after the final barrier does not matter: every node's kernel has finished.
    heartbeat.finish(report);
    const outcome: MemberNodeOutcome = { self, members, node: report, missingReports: [] };
    const waitMs = config.reportWaitMs ?? 2000;
    if (self.rank === 0 && waitMs > 0) {
      const others = members.filter((m) => m.rank !== 0).map((m) => m.rank);
      const { reports, missing } = await heartbeat.reports(others, waitMs);
      outcome.perNode = [report, ...others.filter((r) => reports.has(r)).map((r) => reports.get(r) as PerNodeResult)];
      outcome.missingReports = missing;
    }
    return outcome;
  }

  /** Ranks are agreed: connect the transport, subscribe the protocol, start heartbeating. */
  private async prepare(rank: number, members: Member[]): Promise<void> {
    const { config } = this;
    const onStatus = config.onStatus && ((event: { type: string; data: unknown }) => config.onStatus!(rank, event));
    this.transport = await NatsTransport.connect({ servers: config.servers, job: config.job, nodeId: rank, nodeCount: config.nodes, ...config.auth, onStatus });
    this.node = new NodeThread(config.kernel, rank, config.nodes);
    // Subscribed now: messages of faster peers wait in the node's ring until its worker starts.
    this.link = this.hub.add(this.transport, { wake: this.node.pollWord });
    this.hub.start();
    await this.transport.flush();
    this.heartbeat = new Heartbeat(this.control, {
      self: members[rank],
      members,
      intervalMs: config.heartbeatMs,
      lostAfterMs: config.lostAfterMs,
      onFailure: (error) => this.abort(error),
    });
    this.heartbeat.beat();
  }

  private abort(error: Error): void {
    this.lost ??= error;
    // The worker stops at its next poll or wait, instead of holding the run until its own timeout.
    this.node!.abort(error);
  }

  async close(): Promise<void> {
    this.rendezvous?.close();
    await this.preparing?.catch(() => undefined); // a rendezvous that failed meanwhile must not leak its transport
    this.heartbeat?.close();
    await this.hub.stop();
    await this.transport?.close().catch(() => undefined);
  }
}

function protocolSpec(config: MemberNodeConfig): ProtocolSpec {
  if (config.nodes === 1) return { name: "solo", job: 0, timeoutMs: config.faultTimeoutMs };
  // A new round's number sets its messages apart from those of the round before.
  const job = config.round === undefined ? config.job : `${config.job}.${config.round}`;
  return { name: config.protocol, job: jobNumber(job), timeoutMs: config.faultTimeoutMs, syncTimeoutMs: config.syncTimeoutMs, placement: "allocation" };
}
