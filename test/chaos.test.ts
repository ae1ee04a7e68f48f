/**
 * Chaos mode (src/runtime/chaos.ts): the host takes pages away and gives them back at random at
 * every poll, fault, sync call and allocation, and provokes polls all the time. Every suite kernel
 * must still return its pinned result with every combination of check optimisations, on 1-4
 * nodes; a build without checks must not, which shows that chaos catches an unchecked access.
 *
 * Runs are kept few (the whole file takes ~20 s): the combinations run are every subset of the
 * first five optimisations (the older ones, which interact most: groups, dominance, caches,
 * restarts, versioning) with the later ones on, every subset of the later ones with the first
 * five all on and all off, and each optimisation on alone and off alone; each runs once, with one
 * kernel (rotating), on a node count and protocol that rotate with it, so that every kernel
 * meets every node count and every protocol runs on 2, 3 and 4 nodes. DSM_CHAOS_ALL=1 runs every
 * combination instead, each once in the same rotation. A tiny run on one node
 * parks only about ten times (falseshare: eight), so with some seeds chaos takes no page at all;
 * the seeds used take pages in every run.
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

/**
 * The combinations run (see the file comment), as bit sets over CHECK_OPTIMIZATIONS; with
 * DSM_CHAOS_ALL=1, all 2^n of them (512 runs, several minutes: not part of the default suite).
 */
function selectedMasks(): number[] {
  const n = CHECK_OPTIMIZATIONS.length;
  const all = (1 << n) - 1;
  if (process.env.DSM_CHAOS_ALL === "1") return Array.from({ length: all + 1 }, (_, bits) => bits);
  const early = (1 << 5) - 1;
  const late = all & ~early;
  const masks = new Set<number>();
  for (let bits = 0; bits <= early; bits++) masks.add(bits | late);
  for (let bits = 0; bits <= late; bits += 1 << 5) {
    masks.add(bits | early);
    masks.add(bits);
  }
  for (let i = 0; i < n; i++) {
    masks.add(1 << i);
    masks.add(all & ~(1 << i));
  }
  return [...masks].sort((a, b) => a - b);
}

/** The combinations run, as instrument options. */
const COMBINATIONS = selectedMasks().map((bits) => {
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
    if (ci % SUITE.length !== ki) return;
    const round = Math.floor(ci / SUITE.length);
    const nodes = 1 + ((ki + round) % 4);
    const protocol = PROTOCOLS[(ki + Math.floor((ki + round) / 4)) % PROTOCOLS.length];
    const on = nodes === 1 ? "1 node" : `${nodes} nodes with ${protocol}`;
    Suite(`${k.name} with ${combination.name} on ${on} returns ${k.expected}`, async () => {
      const kernel = await within(buildSuiteVariant(k.file, { optimizations: combination.optimizations }), RUN_BOUND_MS, `building ${k.name}`);
      const what = `${k.name} (${combination.name}) on ${on}`;
      // Accesses proven private stay unchecked: chaos then takes shared pages only, as a host may.
      const privatePages = !combination.optimizations.privateAccesses;
      const run = await within(runChaosJob(kernel, k.tiny, { nodes, protocol, seed: 1000 + ki * 16 + ci, privatePages }), RUN_BOUND_MS, what);
      assert.is(run.job.result, k.expected, what);
      assert.ok(run.chaos.taken > 0, `${what}: chaos took no page`);
    });
  });
});

const Polls = suite("requests served at poll points under chaos");

const PAGES = 6;
const ROUNDS = 3;
/** Sum over the rounds of node 1's values i * 7 + 1, i < PAGES * 1024. */
const POLL_SUM = ROUNDS * Array.from({ length: PAGES * 1024 }, (_, i) => i * 7 + 1).reduce((a, b) => a + b, 0);

for (const protocol of ["migrate", "ivy", "diff"]) {
  Polls(`${protocol}: a node computing in a loop answers the other's faults at its polls, pages taken away at every park`, async () => {
    const kernel = await within(buildSuiteVariant("test/kernels/serve_at_polls.ts"), RUN_BOUND_MS, "building serve_at_polls");
    const run = await within(runChaosJob(kernel, [PAGES, ROUNDS], { nodes: 2, protocol, seed: 77, privatePages: false }), RUN_BOUND_MS, protocol);
    assert.is(run.job.result, POLL_SUM);
    const [n0, n1] = run.job.perNode;
    assert.ok(n0!.stats.readFaults > 0, "node 0 did not fault");
    assert.ok(n1!.stats.servedAtPolls > 0, "node 1 served nothing at its polls");
    assert.ok(run.chaos.taken > 0, "chaos took no page");
  });
}

const Pushes = suite("pages dropped and pushed at barriers, and handed over with locks, under chaos");

for (const protocol of ["ivy", "diff"]) {
  for (const name of ["jacobi", "sor"]) {
    // Whether a push arrives before the reader's fault depends on timing: the result must be right either way.
    Pushes(`${protocol}: ${name} on 2 nodes with pushes on returns its pinned result, pages pushed`, async () => {
      const k = SUITE.find((s) => s.name === name)!;
      const kernel = await within(buildSuiteVariant(k.file), RUN_BOUND_MS, `building ${name}`);
      const run = await within(runChaosJob(kernel, k.tiny, { nodes: 2, protocol, seed: 91, privatePages: false, tuning: { pushes: true } }), RUN_BOUND_MS, protocol);
      assert.is(run.job.result, k.expected);
      const s = run.job.stats;
      assert.ok(s.relinquished > 0 && s.pagesPushed > 0, `copies dropped ${s.relinquished}, pages pushed ${s.pagesPushed}`);
      assert.ok(run.chaos.taken > 0, "chaos took no page");
    });
  }
}
for (const protocol of ["ivy", "diff", "migrate"]) {
  Pushes(`${protocol}: tsp on 2 nodes with pages in lock grants returns its pinned result, pages handed over`, async () => {
    const k = SUITE.find((s) => s.name === "tsp")!;
    const kernel = await within(buildSuiteVariant(k.file), RUN_BOUND_MS, "building tsp");
    const run = await within(runChaosJob(kernel, k.tiny, { nodes: 2, protocol, seed: 92, privatePages: false, tuning: { lockPages: true } }), RUN_BOUND_MS, protocol);
    assert.is(run.job.result, k.expected);
    const s = run.job.stats;
    assert.ok(s.pagesHandedOver > 0 && s.pagesTaken === s.pagesHandedOver, `${s.pagesHandedOver} pages handed over, ${s.pagesTaken} taken`);
    assert.ok(run.chaos.taken > 0, "chaos took no page");
  });
}

Catches.run();
Suite.run();
Polls.run();
Pushes.run();
