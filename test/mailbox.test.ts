/**
 * The fault mailbox between a kernel's worker and its host (src/runtime/mailbox.ts), pinned so
 * faults stay cheap: the host polls for the next request while a core is free for it and sleeps
 * otherwise; a worker spins for its reply only while the running threads fit the cores, backs off
 * after spins that failed, keeps one policy for faults and one for barriers and locks, and stops
 * spinning when the host has not even picked its request up.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Worker } from "node:worker_threads";
import { Reply, Request, Slot } from "../src/abi.js";
import { CoreGauge, GAUGE_BYTES, MailboxHost, PICKUP_US } from "../src/runtime/mailbox.js";
import { within } from "./helpers/expect.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const Polling = suite("MailboxHost polling");

/** Publishes a request as the worker does; `notify` false leaves a sleeping host asleep. */
function publish(control: Int32Array, seq: number, kind: number, notify: boolean): void {
  control[Slot.KIND] = kind;
  control[Slot.ARG0] = 40 + seq;
  Atomics.store(control, Slot.REQ_SEQ, seq);
  if (notify) Atomics.notify(control, Slot.REQ_SEQ);
}

Polling("a request published while the host polls is found without a notify", async () => {
  const control = new Int32Array(new SharedArrayBuffer(64 * 4));
  const host = new MailboxHost(control, 1_000_000);
  const next = host.next();
  setTimeout(() => publish(control, 1, Request.Fault, false), 5);
  const request = await within(next, 100);
  assert.equal(request, { seq: 1, kind: Request.Fault, args: [41, 0, 0, 0] });
  host.stop();
});

Polling("after a poll that found nothing the host sleeps, and a notify wakes it", async () => {
  const control = new Int32Array(new SharedArrayBuffer(64 * 4));
  const host = new MailboxHost(control, 1000);
  let got: unknown;
  const next = host.next().then((request) => (got = request));
  await sleep(30);
  publish(control, 1, Request.Barrier, false);
  await sleep(30);
  assert.is(got, undefined, "the host kept polling after its poll window");
  Atomics.notify(control, Slot.REQ_SEQ);
  await within(next);
  assert.equal(got, { seq: 1, kind: Request.Barrier, args: [41, 0, 0, 0] });
  host.stop();
});

Polling("with a gauge, the host polls while the running threads fit the cores and sleeps at once when they do not", async () => {
  const control = new Int32Array(new SharedArrayBuffer(64 * 4));
  const gauge = new CoreGauge(new SharedArrayBuffer(GAUGE_BYTES), 2);
  const host = new MailboxHost(control, 1_000_000);
  host.gauge = gauge;
  gauge.enter(); // one kernel thread running: it and the host fit 2 cores
  const polled = host.next();
  setTimeout(() => publish(control, 1, Request.Fault, false), 5);
  assert.equal(await within(polled, 100), { seq: 1, kind: Request.Fault, args: [41, 0, 0, 0] });
  gauge.enter(); // two running: no core left for polling
  let got: unknown;
  const slept = host.next().then((request) => (got = request));
  publish(control, 2, Request.Poll, false);
  await sleep(30);
  assert.is(got, undefined, "the host polled although the cores were taken");
  Atomics.notify(control, Slot.REQ_SEQ);
  await within(slept);
  assert.equal(got, { seq: 2, kind: Request.Poll, args: [42, 0, 0, 0] });
  host.stop();
});

Polling("a host that never polls sleeps until notified, and stop ends its wait with null", async () => {
  const control = new Int32Array(new SharedArrayBuffer(64 * 4));
  const host = new MailboxHost(control, 0);
  const first = host.next();
  publish(control, 1, Request.Poll, true);
  assert.equal(await within(first), { seq: 1, kind: Request.Poll, args: [41, 0, 0, 0] });
  const second = host.next();
  host.stop();
  assert.is(await within(second), null);
});

Polling("pending() tells whether the worker published a request the host has not taken yet", async () => {
  const control = new Int32Array(new SharedArrayBuffer(64 * 4));
  const host = new MailboxHost(control, 1_000_000);
  assert.is(host.pending(), false);
  publish(control, 1, Request.Fault, false);
  assert.is(host.pending(), true);
  assert.equal(await within(host.next(), 100), { seq: 1, kind: Request.Fault, args: [41, 0, 0, 0] });
  assert.is(host.pending(), false);
  host.stop();
});

