/**
 * The transport conformance suite, run against every transport: what a protocol may rely on
 * (exact bytes, asynchronous delivery, per-sender order, request/reply matching, timeouts, errors,
 * counters) must hold on LocalTransport and on NatsTransport alike.
 */
import { createHash } from "node:crypto";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { HandlerErrorHook } from "../src/transport/checks.js";
import {
  DuplicateReplyError,
  NoRespondersError,
  PayloadTooLargeError,
  TransportClosedError,
  TransportTimeoutError,
  UnknownNodeError,
} from "../src/transport/errors.js";
import { LocalNetwork } from "../src/transport/local_transport.js";
import { NatsTransport, nodeSubject } from "../src/transport/nats_transport.js";
import type { Transport } from "../src/transport/transport.js";
import { natsOrSkip } from "./helpers/nats.js";
import { collectorWithin, rejection, thrown } from "./helpers/expect.js";

interface Nodes {
  transports: Transport[];
  /** How a timed-out request from `from` to `to` is described in the error message. */
  via(from: number, to: number): string;
  close(): Promise<void>;
}

type MakeNodes = (count: number, hooks?: { onHandlerError?: HandlerErrorHook }) => Promise<Nodes>;

const WAIT_MS = 3000;

const collector = collectorWithin(WAIT_MS);

function pattern(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + seed) & 0xff;
  return bytes;
}

/** Short byte strings as numbers, long ones as length and hash: exact either way, readable on failure. */
function show(bytes: Uint8Array): string {
  if (bytes.byteLength <= 16) return `[${Array.from(bytes).join(",")}]`;
  return `${bytes.byteLength} bytes sha256:${createHash("sha256").update(bytes).digest("hex").slice(0, 16)}`;
}

