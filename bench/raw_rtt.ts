/**
 * Raw request/reply round trip of a transport, without any protocol on top: the floor under every
 * remote fault. Run: `npx tsc -p tsconfig.json && node dist/bench/raw_rtt.js [payloadBytes] [count]`.
 * Prints one readable line and one JSON row per transport. The NATS case runs both nodes in this
 * process over a private loopback nats-server (separate processes measure a little slower).
 */
import { execFileSync } from "node:child_process";
import { pathToFileURL } from "node:url";
import { LocalNetwork } from "../src/transport/local_transport.js";
import { startNatsServer } from "../src/transport/nats_server.js";
import { NatsTransport } from "../src/transport/nats_transport.js";
import type { Transport } from "../src/transport/transport.js";

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

  const network = new LocalNetwork(2);
  report("local", payloadBytes, count, await measureRawRtt(network.transport(0), network.transport(1), payloadBytes, count), rev);
  await network.close();

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
