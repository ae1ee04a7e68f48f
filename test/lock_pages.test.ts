/**
 * Pages whose ownership moves with a lock grant (lock_pages.ts) under ivy and diff, over the
 * recording network with 1 KiB pages 16..19 and lock 0 (managed by node 0). Page 16 is managed by
 * node 0: its hand-over is done by node 0's directory whether node 0 grants or acquires.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Access, Protection } from "../src/abi.js";
import type { Coherence } from "../src/protocol/coherence.js";
import { MessageKind, type Message } from "../src/protocol/codec.js";
import { createDiff } from "../src/protocol/diff_protocol.js";
import type { DirectoryEntry } from "../src/protocol/directory.js";
import { createIvy } from "../src/protocol/ivy.js";
import { createMigrate } from "../src/protocol/migrate.js";
import type { ProtocolOptions } from "../src/protocol/page_protocol.js";
import { within } from "./helpers/expect.js";
import { recordedCluster } from "./helpers/recording_transport.js";

const { ReadWrite: RW, None } = Protection;

async function setup(create: (options: ProtocolOptions) => Coherence, n = 2) {
  const cluster = recordedCluster(n, create, { lockPages: true });
  await Promise.all(cluster.nodes.map((c) => c.start()));
  const { nodes, net, ports } = cluster;
  const fault = async (node: number, page: number, access: Access) => {
    await within(nodes[node].fault(page, page, access));
    await net.quiet();
  };
  const locked = async (node: number, work: () => Promise<void> | void) => {
    await within(nodes[node].lock(0));
    await work();
    await within(nodes[node].unlock(0));
    await net.quiet();
  };
  const entry = (page = 16): DirectoryEntry => (nodes[0] as unknown as { directory: { entry(p: number): DirectoryEntry } }).directory.entry(page);
  const protections = (page = 16) => ports.map((p) => p.protection(page));
  /** Node 1 takes lock 0 and writes `value` into page 16 (a write fault: the page is then the lock's). */
  const node1Writes = async (value: number) => {
    await locked(1, async () => {
      await fault(1, 16, Access.Write);
      ports[1].page(16)[0] = value;
    });
  };
  return { ...cluster, fault, locked, entry, protections, node1Writes };
}

/** Transcript filter: what is not a Confirm or its ack. */
const noConfirms = (m: Message) => m.kind !== MessageKind.Confirm && m.kind !== MessageKind.ConfirmAck;

for (const [name, create] of [
  ["ivy", createIvy],
  ["diff", createDiff],
  ["migrate", createMigrate],
] as const) {
  const Pages = suite(`pages in lock grants (${name})`);

  Pages("the page a node wrote under the lock goes with its grant, both ways; the accesses send nothing", async () => {
    const { net, nodes, ports, locked, entry, protections, node1Writes } = await setup(create);
    await node1Writes(31);
    const v = entry().version;
    assert.equal([entry().owner, protections()], [1, [None, RW]]);
    net.clear();
    // Node 0 acquires: node 1 grants with page 16, and node 0's directory (its manager) takes it over.
    await locked(0, () => {
      assert.equal(protections(), [RW, None]);
      assert.is(ports[0].page(16)[0], 31);
      ports[0].page(16)[0] = 32;
    });
    assert.equal(net.transcript(noConfirms), ["LockForward 0→1 p0 v0", "LockGrant 1→0 p0 v0"]);
    assert.equal([entry().owner, [...entry().holders], entry().version, entry().writing], [0, [0], v + 1, true]);
    net.clear();
    // Node 1 acquires: node 0, the page's manager, hands it over before its grant leaves.
    await locked(1, () => {
      assert.equal(protections(), [None, RW]);
      assert.is(ports[1].page(16)[0], 32);
    });
    assert.equal(net.transcript(noConfirms), ["LockAcquire 1→0 p0 v0", "LockGrant 0→1 p0 v0"]);
    assert.equal([entry().owner, [...entry().holders], entry().version], [1, [1], v + 2]);
    assert.equal([nodes[0].stats().pagesHandedOver, nodes[0].stats().pagesTaken, nodes[1].stats().pagesHandedOver, nodes[1].stats().pagesTaken], [1, 1, 1, 1]);
  });

  Pages("a page written outside the lock does not go with its grant", async () => {
    const { net, ports, fault, locked, protections } = await setup(create);
    await fault(1, 16, Access.Write);
    ports[1].page(16)[0] = 33;
    await locked(1, () => undefined);
    net.clear();
    await locked(0, async () => {
      assert.equal(protections(), [None, RW]);
      await fault(0, 16, Access.Read);
      assert.is(ports[0].page(16)[0], 33);
    });
    assert.equal(net.transcript(noConfirms).slice(0, 2), ["LockForward 0→1 p0 v0", "LockGrant 1→0 p0 v0"]);
    assert.equal(net.transcript((m) => m.kind === MessageKind.PageData || m.kind === MessageKind.DiffData).length, 1, "node 0's read fetched the page");
  });

  Pages("a lost grant is sent again with the same page, taken once", async () => {
    const { net, nodes, ports, locked, protections, node1Writes } = await setup(create);
    await node1Writes(34);
    net.clear();
    let lost = false;
    net.drop = (m) => m.kind === MessageKind.LockGrant && !lost && (lost = true);
    await locked(0, () => {
      assert.is(ports[0].page(16)[0], 34);
    });
    const grants = net.transcript((m) => m.kind === MessageKind.LockGrant);
    assert.equal(grants, ["LockGrant 1→0 p0 v0 (dropped)", "LockGrant 1→0 p0 v0"]);
    assert.equal(protections(), [RW, None]);
    assert.is(nodes[0].stats().pagesTaken, 1);
  });

  Pages("with 3 nodes: the acquirer that manages the page refuses it while another node's read is under way; every node reads the bytes written", async () => {
    const { net, nodes, ports, fault, locked, protections } = await setup(create, 3);
    await locked(1, async () => {
      await fault(1, 16, Access.Write);
      ports[1].page(16)[0] = 35;
    });
    // Under migrate a read moves the page: its forward is a WriteForward.
    const forward = name === "migrate" ? MessageKind.WriteForward : MessageKind.ReadForward;
    net.hold = (m) => m.kind === forward;
    const node2Read = within(nodes[2].fault(16, 16, Access.Read));
    await net.quiet();
    await locked(0, async () => {
      assert.equal(protections(), [None, None, None], "node 1 gave the page up, node 0 did not take it");
      net.hold = undefined;
      net.releaseHeld();
      await node2Read;
      await net.quiet();
      assert.is(ports[2].page(16)[0], 35, "node 1 answered the held forward with the bytes it kept");
      await fault(0, 16, Access.Read);
      assert.is(ports[0].page(16)[0], 35);
    });
    assert.equal([nodes[1].stats().pagesHandedOver, nodes[0].stats().pagesTaken], [1, 0]);
  });

  Pages.run();
}
