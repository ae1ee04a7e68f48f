/**
 * The kernel suite on 2, 3 and 4 nodes with every protocol over the local transport: node 0's
 * result equals the pinned single-node result exactly, so no kernel's answer depends on how its
 * work is split or on the order in which nodes reach locks. Instrumented builds are cached on disk.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { runCluster } from "../src/cluster/cluster.js";
import { PROTOCOLS } from "../src/protocol/index.js";
import { SUITE } from "./helpers/suite.js";
import { buildSuiteKernel, typedArgs } from "./helpers/suite_build.js";
import { within } from "./helpers/expect.js";

/** Bound on one multi-node tiny run; the slowest take about a second on a loaded 2-vCPU machine. */
const RUN_BOUND_MS = 30_000;
const NODE_COUNTS = [2, 3, 4];

const Nodes = suite("suite kernels on several nodes reproduce the single-node result");

for (const k of SUITE) {
  for (const protocol of PROTOCOLS) {
    Nodes(`${k.name}(${k.tiny.join(", ")}) with ${protocol} on ${NODE_COUNTS.join(", ")} nodes returns ${k.expected}`, async () => {
      const { instrumented } = await within(buildSuiteKernel(k.file), RUN_BOUND_MS, `building ${k.file}`);
      for (const nodes of NODE_COUNTS) {
        const what = `${k.name} with ${protocol} on ${nodes} nodes`;
        const job = await within(runCluster(instrumented, typedArgs(instrumented, k.tiny), { nodes, protocol, faultTimeoutMs: 10_000 }), RUN_BOUND_MS, what);
        assert.is(job.result, k.expected, what);
        assert.ok(job.stats.messages > 0, `${what}: sent no messages`);
      }
    });
  }
}

Nodes.run();
