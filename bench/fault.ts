/**
 * `npm run bench:fault`: remote read-fault latency next to the raw request/reply of the same
 * payload on the same transport, measured in the same run; the bytes each protocol sends when a
 * writer rewrites one word of each page between a reader's reads (sparse updates); and the cost of
 * a fault while every node computes.
 *
 * A remote read fault is timed inside the kernel (now() around the load on node 1) after node 0
 * rewrote the page, with read-ahead off so that every timed load faults; it covers the whole
 * path: check, protocol messages, install. In that kernel (faultlat.ts) the nodes do nothing but
 * fault and wait, which is the best case. The in-kernel case runs a Jacobi stencil instead
 * (jacobi.ts: both nodes compute between their faults on the neighbour's boundary rows, read-ahead
 * on as in any run) and divides the time its kernels spent blocked in faults (NodeStats.faultMs,
 * all nodes) by their faults.
 *
 * Before anything is measured, every protocol runs dsm bench's warm-up kernel for 2 s on each
 * transport, with V8's compiler threads at full priority until then (common.ts warmUpProtocols).
 * Both nodes run in this process (each kernel on its own worker thread); over NATS each node has
 * its own connection to a private nats-server on loopback. Every measurement is repeated (REPS,
 * interleaved) and the median of the repetitions' medians reported, with each repetition listed.
 */
import { fileURLToPath } from "node:url";
import { runCluster } from "../src/cluster/cluster.js";
import { buildKernelIsolated } from "../src/instrument/build_worker.js";
import { loadKernelModule } from "../src/runtime/kernel_module.js";
import { startNatsServer } from "../src/transport/nats_server.js";
import { gitRev, median, percentile, r1, r2, rawRoundTrip, transportsFromEnv, warmUpProtocols } from "./common.js";

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
/** Protocols to measure, comma-separated (DSM_BENCH_PROTOCOLS); ivy and diff are always among them (the sparse-updates share compares them). */
const PROTOCOLS = [...new Set(["ivy", "diff", ...(process.env.DSM_BENCH_PROTOCOLS ?? "migrate,lrc,hlrc").split(",").map((p) => p.trim()).filter(Boolean)])];
/**
 * Protocols whose remote read fault the faultlat kernel can time. lrc and hlrc are measured in the
 * in-kernel case only: their misses bring in the whole sweep of pages by design (no readAhead
 * switch), and under hlrc half of faultlat's pages have their home on the reader, whose copy the
 * writer's diffs reach before the barrier ends, so most timed loads would not fault at all.
 */
const READ_FAULT_PROTOCOLS = PROTOCOLS.filter((p) => p !== "lrc" && p !== "hlrc");
/**
 * faultlat reads its pages in order, so read-ahead would bring the next pages with the first
 * fault of each round and time loads that do not fault; the read-fault case turns it off. Its
 * writer rewrites the pages its reader read every round, so pushes at barriers (page_pushes.ts,
 * over NATS) would have them at the reader before its timed loads, which would then send nothing
 * (ivy over NATS: 95 µs, 0.37× raw, against 291 µs with a message); the read-fault case turns them
 * off too, to time the remote fault it names. The in-kernel case keeps both, as users run.
 */
const ONE_PAGE_PER_FAULT = { readAhead: false, pushes: false };
/** Transports to measure, comma-separated (DSM_BENCH_TRANSPORTS): "local", "nats" or both. */
const TRANSPORTS = transportsFromEnv();
/**
 * Jacobi's run(n, iters) for the in-kernel case (DSM_BENCH_STENCIL, "none" skips it). At 1024×100
 * each node computes 512 rows of 1024 between the faults on its neighbour's boundary rows, every
 * sweep: ~40 ms of work alone per node.
 */
const STENCIL = parseStencil(process.env.DSM_BENCH_STENCIL ?? "1024,100");

const rev = gitRev();

interface Measured {
  median: number;
  p99: number;
}

/** One stencil job's faults: all nodes' time blocked in them, and their count. */
interface StencilFaults {
  perFaultUs: number;
  faults: number;
  faultMs: number;
  kernelMs: number;
  /** Time blocked at barriers and locks (all nodes): where waits go that faults no longer have. */
  syncMs: number;
  /** Over NATS: misses that installed a page pushed at a barrier (ivy, diff: page_pushes.ts; hlrc: hlrc/pushes.ts). */
  pushesUsed: number;
}

function parseStencil(text: string): [number, number] | null {
  if (text === "none") return null;
  const args = text.split(",").map(Number);
  if (args.length !== 2 || !args.every((a) => Number.isInteger(a) && a > 2)) throw new Error(`DSM_BENCH_STENCIL "${text}": expected jacobi's n,iters, e.g. 1024,100, or none`);
  return args as [number, number];
}

