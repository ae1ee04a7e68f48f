/**
 * `npm run bench:sync`: what synchronisation costs, per transport and protocol, next to the raw
 * request/reply round trip of the same transport measured in the same run:
 *   - an empty barrier on 2 and on 4 nodes;
 *   - an uncontended lock()+unlock() on one node while the others wait at a barrier, with the
 *     lock's manager on that node and on the other one;
 *   - a lock handed back and forth between 2 nodes, each turn bumping a shared counter, per
 *     handoff pair (node 0's turn, then node 1's).
 * Each is timed inside the kernel (assembly/kernels/syncbench.ts) with now() on node 0, so it
 * covers the whole path: the host import, the mailbox, the protocol's messages.
 *
 * All nodes run in this process, each kernel on its own worker thread; over NATS each node has its
 * own connection to a private nats-server on loopback. Barrier and lock messages are a 32-byte
 * header and a few words, so the raw round trip is of RAW_PAYLOAD bytes. Every protocol has the
 * same barriers and token locks (src/protocol/sync.ts), so diff stands for ivy and migrate too;
 * lrc and hlrc also carry write notices through barriers and lock grants.
 *
 * Every case is repeated (REPS, interleaved with the raw round trip) and the median reported with
 * each repetition listed; each job first runs WARM_UP untimed operations, and one untimed pass of
 * every case comes before the first repetition: the host thread's code for a new job (its relays
 * and NATS subscriptions) is warm only after a few jobs, and the first repetition over NATS used to
 * take about twice the others (2-node barrier 1.0-1.3 ms against 0.4-0.6 ms). Before all that,
 * every protocol runs dsm bench's warm-up kernel for 2 s on each transport, with V8's compiler
 * threads at full priority until then (common.ts warmUpProtocols). 4 nodes on a machine with
 * fewer cores is single-host emulation, and the line says so.
 */
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { runCluster } from "../src/cluster/cluster.js";
import { PROTOCOL_NAMES } from "../src/cluster/run_job.js";
import { buildKernelIsolated } from "../src/instrument/build_worker.js";
import { loadKernelModule } from "../src/runtime/kernel_module.js";
import { startNatsServer } from "../src/transport/nats_server.js";
import type { RttResult } from "./raw_rtt.js";
import { countFromEnv, gitRev, median, r1, r2, rawRoundTrip, transportsFromEnv, warmUpProtocols } from "./common.js";

const PAGE = 4096;
/** Bytes of each raw request and reply: about a barrier or lock message. */
const RAW_PAYLOAD = 64;
/** Timed operations per job (DSM_BENCH_SYNC_OPS). */
const OPS = countFromEnv("DSM_BENCH_SYNC_OPS", 300);
/** Untimed operations first in every job: each job's worker threads start with cold code. */
const WARM_UP = Math.max(1, Math.floor(OPS / 4));
/** Repetitions of every case (DSM_BENCH_REPS). */
const REPS = countFromEnv("DSM_BENCH_REPS", 3);
const TRANSPORTS = transportsFromEnv();
/** Protocols, comma-separated (DSM_BENCH_PROTOCOLS); diff stands for ivy and migrate too. */
const PROTOCOLS = (process.env.DSM_BENCH_PROTOCOLS ?? "diff,lrc,hlrc").split(",").map((p) => p.trim());
for (const p of PROTOCOLS) {
  if (!(PROTOCOL_NAMES as readonly string[]).includes(p)) throw new Error(`DSM_BENCH_PROTOCOLS: unknown protocol "${p}"; give some of ${PROTOCOL_NAMES.join(", ")}`);
}
/** Timed raw round trips per repetition, after RAW_WARM_UP untimed ones. */
const RAW_COUNT = 2000;
const RAW_WARM_UP = 5000;

interface SyncCase {
  /** In the JSON row. */
  name: string;
  /** syncbench's mode. */
  mode: number;
  nodes: number;
  /** What one timed operation is, for the readable line. */
  per: string;
  title: string;
}

/** syncbench's handoff mode, which also reports acquisitions out of turn. */
const HANDOFF = 3;

