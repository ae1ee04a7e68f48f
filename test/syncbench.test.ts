/**
 * The kernel of `npm run bench:sync` (assembly/kernels/syncbench.ts) at tiny counts: every mode
 * finishes on 2 nodes under diff and lrc with the exact number of barrier and lock calls, node 0
 * returns its record (a positive cost), the handoff keeps every turn (the kernel traps otherwise),
 * and a bad mode is refused. No timing is asserted.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { runCluster } from "../src/cluster/cluster.js";
import type { ProtocolTuning } from "../src/protocol/protocol_options.js";
import { kernel } from "./helpers/kernels.js";
import { natsOrSkip } from "./helpers/nats.js";

const ITERS = 4;
const WARM_UP = 2;

/** Runs syncbench on 2 nodes; returns node 0's record [µs per operation, out-of-turn per pair] and the job's counters. */
async function syncbench(mode: number, protocol: string, options: { iters?: number; natsUrl?: string; tuning?: ProtocolTuning } = {}) {
  const { instrumented } = await kernel("assembly/kernels/syncbench.ts");
  let record: number[] = [];
  const job = await runCluster(instrumented, [mode, options.iters ?? ITERS, WARM_UP], {
    nodes: 2,
    protocol,
    natsUrl: options.natsUrl,
    tuning: options.tuning,
    inspect: (node, result) => {
      if (node.nodeId === 0) record = [...new Float64Array(node.memory.buffer, Number(result.value), 2)];
    },
  });
  return { record, barriers: job.stats.barriers, locks: job.stats.locks, stats: job.stats };
}

const Modes = suite("syncbench modes on 2 nodes");

for (const protocol of ["diff", "lrc"]) {
  Modes(`${protocol}: barriers, uncontended locks and the handoff make the calls they should and report a cost`, async () => {
    const barrier = await syncbench(0, protocol);
    const lockHere = await syncbench(1, protocol);
    const lockThere = await syncbench(2, protocol);
    const handoff = await syncbench(3, protocol);
    // Each node: the opening and closing barriers, plus the loop's in mode 0.
    assert.equal([barrier.barriers, lockHere.barriers, handoff.barriers], [2 * (2 + WARM_UP + ITERS), 2 * 2, 2 * 2]);
    assert.equal([lockHere.locks, lockThere.locks], [WARM_UP + ITERS, WARM_UP + ITERS]);
    // Both nodes take every one of their turns; acquisitions out of turn come on top.
    assert.ok(handoff.locks >= 2 * (WARM_UP + ITERS), `${handoff.locks} locks`);
    for (const { record } of [barrier, lockHere, lockThere, handoff]) assert.ok(record[0] > 0 && record[1] >= 0, String(record));
    assert.equal([barrier.record[1], lockHere.record[1]], [0, 0]);
  });
}

/** Handoffs in the runs that pass the counter's page with the lock. */
const HANDOFFS = 40;

for (const protocol of ["ivy", "diff", "migrate"]) {
  Modes(`${protocol}: the handoff with pages in grants keeps every turn (the kernel checks the counter), its page going with the lock`, async () => {
    const { stats } = await syncbench(3, protocol, { iters: HANDOFFS, tuning: { lockPages: true } });
    assert.ok(stats.locks >= 2 * (WARM_UP + HANDOFFS), `${stats.locks} locks`);
    // After the first turns the page goes with every grant; each hand-over is taken once.
    assert.ok(stats.pagesHandedOver >= HANDOFFS, `${stats.pagesHandedOver} pages handed over`);
    assert.is(stats.pagesTaken, stats.pagesHandedOver);
  });
}

const Nats = suite("syncbench handoff over NATS");
let server: Awaited<ReturnType<typeof natsOrSkip>> = null;
Nats.before(async () => {
  server = await natsOrSkip("syncbench handoff over NATS");
});
Nats.after(async () => {
  await server?.stop();
});
for (const protocol of ["ivy", "diff"]) {
  Nats(`${protocol}: pages go with the lock by default over NATS, and every turn is kept`, async () => {
    if (!server) return;
    const { stats } = await syncbench(3, protocol, { iters: HANDOFFS, natsUrl: server.url });
    assert.ok(stats.pagesHandedOver >= HANDOFFS && stats.pagesTaken === stats.pagesHandedOver, `${stats.pagesHandedOver} handed over, ${stats.pagesTaken} taken`);
  });
}

Modes("a mode out of range is refused with the kernel's message", async () => {
  const error = await syncbench(4, "diff").then(() => "", (e: Error) => e.message);
  assert.match(error, "syncbench: mode must be 0 (barrier), 1 or 2 (lock) or 3 (handoff)");
});

Modes.run();
Nats.run();
