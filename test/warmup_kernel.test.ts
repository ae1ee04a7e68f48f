/**
 * The kernel dsm bench warms each protocol with (assembly/kernels/warmup.ts): on 2 and 3 nodes and
 * every protocol it returns the value warmUpResult() predicts, faulting for reads and writes and
 * taking the lock every round on every node.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { runCluster } from "../src/cluster/cluster.js";
import { PROTOCOL_NAMES } from "../src/cluster/run_job.js";
import { WARM_UP_KERNEL, warmUpResult } from "../src/cli/bench/suite.js";
import { kernel } from "./helpers/kernels.js";

const Warm = suite("bench warm-up kernel");

const PAGES = 3;
const ROUNDS = 4;

for (const nodes of [2, 3]) {
  Warm(`on ${nodes} nodes every protocol returns warmUpResult(${PAGES}, ${ROUNDS}, ${nodes}) and faults both ways`, async () => {
    const { instrumented } = await kernel(WARM_UP_KERNEL.file);
    const pageSize = instrumented.meta.layout.pageSize;
    for (const protocol of PROTOCOL_NAMES) {
      const job = await runCluster(instrumented, [PAGES, ROUNDS, pageSize], { nodes, protocol });
      assert.is(job.result, warmUpResult(PAGES, ROUNDS, nodes), protocol);
      const s = job.stats;
      assert.is(s.locks, nodes * ROUNDS, `${protocol} locks`);
      assert.ok(s.readFaults > 0 && s.writeFaults > 0, `${protocol}: ${s.readFaults} read and ${s.writeFaults} write faults`);
    }
  });
}

Warm("the formula: 2 nodes, 16 pages, 40 rounds", () => {
  assert.is(warmUpResult(16, 40, 2), 17360);
  assert.is(warmUpResult(16, 40, 4), 17440);
});

Warm.run();
