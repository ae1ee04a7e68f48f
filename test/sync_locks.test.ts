/**
 * Transcript tests of the token locks (token_locks.ts) on every page protocol over the recording
 * network: 3 nodes, lock `id` managed by node id % 3 (where its token starts). The nodes' timers
 * run on a manual clock, so a message is repeated only where a test moves the clock.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { Coherence } from "../src/protocol/coherence.js";
import { MessageKind } from "../src/protocol/codec.js";
import { createDiff } from "../src/protocol/diff_protocol.js";
import { LockUsageError, SyncTimeoutError } from "../src/protocol/errors.js";
import { createIvy } from "../src/protocol/ivy.js";
import { createMigrate } from "../src/protocol/migrate.js";
import type { ProtocolOptions } from "../src/protocol/page_protocol.js";
import { ManualClock } from "./helpers/manual_clock.js";
import { recordedCluster } from "./helpers/recording_transport.js";
import { rejection, within } from "./helpers/expect.js";

/** recordedCluster's retry interval and bound on every wait. */
const RETRY_MS = 300;
const TIMEOUT_MS = 3000;

const PROTOCOLS: [string, (options: ProtocolOptions) => Coherence][] = [
  ["ivy", createIvy],
  ["migrate", createMigrate],
  ["diff", createDiff],
];

function setup(create: (options: ProtocolOptions) => Coherence) {
  const clock = new ManualClock();
  const cluster = recordedCluster(3, (o) => create({ ...o, scheduler: clock.scheduler() }));
  for (const node of cluster.nodes) node.start();
  /** Node `node` takes lock `id` and releases it. */
  const cycle = async (node: number, id: number) => {
    await within(cluster.nodes[node].lock(id));
    await within(cluster.nodes[node].unlock(id));
  };
  return { ...cluster, clock, cycle };
}

