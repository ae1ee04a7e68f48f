/**
 * When a resolved fault's Confirm leaves (confirm_queue.ts), on a clock and a work queue the test
 * runs by hand: not before the kernel has its page, at the node's next poll or wait (later()
 * work), and before a barrier or a new request for the same page. Two ivy nodes in one thread
 * over ring links; node 0 manages and owns page 16.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Access } from "../src/abi.js";
import type { AnyFuture } from "../src/protocol/future.js";
import { createIvy } from "../src/protocol/ivy.js";
import { ringPair } from "./helpers/ring_pair.js";

function pair() {
  const ring = ringPair(createIvy);
  const settle = (f: AnyFuture) => {
    ring.deliver();
    assert.ok(f.settled && !f.failed, "the call did not settle");
  };
  return { ...ring, settle };
}

const Confirms = suite("when Confirms leave");

Confirms("the fault settles with its page, and its Confirm waits for the node's later() work", () => {
  const { nodes, timers, deliver, sent, settle } = pair();
  settle(nodes[1]!.fault(16, 16, Access.Read));
  assert.equal(sent(1), ["ReadRequest 1→0"]);
  assert.ok(timers[1]!.hasLater);
  timers[1]!.runLater();
  deliver({ later: true });
  assert.equal(sent(1), ["ReadRequest 1→0", "Confirm 1→0"]);
  assert.equal(sent(0), ["PageData 0→1", "ConfirmAck 0→1"]);
});

Confirms("a barrier sends the waiting Confirm first", () => {
  const { nodes, sent, settle } = pair();
  settle(nodes[1]!.fault(16, 16, Access.Read));
  const barriers = nodes.map((n) => n.barrier());
  settle(barriers[1]!);
  assert.equal(sent(1).slice(0, 3), ["ReadRequest 1→0", "Confirm 1→0", "BarrierArrive 1→0"]);
});

Confirms("a new request for the same page sends its Confirm first, as the manager would wait for it", () => {
  const { nodes, sent, settle } = pair();
  settle(nodes[1]!.fault(16, 16, Access.Read));
  settle(nodes[1]!.fault(16, 16, Access.Write));
  assert.equal(sent(1).slice(0, 3), ["ReadRequest 1→0", "Confirm 1→0", "WriteRequest 1→0"]);
});

Confirms.run();
