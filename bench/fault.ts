/**
 * `npm run bench:fault`: remote read-fault latency next to the raw request/reply of the same
 * payload on the same transport, measured in the same run; and the bytes each protocol sends
 * when a writer rewrites one word of each page between a reader's reads (sparse updates).
 *
 * A remote read fault is timed inside the kernel (now() around the load on node 1) after node 0
 * rewrote the page, so it covers the whole path: check, mailbox, protocol messages, install.
 * Both nodes run in this process (each kernel on its own worker thread); over NATS each node has
 * its own connection to a private nats-server on loopback. Every measurement is repeated (REPS,
 * interleaved) and the median of the repetitions' medians reported, with each repetition listed.
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { runCluster } from "../src/cli/cluster.js";
import { buildKernelIsolated } from "../src/instrument/build_worker.js";
import { loadKernelModule } from "../src/runtime/kernel_module.js";
import { LocalNetwork } from "../src/transport/local_transport.js";
import { startNatsServer } from "../src/transport/nats_server.js";
import { NatsTransport } from "../src/transport/nats_transport.js";
import { measureRawRtt } from "./raw_rtt.js";

const PAGE = 4096;
const PAGES = Number(process.env.DSM_BENCH_PAGES ?? 64);
/** Rounds of PAGES faults; the first tenth warms up (V8's optimising tier, the spin policy's adaptation) and is not counted. */
const ROUNDS = Number(process.env.DSM_BENCH_ROUNDS ?? 100);
const WARM_UP_ROUNDS = Math.max(1, Math.floor(ROUNDS / 10));
/**
 * Rounds of an untimed job run first for each protocol and transport, as the raw round trip
 * below gets untimed requests first: V8 optimises the protocol's code only after thousands of
 * faults, and the first rounds of a fresh run take twice as long.
 */
const WARM_UP_JOB_ROUNDS = Number(process.env.DSM_BENCH_WARM_UP_ROUNDS ?? 30);
/**
 * Repetitions of every measurement; each line reports the median of their medians and lists
 * them. On the 2-vCPU VM about one job in six ran at 2–3× its usual latency throughout, the
 * worker and the host sharing one CPU while the other idled.
 */
const REPS = Number(process.env.DSM_BENCH_REPS ?? 3);
/** Untimed raw requests before each timed 2,000: the local round trip needs thousands to be optimised. */
const RAW_WARM_UP = 5000;
const PROTOCOLS = ["ivy", "diff", "migrate"];
/** Transports to measure, comma-separated (DSM_BENCH_TRANSPORTS): "local", "nats" or both. */
const TRANSPORTS = (process.env.DSM_BENCH_TRANSPORTS ?? "local,nats").split(",").map((t) => t.trim());
for (const t of TRANSPORTS) {
  if (t !== "local" && t !== "nats") throw new Error(`DSM_BENCH_TRANSPORTS: unknown transport "${t}"; give local, nats or local,nats`);
}

const rev = (() => {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "unknown";
  }
})();

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

const r1 = (x: number) => Math.round(x * 10) / 10;

const median = (values: number[]) => percentile([...values].sort((x, y) => x - y), 0.5);

interface Measured {
  median: number;
  p99: number;
}

async function rawRoundTrip(natsUrl: string | undefined): Promise<Measured> {
  if (natsUrl) {
    const job = `rtt${Date.now()}`;
    const [a, b] = await Promise.all([0, 1].map((nodeId) => NatsTransport.connect({ servers: natsUrl, job, nodeId, nodeCount: 2 })));
    const raw = await measureRawRtt(a, b, PAGE, 2000, RAW_WARM_UP);
    await Promise.all([a.close(), b.close()]);
    return raw;
  }
  const net = new LocalNetwork(2);
  const raw = await measureRawRtt(net.transport(0), net.transport(1), PAGE, 2000, RAW_WARM_UP);
  await net.close();
  return raw;
}