Polling("with a gauge, a worker that only spins leaves the host polling", async () => {
  const control = new Int32Array(new SharedArrayBuffer(64 * 4));
  const gauge = new CoreGauge(new SharedArrayBuffer(GAUGE_BYTES), 2);
  const host = new MailboxHost(control, 1_000_000);
  host.gauge = gauge;
  gauge.enter();
  gauge.enter(); // two kernel threads running on 2 cores …
  gauge.spinning(1); // … but one of them only waits for its host
  assert.ok(gauge.maypoll() && !gauge.mayspin());
  const polled = host.next();
  setTimeout(() => publish(control, 1, Request.Fault, false), 5);
  assert.equal(await within(polled, 100), { seq: 1, kind: Request.Fault, args: [41, 0, 0, 0] });
  assert.is(Atomics.load(control, Slot.SEEN), 1, "the host marks the request picked up");
  host.stop();
});

const Spin = suite("spinning only while a core is free");

/**
 * A worker that sends `kinds` in turn through a MailboxClient(control, spinMicros, gauge,
 * backstop 60 s, pickupMicros) sharing `gauge`; `done` settles when it finished.
 */
function clientWorker(control: Int32Array, gauge: CoreGauge, spinMicros: number, pickupMicros: number, kinds: Request[]) {
  const url = new URL("../src/runtime/mailbox.js", import.meta.url).href;
  const code = `
    import { workerData, parentPort } from "node:worker_threads";
    const { CoreGauge, MailboxClient } = await import(${JSON.stringify(url)});
    const gauge = new CoreGauge(workerData.gauge, workerData.cores);
    gauge.enter();
    const client = new MailboxClient(new Int32Array(workerData.control), ${spinMicros}, gauge, 60_000, ${pickupMicros});
    for (const kind of ${JSON.stringify(kinds)}) client.call(kind);
    gauge.leave();
    parentPort.postMessage("done");`;
  const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(code)}`), { workerData: { control: control.buffer, gauge: gauge.buffer, cores: gauge.cores } });
  const done = new Promise((resolve, reject) => worker.once("message", resolve).once("error", reject));
  return { worker, done };
}

/** Answers request `seq` as a host does, without a MailboxHost. */
function answer(control: Int32Array, seq: number): void {
  control[Slot.STATUS] = Reply.Ok;
  Atomics.store(control, Slot.ACK_SEQ, seq);
  Atomics.notify(control, Slot.ACK_SEQ);
}

/** Waits (at most 2 s) until the worker has published request `seq`. */
async function published(control: Int32Array, seq: number): Promise<void> {
  for (let i = 0; i < 200 && Atomics.load(control, Slot.REQ_SEQ) !== seq; i++) await sleep(10);
  assert.is(Atomics.load(control, Slot.REQ_SEQ), seq);
}

/**
 * A worker that sends one request per settle (of the kind in `kinds`, Poll by default) through a
 * MailboxClient that may spin `spinMicros`, sharing a gauge of `cores`; the host answers each once
 * its settle resolved. Resolves with the gauge's running count seen before each answer.
 */
async function runningWhileWaiting(
  cores: number,
  spinMicros: number,
  settles: ((running: Int32Array) => Promise<void>)[],
  kinds: Request[] = settles.map(() => Request.Poll),
): Promise<number[]> {
  const control = new Int32Array(new SharedArrayBuffer(64 * 4));
  const gauge = new CoreGauge(new SharedArrayBuffer(GAUGE_BYTES), cores);
  // Picked up or not, a request may spin: the host here sleeps between requests and may wake
  // later than a spin's pickup bound (its own test is below).
  const { worker, done } = clientWorker(control, gauge, spinMicros, 10_000_000, kinds);
  const host = new MailboxHost(control, 0);
  try {
    const seen: number[] = [];
    for (const settle of settles) {
      const request = await within(host.next());
      await settle(gauge.running);
      seen.push(Atomics.load(gauge.running, 0));
      host.reply(request!, Reply.Ok);
    }
    await within(done);
    assert.is(Atomics.load(gauge.running, 0), 0, "the worker left the gauge when it finished");
    return seen;
  } finally {
    host.stop();
    await worker.terminate();
  }
}

/**
 * Waits (at most 2 s) for the worker to leave the running count. A request expected to sleep is
 * checked after `briefly` instead: the worker publishes it before it leaves the count.
 */
const untilAsleep = async (count: Int32Array) => {
  for (let i = 0; i < 200 && Atomics.load(count, 0) !== 0; i++) await sleep(10);
};
const briefly = async () => void (await sleep(50));

Spin("with its thread and the host over the cores, a waiting worker sleeps and leaves the running count", async () => {
  assert.equal(await runningWhileWaiting(1, 10_000_000, [untilAsleep]), [0]);
});

Spin("with a core free for it, a waiting worker spins and stays counted as running", async () => {
  assert.equal(await runningWhileWaiting(8, 10_000_000, [briefly]), [1]);
});

Spin("after a spin that got no reply the worker sleeps at once for the next request, then spins again", async () => {
  // 300 ms spins: the first ends unanswered (running drops to 0 once it sleeps), the second is
  // skipped (asleep at once), the third spins again and is answered within it.
  const seen = await runningWhileWaiting(8, 300_000, [untilAsleep, briefly, async () => undefined]);
  assert.equal(seen, [0, 0, 1]);
});

Spin("after a spin that ran its full bound, a quick answer to a request that slept does not end the skipping", async () => {
  // 300 ms spins that end unanswered: the requests in between sleep and are answered after
  // 50 ms, yet the skip doubles, since sleeping is what made them quick on a machine without a
  // core to spare: after the second failed spin the next two requests sleep.
  const seen = await runningWhileWaiting(8, 300_000, [untilAsleep, briefly, untilAsleep, briefly, briefly]);
  assert.equal(seen, [0, 0, 0, 0, 0]);
});

Spin("after a spin the host never picked up, an answer within the spin bound makes the next request spin", async () => {
  const control = new Int32Array(new SharedArrayBuffer(64 * 4));
  const gauge = new CoreGauge(new SharedArrayBuffer(GAUGE_BYTES), 8);
  // 300 ms spins that end after 50 ms when the request was not picked up.
  const { worker, done } = clientWorker(control, gauge, 300_000, 50_000, [Request.Fault, Request.Fault]);
  try {
    await published(control, 1);
    await untilAsleep(gauge.running); // not picked up: the spin ends after 50 ms
    assert.is(Atomics.load(gauge.running, 0), 0);
    answer(control, 1); // well within the 300 ms bound
    await published(control, 2);
    Atomics.store(control, Slot.SEEN, 2);
    await briefly();
    assert.is(Atomics.load(gauge.running, 0), 1, "the second request sleeps instead of spinning");
    answer(control, 2);
    await within(done);
  } finally {
    await worker.terminate();
  }
});

Spin("a request that slept past the spin bound keeps the skipping", async () => {
  // 300 ms spins; the skipped requests are answered after 450 ms, longer than a spin, so the
  // skip doubles: after the second failed spin the next two requests sleep.
  const slow = async () => void (await sleep(450));
  const seen = await runningWhileWaiting(8, 300_000, [untilAsleep, slow, untilAsleep, slow, briefly]);
  assert.equal(seen, [0, 0, 0, 0, 0]);
});

Spin("barriers and faults keep separate spin policies", async () => {
  // A barrier whose spin failed makes the next barrier sleep, but not the fault in between.
  const seen = await runningWhileWaiting(8, 300_000, [untilAsleep, briefly, briefly], [Request.Barrier, Request.Fault, Request.Barrier]);
  assert.equal(seen, [0, 1, 0]);
});

Spin("a worker whose request the host has not picked up stops spinning long before its bound", async () => {
  const control = new Int32Array(new SharedArrayBuffer(64 * 4));
  const gauge = new CoreGauge(new SharedArrayBuffer(GAUGE_BYTES), 8);
  const { worker, done } = clientWorker(control, gauge, 10_000_000, PICKUP_US, [Request.Fault]);
  try {
    // Read the request without marking it seen, as a host without a core would.
    await published(control, 1);
    await untilAsleep(gauge.running);
    assert.is(Atomics.load(gauge.running, 0), 0, "the worker still spins for a host that never picked its request up");
    answer(control, 1);
    await within(done);
  } finally {
    await worker.terminate();
  }
});

Polling.run();
Spin.run();