function transportSuite(name: string, makeNodes: MakeNodes) {
  const test = suite(`${name} conformance`);

  async function withNodes(count: number, body: (nodes: Nodes) => Promise<void>, hooks?: { onHandlerError?: HandlerErrorHook }) {
    const nodes = await makeNodes(count, hooks);
    try {
      await body(nodes);
    } finally {
      await nodes.close();
    }
  }

  test("a send arrives with exactly the bytes sent, to another node and to itself", () =>
    withNodes(2, async ({ transports: [a, b] }) => {
      const atB = collector<string>(3);
      const atA = collector<string>(1);
      b!.listen((bytes, reply) => atB.push(`${show(bytes)} reply:${reply !== undefined}`));
      a!.listen((bytes) => atA.push(show(bytes)));
      await flush(a!, b!);
      a!.send(1, new Uint8Array([1, 2, 3]));
      a!.send(1, new Uint8Array(0));
      a!.send(1, pattern(64 * 1024, 7));
      a!.send(0, new Uint8Array([9]));
      assert.equal(await atB.done, ["[1,2,3] reply:false", "[] reply:false", `${show(pattern(64 * 1024, 7))} reply:false`]);
      assert.equal(await atA.done, ["[9]"]);
    }));

  test("send copies the bytes: reusing the buffer afterwards does not change the message", () =>
    withNodes(2, async ({ transports: [a, b] }) => {
      const atB = collector<string>(2);
      b!.listen((bytes) => atB.push(show(bytes)));
      await flush(a!, b!);
      const buffer = new Uint8Array([1, 2, 3]);
      a!.send(1, buffer);
      buffer.fill(0);
      const shared = new Uint8Array(new SharedArrayBuffer(8), 4, 3);
      shared.set([4, 5, 6]);
      a!.send(1, shared);
      shared.fill(0);
      assert.equal(await atB.done, ["[1,2,3]", "[4,5,6]"]);
    }));

  test("the handler runs after send returns, never inside it", () =>
    withNodes(1, async ({ transports: [a] }) => {
      const events: string[] = [];
      const received = collector<void>(1);
      a!.listen(() => {
        events.push("handled");
        received.push();
      });
      await flush(a!);
      a!.send(0, new Uint8Array([1]));
      events.push("send returned");
      await received.done;
      assert.equal(events, ["send returned", "handled"]);
    }));

  test("a request is answered with exactly the bytes of the reply", () =>
    withNodes(2, async ({ transports: [a, b] }) => {
      b!.listen((bytes, reply) => reply!(Uint8Array.from(bytes).reverse()));
      await flush(a!, b!);
      assert.is(show(await a!.request(1, new Uint8Array([1, 2, 3]), WAIT_MS)), "[3,2,1]");
      assert.is(show(await a!.request(1, new Uint8Array(0), WAIT_MS)), "[]");
      const big = pattern(64 * 1024, 3);
      assert.is(show(await a!.request(1, big, WAIT_MS)), show(Uint8Array.from(big).reverse()));
    }));

  test("many concurrent requests each get their own reply, even when answered out of order", () =>
    withNodes(3, async ({ transports: [a, b, c] }) => {
      b!.listen((bytes, reply) => {
        const copy = Uint8Array.from(bytes);
        setTimeout(() => reply!(copy), copy[1]! % 7); // replies leave in a different order
      });
      await flush(a!, b!, c!);
      const asks = [];
      for (let i = 0; i < 200; i++) asks.push(a!.request(1, new Uint8Array([0, i, i ^ 0x55]), WAIT_MS));
      for (let i = 0; i < 200; i++) asks.push(c!.request(1, new Uint8Array([2, i, i ^ 0x55]), WAIT_MS));
      const answers = (await Promise.all(asks)).map(show);
      const expected = [0, 2].flatMap((from) => Array.from({ length: 200 }, (_, i) => `[${from},${i},${i ^ 0x55}]`));
      assert.equal(answers, expected);
    }));

  test("1000 sends from each sender arrive in the order sent", () =>
    withNodes(3, async ({ transports: [a, b, c] }) => {
      const received = collector<[number, number]>(2000);
      b!.listen((bytes) => received.push([bytes[0]!, (bytes[1]! << 8) | bytes[2]!]));
      await flush(a!, b!, c!);
      for (let i = 0; i < 1000; i++) {
        a!.send(1, new Uint8Array([0, i >> 8, i & 0xff]));
        c!.send(1, new Uint8Array([2, i >> 8, i & 0xff]));
      }
      const all = await received.done;
      const sequence = Array.from({ length: 1000 }, (_, i) => i);
      assert.equal(all.filter(([from]) => from === 0).map(([, i]) => i), sequence);
      assert.equal(all.filter(([from]) => from === 2).map(([, i]) => i), sequence);
    }));

  test("a request to a node that never replies rejects with TransportTimeoutError naming the node", () =>
    withNodes(3, async ({ transports: [a, , c], via }) => {
      c!.listen(() => undefined);
      await flush(a!, c!);
      const started = Date.now();
      const error = await rejection(a!.request(2, new Uint8Array([1]), 150));
      const elapsed = Date.now() - started;
      assert.instance(error, TransportTimeoutError);
      assert.is(error.name, "TransportTimeoutError");
      assert.is(error.message, `node 2: no reply after 150 ms (${via(0, 2)})`);
      assert.ok(elapsed >= 140 && elapsed < 1500, `rejected after ${elapsed} ms`);
    }));

  test("a request to a node that is not listening rejects with NoRespondersError", () =>
    withNodes(3, async ({ transports: [a], via }) => {
      await flush(a!);
      const error = await rejection(a!.request(2, new Uint8Array([1]), WAIT_MS));
      assert.instance(error, NoRespondersError);
      assert.is(error.message, `node 2: nobody is listening (${via(0, 2)}); start node 2 in this job or wait until it listens`);
    }));

  test("counters count every message and byte a node sends, replies included", () =>
    withNodes(3, async ({ transports: [a, b, c] }) => {
      const atB = collector<void>(1);
      a!.listen(() => undefined);
      b!.listen((_bytes, reply) => (reply ? reply(new Uint8Array(7)) : atB.push()));
      await flush(a!, b!, c!);
      a!.send(1, new Uint8Array(10));
      a!.send(0, new Uint8Array(0));
      await a!.request(1, new Uint8Array(100), WAIT_MS);
      await atB.done;
      assert.equal(a!.counters, { messages: 3, bytes: 110 });
      assert.equal(b!.counters, { messages: 1, bytes: 7 });
      assert.equal(c!.counters, { messages: 0, bytes: 0 });
    }));

  test("a message larger than max_payload is rejected with PayloadTooLargeError and not counted", () =>
    withNodes(2, async ({ transports: [a, b] }) => {
      const replyError = collector<Error>(1);
      b!.listen((_, reply) => {
        replyError.push(thrown(() => reply!(new Uint8Array(1024 * 1024 + 1))));
        reply!(new Uint8Array([5]));
      });
      await flush(a!, b!);
      const tooBig = new Uint8Array(1024 * 1024 + 1);
      const sent = thrown(() => a!.send(1, tooBig));
      assert.instance(sent, PayloadTooLargeError);
      assert.is(
        sent.message,
        "message to node 1 of 1048577 bytes exceeds max_payload 1048576; raise max_payload in the nats-server config or send smaller messages",
      );
      assert.instance(await rejection(a!.request(1, tooBig, WAIT_MS)), PayloadTooLargeError);
      assert.equal(a!.counters, { messages: 0, bytes: 0 });
      assert.is(show(await a!.request(1, new Uint8Array(0), WAIT_MS)), "[5]");
      const [tooBigReply] = await replyError.done;
      assert.instance(tooBigReply, PayloadTooLargeError);
      assert.equal(b!.counters, { messages: 1, bytes: 1 });
    }));

  test("a message to a node outside the job is rejected with UnknownNodeError", () =>
    withNodes(2, async ({ transports: [a] }) => {
      const error = thrown(() => a!.send(2, new Uint8Array(1)));
      assert.instance(error, UnknownNodeError);
      assert.is(error.message, "node 2 is not in this job of 2 nodes; use 0..1");
      assert.instance(await rejection(a!.request(-1, new Uint8Array(1), WAIT_MS)), UnknownNodeError);
    }));

  test("a second reply to one request throws DuplicateReplyError", () =>
    withNodes(2, async ({ transports: [a, b] }) => {
      const second = collector<Error>(1);
      b!.listen((_, reply) => {
        reply!(new Uint8Array([1]));
        second.push(thrown(() => reply!(new Uint8Array([2]))));
      });
      await flush(a!, b!);
      assert.is(show(await a!.request(1, new Uint8Array(0), WAIT_MS)), "[1]");
      const [error] = await second.done;
      assert.instance(error, DuplicateReplyError);
      assert.is(error!.message, "node 1: reply already sent for this request; reply once per request");
    }));

  test("a handler that throws is reported to onHandlerError and the node keeps receiving", () => {
    const reported = collector<string>(1);
    return withNodes(
      1,
      async ({ transports: [a] }) => {
        const received = collector<string>(2);
        a!.listen((bytes) => {
          received.push(show(bytes));
          if (bytes[0] === 1) throw new Error("handler bug");
        });
        await flush(a!);
        a!.send(0, new Uint8Array([1]));
        a!.send(0, new Uint8Array([2]));
        assert.equal(await received.done, ["[1]", "[2]"]);
        assert.equal(await reported.done, ["node 0: handler bug"]);
      },
      { onHandlerError: (error, node) => reported.push(`node ${node}: ${(error as Error).message}`) },
    );
  });

  test("after close, sending throws TransportClosedError and requests in flight reject with it", () =>
    withNodes(2, async ({ transports: [a, b] }) => {
      b!.listen(() => undefined);
      await flush(a!, b!);
      const inFlight = rejection(a!.request(1, new Uint8Array([1]), WAIT_MS));
      await a!.close();
      const error = await inFlight;
      assert.instance(error, TransportClosedError);
      assert.is(error.message, "node 0: transport is closed; create a new one to keep sending");
      assert.instance(thrown(() => a!.send(1, new Uint8Array(1))), TransportClosedError);
    }));

  return test;
}

