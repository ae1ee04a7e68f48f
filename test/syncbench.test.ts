/**
 * The kernel of `npm run bench:sync` (assembly/kernels/syncbench.ts) at tiny counts: every mode
 * finishes on 2 nodes under diff and lrc with the exact number of barrier and lock calls, node 0
 * returns its record (a positive cost), the handoff keeps every turn (the kernel traps otherwise),
 * and a bad mode is refused. No timing is asserted.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { runCluster } from "../src/cluster/cluster.js";
import { kernel } from "./helpers/kernels.js";

const ITERS = 4;
const WARM_UP = 2;

/** Runs syncbench on 2 nodes; returns node 0's record [µs per operation, out-of-turn per pair] and the job's counters. */
async function syncbench(mode: number, protocol: string) {
  const { instrumented } = await kernel("assembly/kernels/syncbench.ts");
  let record: number[] = [];
  const job = await runCluster(instrumented, [mode, ITERS, WARM_UP], {
    nodes: 2,
    protocol,
    inspect: (node, result) => {
      if (node.nodeId === 0) record = [...new Float64Array(node.memory.buffer, Number(result.value), 2)];
    },
  });
  return { record, barriers: job.stats.barriers, locks: job.stats.locks };
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

Modes("a mode out of range is refused with the kernel's message", async () => {
  const error = await syncbench(4, "diff").then(() => "", (e: Error) => e.message);
  assert.match(error, "syncbench: mode must be 0 (barrier), 1 or 2 (lock) or 3 (handoff)");
});

Modes.run();
