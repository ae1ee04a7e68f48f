/**
 * Pieces the bench scripts share: the git revision every JSON row carries, medians and rounding,
 * the DSM_BENCH_ knobs they read alike, the raw request/reply round trip of a transport (the
 * floor each script sets its costs against), measured the same way by each, and the protocols'
 * warm-up before anything is measured, the one dsm bench runs.
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { WARM_UP_BOUNDS, warmFor } from "../src/cli/bench/warm_up.js";
import { WARM_UP_KERNEL, warmUpResult } from "../src/cli/bench/suite.js";
import { runCluster } from "../src/cluster/cluster.js";
import { buildKernelIsolated } from "../src/instrument/build_worker.js";
import { loadKernelModule } from "../src/runtime/kernel_module.js";
import { holdHelpers } from "../src/runtime/worker_pool.js";
import { NatsTransport } from "../src/transport/nats_transport.js";
import { measureRawRtt, measureRingRtt, type RttResult } from "./raw_rtt.js";

export const TRANSPORTS = ["local", "nats"] as const;
export type TransportName = (typeof TRANSPORTS)[number];

export function gitRev(): string {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "unknown";
  }
}

export function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** The middle value; the upper of the two middle values for an even count. */
export const median = (values: number[]) => percentile([...values].sort((x, y) => x - y), 0.5);

/** One decimal. */
export const r1 = (x: number) => Math.round(x * 10) / 10;

/** Two decimals, for ratios. */
export const r2 = (x: number) => Math.round(x * 100) / 100;

/** DSM_BENCH_TRANSPORTS: the transports to measure, comma-separated. @default "local,nats" */
export function transportsFromEnv(env: Record<string, string | undefined> = process.env): TransportName[] {
  const list = (env.DSM_BENCH_TRANSPORTS ?? "local,nats").split(",").map((t) => t.trim());
  for (const t of list) {
    if (!(TRANSPORTS as readonly string[]).includes(t)) throw new Error(`DSM_BENCH_TRANSPORTS: unknown transport "${t}"; give local, nats or local,nats`);
  }
  return list as TransportName[];
}

/** A whole number from an environment variable, at least `min`. */
export function countFromEnv(name: string, fallback: number, min = 1, env: Record<string, string | undefined> = process.env): number {
  const text = env[name];
  if (text === undefined || text === "") return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} "${text}": expected a whole number of at least ${min}`);
  return n;
}

/**
 * The raw round trip of a transport: `count` request/replies of `payload` bytes after `warmUp`
 * untimed ones. Embedded nodes talk through shared-memory rings between their worker threads, so
 * the local floor is a ping-pong between two workers over those rings; over NATS (`natsUrl`) it is
 * request/reply between two connections of this process.
 */
export async function rawRoundTrip(natsUrl: string | undefined, payload: number, count: number, warmUp: number): Promise<RttResult> {
  if (!natsUrl) return measureRingRtt(payload, count, warmUp);
  const job = `rtt${Date.now()}`;
  const [a, b] = await Promise.all([0, 1].map((nodeId) => NatsTransport.connect({ servers: natsUrl, job, nodeId, nodeCount: 2 })));
  try {
    return await measureRawRtt(a, b, payload, count, warmUp);
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
}

/**
 * Runs dsm bench's warm-up kernel on 2 nodes for WARM_UP_BOUNDS.ms per protocol and transport
 * (nats over `natsUrl`), with V8's compiler threads at full priority until the last
 * (worker_pool.ts holdHelpers), so that the protocol code is compiled before a bench measures it
 * and those threads go below the kernels only then (cli/bench/warm_up.ts says why), and prints a
 * line saying so. Call it before any node job of the process.
 */
export async function warmUpProtocols(protocols: readonly string[], transports: readonly TransportName[], natsUrl: string, pageSize: number): Promise<void> {
  const t0 = performance.now();
  const release = holdHelpers();
  try {
    const source = fileURLToPath(new URL(`../../${WARM_UP_KERNEL.file}`, import.meta.url));
    const kernel = loadKernelModule((await buildKernelIsolated(source, { pageSize })).instrumented, "warmup.ts");
    const [pages, rounds] = WARM_UP_KERNEL.quick;
    const expected = warmUpResult(pages!, rounds!, 2);
    for (const transport of transports) {
      for (const protocol of protocols) {
        await warmFor(
          async () => {
            const job = await runCluster(kernel, [pages!, rounds!, pageSize], { nodes: 2, protocol, natsUrl: transport === "nats" ? natsUrl : undefined });
            if (job.result !== expected) throw new Error(`warm-up kernel on ${protocol} returned ${String(job.result)}, expected ${expected}`);
          },
          () => performance.now(),
          WARM_UP_BOUNDS,
        );
      }
    }
  } finally {
    release();
  }
  const seconds = r1((performance.now() - t0) / 1000);
  console.log(`warm-up: dsm bench's warm-up kernel on 2 nodes for ${WARM_UP_BOUNDS.ms / 1000} s per protocol and transport, V8's compiler threads at full priority (${seconds} s)`);
}
