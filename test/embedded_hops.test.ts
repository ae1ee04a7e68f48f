/**
 * On the embedded transport the main thread takes no part in a node's faults, requests served,
 * barriers or locks: every step runs in the nodes' own worker threads. Proved by blocking the main
 * thread in Atomics.wait for the whole job: the nodes still finish (kernel and final barrier), with
 * the exact result. Over NATS every message of a node crosses its host thread, and the count of
 * those hops is what the node sent.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { runCluster } from "../src/cluster/cluster.js";
import type { NodeThread } from "../src/runtime/node_thread.js";
import { HostWord } from "../src/runtime/reactor.js";
import { kernel } from "./helpers/kernels.js";
import { natsOrSkip } from "./helpers/nats.js";
import { typedArgs } from "./helpers/suite_build.js";

/** Longest the main thread stays blocked waiting for a node to finish. */
const BLOCK_MS = 20_000;
const COUNTERS = 4;
const TIMES = 15;

/** lrc_counters' result on `nodes` nodes (see the kernel): counters weighed by index, then the node count. */
function expected(nodes: number): bigint {
  let h = 0n;
  for (let c = 0; c < COUNTERS; c++) h = h * 1000n + BigInt(TIMES * nodes);
  return h * 1000n + BigInt(nodes);
}

/** Blocks this thread until every node says it is done, or BLOCK_MS pass; returns the nodes not done. */
function blockUntilDone(nodes: readonly NodeThread[]): number[] {
  const deadline = Date.now() + BLOCK_MS;
  for (const node of nodes) {
    while (Atomics.load(node.hostWords, HostWord.DONE) === 0 && Date.now() < deadline) {
      Atomics.wait(node.hostWords, HostWord.DONE, 0, Math.max(1, deadline - Date.now()));
    }
  }
  return nodes.filter((n) => Atomics.load(n.hostWords, HostWord.DONE) === 0).map((n) => n.nodeId);
}

const Embedded = suite("main thread blocked for a whole embedded job");

for (const protocol of ["migrate", "ivy", "diff", "lrc", "hlrc"]) {
  Embedded(`${protocol}, 3 nodes: faults, locks and barriers all happen while the main thread waits, and the result is exact`, async () => {
    const { instrumented } = await kernel("test/kernels/lrc_counters.ts");
    let notDone: number[] | undefined;
    const job = await runCluster(instrumented, typedArgs(instrumented, [COUNTERS, TIMES]), {
      nodes: 3,
      protocol,
      started: (nodes) => (notDone = blockUntilDone(nodes)),
    });
    assert.equal(notDone, [], "nodes still running when the main thread stopped waiting");
    assert.is(BigInt(job.result!), expected(3));
    assert.ok(job.stats.readFaults + job.stats.writeFaults > 0, "no fault");
    assert.is(job.stats.locks, 3 * COUNTERS * TIMES);
    assert.ok(job.stats.barriers >= 6);
    assert.is(job.stats.hostHops, 0);
  });
}

const Nats = suite("host hops over NATS");
let server: Awaited<ReturnType<typeof natsOrSkip>> = null;
Nats.before(async () => {
  server = await natsOrSkip("host hops over NATS");
});
Nats.after(async () => {
  await server?.stop();
});

Nats("every message a node sends crosses its host thread once, and the result is exact", async () => {
  if (!server) return;
  const { instrumented } = await kernel("test/kernels/lrc_counters.ts");
  const job = await runCluster(instrumented, typedArgs(instrumented, [COUNTERS, TIMES]), { nodes: 2, protocol: "ivy", natsUrl: server.url });
  assert.is(BigInt(job.result!), expected(2));
  for (const node of job.perNode) {
    assert.ok(node.stats.messages > 0);
    assert.is(node.stats.hostHops, node.stats.messages);
  }
});

Embedded.run();
Nats.run();
