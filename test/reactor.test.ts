/**
 * The reactor (runtime/reactor.ts) on two ring links in this thread: what a wait does with
 * messages that arrive while it handles others, before it runs later() work (Confirms).
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Future } from "../src/protocol/future.js";
import { HOST_WORD_BYTES, Reactor } from "../src/runtime/reactor.js";
import { RingLink } from "../src/transport/ring_link.js";
import { ringNetwork } from "../src/transport/ring_network.js";

const Wait = suite("reactor wait");

function pair() {
  const poll = new Int32Array(new SharedArrayBuffer(4));
  // Node 1's poll word is the one its producers raise, as in a worker.
  const [a, b] = ringNetwork(2, { ringBytes: 4096, wake: (n) => (n === 1 ? { buffer: poll.buffer as SharedArrayBuffer, index: 0 } : undefined) }).map((spec) => new RingLink(spec));
  const reactor = new Reactor(b!, { poll: { words: poll, index: 0 }, host: new SharedArrayBuffer(HOST_WORD_BYTES), spinMicros: 0 });
  return { a: a!, b: b!, reactor, poll };
}

Wait("a message that arrives while another is handled is handled before later() work runs", () => {
  const { a, b, reactor } = pair();
  const handled: number[] = [];
  b.listen((bytes) => {
    handled.push(bytes[0]!);
    // The first message's handling sees the second arrive (as a peer's reply would).
    if (bytes[0] === 1) a.send(1, new Uint8Array([2]));
  });
  const done = new Future<void>();
  let seenByLater: number[] = [];
  reactor.timers.later(() => {
    seenByLater = [...handled];
    done.resolve();
  });
  a.send(1, new Uint8Array([1]));
  reactor.wait(done, reactor.timers.now() + 5000, () => new Error("the wait did not end"));
  assert.equal(seenByLater, [1, 2], "later() work ran after both messages were handled");
  assert.is(reactor.counters.servedWaiting, 2);
});

Wait("later() work runs when no message waits, and the wait ends with it", () => {
  const { reactor } = pair();
  const done = new Future<void>();
  let ran = 0;
  reactor.timers.later(() => {
    ran++;
    done.resolve();
  });
  reactor.wait(done, reactor.timers.now() + 5000, () => new Error("the wait did not end"));
  assert.is(ran, 1);
  assert.is(reactor.counters.servedWaiting, 0);
});

Wait("after a poll or a wait the poll word is up exactly while a message that was not sent deferrable waits", () => {
  const { a, b, reactor, poll } = pair();
  const handled: number[] = [];
  let done = new Future<void>();
  b.listen((bytes) => {
    handled.push(bytes[0]!);
    // Handling message 1 sees a deferrable one arrive (a Confirm, say).
    if (bytes[0] === 1) a.send(1, new Uint8Array([2]), true);
    if (bytes[0] === 4 || bytes[0] === 6 || bytes[0] === 8) done.resolve();
  });
  const wait = () => reactor.wait(done, reactor.timers.now() + 5000, () => new Error("the wait did not end"));
  a.send(1, new Uint8Array([1]));
  assert.is(poll[0], 1);
  reactor.service();
  assert.equal(handled, [1]);
  assert.is(poll[0], 0, "the computing node is not stopped for message 2");
  a.send(1, new Uint8Array([3]));
  assert.is(poll[0], 1);
  reactor.service();
  assert.equal(handled, [1, 2, 3]);
  assert.is(poll[0], 0);
  // A wait answered by message 4 leaves message 5 behind: deferrable, it waits, the word down.
  a.send(1, new Uint8Array([4]));
  a.send(1, new Uint8Array([5]), true);
  wait();
  assert.equal(handled, [1, 2, 3, 4]);
  assert.is(poll[0], 0, "message 5 waits for the next poll, fault or sync call");
  // Left behind, a plain message 7 raises it.
  done = new Future<void>();
  a.send(1, new Uint8Array([6]));
  a.send(1, new Uint8Array([7]));
  wait();
  assert.equal(handled, [1, 2, 3, 4, 5, 6]);
  assert.is(poll[0], 1, "message 7 is served at the next loop header");
  reactor.service();
  assert.equal(handled, [1, 2, 3, 4, 5, 6, 7]);
  assert.is(poll[0], 0);
  // Message 8 raised the word as it came, and the wait handled it: nothing is left to serve.
  done = new Future<void>();
  a.send(1, new Uint8Array([8]));
  assert.is(poll[0], 1);
  wait();
  assert.equal(handled, [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.is(poll[0], 0, "no poll for a message already handled");
});

Wait.run();
