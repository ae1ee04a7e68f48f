/**
 * Messages a node sends itself (src/protocol/endpoint.ts, loopback): a manager asking itself, an
 * owner forwarding to itself, a confirm to its own directory. They never touch the transport, yet
 * behave like messages: handled after the handler that sent them returns, in order, with a
 * payload of their own.
 */
import { LoopScheduler, TimerQueue } from "../src/protocol/scheduler.js";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { MessageKind, type Message } from "../src/protocol/codec.js";
import { kindName } from "../src/protocol/message_kinds.js";
import { Endpoint } from "../src/protocol/endpoint.js";
import { LocalNetwork } from "../src/transport/local_transport.js";
import type { Link, MessageHandler } from "../src/transport/transport.js";
import { within } from "./helpers/expect.js";
import { FakePort } from "./helpers/fake_port.js";

const PAGE = 1024;

function endpoints() {
  const net = new LocalNetwork(2);
  const [a, b] = [0, 1].map((id) => new Endpoint(net.transport(id), new FakePort({ pageSize: PAGE }), { job: 3, retryMs: 20, scheduler: new LoopScheduler() }));
  return { net, a: a!, b: b! };
}

const Loopback = suite("messages to this node itself");

Loopback("are handled after the handler that sent them returns, in the order sent, without the transport", async () => {
  const { net, a, b } = endpoints();
  const order: string[] = [];
  a.on(MessageKind.Invalidate, (m) => {
    order.push(`invalidate from ${m.source}: start`);
    a.send(0, { kind: MessageKind.InvalidateAck, page: 17, arg: 0 });
    a.send(0, { kind: MessageKind.InvalidateAck, page: 18, arg: 0 });
    order.push(`invalidate from ${m.source}: end`);
  });
  a.on(MessageKind.InvalidateAck, (m) => order.push(`ack p${m.page} from ${m.source}`));
  b.send(0, { kind: MessageKind.Invalidate, page: 16, arg: 1 });
  await within(net.transport(1).flush());
  assert.equal(order, ["invalidate from 1: start", "invalidate from 1: end", "ack p17 from 0", "ack p18 from 0"]);
  assert.equal(net.transport(0).counters, { messages: 0, bytes: 0 }, "node 0 sent nothing over the transport");
  await net.close();
});

Loopback("sent outside any handler, one is handled in a microtask, never inside send", async () => {
  const { net, a } = endpoints();
  const seen: number[] = [];
  a.on(MessageKind.InvalidateAck, (m) => seen.push(m.page));
  a.send(0, { kind: MessageKind.InvalidateAck, page: 19, arg: 0 });
  assert.equal(seen, []);
  await Promise.resolve();
  assert.equal(seen, [19]);
  await net.close();
});

Loopback("a call to this node is answered by its own handler", async () => {
  const { net, a } = endpoints();
  a.on(MessageKind.Confirm, (m) => a.send(m.source, { kind: MessageKind.ConfirmAck, page: m.page, request: m.request, arg: m.arg }));
  const reply = await within(
    a.call(0, { kind: MessageKind.Confirm, page: 16, arg: 1, version: 4 }, { replies: [MessageKind.ConfirmAck], timeoutMs: 1000, timeout: () => new Error("no ack") }),
  );
  assert.equal([reply.kind, reply.source, reply.target, reply.page, reply.arg], [MessageKind.ConfirmAck, 0, 0, 16, 1]);
  assert.equal(net.transport(0).counters, { messages: 0, bytes: 0 });
  assert.equal(a.counters.retries, 0);
  await net.close();
});

Loopback("carries a copy of the payload: the sender may change its bytes at once", async () => {
  const { net, a } = endpoints();
  let got: Message | undefined;
  a.on(MessageKind.PageData, (m) => (got = m));
  const page = new Uint8Array(PAGE).fill(7);
  a.send(0, { kind: MessageKind.PageData, page: 16, arg: 0, payload: page });
  page.fill(9);
  await Promise.resolve();
  assert.ok(got);
  assert.is(got!.payload.byteLength, PAGE);
  assert.ok(got!.payload.every((byte) => byte === 7));
  await net.close();
});

Loopback("backlog counts messages still to handle, to this node or behind on the transport, not the one handled now", async () => {
  const { net, a, b } = endpoints();
  const seen: string[] = [];
  a.on(MessageKind.Invalidate, (m) => {
    seen.push(`invalidate p${m.page}: backlog ${a.backlog()}`);
    if (m.page === 16) a.send(0, { kind: MessageKind.InvalidateAck, page: 16, arg: 0 });
    seen.push(`after sending itself an ack: backlog ${a.backlog()}`);
  });
  a.on(MessageKind.InvalidateAck, () => seen.push(`ack: backlog ${a.backlog()}`));
  b.send(0, { kind: MessageKind.Invalidate, page: 16, arg: 1 });
  b.send(0, { kind: MessageKind.Invalidate, page: 17, arg: 1 });
  await within(net.transport(1).flush());
  assert.equal(seen, [
    "invalidate p16: backlog true", // p17 waits on the transport
    "after sending itself an ack: backlog true",
    "ack: backlog true", // p17 still waits
    "invalidate p17: backlog false",
    "after sending itself an ack: backlog false",
  ]);
  await net.close();
});

Loopback("close forgets those not yet handled", async () => {
  const { net, a } = endpoints();
  const seen: number[] = [];
  a.on(MessageKind.InvalidateAck, (m) => seen.push(m.page));
  a.send(0, { kind: MessageKind.InvalidateAck, page: 16, arg: 0 });
  a.close();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(seen, []);
  await net.close();
});

Loopback.run();

const Deferrable = suite("deferrable sends");

/** A link that records what it is asked to send: [kind name, to, deferrable]. */
class RecordingLink implements Link {
  readonly nodeId = 0;
  readonly nodeCount = 2;
  readonly counters = { messages: 0, bytes: 0 };
  readonly sent: [string, number, boolean][] = [];
  send(to: number, bytes: Uint8Array, deferrable = false): void {
    this.sent.push([kindName(bytes[3]!), to, deferrable]);
  }
  listen(_handler: MessageHandler): void {}
}

Deferrable("Confirm, ConfirmAck and BarrierArrive go deferrable the first time, every other kind and every retransmission not", () => {
  let now = 0;
  const scheduler = new TimerQueue(() => now);
  const link = new RecordingLink();
  const e = new Endpoint(link, new FakePort({ pageSize: PAGE }), { job: 3, retryMs: 20, scheduler });
  const never = () => undefined;
  e.exchange(1, { kind: MessageKind.Confirm, page: 16, arg: 1 }, { replies: [MessageKind.ConfirmAck], timeoutMs: 1000, timeout: () => new Error("no ack") }, never, never);
  e.exchange(1, { kind: MessageKind.ReadRequest, page: 17 }, { replies: [MessageKind.PageData], timeoutMs: 1000, timeout: () => new Error("no page") }, never, never);
  e.send(1, { kind: MessageKind.ConfirmAck, page: 18, arg: 0 });
  e.send(1, { kind: MessageKind.BarrierArrive, body: { epoch: 1 } });
  e.send(1, { kind: MessageKind.Invalidate, page: 19, arg: 1 });
  now = 20;
  scheduler.runDue(now);
  assert.equal(link.sent, [
    ["Confirm", 1, true],
    ["ReadRequest", 1, false],
    ["ConfirmAck", 1, true],
    ["BarrierArrive", 1, true],
    ["Invalidate", 1, false],
    ["Confirm", 1, false],
    ["ReadRequest", 1, false],
  ]);
  e.close();
});

Deferrable.run();