for (const [name, create] of PROTOCOLS) {
  const Locks = suite(`${name}: token locks`);

  Locks("a lock is taken again by the node that held it last with no message, and unlock sends nothing", async () => {
    const { net, cycle } = setup(create);
    for (let i = 0; i < 3; i++) await cycle(0, 0);
    await cycle(1, 0);
    for (let i = 0; i < 3; i++) await cycle(1, 0);
    await net.quiet();
    // Node 0 manages lock 0, so the token starts there; after node 1 took it once, it stays there.
    assert.equal(net.transcript(), ["LockAcquire 1→0 p0 v0", "LockGrant 0→1 p0 v0"]);
  });

  Locks("a handoff from the manager is an acquire and a grant; from another node the manager forwards the acquire to it", async () => {
    const { net, nodes, cycle } = setup(create);
    await cycle(0, 0);
    await cycle(1, 0);
    assert.equal(net.transcript(), ["LockAcquire 1→0 p0 v0", "LockGrant 0→1 p0 v0"]);
    await cycle(0, 2);
    net.clear();
    // Node 0 holds lock 2 (manager: node 2) while node 1 asks: the grant waits for the unlock.
    await within(nodes[0].lock(2));
    let granted = false;
    const waiting = nodes[1].lock(2).then(() => (granted = true));
    await net.waitFor((m) => m.kind === MessageKind.LockForward);
    await net.quiet();
    assert.is(granted, false);
    assert.equal(net.transcript(), ["LockAcquire 1→2 p0 v0", "LockForward 2→0 p0 v0"]);
    await within(nodes[0].unlock(2));
    await within(waiting);
    assert.equal(net.transcript(), ["LockAcquire 1→2 p0 v0", "LockForward 2→0 p0 v0", "LockGrant 0→1 p0 v0"]);
  });

  Locks("three nodes queue in the order the manager heard them, each granted by the one before", async () => {
    const { net, nodes } = setup(create);
    const order: string[] = [];
    await within(nodes[0].lock(1));
    order.push("0 in");
    const take = (node: number) =>
      nodes[node].lock(1).then(() => {
        order.push(`${node} in`);
        order.push(`${node} out`);
        return nodes[node].unlock(1);
      });
    const two = take(2);
    await net.waitFor((m) => m.kind === MessageKind.LockForward && m.target === 0);
    // Node 1 manages lock 1: its acquire stays inside it, and goes on to the tail, node 2.
    const one = take(1);
    await net.waitFor((m) => m.kind === MessageKind.LockForward && m.target === 2);
    await net.quiet();
    assert.equal(order, ["0 in"]);
    order.push("0 out");
    await within(nodes[0].unlock(1));
    await within(Promise.all([two, one]));
    await net.quiet();
    assert.equal(order, ["0 in", "0 out", "2 in", "2 out", "1 in", "1 out"]);
    assert.equal(net.transcript(), [
      "LockAcquire 0→1 p0 v0",
      "LockGrant 1→0 p0 v0",
      "LockAcquire 2→1 p0 v0",
      "LockForward 1→0 p0 v0",
      "LockForward 1→2 p0 v0",
      "LockGrant 0→2 p0 v0",
      "LockGrant 2→1 p0 v0",
    ]);
  });

  /** Node 0 holds lock 2 (managed by node 2) and lets it go; node 1 takes it while one `lost` message is dropped. */
  const lostOnce = (title: string, lost: MessageKind, transcript: string[]) =>
    Locks(title, async () => {
      const { net, nodes, clock, cycle } = setup(create);
      await cycle(0, 2);
      net.clear();
      let dropped = 0;
      net.drop = (m) => m.kind === lost && dropped++ === 0;
      const taken = nodes[1].lock(2);
      await net.waitFor((m) => m.kind === lost);
      await net.quiet();
      clock.advance(RETRY_MS);
      await within(taken);
      await net.quiet();
      assert.equal(net.transcript(), transcript);
    });

  lostOnce("a lost grant: the acquirer repeats, the manager forwards again, the previous holder resends the grant", MessageKind.LockGrant, [
    "LockAcquire 1→2 p0 v0",
    "LockForward 2→0 p0 v0",
    "LockGrant 0→1 p0 v0 (dropped)",
    "LockAcquire 1→2 p0 v0",
    "LockForward 2→0 p0 v0",
    "LockGrant 0→1 p0 v0",
  ]);

  lostOnce("a lost forward: the acquirer repeats and the manager forwards again", MessageKind.LockForward, [
    "LockAcquire 1→2 p0 v0",
    "LockForward 2→0 p0 v0 (dropped)",
    "LockAcquire 1→2 p0 v0",
    "LockForward 2→0 p0 v0",
    "LockGrant 0→1 p0 v0",
  ]);

  Locks("a waiter whose lock is never granted times out naming the manager", async () => {
    const { net, nodes, clock } = setup(create);
    await within(nodes[0].lock(0));
    const waiting = rejection(nodes[1].lock(0));
    await net.quiet();
    clock.advance(TIMEOUT_MS);
    const error = await within(waiting);
    assert.instance(error, SyncTimeoutError);
    assert.is(error.message, "lock 0: not granted within 3000 ms (lock manager: node 0); raise the timeout if its holder keeps it that long on purpose");
    assert.is((error as SyncTimeoutError).node, 0);
    // The first retransmission was due before the deadline, but the clock jumped past both.
    assert.equal(net.transcript(), ["LockAcquire 1→0 p0 v0"]);
  });

  Locks("locking twice, unlocking a lock not held and a bad lock id are refused without a message", async () => {
    const { net, nodes } = setup(create);
    await within(nodes[0].lock(1));
    const twice = await within(rejection(nodes[0].lock(1)));
    assert.instance(twice, LockUsageError);
    assert.is(twice.message, "lock 1: already held by node 0; call unlock(1) before locking it again");
    assert.is((await within(rejection(nodes[2].unlock(1)))).message, "lock 1: not held by node 2; call lock(1) first");
    await within(nodes[0].unlock(1));
    assert.is((await within(rejection(nodes[0].unlock(1)))).message, "lock 1: not held by node 0; call lock(1) first");
    assert.is((await within(rejection(nodes[1].lock(2.5)))).message, "lock 2.5: lock ids must be integers from 0 to 2147483647");
    await net.quiet();
    assert.equal(net.transcript(), ["LockAcquire 0→1 p0 v0", "LockGrant 1→0 p0 v0"]);
  });

  Locks.run();
}