async function flush(...transports: Transport[]): Promise<void> {
  // The NATS transport needs its subscriptions registered at the server before peers send.
  await Promise.all(transports.map((t) => (t as { flush?: () => Promise<void> }).flush?.()));
}

const makeLocal: MakeNodes = async (count, hooks) => {
  const network = new LocalNetwork(count, { onHandlerError: hooks?.onHandlerError });
  return {
    transports: Array.from({ length: count }, (_, id) => network.transport(id)),
    via: (from) => `local request from node ${from}`,
    close: () => network.close(),
  };
};

let jobs = 0;

function makeNats(url: string): MakeNodes {
  return async (count, hooks) => {
    const job = `conf${++jobs}-${process.pid}`;
    const transports = await Promise.all(
      Array.from({ length: count }, (_, nodeId) =>
        NatsTransport.connect({ servers: url, job, nodeId, nodeCount: count, onHandlerError: hooks?.onHandlerError }),
      ),
    );
    return {
      transports,
      via: (_, to) => `request to ${nodeSubject(job, to)}`,
      close: async () => {
        await Promise.all(transports.map((t) => t.close()));
      },
    };
  };
}

// Start the server before any suite runs: uvu starts executing on the first timer after run().
const server = await natsOrSkip("transport conformance on NatsTransport");
transportSuite("LocalTransport", makeLocal).run();
if (server) {
  const nats = transportSuite("NatsTransport", makeNats(server.url));
  nats.after(() => server.stop());
  nats.run();
}