const CASES: SyncCase[] = [
  { name: "barrier", mode: 0, nodes: 2, per: "barrier", title: "empty barrier, 2 nodes" },
  { name: "barrier", mode: 0, nodes: 4, per: "barrier", title: "empty barrier, 4 nodes" },
  { name: "lock-local-manager", mode: 1, nodes: 2, per: "lock+unlock", title: "uncontended lock, manager on the same node" },
  { name: "lock-remote-manager", mode: 2, nodes: 2, per: "lock+unlock", title: "uncontended lock, manager on the other node" },
  { name: "handoff", mode: HANDOFF, nodes: 2, per: "handoff pair", title: "lock handoff between 2 nodes" },
];

const rev = gitRev();
const cores = availableParallelism();

async function main() {
  const source = fileURLToPath(new URL("../../assembly/kernels/syncbench.ts", import.meta.url));
  const built = await buildKernelIsolated(source, { pageSize: PAGE });
  const kernel = loadKernelModule(built.instrumented, "syncbench.ts");
  const server = await startNatsServer();
  const t0 = performance.now();
  try {
    await warmUpProtocols(PROTOCOLS, TRANSPORTS, server.url, PAGE);
    for (const transport of TRANSPORTS) {
      const natsUrl = transport === "nats" ? server.url : undefined;
      const raws: RttResult[] = [];
      const samples = new Map<string, { us: number; outOfTurn: number }[]>();
      const key = (protocol: string, c: SyncCase) => `${protocol}|${c.mode}|${c.nodes}`;
      // A slow spell of the machine lands on one repetition of every case, not on all of one.
      // Repetition -1 is the untimed pass (see the header).
      for (let rep = -1; rep < REPS; rep++) {
        if (rep >= 0) raws.push(await rawRoundTrip(natsUrl, RAW_PAYLOAD, RAW_COUNT, RAW_WARM_UP));
        for (const protocol of PROTOCOLS) {
          for (const c of CASES) {
            let record: Float64Array | undefined;
            await runCluster(kernel, [c.mode, OPS, WARM_UP], {
              nodes: c.nodes,
              protocol,
              natsUrl,
              inspect: (node, result) => {
                if (node.nodeId === 0) record = new Float64Array(node.memory.buffer, Number(result.value), 2).slice();
              },
            });
            if (!record) throw new Error(`syncbench ${c.name}: no record from node 0`);
            if (rep < 0) continue;
            samples.set(key(protocol, c), [...(samples.get(key(protocol, c)) ?? []), { us: record[0], outOfTurn: record[1] }]);
          }
        }
      }
      const raw = median(raws.map((r) => r.median));
      const list = (values: number[]) => values.map((v) => r1(v)).join(" / ");
      console.log(`${transport.padEnd(5)} raw request/reply ${RAW_PAYLOAD} B: median ${r1(raw)} µs (repetitions ${list(raws.map((r) => r.median))})`);
      console.log(JSON.stringify({ bench: "sync", transport, case: "raw", payload: RAW_PAYLOAD, medianUs: r1(raw), repetitionsUs: raws.map((r) => r1(r.median)), rev }));
      for (const protocol of PROTOCOLS) {
        for (const c of CASES) {
          const reps = samples.get(key(protocol, c))!;
          const us = median(reps.map((r) => r.us));
          const outOfTurn = median(reps.map((r) => r.outOfTurn));
          const emulated = c.nodes > cores;
          const notes = [
            ...(c.mode === HANDOFF ? [`node 0 got the lock out of turn ${r2(outOfTurn)} times per pair`] : []),
            ...(emulated ? [`emulated: ${c.nodes} nodes on ${cores} cores`] : []),
          ];
          console.log(
            `${transport.padEnd(5)} ${protocol.padEnd(4)} ${c.title}: ${r1(us)} µs per ${c.per} (${r2(us / raw)}× raw; repetitions ${list(reps.map((r) => r.us))})${notes.map((n) => `; ${n}`).join("")}`,
          );
          const extra = c.mode === HANDOFF ? { outOfTurnPerPair: r2(outOfTurn) } : {};
          console.log(
            JSON.stringify({ bench: "sync", transport, protocol, case: c.name, nodes: c.nodes, ops: OPS, perOpUs: r1(us), rawUs: r1(raw), ratioToRaw: r2(us / raw), repetitionsUs: reps.map((r) => r1(r.us)), ...extra, emulated, rev }),
          );
        }
      }
    }
    console.log(`bench:sync took ${r1((performance.now() - t0) / 1000)} s (${REPS} repetitions of ${OPS} operations per case, after one untimed pass)`);
  } finally {
    await server.stop();
  }
}

await main();
