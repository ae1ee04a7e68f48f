/**
 * What keeps a remote fault cheap, pinned so it stays that way: the local network delivers a
 * whole exchange in one turn of the event loop without starving timers; one retransmission timer
 * serves every call of an endpoint; a fault's Confirm leaves after the fault resolved, and waits
 * while the kernel keeps faulting; one watchdog bounds every mailbox request, each by its own
 * bound. The mailbox's polling and spinning are pinned in mailbox.test.ts.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Access } from "../src/abi.js";
import { MessageKind } from "../src/protocol/codec.js";
import { Endpoint } from "../src/protocol/endpoint.js";
import { createIvy } from "../src/protocol/ivy.js";
import { CONFIRM_DELAY_MS } from "../src/protocol/confirm_queue.js";
import { FaultTimeoutError } from "../src/runtime/errors.js";
import { KernelNode } from "../src/runtime/kernel_node.js";
import { LocalNetwork, TURN_BUDGET } from "../src/transport/local_transport.js";
import { FakeCoherence } from "./helpers/fake_coherence.js";
import { FakePort } from "./helpers/fake_port.js";
import { kernel } from "./helpers/kernels.js";
import { recordedCluster } from "./helpers/recording_transport.js";
import { within } from "./helpers/expect.js";

const WAIT_MS = 3000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

const Turns = suite("LocalNetwork turns");

Turns("a request and the reply its handler sends arrive within one turn of the event loop", async () => {
  const net = new LocalNetwork(2);
  net.transport(1).listen((bytes, reply) => reply!(bytes));
  const order: string[] = [];
  const answered = net.transport(0).request(1, new Uint8Array([5]), WAIT_MS).then((bytes) => order.push(`reply ${bytes[0]}`));
  setImmediate(() => order.push("next turn"));
  await within(answered);
  await nextTurn();
  assert.equal(order, ["reply 5", "next turn"]);
  await net.close();
});

Turns("messages that handlers send on arrive in the same turn, in the order sent", async () => {
  const net = new LocalNetwork(3);
  const heard: string[] = [];
  net.transport(1).listen((bytes) => {
    heard.push(`1 got ${bytes[0]}`);
    net.transport(1).send(2, new Uint8Array([bytes[0]! + 10]));
  });
  net.transport(2).listen((bytes) => heard.push(`2 got ${bytes[0]}`));
  net.transport(0).send(1, new Uint8Array([1]));
  net.transport(0).send(1, new Uint8Array([2]));
  setImmediate(() => heard.push("next turn"));
  await within(sleep(5));
  assert.equal(heard, ["1 got 1", "1 got 2", "2 got 11", "2 got 12", "next turn"]);
  await net.close();
});

Turns("nodes that answer each other forever still let a timer run", async () => {
  const net = new LocalNetwork(2);
  const LIMIT = 1_000_000;
  let bounces = 0;
  let stopped = false;
  let bouncesWhenTimerRan: number | undefined;
  const bounce = (from: number) => () => {
    bounces++;
    if (!stopped && bounces < LIMIT) net.transport(from).send(1 - from, new Uint8Array(1));
  };
  net.transport(0).listen(bounce(0));
  net.transport(1).listen(bounce(1));
  const timer = new Promise<void>((resolve) =>
    setTimeout(() => {
      bouncesWhenTimerRan = bounces;
      stopped = true;
      resolve();
    }, 2),
  );
  net.transport(0).send(1, new Uint8Array(1));
  await within(timer);
  assert.ok(bouncesWhenTimerRan! > TURN_BUDGET, `only ${bouncesWhenTimerRan} bounces before the timer`);
  assert.ok(bouncesWhenTimerRan! < LIMIT, "the timer ran only after the bouncing ended");
  await net.close();
});

Turns("flush resolves once every message sent before it arrived, even when that takes several turns", async () => {
  const net = new LocalNetwork(2);
  let heard = 0;
  net.transport(1).listen(() => heard++);
  const count = 3 * TURN_BUDGET + 7;
  for (let i = 0; i < count; i++) net.transport(0).send(1, new Uint8Array(1));
  await within(net.transport(0).flush());
  assert.is(heard, count);
  assert.equal(net.stats, { delivered: count, dropped: 0 });
  await net.close();
});

const Retries = suite("Endpoint retransmission");

function endpoints(retryMs: number) {
  const net = new LocalNetwork(2);
  const port = new FakePort();
  const [a, b] = [0, 1].map((i) => new Endpoint(net.transport(i), port, { job: 3, retryMs }));
  return { net, a: a!, b: b! };
}

const acquire = (id: number, timeoutMs: number) => ({
  replies: [MessageKind.LockGrant],
  timeoutMs,
  timeout: () => new Error(`lock ${id}: no grant within ${timeoutMs} ms`),
});

Retries("concurrent calls are each retransmitted until answered", async () => {
  const { net, a, b } = endpoints(20);
  const copies = new Map<number, number>();
  b.on(MessageKind.LockAcquire, (m) => {
    const seen = (copies.get(m.arg) ?? 0) + 1;
    copies.set(m.arg, seen);
    if (seen === 3) b.send(m.source, { kind: MessageKind.LockGrant, arg: m.arg, request: m.request });
  });
  const granted = await within(Promise.all([1, 2, 3].map((id) => a.call(1, { kind: MessageKind.LockAcquire, arg: id }, acquire(id, WAIT_MS)))));
  assert.equal(granted.map((m) => m.arg), [1, 2, 3]);
  assert.equal([...copies], [[1, 3], [2, 3], [3, 3]]);
  assert.is(a.counters.retries, 6);
  a.close();
  b.close();
  await net.close();
});

Retries("a call answered at once is sent once", async () => {
  const { net, a, b } = endpoints(200);
  b.on(MessageKind.LockAcquire, (m) => b.send(m.source, { kind: MessageKind.LockGrant, arg: m.arg, request: m.request }));
  for (let id = 1; id <= 5; id++) await within(a.call(1, { kind: MessageKind.LockAcquire, arg: id }, acquire(id, WAIT_MS)));
  await sleep(50);
  assert.equal(net.transport(0).counters.messages, 5);
  assert.is(a.counters.retries, 0);
  a.close();
  b.close();
  await net.close();
});

Retries("calls with different deadlines each end with their own error, the earlier first", async () => {
  const { net, a, b } = endpoints(20);
  const ended: string[] = [];
  const call = (id: number, timeoutMs: number) =>
    a.call(1, { kind: MessageKind.LockAcquire, arg: id }, acquire(id, timeoutMs)).then(
      () => ended.push(`lock ${id} granted`),
      (error: Error) => ended.push(error.message),
    );
  await within(Promise.all([call(1, 250), call(2, 60)]));
  assert.equal(ended, ["lock 2: no grant within 60 ms", "lock 1: no grant within 250 ms"]);
  a.close();
  b.close();
  await net.close();
});

const Confirms = suite("Confirm after the fault");

/** Two started ivy nodes; node 1's kernel reports itself busy (waiting for more faults). */
async function busyPair() {
  const cluster = recordedCluster(2, createIvy);
  await Promise.all(cluster.nodes.map((c) => c.start()));
  cluster.ports[1]!.busyNow = true;
  return cluster;
}

