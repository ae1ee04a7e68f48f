/**
 * The start gate (runtime/start_gate.ts): no node of a job goes through before every node has
 * arrived, the last arrival lets all through, and the wait is bounded by the timeout and the
 * host's abort. Threads are real workers; nothing here depends on how long anything takes.
 */
import { once } from "node:events";
import { Worker } from "node:worker_threads";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { HostAbort, SyncWaitError } from "../src/runtime/errors.js";
import { START_GATE_BYTES, StartGate } from "../src/runtime/start_gate.js";

const Gate = suite("start gate");

/** Blocks until the gate's arrival count reaches `count` (bounded). */
function waitForArrivals(gate: SharedArrayBuffer, count: number): void {
  const words = new Int32Array(gate, 0, 1);
  const deadline = Date.now() + 20_000;
  for (let v = Atomics.load(words, 0); v < count && Date.now() < deadline; v = Atomics.load(words, 0)) Atomics.wait(words, 0, v, 50);
  assert.is(Atomics.load(words, 0), count, "the workers arrived");
}

Gate("workers wait at the gate until the last node arrives, then all go through", async () => {
  const parties = 4;
  const gate = new SharedArrayBuffer(START_GATE_BYTES);
  const passed = new SharedArrayBuffer(4);
  const workers = [1, 2, 3].map((node) => new Worker(new URL("./helpers/gate_party.js", import.meta.url), { workerData: { gate, parties, node, passed } }));
  const reports = workers.map((w) => once(w, "message") as Promise<[{ node: number; seen: number }]>);
  try {
    waitForArrivals(gate, parties - 1);
    assert.is(Atomics.load(new Int32Array(passed), 0), 0, "no worker went through before the last node arrived");
    // This thread is node 0, the last to arrive: it goes straight through, and lets the others go.
    new StartGate(gate, parties).pass(0, 1000, () => undefined);
    const seen = (await Promise.all(reports)).map(([r]) => [r.node, r.seen]);
    assert.equal(seen.sort(), [[1, parties], [2, parties], [3, parties]]);
    assert.is(Atomics.load(new Int32Array(passed), 0), parties - 1);
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
});

Gate("a node alone at a gate for two gives up at its timeout, naming the nodes ready", () => {
  const gate = new StartGate(new SharedArrayBuffer(START_GATE_BYTES), 2);
  try {
    gate.pass(1, 30, () => undefined);
    assert.unreachable("the gate opened with one node of two");
  } catch (error) {
    assert.instance(error, SyncWaitError);
    assert.is((error as SyncWaitError).node, 1);
    assert.is((error as Error).message, "node 1: the start of the job (1 of 2 nodes ready) did not complete within 30 ms");
  }
});

Gate("the host's abort ends the wait with its error", () => {
  const gate = new StartGate(new SharedArrayBuffer(START_GATE_BYTES), 3);
  let checks = 0;
  assert.throws(
    () =>
      gate.pass(2, 60_000, () => {
        if (++checks === 3) throw new HostAbort("the host aborted the run");
      }),
    (error: unknown) => error instanceof HostAbort,
  );
  assert.is(checks, 3, "looked at the abort word between sleeps");
});

Gate("a job of one node goes through at once", () => {
  const buffer = new SharedArrayBuffer(START_GATE_BYTES);
  new StartGate(buffer, 1).pass(0, 0, () => assert.unreachable("no wait for one node"));
  assert.is(new Int32Array(buffer)[0], 1);
});

Gate.run();
