/**
 * Runs a job with every node in this process, over the embedded ring network or over NATS (one
 * connection per node to one nats-server, each relayed to its node's worker by this thread), so
 * callers (tests, benchmarks) can read each node's memory afterwards.
 */
import { availableParallelism } from "node:os";
import type { CheckpointSpec } from "../checkpoint/node_checkpoint.js";
import { runLocalJob, type JobResult } from "./job.js";
import { jobNumber, newJobName } from "./job_id.js";
import type { KernelModule, RunArgument } from "../runtime/kernel_module.js";
import { processGauge, type NodeResult, type NodeThread } from "../runtime/node_thread.js";
import type { ChaosSpec, ProtocolSpec } from "../runtime/node_spec.js";
import { NatsTransport } from "../transport/nats_transport.js";
import { RelayHub } from "../transport/ring_relay.js";
import { serverOnThisMachine } from "../transport/nats_server.js";
import { LOCAL_SERVER_CORES, type CoreGauge } from "../runtime/core_gauge.js";

export const DEFAULT_SYNC_TIMEOUT_MS = 120_000;

export interface ClusterOptions {
  nodes: number;
  protocol: string;
  /** A nats server URL runs the nodes over NATS; otherwise the embedded ring network. */
  natsUrl?: string;
  faultTimeoutMs?: number;
  /** @default 120000 */
  syncTimeoutMs?: number;
  /** Protocol tuning beyond the timeouts (history bounds, gcBytes, ...). @default none */
  tuning?: Partial<ProtocolSpec>;
  /** Chaos mode per node (tests). @default none */
  chaos?: (node: number) => ChaosSpec | undefined;
  inspect?: (node: NodeThread, result: NodeResult) => void;
  /** Called once every node's worker has been started (runLocalJob's `started`). */
  started?: (nodes: readonly NodeThread[]) => void;
  /** Checkpoints per node (job_checkpoints.ts). @default none */
  checkpoint?: (node: number) => CheckpointSpec;
}

/**
 * Whether the nodes of a job in one process meet at barriers without a manager: when each has a
 * core of its own. A barrier then costs the last node to arrive nothing after its arrival, and the
 * others the one ring hop from it. 2-node empty barriers (bench:sync, embedded, two runs each):
 * diff 5.8 and 11.5 µs with the manager, 4.4 and 7.1 without; lrc 16.1 and 23.0, 13.6 and 14.2;
 * hlrc 14.0 and 29.2, 9.2 and 14.6. With more nodes than cores the arrivals' wake-ups cost more
 * than the hop saved (4 nodes on 2 cores: diff 159-275 µs with the manager, 220-222 without).
 */
export function peerBarriersInProcess(nodes: number, cores: number): boolean {
  return nodes <= cores;
}

/**
 * Whether the nodes of a job in one process send what they can ahead of a miss: pages pushed at
 * barriers (ivy, diff: page_pushes.ts; hlrc: hlrc/pushes.ts) and pages handed over in lock grants
 * (lock_pages.ts, hlrc/grant_pages.ts), as over NATS. With more nodes than cores every hop costs a
 * wake-up: 4 nodes on 2 cores, 6 warm jobs each, two rounds: Jacobi 1024×100 ivy 457-683 ms
 * without pushes, 285-390 with; hlrc 433-557 against 247-435; tsp 13 under ivy 521-791 without
 * pages in grants, 420-575 with. With a core per node a miss costs microseconds, less than the
 * extra bytes (2 nodes: diff Jacobi medians 78.5/111/117 ms without, 78.7/117/124 with; tsp under
 * ivy 59-70 without pages in grants, 66-72 with).
 */
export function sendAheadInProcess(nodes: number, cores: number): boolean {
  return nodes > cores;
}

/** The core gauge of a process's nodes over NATS through `servers`: one core fewer when a server runs on this machine. */
export function natsNodesGauge(servers: string | readonly string[]): CoreGauge {
  return processGauge(serverOnThisMachine(servers) ? LOCAL_SERVER_CORES : 0);
}

export async function runCluster(kernel: KernelModule, args: RunArgument[], options: ClusterOptions): Promise<JobResult> {
  const name = newJobName();
  const faultTimeoutMs = options.faultTimeoutMs ?? 10_000;
  const syncTimeoutMs = options.syncTimeoutMs ?? DEFAULT_SYNC_TIMEOUT_MS;
  const protocol: ProtocolSpec = { placement: "allocation", ...options.tuning, name: options.protocol, job: jobNumber(name), timeoutMs: faultTimeoutMs, syncTimeoutMs };
  const common = {
    nodes: options.nodes,
    protocol,
    faultTimeoutMs,
    // The protocol's own bound fires first and names the node waited on.
    syncTimeoutMs: syncTimeoutMs + 2000,
    chaos: options.chaos,
    inspect: options.inspect,
    started: options.started,
    checkpoint: options.checkpoint,
  };
  if (!options.natsUrl) {
    const cores = availableParallelism();
    const ahead = sendAheadInProcess(options.nodes, cores);
    const local = {
      ...protocol,
      peerBarriers: protocol.peerBarriers ?? peerBarriersInProcess(options.nodes, cores),
      pushes: protocol.pushes ?? ahead,
      lockPages: protocol.lockPages ?? ahead,
    };
    return runLocalJob(kernel, args, { ...common, protocol: local, transport: "local" });
  }
  const transports = await Promise.all(
    Array.from({ length: options.nodes }, (_, nodeId) => NatsTransport.connect({ servers: options.natsUrl!, job: name, nodeId, nodeCount: options.nodes })),
  );
  // The relay shares the nodes' gauge: while it moves messages, waiting workers leave it a core;
  // and a nats-server on this machine keeps one for itself (a node spinning there held up every
  // message through it: see LOCAL_SERVER_CORES).
  const gauge = natsNodesGauge(options.natsUrl);
  const hub = new RelayHub({ running: gauge.buffer });
  try {
    hub.start();
    return await runLocalJob(kernel, args, {
      ...common,
      gauge,
      transport: "nats",
      links: (nodes) => transports.map((t, i) => hub.add(t, { wake: nodes[i]!.pollWord })),
    });
  } finally {
    await hub.stop();
    await Promise.all(transports.map((t) => t.close().catch(() => undefined)));
  }
}
