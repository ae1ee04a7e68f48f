/**
 * Chaos mode (src/runtime/chaos.ts): the host takes pages away and gives them back at random at
 * every poll, fault, sync call and allocation, and provokes polls all the time. Every suite kernel
 * must still return its pinned result with every combination of check optimisations, on 1-4
 * nodes; a build without checks must not, which shows that chaos catches an unchecked access.
 *
 * Runs are kept few (the whole file takes ~20 s): each kernel runs with a quarter of the 32
 * combinations (rotating by kernel, so that every combination runs with two or three kernels), each
 * once, on a node count and protocol that rotate with the pair; every kernel meets every node
 * count twice, and every protocol runs on 2, 3 and 4 nodes.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { CHECK_OPTIMIZATIONS, type CheckOptimization } from "../src/instrument/instrument.js";
import { PROTOCOLS } from "../src/protocol/index.js";
import { runChaosJob } from "./helpers/chaos_job.js";
import { within } from "./helpers/expect.js";
import { SUITE, suiteKernel } from "./helpers/suite.js";
import { buildSuiteVariant, buildUninstrumented } from "./helpers/suite_build.js";

const RUN_BOUND_MS = 30_000;

/** Every subset of the optimisations, as instrument options; index 0 is all off, the last all on. */
const COMBINATIONS = Array.from({ length: 1 << CHECK_OPTIMIZATIONS.length }, (_, bits) => {
  const optimizations = Object.fromEntries(CHECK_OPTIMIZATIONS.map((name, i) => [name, (bits & (1 << i)) !== 0])) as Record<CheckOptimization, boolean>;
  const on = CHECK_OPTIMIZATIONS.filter((name) => optimizations[name]);
  return { name: on.length === 0 ? "no optimisation" : on.join("+"), optimizations };
});

const Catches = suite("chaos mode catches unchecked accesses");

Catches("jacobi built without checks returns a wrong result under chaos, and the checked build the right one", async () => {
  const k = suiteKernel("jacobi");
  const plain = await buildUninstrumented(k.file);
  const unchecked = await within(runChaosJob(plain, k.tiny, { nodes: 1, protocol: "none", seed: 1 }).then(
    (r) => r.job.result,
    (error: Error) => `failed: ${error.name}`,
  ), RUN_BOUND_MS, "unchecked jacobi");
  assert.is.not(unchecked, k.expected);
  const checked = await buildSuiteVariant(k.file);
  const run = await within(runChaosJob(checked, k.tiny, { nodes: 1, protocol: "none", seed: 1 }), RUN_BOUND_MS, "checked jacobi");
  assert.is(run.job.result, k.expected);
  assert.ok(run.chaos.taken > 0, "chaos took no page");
});

const Suite = suite("suite kernels under chaos return their pinned result");

SUITE.forEach((k, ki) => {
  COMBINATIONS.forEach((combination, ci) => {
    if ((ki + ci) % 4 !== 0) return;
    const nodes = 1 + ((ki + (ci >> 2)) % 4);
    // Every protocol meets every node count four to seven times.
    const protocol = PROTOCOLS[(ki + Math.floor((ki + (ci >> 2)) / 4)) % PROTOCOLS.length];
    const on = nodes === 1 ? "1 node" : `${nodes} nodes with ${protocol}`;
    Suite(`${k.name} with ${combination.name} on ${on} returns ${k.expected}`, async () => {
      const kernel = await within(buildSuiteVariant(k.file, { optimizations: combination.optimizations }), RUN_BOUND_MS, `building ${k.name}`);
      const what = `${k.name} (${combination.name}) on ${on}`;
      const run = await within(runChaosJob(kernel, k.tiny, { nodes, protocol, seed: 7 + ki * 16 + ci }), RUN_BOUND_MS, what);
      assert.is(run.job.result, k.expected, what);
      assert.ok(run.chaos.taken > 0, `${what}: chaos took no page`);
    });
  });
});

Catches.run();
Suite.run();
