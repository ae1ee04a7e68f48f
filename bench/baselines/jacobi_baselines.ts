/**
 * The hand-written Jacobi baselines side by side: worker threads over a SharedArrayBuffer, and
 * message passing over the local transport and over NATS (a private nats-server; skipped with a
 * note when nats-server is not installed). Each case prints one readable line and one JSON row.
 * Run: `npx tsc -p tsconfig.json && node dist/bench/baselines/jacobi_baselines.js [n] [iters] [nodes...]`
 * (defaults: 1024 100 1 2 4). Compare with `dsm run assembly/kernels/jacobi.ts -- n iters`.
 */
import { execFileSync } from "node:child_process";
import { pathToFileURL } from "node:url";
import { NatsServerNotFoundError } from "../../src/transport/errors.js";
import { LocalNetwork } from "../../src/transport/local_transport.js";
import { startNatsServer } from "../../src/transport/nats_server.js";
import { NatsTransport } from "../../src/transport/nats_transport.js";
import { runMpJacobi } from "./mp_jacobi.js";
import { runSabJacobi } from "./sab_jacobi.js";

interface Row {
  kernel: "jacobi";
  size: string;
  nodes: number;
  /** `sab` (threads, shared memory) or `mp` (message passing). */
  protocol: "sab" | "mp";
  transport: "shared-memory" | "local" | "nats";
  ms: number;
  messages: number;
  bytes: number;
  result: number;
  rev: string;
}

function gitRev(): string {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "unknown";
  }
}

function report(row: Row): void {
  const ms = Math.round(row.ms * 10) / 10;
  console.log(`jacobi ${row.size} ${row.protocol.padEnd(3)} ${row.transport.padEnd(13)} ${row.nodes} node(s): ${ms} ms, ${row.messages} messages, ${row.bytes} bytes, result ${row.result}`);
  console.log(JSON.stringify({ bench: "baseline", ...row, ms }));
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 1024);
  const iters = Number(process.argv[3] ?? 100);
  const counts = process.argv.length > 4 ? process.argv.slice(4).map(Number) : [1, 2, 4];
  const base = { kernel: "jacobi" as const, size: `${n}x${iters}`, rev: gitRev() };

  for (const nodes of counts) {
    const sab = await runSabJacobi(nodes, n, iters);
    report({ ...base, nodes, protocol: "sab", transport: "shared-memory", ms: sab.ms, messages: 0, bytes: 0, result: sab.result });
  }
  for (const nodes of counts) {
    const network = new LocalNetwork(nodes);
    try {
      const mp = await runMpJacobi(Array.from({ length: nodes }, (_, id) => network.transport(id)), n, iters);
      report({ ...base, nodes, protocol: "mp", transport: "local", ...mp });
    } finally {
      await network.close();
    }
  }
  let server;
  try {
    server = await startNatsServer();
  } catch (error) {
    if (!(error instanceof NatsServerNotFoundError)) throw error;
    console.log("jacobi mp over nats: skipped, nats-server is not installed (apt-get install nats-server)");
    return;
  }
  try {
    for (const nodes of counts) {
      const job = `mpjacobi${process.pid}n${nodes}`;
      const transports = await Promise.all(Array.from({ length: nodes }, (_, nodeId) => NatsTransport.connect({ servers: server.url, job, nodeId, nodeCount: nodes })));
      try {
        const mp = await runMpJacobi(transports, n, iters);
        report({ ...base, nodes, protocol: "mp", transport: "nats", ...mp });
      } finally {
        await Promise.all(transports.map((t) => t.close()));
      }
    }
  } finally {
    await server.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
