/**
 * What only the local transport has: the intercept hook that loses, delays or reorders messages in
 * flight (so protocol tests can lose a message), the network's own checks and bookkeeping.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import {
  InvalidTransportOptionError,
  PayloadTooLargeError,
  TransportClosedError,
  TransportTimeoutError,
  UnknownNodeError,
} from "../src/transport/errors.js";
import { LocalNetwork, SLAB_MESSAGE_BYTES, type MessageKind } from "../src/transport/local_transport.js";
import { collectorWithin, rejection, thrown } from "./helpers/expect.js";

const WAIT_MS = 2000;

const collector = collectorWithin(WAIT_MS);

const hooks = suite("LocalNetwork intercept");

hooks("a dropped message is lost while the messages around it arrive", async () => {
  const network = new LocalNetwork(2, { intercept: (_from, _to, bytes) => (bytes[0] === 2 ? "drop" : "deliver") });
  const received = collector<number>(2);
  network.transport(1).listen((bytes) => received.push(bytes[0]!));
  const a = network.transport(0);
  for (const value of [1, 2, 3]) a.send(1, new Uint8Array([value]));
  assert.equal(await received.done, [1, 3]);
  assert.equal(network.stats, { delivered: 2, dropped: 1 });
  assert.equal(a.counters, { messages: 3, bytes: 3 }, "a lost message was still sent");
  await network.close();
});

hooks("a dropped request and a dropped reply both end in TransportTimeoutError", async () => {
  const network = new LocalNetwork(2);
  const [a, b] = [network.transport(0), network.transport(1)];
  b.listen((bytes, reply) => reply!(bytes));
  network.intercept = (_from, _to, _bytes, kind) => (kind === "request" ? "drop" : "deliver");
  const lostRequest = await rejection(a.request(1, new Uint8Array([1]), 50));
  assert.instance(lostRequest, TransportTimeoutError);
  assert.is(lostRequest.message, "node 1: no reply after 50 ms (local request from node 0)");
  assert.equal(b.counters, { messages: 0, bytes: 0 }, "node 1 never saw the request");

  network.intercept = (_from, _to, _bytes, kind) => (kind === "reply" ? "drop" : "deliver");
  assert.instance(await rejection(a.request(1, new Uint8Array([2]), 50)), TransportTimeoutError);
  assert.equal(b.counters, { messages: 1, bytes: 1 }, "node 1 replied; the reply was lost");
  network.intercept = undefined;
  assert.equal(Array.from(await a.request(1, new Uint8Array([3]), WAIT_MS)), [3]);
  await network.close();
});

hooks("a delayed message is overtaken by the ones sent after it", async () => {
  const network = new LocalNetwork(2, { intercept: (_f, _t, bytes) => (bytes[0] === 1 ? { delayMs: 30 } : "deliver") });
  const received = collector<number>(3);
  network.transport(1).listen((bytes) => received.push(bytes[0]!));
  for (const value of [1, 2, 3]) network.transport(0).send(1, new Uint8Array([value]));
  assert.equal(await received.done, [2, 3, 1]);
  await network.close();
});

hooks("the intercept sees sender, target, bytes and kind of every message", async () => {
  const seen: [number, number, number[], MessageKind][] = [];
  const network = new LocalNetwork(2, {
    intercept: (from, to, bytes, kind) => {
      seen.push([from, to, Array.from(bytes), kind]);
      return "deliver";
    },
  });
  const received = collector<void>(1);
  network.transport(1).listen((_bytes, reply) => (reply ? reply(new Uint8Array([3])) : received.push()));
  network.transport(0).send(1, new Uint8Array([1]));
  await network.transport(0).request(1, new Uint8Array([2]), WAIT_MS);
  await received.done;
  assert.equal(seen, [
    [0, 1, [1], "send"],
    [0, 1, [2], "request"],
    [1, 0, [3], "reply"],
  ]);
  await network.close();
});

hooks("an intercept verdict that is not deliver, drop or a delay is rejected", async () => {
  const network = new LocalNetwork(1, { intercept: () => ({ delayMs: -1 }) });
  const error = thrown(() => network.transport(0).send(0, new Uint8Array(1)));
  assert.instance(error, InvalidTransportOptionError);
  assert.is(error.message, 'intercept verdict {"delayMs":-1} is invalid; use "deliver", "drop" or { delayMs: n >= 0 }');
  assert.equal(network.transport(0).counters, { messages: 0, bytes: 0 });
  await network.close();
});

const network = suite("LocalNetwork");

network("delivered bytes are a copy at a nonzero offset of a larger buffer, as NATS delivers them", async () => {
  const net = new LocalNetwork(1);
  const received = collector<Uint8Array>(3);
  net.transport(0).listen((bytes) => received.push(bytes));
  const small = new Uint8Array(8).fill(1);
  net.transport(0).send(0, small);
  small.fill(2);
  net.transport(0).send(0, small);
  net.transport(0).send(0, new Uint8Array(SLAB_MESSAGE_BYTES).fill(3));
  const [first, second, large] = await received.done;
  // Small messages share a slab, one slot each; the receiver may keep them.
  assert.equal([first!.byteOffset, first!.byteLength, second!.byteOffset - first!.byteOffset], [8, 8, 16]);
  assert.is(first!.buffer, second!.buffer);
  assert.ok(first!.buffer.byteLength > SLAB_MESSAGE_BYTES);
  assert.equal([Array.from(first!), Array.from(second!)], [Array(8).fill(1), Array(8).fill(2)]);
  // A large one has a buffer of its own.
  assert.equal([large!.byteOffset, large!.byteLength, large!.buffer.byteLength], [8, SLAB_MESSAGE_BYTES, SLAB_MESSAGE_BYTES + 8]);
  assert.ok(net.transport(0).handsOverBytes);
  await net.close();
});

network("a message to a node that is not listening is dropped", async () => {
  const net = new LocalNetwork(2);
  const received = collector<number>(1);
  net.transport(0).listen((bytes) => received.push(bytes[0]!));
  net.transport(0).send(1, new Uint8Array([1]));
  net.transport(0).send(0, new Uint8Array([2]));
  assert.equal(await received.done, [2]);
  assert.equal(net.stats, { delivered: 1, dropped: 1 });
  await net.close();
});

network("transport(n) returns one transport per node and rejects ids outside the job", async () => {
  const net = new LocalNetwork(2);
  assert.is(net.transport(1), net.transport(1));
  assert.equal([net.transport(1).nodeId, net.transport(1).nodeCount], [1, 2]);
  const error = thrown(() => net.transport(2));
  assert.instance(error, UnknownNodeError);
  assert.is(error.message, "node 2 is not in this job of 2 nodes; use 0..1");
  await net.close();
});

network("a network needs at least one node and a byte count as maxPayload", () => {
  assert.is(thrown(() => new LocalNetwork(0)).message, "nodeCount 0 is invalid; use an integer of at least 1");
  assert.is(
    thrown(() => new LocalNetwork(1, { maxPayload: -1 })).message,
    "maxPayload -1 is invalid; use a byte count of at least 0, or Infinity",
  );
});

network("maxPayload defaults to 1 MiB and can be raised", async () => {
  const small = new LocalNetwork(1);
  assert.is(small.transport(0).maxPayload, 1048576);
  assert.instance(thrown(() => small.transport(0).send(0, new Uint8Array(1048577))), PayloadTooLargeError);
  const large = new LocalNetwork(1, { maxPayload: Infinity });
  const received = collector<number>(1);
  large.transport(0).listen((bytes) => received.push(bytes.byteLength));
  large.transport(0).send(0, new Uint8Array(2 * 1048576));
  assert.equal(await received.done, [2097152]);
  await Promise.all([small.close(), large.close()]);
});

network("close rejects waiting requests and forgets delayed messages", async () => {
  const net = new LocalNetwork(2, { intercept: (_f, _t, _b, kind) => (kind === "send" ? { delayMs: 10 } : "deliver") });
  const heard: number[] = [];
  net.transport(1).listen((bytes) => heard.push(bytes.byteLength));
  net.transport(0).send(1, new Uint8Array(1));
  const waiting = rejection(net.transport(0).request(1, new Uint8Array(2), WAIT_MS));
  await net.close();
  assert.instance(await waiting, TransportClosedError);
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(heard, [], "nothing is delivered after close");
});

hooks.run();
network.run();
