/**
 * The process's helper threads (V8's compiler and GC threads, libuv's) go below its kernels once
 * a job's node workers have started (runtime/helper_threads.ts): the main thread and every node
 * worker keep nice 0, the others get DSM_HELPER_NICE (19 by default), unless a hold keeps them
 * where they are until it is released (worker_pool.ts holdHelpers, dsm bench's warm-up). Linux
 * only: elsewhere the test says so and skips, and under CI=true it fails instead.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, readdirSync } from "node:fs";
import { getPriority } from "node:os";
import { runCluster } from "../src/cluster/cluster.js";
import { currentThreadId, deprioritizeHelpers, HelperNiceError, helperNice } from "../src/runtime/helper_threads.js";
import { holdHelpers, workerThreadIds } from "../src/runtime/worker_pool.js";
import { kernel } from "./helpers/kernels.js";

const Nice = suite("helper thread priority");

Nice("DSM_HELPER_NICE: 19 by default, 0-19 accepted, anything else refused naming the value", () => {
  assert.is(helperNice({}), 19);
  assert.is(helperNice({ DSM_HELPER_NICE: "" }), 19);
  assert.is(helperNice({ DSM_HELPER_NICE: "0" }), 0);
  assert.is(helperNice({ DSM_HELPER_NICE: "7" }), 7);
  for (const bad of ["20", "-1", "2.5", "low"]) {
    assert.throws(() => helperNice({ DSM_HELPER_NICE: bad }), (e: Error) => e instanceof HelperNiceError && e.message.startsWith(`DSM_HELPER_NICE="${bad}": expected an integer from 0`));
  }
});

const linux = process.platform === "linux" && existsSync("/proc/thread-self");
if (!linux) {
  if (process.env.CI === "true") throw new Error("helper_threads.test: /proc/thread-self is missing; CI runs on Linux");
  console.error("SKIPPED (no /proc/thread-self: per-thread priorities are Linux only) helper_threads.test: job priorities");
}

const nices = () => new Map(readdirSync("/proc/self/task").map((t) => [Number(t), getPriority(Number(t))]));

if (linux) {
  Nice("nice 0 leaves every thread alone", () => {
    assert.is(deprioritizeHelpers([], 0), 0);
    assert.ok([...nices().values()].every((n) => n === 0), "every thread at nice 0 before any job");
  });

  Nice("a 2-node job under a hold leaves every thread at nice 0; on release the helper threads go to 19, main thread and node workers stay at 0", async () => {
    const { instrumented } = await kernel("assembly/kernels/jacobi.ts");
    const release = holdHelpers();
    const job = await runCluster(instrumented, [64, 5], { nodes: 2, protocol: "ivy" });
    assert.ok(typeof job.result === "number");
    const held = nices();
    assert.ok([...held.values()].every((n) => n === 0), `held: ${JSON.stringify([...held])}`);
    release();
    release(); // a second call does nothing
    const now = nices();
    const workers = workerThreadIds();
    assert.is(workers.length, 2, `node workers ${workers}`);
    assert.is(currentThreadId(), process.pid);
    assert.is(now.get(process.pid), 0, "main thread");
    for (const w of workers) assert.is(now.get(w), 0, `node worker ${w}`);
    const helpers = [...now].filter(([tid]) => tid !== process.pid && !workers.includes(tid));
    assert.ok(helpers.filter(([, n]) => n === 19).length >= 2, `helpers ${JSON.stringify(helpers)}`);
    // Without a hold, the next job's workers (taken from the pool, already started) change nothing.
    await runCluster(instrumented, [64, 5], { nodes: 2, protocol: "ivy" });
    const after = nices();
    assert.equal([...now].filter(([tid]) => after.has(tid)), [...now].filter(([tid]) => after.has(tid)).map(([tid]) => [tid, after.get(tid)]));
  });
}

Nice.run();
