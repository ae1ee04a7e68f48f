/**
 * The host thread's relay (src/transport/ring_relay.ts) between a worker's rings and a transport
 * that needs the event loop: what the worker sends reaches the transport tagged with its
 * destination, what arrives is handed to the worker, and what the worker sent last before the
 * relay stops still leaves (a node's acknowledgement of the final barrier), and that the hub counts
 * in the process's core gauge exactly while it is awake.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { CoreGauge } from "../src/runtime/core_gauge.js";
import { RingLink } from "../src/transport/ring_link.js";
import { ringNetwork } from "../src/transport/ring_network.js";
import { RelayHub } from "../src/transport/ring_relay.js";
import type { MessageHandler, Transport } from "../src/transport/transport.js";

/** A transport that records what it is asked to send and lets the test deliver messages. */
class RecordingTransport implements Transport {
  readonly sent: string[] = [];
  readonly counters = { messages: 0, bytes: 0 };
  handler: MessageHandler | undefined;
  constructor(
    readonly nodeId: number,
    readonly nodeCount: number,
  ) {}
  send(to: number, bytes: Uint8Array): void {
    this.sent.push(`${to}: ${Array.from(bytes)}`);
  }
  listen(handler: MessageHandler): void {
    this.handler = handler;
  }
  request(): Promise<Uint8Array> {
    return Promise.reject(new Error("not used"));
  }
  async close(): Promise<void> {}
}

const Relay = suite("ring relay");

Relay("messages go out tagged with their destination, and come in to the worker's link", async () => {
  const transport = new RecordingTransport(1, 3);
  const hub = new RelayHub();
  const link = new RingLink(hub.add(transport));
  hub.start();
  link.send(2, Uint8Array.from([7, 8]));
  link.send(0, Uint8Array.from([9]));
  const deadline = Date.now() + 5000;
  while (transport.sent.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
  assert.equal(transport.sent, ["2: 7,8", "0: 9"]);
  const got: number[][] = [];
  link.listen((bytes) => void got.push(Array.from(bytes)));
  transport.handler!(Uint8Array.from([4, 5]));
  assert.is(link.pump(), 1);
  assert.equal(got, [[4, 5]]);
  await hub.stop();
});

Relay("a relayed link says its messages leave the process; links between the workers of one process say they do not", () => {
  const hub = new RelayHub();
  assert.is(new RingLink(hub.add(new RecordingTransport(1, 3))).leavesProcess, true);
  assert.equal(ringNetwork(2, { ringBytes: 4096 }).map((spec) => new RingLink(spec).leavesProcess), [false, false]);
});

Relay("what the worker published just before the relay stops is still sent", async () => {
  const transport = new RecordingTransport(1, 2);
  const hub = new RelayHub();
  const link = new RingLink(hub.add(transport));
  hub.start();
  link.send(0, Uint8Array.from([1]));
  await hub.stop();
  assert.equal(transport.sent, ["0: 1"]);
});

/** Resolves once the hub sleeps on its bell (its SLEEPING word is 1), within 5 s. */
async function asleep(hub: RelayHub): Promise<void> {
  const deadline = Date.now() + 5000;
  while (Atomics.load(hub.bell.words, 1) !== 1) {
    if (Date.now() > deadline) throw new Error("the hub did not go to sleep within 5 s");
    await new Promise((r) => setTimeout(r, 1));
  }
}

Relay("the hub counts in the core gauge while awake: a send or an arrival counts it at once", async () => {
  const gauge = new CoreGauge(undefined, 2);
  const transport = new RecordingTransport(1, 2);
  const hub = new RelayHub({ running: gauge.buffer });
  const link = new RingLink(hub.add(transport));
  link.listen(() => undefined);
  assert.is(gauge.running[0], 0);
  // A failed assertion must not leave the hub running: the file would never end.
  try {
    hub.start();
    await asleep(hub);
    assert.is(gauge.running[0], 0, "not while it sleeps");
    // The worker's ring of the hub's bell counts the hub before the hub has run at all.
    link.send(0, Uint8Array.from([1]));
    assert.is(gauge.running[0], 1, "a send counts the sleeping hub");
    await asleep(hub);
    assert.is(gauge.running[0], 0);
    transport.handler!(Uint8Array.from([2]));
    assert.is(gauge.running[0], 1, "an arrival counts it too");
    await asleep(hub);
    assert.is(gauge.running[0], 0);
  } finally {
    await hub.stop();
  }
  assert.is(gauge.running[0], 0, "not after it stopped");
  assert.equal(transport.sent, ["0: 1"]);
  assert.is(link.pump(), 1);
});

Relay.run();
