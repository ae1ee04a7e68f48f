/**
 * Runs one job with every node in this process: a KernelNode per node, a coherence protocol per
 * node over a shared transport network. The first node to fail stops the others, so a job either
 * returns node 0's result or rejects with the first error.
 */
import { availableParallelism } from "node:os";
import type { Coherence, PagePort, ProtocolStats } from "../protocol/coherence.js";
import { KernelNode, type NodeResult, type NodeRunOptions, type RuntimeStats } from "../runtime/kernel_node.js";
import { CoreGauge, GAUGE_BYTES, GAUGED_SPIN_US } from "../runtime/mailbox.js";
import type { KernelModule } from "../runtime/kernel_module.js";

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
  /** Time in `run` on node 0 (no compile or start-up). */
  kernelMs: number;
  /** Whole job: from creating the nodes to the end of the final barrier. */
  wallMs: number;
  stats: NodeStats;
  perNode: PerNodeResult[];
}

export interface NodeEnvironment {
  coherence: Coherence;
  /** Messages and bytes this node sent. */
  counters(): { messages: number; bytes: number };
  close(): Promise<void>;
}

export interface LocalJobOptions extends NodeRunOptions {
  nodes: number;
  protocol: string;
  transport: string;
  /** Builds node `id`'s protocol and transport around its memory. */
  environment(id: number, port: PagePort): NodeEnvironment;
  /** Called with each node once it finished, while its memory is still at hand (tests read logs). */
  inspect?(node: KernelNode, result: NodeResult): void;
}

export async function runLocalJob(kernel: KernelModule, args: (number | bigint)[], options: LocalJobOptions): Promise<JobResult> {
  const t0 = performance.now();
  const nodes = Array.from({ length: options.nodes }, (_, id) => new KernelNode(kernel, id, options.nodes));
  const envs = nodes.map((node) => options.environment(node.nodeId, node));
  const spin = spinPolicy(options);
  let firstError: Error | undefined;
  const runs = nodes.map((node, i) =>
    node.run(envs[i].coherence, args, { ...options, ...spin }).then((result) => (options.inspect?.(node, result), result)).catch(async (error: Error) => {
      if (!firstError) {
        firstError = error;
        await Promise.all(nodes.filter((n) => n !== node).map((n) => n.abort(error)));
      }
      throw error;
    }),
  );
  const settled = await Promise.allSettled(runs);
  await Promise.all(envs.map((env) => env.close().catch(() => undefined)));
  if (firstError) throw firstError;
  const results = settled.map((s) => (s as PromiseFulfilledResult<NodeResult>).value);
  const wallMs = performance.now() - t0;
  const perNode: PerNodeResult[] = results.map((r, i) => ({
    node: r.node,
    value: jsonValue(r.value),
    kernelMs: r.kernelMs,
    stats: { ...r.stats, ...envs[i].coherence.stats(), ...envs[i].counters() },
  }));
  return {
    result: jsonValue(results[0].value),
    kernel: kernel.meta.kernel,
    nodes: options.nodes,
    protocol: options.protocol,
    transport: options.transport,
    pageSize: kernel.meta.layout.pageSize,
    instrumented: kernel.meta.instrumented,
    kernelMs: results[0].kernelMs,
    wallMs,
    stats: sumStats(perNode.map((n) => n.stats)),
    perNode,
  };
}

/**
 * The nodes of one process share a {@link CoreGauge}: each worker spins (up to GAUGED_SPIN_US,
 * backing off after spins that got no reply) only while the kernel threads running at that
 * moment and the host fit the cores, so a lone faulting node spins while its peers wait at a
 * barrier, and none spins while all compute. DSM_SPIN_US or `spinMicros` sets a fixed spin instead.
 */
function spinPolicy(options: NodeRunOptions): Pick<NodeRunOptions, "spinMicros" | "gauge"> {
  const env = process.env.DSM_SPIN_US;
  if (options.spinMicros !== undefined) return { spinMicros: options.spinMicros, gauge: options.gauge };
  if (env !== undefined && env !== "") return { spinMicros: Number(env) };
  return { spinMicros: GAUGED_SPIN_US, gauge: options.gauge ?? new CoreGauge(new SharedArrayBuffer(GAUGE_BYTES), availableParallelism()) };
}

/**
 * How long a kernel of a process of its own spins on its mailbox before sleeping, when its
 * machine runs `kernelThreads` kernel threads in all. Spinning saves the ~45 µs of waking a
 * sleeping thread, but only while every kernel thread and the host have a core of their own;
 * with more threads than cores the spinning takes the CPU the reply needs (intsort on 4 nodes
 * over 2 cores: 5–10 s spinning, 0.7 s not). DSM_SPIN_US overrides.
 */
export function spinMicrosFor(kernelThreads: number): number {
  const env = process.env.DSM_SPIN_US;
  if (env !== undefined && env !== "") return Number(env);
  return kernelThreads + 1 <= availableParallelism() ? 300 : 0;
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
