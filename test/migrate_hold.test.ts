/**
 * migrate's window (PageProtocol.holdForward): a page just moved to a node that is still working
 * with it (at a poll or in a fault) is given away only after MIGRATE_HOLD_MS, or as soon as that
 * node reaches a barrier; a node that waits at a barrier gives it at once. Two migrate nodes in
 * one thread over ring links, on a clock the test sets.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Access } from "../src/abi.js";
import type { AnyFuture } from "../src/protocol/future.js";
import { createMigrate, MIGRATE_HOLD_MS } from "../src/protocol/migrate.js";
import { FakePort } from "./helpers/fake_port.js";
import { ringPair } from "./helpers/ring_pair.js";

class WorkingPort extends FakePort {
  workingNow = true;
  working(): boolean {
    return this.workingNow;
  }
}

function pair() {
  const ring = ringPair(createMigrate, () => new WorkingPort({ pageSize: 1024, firstPage: 16, pageCount: 4 }));
  return { ...ring, deliver: () => ring.deliver({ later: true }), advance: (ms: number) => ring.advance(ms, { later: true }) };
}

function settled(f: AnyFuture): boolean {
  return f.settled && !f.failed;
}

const Hold = suite("migrate's window");

Hold("a page just moved here is held from the next request while the kernel works, then given at the window's end", () => {
  const { nodes, deliver, sent, advance } = pair();
  // Page 18 starts at node 1 (its home); node 0 takes it.
  const first = nodes[0]!.fault(18, 18, Access.Write);
  deliver();
  assert.ok(settled(first));
  const second = nodes[1]!.fault(18, 18, Access.Write);
  deliver();
  assert.not.ok(second.settled, "node 0 gave the page away at once");
  assert.equal(sent(0).filter((s) => s.startsWith("PageData")), []);
  advance(MIGRATE_HOLD_MS - 0.5);
  assert.not.ok(second.settled);
  advance(1);
  assert.ok(settled(second));
  assert.equal(sent(0).filter((s) => s.startsWith("PageData")), ["PageData 0→1"]);
  assert.is(nodes[0]!.stats().holds, 1);
});

Hold("a node that reaches a barrier gives a held page at once", () => {
  const { nodes, deliver, advance } = pair();
  const first = nodes[0]!.fault(18, 18, Access.Write);
  deliver();
  assert.ok(settled(first));
  const second = nodes[1]!.fault(18, 18, Access.Write);
  deliver();
  assert.not.ok(second.settled);
  nodes[0]!.barrier();
  deliver();
  assert.ok(settled(second), "the barrier did not release the held forward");
  advance(0);
});

Hold("a node that is not working (waiting at a barrier) gives the page at once", () => {
  const { nodes, ports, deliver } = pair();
  const first = nodes[0]!.fault(18, 18, Access.Write);
  deliver();
  assert.ok(settled(first));
  ports[0]!.workingNow = false;
  const second = nodes[1]!.fault(18, 18, Access.Write);
  deliver();
  assert.ok(settled(second));
  assert.is(nodes[0]!.stats().holds, 0);
});

Hold.run();