async function main() {
  const source = fileURLToPath(new URL("../../assembly/kernels/faultlat.ts", import.meta.url));
  const built = await buildKernelIsolated(source, { pageSize: PAGE });
  const kernel = loadKernelModule(built.instrumented, "faultlat.ts");
  const jacobiSource = fileURLToPath(new URL("../../assembly/kernels/jacobi.ts", import.meta.url));
  const jacobi = STENCIL ? loadKernelModule((await buildKernelIsolated(jacobiSource, { pageSize: PAGE })).instrumented, "jacobi.ts") : null;
  const server = await startNatsServer();
  try {
    await warmUpProtocols(PROTOCOLS, TRANSPORTS, server.url, PAGE);
    for (const transport of TRANSPORTS as ("local" | "nats")[]) {
      const natsUrl = transport === "nats" ? server.url : undefined;
      for (const protocol of READ_FAULT_PROTOCOLS) {
        if (WARM_UP_JOB_ROUNDS > 0) await runCluster(kernel, [PAGES, WARM_UP_JOB_ROUNDS, PAGE], { nodes: 2, protocol, natsUrl, tuning: ONE_PAGE_PER_FAULT });
      }
      const raws: Measured[] = [];
      const faults = new Map<string, Measured[]>(READ_FAULT_PROTOCOLS.map((p) => [p, []]));
      const traffic: Record<string, { messages: number; bytes: number }> = {};
      const stencil = new Map<string, StencilFaults[]>(PROTOCOLS.map((p) => [p, []]));
      // Repetitions interleave the raw round trip and the protocols, so a slow spell of the
      // machine (or of the scheduler's placement of threads) lands on one repetition of each.
      for (let rep = 0; rep < REPS; rep++) {
        raws.push(await rawRoundTrip(natsUrl, PAGE, 2000, RAW_WARM_UP));
        for (const protocol of READ_FAULT_PROTOCOLS) {
          let samples: number[] = [];
          const job = await runCluster(kernel, [PAGES, ROUNDS, PAGE], {
            nodes: 2,
            protocol,
            natsUrl,
            tuning: ONE_PAGE_PER_FAULT,
            inspect: (node, result) => {
              if (node.nodeId !== 1) return;
              samples = Array.from(new Float64Array(node.memory.buffer, Number(result.value), PAGES * ROUNDS));
            },
          });
          samples = samples.slice(PAGES * WARM_UP_ROUNDS).sort((x, y) => x - y);
          faults.get(protocol)!.push({ median: percentile(samples, 0.5), p99: percentile(samples, 0.99) });
          traffic[protocol] = { messages: job.stats.messages, bytes: job.stats.bytes };
        }
        if (jacobi && STENCIL) {
          for (const protocol of PROTOCOLS) {
            const { stats, kernelMs } = await runCluster(jacobi, STENCIL, { nodes: 2, protocol, natsUrl });
            const faults = stats.readFaults + stats.writeFaults;
            stencil.get(protocol)!.push({ perFaultUs: faults ? (stats.faultMs * 1000) / faults : NaN, faults, faultMs: stats.faultMs, kernelMs, syncMs: stats.syncMs, pushesUsed: stats.pushesUsed ?? 0 });
          }
        }
      }
      const raw = { median: median(raws.map((r) => r.median)), p99: median(raws.map((r) => r.p99)) };
      const each = (list: Measured[]) => list.map((m) => r1(m.median)).join(" / ");
      console.log(`${transport.padEnd(5)} raw request/reply ${PAGE} B: median ${r1(raw.median)} µs (repetitions ${each(raws)}), p99 ${r1(raw.p99)} µs`);
      console.log(JSON.stringify({ bench: "fault", transport, case: "raw", payload: PAGE, medianUs: r1(raw.median), p99Us: r1(raw.p99), repetitionsUs: raws.map((m) => r1(m.median)), rev }));
      for (const protocol of READ_FAULT_PROTOCOLS) {
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
      if (STENCIL) {
        for (const protocol of PROTOCOLS) {
          const list = stencil.get(protocol)!;
          const us = median(list.map((m) => m.perFaultUs));
          const faults = median(list.map((m) => m.faults));
          const faultMs = median(list.map((m) => m.faultMs));
          const kernelMs = median(list.map((m) => m.kernelMs));
          const syncMs = median(list.map((m) => m.syncMs));
          const pushesUsed = median(list.map((m) => m.pushesUsed));
          const pushed = pushesUsed > 0 ? ` (${pushesUsed} of them installed a page pushed at a barrier, sending nothing)` : "";
          console.log(
            `${transport.padEnd(5)} ${protocol.padEnd(7)} fault while both nodes compute (jacobi ${STENCIL.join("×")}, 2 nodes): ${r1(us)} µs per fault (${r2(us / raw.median)}× raw; repetitions ${list.map((m) => r1(m.perFaultUs)).join(" / ")}); ${faults} faults${pushed}, ${r1(faultMs)} ms blocked in them and ${r1(syncMs)} ms at barriers (all nodes), run ${r1(kernelMs)} ms`,
          );
          console.log(
            JSON.stringify({ bench: "fault", transport, case: "stencil-fault", protocol, kernel: "jacobi", args: STENCIL, nodes: 2, perFaultUs: r1(us), ratioToRaw: r2(us / raw.median), faults, pushesUsed, faultMs: r1(faultMs), syncMs: r1(syncMs), kernelMs: r1(kernelMs), repetitionsUs: list.map((m) => r1(m.perFaultUs)), rev }),
          );
        }
      }
      const share = traffic.diff!.bytes / traffic.ivy!.bytes;
      console.log(`${transport.padEnd(5)} sparse updates: diff sends ${(share * 100).toFixed(1)} % of the bytes ivy sends (target ≤ 25 %)`);
    }
  } finally {
    await server.stop();
  }
}

await main();
