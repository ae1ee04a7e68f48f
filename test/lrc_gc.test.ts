/**
 * lrc garbage collection on barrier-phased kernels: a node that did not write a page since the
 * previous collection drops its notices of it instead of fetching their diffs, and fetches the
 * whole page from the page's last writer only if it touches the page again.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { KernelModule } from "../src/runtime/kernel_module.js";
import { within } from "./helpers/expect.js";
import { kernel, referenceResult } from "./helpers/kernels.js";
import { runLrcWithGcBound } from "./helpers/lrc_job.js";
import { SUITE } from "./helpers/suite.js";
import { buildSuiteKernel, typedArgs } from "./helpers/suite_build.js";

const RUN_BOUND_MS = 30_000;



/** Runs `module` on `nodes` local nodes of lrc with the given GC bound, bounded in time. */
const runWithBound = (module: KernelModule, args: (number | bigint)[], nodes: number, gcBytes: number) =>
  within(runLrcWithGcBound(module, args, nodes, gcBytes, 6), RUN_BOUND_MS, `${nodes}-node run`);

const sum = (nodes: { stats: Record<string, number> }[], name: string) => nodes.reduce((s, n) => s + n.stats[name], 0);

const Drop = suite("lrc collections drop the notices of pages a node did not write");

Drop("a stencil collecting every few steps applies a handful of diffs, and node 0's final read of the other half is exact", async () => {
  const file = "test/kernels/lrc_stencil.ts";
  const args = [16 * 1024, 40];
  const { instrumented } = await kernel(file);
  const run = await runWithBound(instrumented, args, 2, 128 * 1024);
  assert.is(run.result, await referenceResult(file, args));
  for (const node of run.perNode) assert.ok(node.stats.gcRuns >= 10, `node ${node.node}: ${node.stats.gcRuns} collections`);
  // Validating every page with pending notices at each of the 14 collections applied 1296 diffs
  // here; dropping them applies 68 to 142 (the boundary cells' pages, fetched each step, and what
  // the read-ahead brings with them, which varies with timing). The bound is a fifth of the former.
  const applied = sum(run.perNode, "diffsApplied");
  assert.ok(applied < 260, `${applied} diffs applied`);
  // Node 0 reads node 1's half whole at the end: those pages come whole from node 1.
  const node0 = run.perNode.find((n) => n.node === 0)!;
  assert.ok(node0.stats.pagesFetched >= 16, `node 0 fetched ${node0.stats.pagesFetched} whole pages`);
  assert.ok(sum(run.perNode, "stalePages") > 0);
});

Drop("slices that change hands after several collections, written without reading then read and written, end exact on 2 and 3 nodes", async () => {
  const file = "test/kernels/lrc_handover.ts";
  const args = [16 * 1024, 24];
  const { instrumented } = await kernel(file);
  const expected = await referenceResult(file, args);
  for (const nodes of [2, 3]) {
    const run = await runWithBound(instrumented, args, nodes, 64 * 1024);
    assert.is(run.result, expected, `${nodes} nodes`);
    for (const node of run.perNode) {
      assert.ok(node.stats.gcRuns >= 4, `${nodes} nodes, node ${node.node}: ${node.stats.gcRuns} collections`);
      assert.ok(node.stats.pagesFetched > 0, `${nodes} nodes, node ${node.node} fetched no whole page`);
    }
  }
});

Drop("without collections the same runs give the same results", async () => {
  for (const [file, args, nodes] of [["test/kernels/lrc_stencil.ts", [16 * 1024, 40], 2], ["test/kernels/lrc_handover.ts", [16 * 1024, 24], 3]] as const) {
    const { instrumented } = await kernel(file);
    const run = await runWithBound(instrumented, [...args], nodes, Infinity);
    assert.is(run.result, await referenceResult(file, [...args]), file);
    assert.is(sum(run.perNode, "gcRuns"), 0);
    assert.is(sum(run.perNode, "pagesFetched"), 0);
  }
});

Drop.run();

const Every = suite("suite kernels under lrc collecting at every barrier");

Every("every suite kernel on 2, 3 and 4 nodes returns its pinned result when each barrier collects", async () => {
  let fetched = 0;
  for (const k of SUITE) {
    const { instrumented } = await within(buildSuiteKernel(k.file), RUN_BOUND_MS, `building ${k.file}`);
    for (const nodes of [2, 3, 4]) {
      const run = await runWithBound(instrumented, typedArgs(instrumented, k.tiny), nodes, 0);
      assert.is(run.result, k.expected, `${k.name} on ${nodes} nodes`);
      fetched += sum(run.perNode, "pagesFetched");
    }
  }
  assert.ok(fetched > 0, "no stale page was ever fetched whole");
});

Every.run();
