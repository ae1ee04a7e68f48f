/**
 * dsm bench's protocol warm-up (cli/bench/warm_up.ts, jobs.ts): at quick and full sizes the
 * warm-up kernel runs again and again for WARM_UP_BOUNDS.ms, at the tiny size once; and the node
 * workers' pool keeps the process's helper threads where they are while a hold is taken
 * (worker_pool.ts holdHelpers) — that half is in helper_threads.test.ts, which owns the process's
 * thread priorities.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { protocolWarmUps } from "../src/cli/bench/jobs.js";
import { planBench } from "../src/cli/bench/plan.js";
import { planNotes } from "../src/cli/bench/runner.js";
import { WARM_UP_BOUNDS, warmFor } from "../src/cli/bench/warm_up.js";
import type { BuiltKernel } from "../src/cli/bench/build_cache.js";

const Warm = suite("bench warm-up");

/** A run that advances a fake clock by `step` ms and returns its count. */
function clocked(step: number) {
  let t = 1000;
  let runs = 0;
  return { now: () => t, run: async () => ((t += step), ++runs) };
}

Warm("runs until the time has passed, the run that crosses it included", async () => {
  const c = clocked(300);
  const out = await warmFor(c.run, c.now, { minRuns: 1, ms: 2000 });
  // 300, 600, ..., 2100: the seventh run crosses 2000 ms.
  assert.equal(out, { last: 7, runs: 7, ms: 2100 });
});

Warm("runs at least minRuns times, however long each takes", async () => {
  const c = clocked(5000);
  assert.equal(await warmFor(c.run, c.now, { minRuns: 3, ms: 2000 }), { last: 3, runs: 3, ms: 15000 });
  const once = clocked(5000);
  assert.equal(await warmFor(once.run, once.now, { minRuns: 1, ms: 2000 }), { last: 1, runs: 1, ms: 5000 });
});

Warm("a run that fails ends the warm-up with its error", async () => {
  let runs = 0;
  const failing = async () => {
    if (++runs === 3) throw new Error("warm-up kernel returned 7, expected 8");
    return runs;
  };
  await warmFor(failing, () => 0, { minRuns: 1, ms: 2000 }).then(
    () => assert.unreachable("it should have failed"),
    (e: Error) => assert.is(e.message, "warm-up kernel returned 7, expected 8"),
  );
  assert.is(runs, 3);
});

Warm("protocol warm-ups repeat for WARM_UP_BOUNDS at quick and full sizes, once at tiny; the notes say which", () => {
  // protocolWarmUps reads only the built module's run signature before a job runs.
  const built = { instrumented: { meta: { kernel: "warmup", run: { params: ["i32", "i32", "i32"] } } } } as unknown as BuiltKernel;
  for (const size of ["quick", "full", "tiny"]) {
    const plan = planBench({ size, nodes: "1,2", protocols: "ivy,hlrc" }, {});
    const jobs = protocolWarmUps(plan, built, 4096);
    assert.equal(jobs.map((j) => [j.label, j.repeat]), [
      ["ivy protocol code, 2 nodes", size === "tiny" ? undefined : WARM_UP_BOUNDS],
      ["hlrc protocol code, 2 nodes", size === "tiny" ? undefined : WARM_UP_BOUNDS],
    ]);
    const note = planNotes(plan, 2).find((n) => n.startsWith("before anything was measured"))!;
    assert.is(note.includes(`again and again for ${WARM_UP_BOUNDS.ms / 1000} s, with V8's compiler threads at full priority`), size !== "tiny", note);
  }
});

Warm.run();
