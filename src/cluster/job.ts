/**
 * Runs one job with every node in this process: a NodeThread (a worker running the kernel and its
 * protocol) per node, linked by shared-memory rings (the embedded transport) or by links a caller
 * builds (NATS relays). The first node to fail stops the others, so a job either returns node 0's
 * result or rejects with the first error.
 */
import { availableParallelism } from "node:os";
import type { ProtocolStats } from "../protocol/coherence.js";
import { NodeThread, processGauge, type NodeResult, type NodeRunOptions } from "../runtime/node_thread.js";
import type { KernelModule, RunArgument } from "../runtime/kernel_module.js";
import type { ChaosSpec, ProtocolSpec, RuntimeStats } from "../runtime/node_spec.js";
import { START_GATE_BYTES } from "../runtime/start_gate.js";
import type { CheckpointSpec } from "../checkpoint/node_checkpoint.js";
import { ringNetwork } from "../transport/ring_network.js";
import type { RingLinkSpec } from "../transport/ring_link.js";

/** Runtime counters, protocol counters and transport counters of one node (or summed). */
export type NodeStats = RuntimeStats & ProtocolStats & { messages: number; bytes: number };

export interface PerNodeResult {
  node: number;
  value: number | string | null;
  kernelMs: number;
  stats: NodeStats;
}

export interface JobResult {
  result: number | string | null;
  kernel: string;
  nodes: number;
  protocol: string;
  transport: string;
  pageSize: number;
  instrumented: boolean;
  /** Time in `run` on node 0 (no compile or start-up: the nodes of one process start `run` together, start_gate.ts). */
  kernelMs: number;
  /** Whole job: from creating the nodes to the end of the final barrier. */
  wallMs: number;
  stats: NodeStats;
  perNode: PerNodeResult[];
}

export interface LocalJobOptions extends Pick<NodeRunOptions, "faultTimeoutMs" | "syncTimeoutMs" | "spinMicros" | "gauge"> {
  nodes: number;
  /** The protocol every node runs (its name is what the result reports). */
  protocol: ProtocolSpec;
  /** The transport's name, for the result. */
  transport: string;
  /** The nodes' links. @default the embedded ring network (ring_network.ts) */
  links?: (nodes: readonly NodeThread[]) => RingLinkSpec[];
  /** Chaos mode per node (tests). @default none */
  chaos?: (node: number) => ChaosSpec | undefined;
  /** Checkpoints per node (checkpoint_job.ts). @default none */
  checkpoint?: (node: number) => CheckpointSpec | undefined;
  /** Called with each node once it finished, while its memory is still at hand (tests read logs). */
  inspect?(node: NodeThread, result: NodeResult): void;
  /** Called once every node's worker has been started, before this function first yields. */
  started?(nodes: readonly NodeThread[]): void;
}

export async function runLocalJob(kernel: KernelModule, args: RunArgument[], options: LocalJobOptions): Promise<JobResult> {
  const t0 = performance.now();
  const nodes = Array.from({ length: options.nodes }, (_, id) => new NodeThread(kernel, id, options.nodes));
  const gauge = options.gauge ?? (options.spinMicros === undefined ? processGauge() : undefined);
  const links = options.links?.(nodes) ?? ringNetwork(options.nodes, { wake: (n) => nodes[n]!.pollWord, running: gauge?.buffer });
  const startGate = new SharedArrayBuffer(START_GATE_BYTES);
  let firstError: Error | undefined;
  const runs = nodes.map((node, i) =>
    node
      .run(args, { ...options, gauge, startGate, link: links[i]!, chaos: options.chaos?.(i), checkpoint: options.checkpoint?.(i) })
      .then((result) => (options.inspect?.(node, result), result))
      .catch((error: Error) => {
        if (!firstError) {
          firstError = error;
          for (const other of nodes) if (other !== node) other.abort(error);
        }
        throw error;
      }),
  );
  options.started?.(nodes);
  const settled = await Promise.allSettled(runs);
  if (firstError) throw firstError;
  const results = settled.map((s) => (s as PromiseFulfilledResult<NodeResult>).value);
  const wallMs = performance.now() - t0;
  const perNode: PerNodeResult[] = results.map((r) => ({ node: r.node, value: jsonValue(r.value), kernelMs: r.kernelMs, stats: r.stats }));
  return {
    result: jsonValue(results[0]!.value),
    kernel: kernel.meta.kernel,
    nodes: options.nodes,
    protocol: options.protocol.name,
    transport: options.transport,
    pageSize: kernel.meta.layout.pageSize,
    instrumented: kernel.meta.instrumented,
    kernelMs: results[0]!.kernelMs,
    wallMs,
    stats: sumStats(perNode.map((n) => n.stats)),
    perNode,
  };
}

/**
 * How long a kernel of a process of its own spins before sleeping, when its machine runs
 * `threads` busy threads in all: spinning saves a wake-up only while every one has a core; with
 * more threads than cores the spinning takes the CPU the answer needs. DSM_SPIN_US overrides.
 */
export function spinMicrosFor(threads: number): number {
  const env = process.env.DSM_SPIN_US;
  if (env !== undefined && env !== "") return Number(env);
  return threads <= availableParallelism() ? 300 : 0;
}

/** i64 results travel as decimal strings when they do not fit a double exactly. */
export function jsonValue(value: number | bigint | undefined): number | string | null {
  if (value === undefined) return null;
  if (typeof value === "bigint") return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  return value;
}

export function sumStats(perNode: NodeStats[]): NodeStats {
  const total: Record<string, number> = {};
  for (const stats of perNode) {
    for (const [key, v] of Object.entries(stats)) total[key] = (total[key] ?? 0) + v;
  }
  return total as NodeStats;
}
