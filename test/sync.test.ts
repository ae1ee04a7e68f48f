import { LoopScheduler } from "../src/protocol/scheduler.js";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { BarrierFlag, decodeMessage, kindName, MessageKind, type Message } from "../src/protocol/codec.js";
import { Endpoint } from "../src/protocol/endpoint.js";
import { AllocationMismatchError, BarrierCountError, LockUsageError, SyncTimeoutError } from "../src/protocol/errors.js";
import { MAX_PEER_BARRIER_NODES, SyncService } from "../src/protocol/sync.js";
import { LocalNetwork } from "../src/transport/local_transport.js";
import { FakePort } from "./helpers/fake_port.js";
import { within } from "./helpers/expect.js";

const JOB = 5;

interface SyncNode {
  endpoint: Endpoint;
  sync: SyncService;
}

/** n sync services over a LocalNetwork; `lose` sees each decoded message and may drop it. */
/** Retries every 150 ms by default: well above delivery time on a loaded machine, so transcripts show only deliberate repeats. */
/** With `peers`, barriers have no manager (peer_barriers.ts), as over links that leave the process; a repeated arrival or Done shows as "(repeat)". */
function syncNodes(n: number, options: { timeoutMs?: number; retryMs?: number; lose?: (m: Message) => boolean; peers?: boolean } = {}) {
  const port = new FakePort();
  const context = { nodeCount: n, pageSize: port.pageSize, firstPage: port.firstPage, pageCount: port.pageCount };
  const sent: string[] = [];
  const network = new LocalNetwork(n, {
    intercept: (_from, _to, bytes) => {
      const m = decodeMessage(bytes, context);
      const lost = options.lose?.(m) ?? false;
      const repeat = (m.kind === MessageKind.BarrierArrive || m.kind === MessageKind.BarrierDone) && (m.arg & BarrierFlag.Repeat) !== 0;
      sent.push(`${kindName(m.kind)} ${m.source}→${m.target}${repeat ? " (repeat)" : ""}${lost ? " (dropped)" : ""}`);
      return lost ? "drop" : "deliver";
    },
  });
  const nodes: SyncNode[] = [];
  for (let i = 0; i < n; i++) {
    const endpoint = new Endpoint(network.transport(i), port, { job: JOB, retryMs: options.retryMs ?? 150, scheduler: new LoopScheduler() });
    nodes.push({ endpoint, sync: new SyncService(endpoint, { timeoutMs: options.timeoutMs ?? 2000, peerBarriers: options.peers }) });
  }
  return { nodes, sent, network };
}