Confirms("a read fault resolves before its Confirm is sent; the Confirm follows on the next turn", async () => {
  const { net, nodes } = recordedCluster(2, createIvy);
  await Promise.all(nodes.map((c) => c.start()));
  await within(nodes[1]!.fault(16, 16, Access.Read));
  const atResolution = net.transcript();
  await net.quiet();
  assert.equal(atResolution, ["ReadRequest 1→0 p16 v0", "PageData 0→1 p16 v0"]);
  assert.equal(net.transcript().slice(2), ["Confirm 1→0 p16 v0", "ConfirmAck 0→1 p16 v0"]);
  await Promise.all(nodes.map((c) => c.close()));
});

Confirms("while the kernel waits for more faults, Confirms wait; they go once it does not", async () => {
  const { net, nodes, ports } = await busyPair();
  await within(nodes[1]!.fault(16, 16, Access.Read));
  await within(nodes[1]!.fault(18, 18, Access.Read));
  for (let i = 0; i < 20; i++) await nextTurn();
  const faults = ["ReadRequest 1→0 p16 v0", "PageData 0→1 p16 v0", "ReadRequest 1→0 p18 v0", "PageData 0→1 p18 v0"];
  assert.equal(net.transcript(), faults, "no Confirm while busy");
  ports[1]!.busyNow = false;
  await net.quiet();
  assert.equal(net.transcript(), [...faults, "Confirm 1→0 p16 v0", "Confirm 1→0 p18 v0", "ConfirmAck 0→1 p16 v0", "ConfirmAck 0→1 p18 v0"]);
  await Promise.all(nodes.map((c) => c.close()));
});