async function main() {
  const source = fileURLToPath(new URL("../../assembly/kernels/faultlat.ts", import.meta.url));
  const built = await buildKernelIsolated(source, { pageSize: PAGE });
  const kernel = loadKernelModule(built.instrumented, "faultlat.ts");
  const server = await startNatsServer();
  try {
    for (const transport of TRANSPORTS as ("local" | "nats")[]) {
      const natsUrl = transport === "nats" ? server.url : undefined;
      for (const protocol of PROTOCOLS) {
        if (WARM_UP_JOB_ROUNDS > 0) await runCluster(kernel, [PAGES, WARM_UP_JOB_ROUNDS, PAGE], { nodes: 2, protocol, natsUrl });
      }
      const raws: Measured[] = [];
      const faults = new Map<string, Measured[]>(PROTOCOLS.map((p) => [p, []]));
      const traffic: Record<string, { messages: number; bytes: number }> = {};
      // Repetitions interleave the raw round trip and the protocols, so a slow spell of the
      // machine (or of the scheduler's placement of threads) lands on one repetition of each.
      for (let rep = 0; rep < REPS; rep++) {
        raws.push(await rawRoundTrip(natsUrl));
        for (const protocol of PROTOCOLS) {
          let samples: number[] = [];
          const job = await runCluster(kernel, [PAGES, ROUNDS, PAGE], {
            nodes: 2,
            protocol,
            natsUrl,
            inspect: (node, result) => {
              if (node.nodeId !== 1) return;
              samples = Array.from(new Float64Array(node.memory.buffer, Number(result.value), PAGES * ROUNDS));
            },
          });
          samples = samples.slice(PAGES * WARM_UP_ROUNDS).sort((x, y) => x - y);
          faults.get(protocol)!.push({ median: percentile(samples, 0.5), p99: percentile(samples, 0.99) });
          traffic[protocol] = { messages: job.stats.messages, bytes: job.stats.bytes };
        }
      }
      const raw = { median: median(raws.map((r) => r.median)), p99: median(raws.map((r) => r.p99)) };
      const each = (list: Measured[]) => list.map((m) => r1(m.median)).join(" / ");
      console.log(`${transport.padEnd(5)} raw request/reply ${PAGE} B: median ${r1(raw.median)} µs (repetitions ${each(raws)}), p99 ${r1(raw.p99)} µs`);
      console.log(JSON.stringify({ bench: "fault", transport, case: "raw", payload: PAGE, medianUs: r1(raw.median), p99Us: r1(raw.p99), repetitionsUs: raws.map((m) => r1(m.median)), rev }));
      for (const protocol of PROTOCOLS) {
        const list = faults.get(protocol)!;
        const fault = { median: median(list.map((m) => m.median)), p99: median(list.map((m) => m.p99)) };
        const { messages, bytes } = traffic[protocol]!;
        console.log(
          `${transport.padEnd(5)} ${protocol.padEnd(7)} remote read fault: median ${r1(fault.median)} µs (${(fault.median / raw.median).toFixed(2)}× raw; repetitions ${each(list)}), p99 ${r1(fault.p99)} µs; sparse updates: ${messages} messages, ${bytes} bytes`,
        );
        console.log(
          JSON.stringify({ bench: "fault", transport, case: "read-fault", protocol, pages: PAGES, rounds: ROUNDS, medianUs: r1(fault.median), p99Us: r1(fault.p99), ratioToRaw: r1((fault.median / raw.median) * 100) / 100, repetitionsUs: list.map((m) => r1(m.median)), messages, bytes, rev }),
        );
      }
      const share = traffic.diff!.bytes / traffic.ivy!.bytes;
      console.log(`${transport.padEnd(5)} sparse updates: diff sends ${(share * 100).toFixed(1)} % of the bytes ivy sends (target ≤ 25 %)`);
    }
  } finally {
    await server.stop();
  }
}

await main();
