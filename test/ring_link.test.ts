/**
 * Ring links in one thread (src/transport/ring_link.ts): messages between nodes, a full ring
 * that holds messages back in order until the receiver frees space, and what the Endpoint does
 * with the bytes a ring lends: a payload a handler keeps is its own copy, one it only borrows
 * stays a view into the ring.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Endpoint } from "../src/protocol/endpoint.js";
import { MessageKind, type Message } from "../src/protocol/codec.js";
import { TimerQueue } from "../src/protocol/scheduler.js";
import { RingLink } from "../src/transport/ring_link.js";
import { ringNetwork } from "../src/transport/ring_network.js";
import { FakePort } from "./helpers/fake_port.js";

const PAGE = 4096;

function links(nodes: number, ringBytes = 64 << 10): RingLink[] {
  return ringNetwork(nodes, { ringBytes }).map((spec) => new RingLink(spec));
}

const Links = suite("ring links");

Links("messages reach the node they are sent to, in order, tagged by nothing but their bytes", () => {
  const [a, b, c] = links(3);
  const got: string[] = [];
  b!.listen((bytes) => void got.push(`b ${Array.from(bytes)}`));
  c!.listen((bytes) => void got.push(`c ${Array.from(bytes)}`));
  a!.send(1, Uint8Array.from([1]));
  a!.send(2, Uint8Array.from([2]));
  a!.send(1, Uint8Array.from([3]));
  assert.is(c!.pump(), 1);
  assert.is(b!.pump(), 2);
  assert.equal(got, ["c 2", "b 1", "b 3"]);
  assert.equal(a!.counters, { messages: 3, bytes: 3 });
});

Links("a send raises the receiver's wake word and rings its bell", () => {
  const words = [new Int32Array(new SharedArrayBuffer(4)), new Int32Array(new SharedArrayBuffer(4))];
  const [a, b] = ringNetwork(2, { ringBytes: 4096, wake: (n) => ({ buffer: words[n]!.buffer as SharedArrayBuffer, index: 0 }) }).map((s) => new RingLink(s));
  const seq = b!.bell.seq;
  a!.send(1, Uint8Array.from([9]));
  assert.is(words[1]![0], 1);
  assert.is(words[0]![0], 0);
  assert.is(b!.bell.seq, seq + 1);
});

Links("a deferrable send rings the receiver's bell (a sleeper wakes) but leaves its wake word down; the next plain send raises it", () => {
  const words = [new Int32Array(new SharedArrayBuffer(4)), new Int32Array(new SharedArrayBuffer(4))];
  const [a, b] = ringNetwork(2, { ringBytes: 4096, wake: (n) => ({ buffer: words[n]!.buffer as SharedArrayBuffer, index: 0 }) }).map((s) => new RingLink(s));
  const got: number[] = [];
  b!.listen((bytes) => void got.push(bytes[0]!));
  const seq = b!.bell.seq;
  a!.send(1, Uint8Array.from([7]), true);
  assert.is(words[1]![0], 0);
  assert.is(b!.bell.seq, seq + 1);
  assert.ok(b!.backlog());
  a!.send(1, Uint8Array.from([8]));
  assert.is(words[1]![0], 1);
  assert.is(b!.pump(), 2);
  assert.equal(got, [7, 8]);
});

Links("a full ring keeps later messages in order in the sender's outbox until the receiver drains", () => {
  const [a, b] = links(2, 1024);
  const got: number[] = [];
  b!.listen((bytes) => void got.push(bytes[0]!));
  for (let i = 0; i < 40; i++) a!.send(1, new Uint8Array(100).fill(i));
  assert.ok(a!.outbox > 0, "the ring had room for all 40");
  while (got.length < 40) {
    b!.pump();
    a!.flush();
  }
  assert.equal(got, Array.from({ length: 40 }, (_, i) => i));
  assert.is(a!.outbox, 0);
});

const Lending = suite("payloads lent by a ring");

function endpoints() {
  const [la, lb] = links(2);
  const port = new FakePort({ pageSize: PAGE });
  const [a, b] = [la!, lb!].map((link) => new Endpoint(link, port, { job: 1, retryMs: 50, scheduler: new TimerQueue() }));
  return { la: la!, lb: lb!, a: a!, b: b! };
}

Lending("a payload a handler keeps stays intact after the ring reuses its space", () => {
  const { lb, a, b } = endpoints();
  const kept: Message[] = [];
  b.on(MessageKind.PageData, (m) => void kept.push(m));
  for (let round = 0; round < 40; round++) {
    a.send(1, { kind: MessageKind.PageData, page: 16, version: round, payload: new Uint8Array(PAGE).fill(round) });
    lb.pump();
  }
  assert.is(kept.length, 40);
  for (const [i, m] of kept.entries()) {
    assert.ok(!(m.payload.buffer instanceof SharedArrayBuffer), "a kept payload must not be a view into the ring");
    assert.ok(m.payload.every((x) => x === i), `payload ${i} changed`);
  }
});

Lending("a handler that borrows gets a view into the ring, without a copy", () => {
  const { lb, a, b } = endpoints();
  let borrowed: Uint8Array | undefined;
  let sum = 0;
  b.on(
    MessageKind.PageData,
    (m) => {
      borrowed = m.payload;
      sum = m.payload.reduce((s, x) => s + x, 0);
    },
    { borrows: true },
  );
  a.send(1, { kind: MessageKind.PageData, page: 16, version: 1, payload: new Uint8Array(PAGE).fill(2) });
  lb.pump();
  assert.is(sum, 2 * PAGE);
  assert.ok(borrowed!.buffer instanceof SharedArrayBuffer);
});

Links.run();
Lending.run();