Confirms("a kernel that never stops faulting still gets its Confirms sent after CONFIRM_DELAY_MS", async () => {
  const { net, nodes } = await busyPair();
  const started = performance.now();
  await within(nodes[1]!.fault(16, 16, Access.Read));
  await within(net.waitFor((m) => m.kind === MessageKind.ConfirmAck, 1));
  assert.ok(performance.now() - started >= CONFIRM_DELAY_MS);
  assert.equal(net.transcript().slice(2), ["Confirm 1→0 p16 v0", "ConfirmAck 0→1 p16 v0"]);
  await Promise.all(nodes.map((c) => c.close()));
});

Confirms("a waiting Confirm goes before a new request for the same page, and before a barrier", async () => {
  const { net, nodes } = await busyPair();
  await within(nodes[1]!.fault(16, 16, Access.Read));
  await within(nodes[1]!.fault(16, 16, Access.Write)); // its manager holds this request until the read's Confirm
  await within(nodes[1]!.fault(18, 18, Access.Read));
  const barrier = Promise.all(nodes.map((c) => c.barrier()));
  await within(barrier);
  const pages = net.transcript((m) => m.page === 16 || m.page === 18 || m.kind === MessageKind.BarrierArrive);
  assert.equal(pages.slice(0, 4), ["ReadRequest 1→0 p16 v0", "PageData 0→1 p16 v0", "Confirm 1→0 p16 v0", "WriteRequest 1→0 p16 v0"]);
  const confirm18 = pages.indexOf("Confirm 1→0 p18 v0");
  const arrive = pages.findIndex((t) => t.startsWith("BarrierArrive 1→"));
  assert.ok(confirm18 >= 0 && arrive > confirm18, `the Confirm of page 18 went before node 1's barrier arrival: ${pages.join(", ")}`);
  await Promise.all(nodes.map((c) => c.close()));
});

const Bounds = suite("KernelNode bounds");

Bounds("a fault after a barrier times out at the fault's bound, not the barrier's", async () => {
  const { instrumented } = await kernel("test/kernels/barrier_then_load.ts");
  const node = new KernelNode(instrumented, 0, 1);
  const fake = new FakeCoherence(node);
  fake.onFault = () => new Promise(() => {});
  const started = performance.now();
  const outcome = await within(
    node.run(fake, [], { faultTimeoutMs: 200, syncTimeoutMs: 60_000 }).then(
      () => undefined,
      (error: Error) => error,
    ),
    10_000,
  ).catch(async (error: Error) => {
    await node.abort(error);
    throw error;
  });
  assert.instance(outcome, FaultTimeoutError);
  assert.is(outcome!.message, `node 0: read fault on page ${node.firstPage} not resolved after 200 ms`);
  assert.ok(performance.now() - started < 10_000);
});

Turns.run();
Retries.run();
Confirms.run();
Bounds.run();