async function rejection(promise: PromiseLike<unknown>): Promise<Error> {
  try {
    await within(promise);
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a rejection");
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const Barrier = suite("barrier");
const Peers = suite("barrier without a manager (links that leave the process)");

Barrier("no node leaves a barrier before every node arrived", async () => {
  const { nodes, network } = syncNodes(3);
  const left: number[] = [];
  const first = [0, 1].map((i) => nodes[i].sync.barrier().then(() => left.push(i)));
  await sleep(30);
  assert.equal(left, []);
  await within(Promise.all([...first, nodes[2].sync.barrier().then(() => left.push(2))]));
  assert.equal(left.sort(), [0, 1, 2]);
  assert.equal(nodes.map((n) => n.sync.epochs), [1, 1, 1]);
  await network.close();
});

Barrier("consecutive barriers are numbered by epoch and all complete", async () => {
  const { nodes, network } = syncNodes(4);
  for (let round = 0; round < 5; round++) await within(Promise.all(nodes.map((n) => n.sync.barrier())));
  assert.equal(nodes.map((n) => n.sync.epochs), [5, 5, 5, 5]);
  await network.close();
});

Barrier("a lost arrive and a lost release are retried and the barrier completes once", async () => {
  let lostArrive = false;
  let lostRelease = false;
  const { nodes, network, sent } = syncNodes(3, {
    lose: (m) => {
      if (m.kind === MessageKind.BarrierArrive && m.source === 2 && !lostArrive) return (lostArrive = true);
      if (m.kind === MessageKind.BarrierRelease && m.target === 1 && !lostRelease) return (lostRelease = true);
      return false;
    },
  });
  await within(Promise.all(nodes.map((n) => n.sync.barrier())));
  assert.ok(sent.includes("BarrierArrive 2→0 (dropped)"));
  assert.ok(sent.includes("BarrierRelease 0→1 (dropped)"));
  // Node 1's repeated arrive got the release again; the manager is still at the next epoch.
  await within(Promise.all(nodes.map((n) => n.sync.barrier())));
  assert.equal(nodes.map((n) => n.sync.epochs), [2, 2, 2]);
  await network.close();
});

for (const [test, peers, manager] of [[Barrier, false, " (barrier manager: node 0)"], [Peers, true, ""]] as const) {
  test("a node that never arrives makes the others time out naming it", async () => {
    const { nodes, network } = syncNodes(3, { peers, timeoutMs: 600, retryMs: 50 });
    const errors = await Promise.all([0, 1].map((i) => rejection(nodes[i].sync.barrier())));
    for (const error of errors) {
      assert.instance(error, SyncTimeoutError);
      assert.is(error.message, `barrier 1: waited 600 ms for node 2 to arrive${manager}; raise the timeout if node 2 is just slow`);
      assert.is((error as SyncTimeoutError).node, 2);
    }
    await network.close();
  });

  test("a failure on a node (a handler bug, a message it cannot send) ends the barrier it waits in at once, with that failure", async () => {
    const { nodes, network } = syncNodes(2, { peers, timeoutMs: 60_000 });
    const waiting = rejection(nodes[0].sync.barrier());
    await sleep(20);
    nodes[0].endpoint.fail(new Error("a handler failed"));
    // rejection() waits a bounded time, far below the barrier's 60 s timeout.
    const error = await waiting;
    assert.is(error.message, "a handler failed");
    await network.close();
  });

  test("a node that returned from run while others wait at a barrier fails every node", async () => {
    const { nodes, network } = syncNodes(3, { peers });
    const results = await Promise.all([rejection(nodes[0].sync.barrier()), rejection(nodes[1].sync.finish()), rejection(nodes[2].sync.barrier())]);
    for (const error of results) {
      assert.instance(error, BarrierCountError);
      assert.is(error.message, "barrier 1: node 1 returned from run while nodes 0, 2 called barrier(); every node must call barrier() the same number of times");
    }
    await network.close();
  });
}

Barrier("a node whose manager is gone times out naming the manager", async () => {
  const { nodes, network } = syncNodes(2, { timeoutMs: 200, retryMs: 50, lose: (m) => m.target === 0 });
  const error = await rejection(nodes[1].sync.barrier());
  assert.is(error.message, "barrier 1: no release from node 0 (the barrier manager) after 200 ms");
  await network.close();
});

const Allocation = suite("allocation check");

Allocation("equal allocations pass every barrier", async () => {
  const { nodes, network } = syncNodes(3);
  for (const n of nodes) n.sync.allocated(0x10000, 4096);
  await within(Promise.all(nodes.map((n) => n.sync.barrier())));
  for (const n of nodes) n.sync.allocated(0x11000, 8192);
  await within(Promise.all(nodes.map((n) => n.sync.barrier())));
  await network.close();
});

Allocation("a different size fails every node with the node and the allocation index", async () => {
  const { nodes, network } = syncNodes(3);
  for (const n of nodes) n.sync.allocated(0x10000, 4096);
  await within(Promise.all(nodes.map((n) => n.sync.barrier())));
  for (const [i, n] of nodes.entries()) {
    n.sync.allocated(0x11000, 4096);
    n.sync.allocated(0x12000, i === 1 ? 4096 : 8192);
  }
  const errors = await Promise.all(nodes.map((n) => rejection(n.sync.barrier())));
  for (const error of errors) {
    assert.instance(error, AllocationMismatchError);
    assert.is(
      error.message,
      "node 1: allocation #3 differs (4096 bytes at 0x12000 vs 8192 bytes at 0x12000 on node 0); every node must call sharedAlloc with the same sizes in the same order",
    );
    assert.equal([(error as AllocationMismatchError).node, (error as AllocationMismatchError).index], [1, 3]);
  }
  await network.close();
});

Allocation("a missing allocation is reported as none", async () => {
  const { nodes, network } = syncNodes(3);
  nodes[0].sync.allocated(0x10000, 4096);
  nodes[1].sync.allocated(0x10000, 4096);
  const errors = await Promise.all(nodes.map((n) => rejection(n.sync.barrier())));
  assert.is(
    errors[2].message,
    "node 2: allocation #1 differs (no allocation vs 4096 bytes at 0x10000 on node 0); every node must call sharedAlloc with the same sizes in the same order",
  );
  await network.close();
});

const Locks = suite("locks");

Locks("a lock is held by one node at a time and granted in request order", async () => {
  const { nodes, network } = syncNodes(3);
  const order: string[] = [];
  await within(nodes[1].sync.lock(7));
  order.push("1 in");
  const waiting = [0, 2].map((i) =>
    nodes[i].sync.lock(7).then(async () => {
      order.push(`${i} in`);
      await sleep(5);
      order.push(`${i} out`);
      await nodes[i].sync.unlock(7);
    }),
  );
  await sleep(30);
  assert.equal(order, ["1 in"]);
  order.push("1 out");
  await nodes[1].sync.unlock(7);
  await within(Promise.all(waiting));
  assert.equal(order, ["1 in", "1 out", "0 in", "0 out", "2 in", "2 out"]);
  await network.close();
});

Locks("a lost grant is resent by the previous holder; unlock sends nothing, and the last holder locks again without a message", async () => {
  let lostGrant = false;
  const { nodes, network, sent } = syncNodes(2, {
    lose: (m) => m.kind === MessageKind.LockGrant && !lostGrant && (lostGrant = true),
  });
  await within(nodes[0].sync.lock(3));
  await nodes[0].sync.unlock(3);
  await within(nodes[1].sync.lock(3));
  await nodes[1].sync.unlock(3);
  await within(nodes[0].sync.lock(3));
  await nodes[0].sync.unlock(3);
  await within(nodes[0].sync.lock(3));
  await nodes[0].sync.unlock(3);
  assert.equal(sent, [
    // Node 1 manages lock 3 and holds its token at first; it forwards node 0's acquire to itself
    // (a message that stays inside node 1) and grants.
    "LockAcquire 0→1",
    "LockGrant 1→0 (dropped)",
    // Node 0 repeats its acquire; node 1 forwards it to itself again and resends the same grant.
    "LockAcquire 0→1",
    "LockGrant 1→0",
    // Node 1 asks itself; the forward goes to the token's holder, node 0.
    "LockForward 1→0",
    "LockGrant 0→1",
    "LockAcquire 0→1",
    "LockGrant 1→0",
    // Node 0's second lock: the token is still there.
  ]);
  await network.close();
});

Locks("a waiter times out naming the lock's manager", async () => {
  const { nodes, network } = syncNodes(2, { timeoutMs: 600, retryMs: 50 });
  await within(nodes[0].sync.lock(4));
  const error = await rejection(nodes[1].sync.lock(4));
  assert.instance(error, SyncTimeoutError);
  assert.is(error.message, "lock 4: not granted within 600 ms (lock manager: node 0); raise the timeout if its holder keeps it that long on purpose");
  assert.is((error as SyncTimeoutError).node, 0);
  await network.close();
});

Locks("locking twice and unlocking a lock not held are refused", async () => {
  const { nodes, network } = syncNodes(2);
  await within(nodes[0].sync.lock(1));
  const twice = await rejection(nodes[0].sync.lock(1));
  assert.instance(twice, LockUsageError);
  assert.is(twice.message, "lock 1: already held by node 0; call unlock(1) before locking it again");
  const notHeld = await rejection(nodes[1].sync.unlock(1));
  assert.is(notHeld.message, "lock 1: not held by node 1; call lock(1) first");
  const negative = await rejection(nodes[1].sync.lock(-1));
  assert.is(negative.message, "lock -1: lock ids must be integers from 0 to 2147483647");
  await network.close();
});

const Finish = suite("finish");

Finish("node 0 waits in finish until every node has its release, even when one was lost", async () => {
  let lost = false;
  const { nodes, network, sent } = syncNodes(3, {
    lose: (m) => m.kind === MessageKind.BarrierDone && m.source === 2 && !lost && (lost = true),
  });
  await within(Promise.all(nodes.map((n) => n.sync.finish())));
  assert.ok(sent.includes("BarrierDone 2→0 (dropped)"));
  // The manager resent the release to node 2, which acknowledged it again.
  assert.is(sent.filter((s) => s === "BarrierDone 2→0").length, 1);
  await network.close();
});

Peers("each node's arrival goes to every other node, and each leaves once it has them all: no release message", async () => {
  const { nodes, network, sent } = syncNodes(3, { peers: true });
  const left: number[] = [];
  const first = [0, 1].map((i) => nodes[i].sync.barrier().then(() => left.push(i)));
  await sleep(30);
  assert.equal(left, []);
  await within(Promise.all([...first, nodes[2].sync.barrier().then(() => left.push(2))]));
  assert.equal(left.slice(0, 1), [2], "the last to arrive leaves first: it needs no message after its own");
  assert.equal([...sent].sort(), ["BarrierArrive 0→1", "BarrierArrive 0→2", "BarrierArrive 1→0", "BarrierArrive 1→2", "BarrierArrive 2→0", "BarrierArrive 2→1"]);
  for (let round = 0; round < 4; round++) await within(Promise.all(nodes.map((n) => n.sync.barrier())));
  assert.equal(nodes.map((n) => n.sync.epochs), [5, 5, 5]);
  await network.close();
});

Peers("a lost arrival is asked for again and sent again; the barrier completes once on every node", async () => {
  let lost = false;
  const { nodes, network, sent } = syncNodes(2, {
    peers: true,
    retryMs: 40,
    lose: (m) => m.kind === MessageKind.BarrierArrive && m.source === 1 && !lost && (lost = true),
  });
  await within(Promise.all(nodes.map((n) => n.sync.barrier())));
  await within(Promise.all(nodes.map((n) => n.sync.barrier())));
  assert.equal(nodes.map((n) => n.sync.epochs), [2, 2]);
  assert.equal(sent.slice(0, 4).sort(), ["BarrierArrive 0→1", "BarrierArrive 0→1 (repeat)", "BarrierArrive 1→0", "BarrierArrive 1→0 (dropped)"]);
  assert.equal(sent.slice(4).sort(), ["BarrierArrive 0→1", "BarrierArrive 1→0"], "the second barrier needs no repeat");
  await network.close();
});

Peers("a different allocation fails every node with the node and the allocation index", async () => {
  const { nodes, network } = syncNodes(3, { peers: true });
  for (const [i, n] of nodes.entries()) n.sync.allocated(0x10000, i === 2 ? 8192 : 4096);
  const errors = await Promise.all(nodes.map((n) => rejection(n.sync.barrier())));
  for (const error of errors) {
    assert.instance(error, AllocationMismatchError);
    assert.equal([(error as AllocationMismatchError).node, (error as AllocationMismatchError).index], [2, 1]);
  }
  await network.close();
});

Peers("finish waits until every other node's Done is here; a lost Done is asked for again and sent again", async () => {
  let lost = false;
  const { nodes, network, sent } = syncNodes(3, {
    peers: true,
    retryMs: 40,
    lose: (m) => m.kind === MessageKind.BarrierDone && m.source === 2 && m.target === 0 && !lost && (lost = true),
  });
  await within(Promise.all(nodes.map((n) => n.sync.finish())));
  const dones = sent.filter((s) => s.startsWith("BarrierDone"));
  assert.ok(dones.includes("BarrierDone 2→0 (dropped)"));
  assert.ok(dones.includes("BarrierDone 0→2 (repeat)"), "node 0 asked node 2 again");
  assert.is(dones.filter((s) => s === "BarrierDone 2→0").length, 1, "and node 2 answered");
  assert.is(sent.filter((s) => s.startsWith("BarrierArrive")).length, 6);
  await network.close();
});

Peers("above MAX_PEER_BARRIER_NODES nodes the barrier has its manager again", async () => {
  const { nodes, network, sent } = syncNodes(MAX_PEER_BARRIER_NODES + 1, { peers: true });
  await within(Promise.all(nodes.map((n) => n.sync.barrier())));
  assert.is(sent.filter((s) => s.startsWith("BarrierArrive")).length, MAX_PEER_BARRIER_NODES);
  assert.is(sent.filter((s) => s.startsWith("BarrierRelease")).length, MAX_PEER_BARRIER_NODES, "one to every node but the manager");
  await network.close();
});

Barrier.run();
Peers.run();
Allocation.run();
Locks.run();
Finish.run();
