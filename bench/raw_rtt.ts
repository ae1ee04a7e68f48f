/**
 * Raw request/reply round trip of a transport, without any protocol on top: the floor under every
 * remote fault. On the embedded transport that is two worker threads over shared-memory rings
 * (measureRingRtt); over NATS, request/reply between two connections. Run: `npx tsc -p tsconfig.json && node dist/bench/raw_rtt.js [payloadBytes] [count]`.
 * Prints one readable line and one JSON row per transport. The NATS case runs both nodes in this
 * process over a private loopback nats-server (separate processes measure a little slower).
 */
import { execFileSync } from "node:child_process";
import { pathToFileURL } from "node:url";
import { startNatsServer } from "../src/transport/nats_server.js";
import { NatsTransport } from "../src/transport/nats_transport.js";
import type { Transport } from "../src/transport/transport.js";
import { Worker } from "node:worker_threads";
import { ringNetwork } from "../src/transport/ring_network.js";

export interface RttResult {
  /** Microseconds. */
  median: number;
  p99: number;
}

/**
 * Times `count` sequential requests of `payloadBytes` from `a` to `b`, which echoes them
 * (replacing `b`'s handler), after `warmUp` untimed ones (default a tenth as many). On the local
 * transport the round trip halves (~7 → ~3.7 µs) once V8 has optimised its path, which takes a
 * few thousand requests.
 */
export async function measureRawRtt(a: Transport, b: Transport, payloadBytes: number, count: number, warmUp = Math.ceil(count / 10)): Promise<RttResult> {
  b.listen((bytes, reply) => reply?.(bytes));
  await (b as { flush?: () => Promise<void> }).flush?.();
  const payload = new Uint8Array(payloadBytes).fill(7);
  for (let i = 0; i < warmUp; i++) await a.request(b.nodeId, payload, 5000);
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = process.hrtime.bigint();
    const reply = await a.request(b.nodeId, payload, 5000);
    samples.push(Number(process.hrtime.bigint() - started) / 1000);
    if (reply.byteLength !== payloadBytes) throw new Error(`echo of ${payloadBytes} bytes came back as ${reply.byteLength}`);
  }
  samples.sort((x, y) => x - y);
  return { median: percentile(samples, 0.5), p99: percentile(samples, 0.99) };
}

/**
 * The embedded transport's raw round trip: `count` messages of `payloadBytes` between two worker
 * threads over the same shared-memory rings a node's worker uses, both ends spinning, after
 * `warmUp` untimed ones. What a remote fault between two embedded nodes costs at the least.
 */
export async function measureRingRtt(payloadBytes: number, count: number, warmUp = Math.ceil(count / 10)): Promise<RttResult> {
  const specs = ringNetwork(2);
  const url = new URL("./ring_rtt_worker.js", import.meta.url);
  const total = warmUp + count;
  const echo = new Worker(url, { workerData: { spec: specs[1], role: "echo", payloadBytes, count: total } });
  const ping = new Worker(url, { workerData: { spec: specs[0], role: "ping", payloadBytes, count: total } });
  try {
    const [{ samples }] = await Promise.all([once<{ samples: number[] }>(ping), once(echo)]);
    const timed = samples.slice(warmUp).sort((x, y) => x - y);
    return { median: percentile(timed, 0.5), p99: percentile(timed, 0.99) };
  } finally {
    await Promise.all([ping.terminate(), echo.terminate()]);
  }
}

function once<T = unknown>(worker: Worker): Promise<T> {
  return new Promise((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
  });
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function gitRev(): string {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "unknown";
  }
}

function report(transport: string, payloadBytes: number, count: number, result: RttResult, rev: string): void {
  const round = (us: number) => Math.round(us * 10) / 10;
  console.log(`raw rtt  ${transport.padEnd(6)} ${payloadBytes} B x ${count}: median ${round(result.median)} us, p99 ${round(result.p99)} us`);
  console.log(JSON.stringify({ bench: "raw_rtt", transport, payloadBytes, count, medianUs: round(result.median), p99Us: round(result.p99), rev }));
}

async function main(): Promise<void> {
  const payloadBytes = Number(process.argv[2] ?? 4096);
  const count = Number(process.argv[3] ?? 2000);
  const rev = gitRev();

  report("local", payloadBytes, count, await measureRingRtt(payloadBytes, count), rev);

  const server = await startNatsServer();
  try {
    const options = { servers: server.url, job: `rtt${process.pid}`, nodeCount: 2 };
    const [a, b] = await Promise.all([NatsTransport.connect({ ...options, nodeId: 0 }), NatsTransport.connect({ ...options, nodeId: 1 })]);
    report("nats", payloadBytes, count, await measureRawRtt(a, b, payloadBytes, count), rev);
    await Promise.all([a.close(), b.close()]);
  } finally {
    await server.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
