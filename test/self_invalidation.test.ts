/**
 * Self-invalidation at barriers (self_invalidation.ts) under ivy and diff, over the recording
 * network: 2 nodes, 1 KiB pages 16..19; node 0 manages and first owns page 16. Node 1 reads
 * 16, node 0 rewrites it (an invalidation takes node 1's copy), node 1 reads it again: at the
 * next barrier node 1 drops that copy and tells node 0, whose next write needs no message.
 * With pushes (page_pushes.ts), node 0's next barrier sends node 1 the version it wrote.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Access, Protection } from "../src/abi.js";
import type { Coherence } from "../src/protocol/coherence.js";
import { MessageKind, type Message } from "../src/protocol/codec.js";
import { createDiff } from "../src/protocol/diff_protocol.js";
import type { DirectoryEntry } from "../src/protocol/directory.js";
import { createIvy } from "../src/protocol/ivy.js";
import type { ProtocolOptions, ProtocolTuning } from "../src/protocol/page_protocol.js";
import { within } from "./helpers/expect.js";
import { recordedCluster } from "./helpers/recording_transport.js";

const { ReadWrite: RW, ReadOnly: RO, None } = Protection;

async function setup(create: (options: ProtocolOptions) => Coherence, tuning: ProtocolTuning = {}) {
  const cluster = recordedCluster(2, create, tuning);
  await Promise.all(cluster.nodes.map((c) => c.start()));
  const { nodes, net, ports } = cluster;
  const fault = async (node: number, access: Access) => {
    await within(nodes[node].fault(16, 16, access));
    await net.quiet();
  };
  const barrier = async () => {
    await within(Promise.all(nodes.map((n) => n.barrier())));
    await net.quiet();
  };
  const entry = (): DirectoryEntry => (nodes[0] as unknown as { directory: { entry(p: number): DirectoryEntry } }).directory.entry(16);
  const protections = () => ports.map((p) => p.protection(16));
  /** Node 1 reads 16, node 0 writes `value` into it, node 1 reads it again. */
  const readWriteRead = async (value: number) => {
    await fault(1, Access.Read);
    await fault(0, Access.Write);
    ports[0].page(16)[0] = value;
    await fault(1, Access.Read);
    assert.is(ports[1].page(16)[0], value);
  };
  return { ...cluster, fault, barrier, entry, protections, readWriteRead };
}

/** Transcript filter: page traffic (no barrier or Confirm messages). */
const pageTraffic = (m: Message) =>
  m.kind !== MessageKind.BarrierArrive && m.kind !== MessageKind.BarrierRelease && m.kind !== MessageKind.Confirm && m.kind !== MessageKind.ConfirmAck;

for (const [name, create] of [
  ["ivy", createIvy],
  ["diff", createDiff],
] as const) {
  const Self = suite(`self-invalidation (${name})`);

  Self("a copy an invalidation took before is dropped at the barrier, before the arrival; the writer's next write sends nothing", async () => {
    const { net, nodes, ports, fault, barrier, entry, protections, readWriteRead } = await setup(create);
    await readWriteRead(11);
    const v = entry().version;
    net.clear();
    await barrier();
    assert.equal(net.transcript((m) => m.source === 1), [`Relinquish 1→0 p16 v${v}`, "BarrierArrive 1→0 p0 v1"]);
    assert.equal(protections(), [RO, None]);
    assert.equal([...entry().holders], [0]);
    assert.is(nodes[1].stats().relinquished, 1);
    assert.is(nodes[0].stats().relinquishApplied, 1);
    net.clear();
    await fault(0, Access.Write);
    assert.equal(net.transcript(), [], "node 0 was the page's only holder: its upgrade stayed inside it");
    ports[0].page(16)[0] = 12;
    await fault(1, Access.Read);
    assert.is(ports[1].page(16)[0], 12, "the next read gets the new bytes");
  });

  Self("a copy read again at the version it was dropped at (nobody wrote it) is kept at the next barrier", async () => {
    const { net, fault, barrier, protections, readWriteRead } = await setup(create);
    await readWriteRead(11);
    await barrier();
    await fault(1, Access.Read); // same version: the drop was wasted
    net.clear();
    await barrier();
    assert.equal(net.transcript(pageTraffic), []);
    assert.equal(protections(), [RO, RO]);
  });

  Self("a copy no invalidation ever took is kept", async () => {
    const { net, fault, barrier, protections } = await setup(create);
    await fault(1, Access.Read);
    net.clear();
    await barrier();
    assert.equal(net.transcript(pageTraffic), []);
    assert.equal(protections(), [RO, RO]);
  });

  Self("a lost Relinquish leaves node 1 a holder without a copy: the next write invalidates nothing, the next read fetches", async () => {
    const { net, ports, fault, barrier, entry, protections, readWriteRead } = await setup(create);
    await readWriteRead(11);
    net.drop = (m) => m.kind === MessageKind.Relinquish;
    await barrier();
    assert.equal([...entry().holders].sort(), [0, 1]);
    assert.equal(protections(), [RO, None]);
    net.drop = undefined;
    net.clear();
    await fault(0, Access.Write);
    assert.equal(net.transcript(pageTraffic), ["Invalidate 0→1 p16 v" + (entry().version - 1), "InvalidateAck 1→0 p16 v" + (entry().version - 1)]);
    ports[0].page(16)[0] = 13;
    await fault(1, Access.Read);
    assert.is(ports[1].page(16)[0], 13);
  });

  Self("a late Relinquish, arriving after node 1 read the page again, is ignored: node 1 stays a holder and is invalidated", async () => {
    const { net, nodes, ports, fault, barrier, entry, protections, readWriteRead } = await setup(create);
    await readWriteRead(11);
    net.hold = (m) => m.kind === MessageKind.Relinquish;
    await barrier();
    await fault(1, Access.Read); // a new read transaction, same version: node 1 holds a copy again
    assert.equal(protections(), [RO, RO]);
    net.hold = undefined;
    net.releaseHeld();
    await net.quiet();
    assert.equal([...entry().holders].sort(), [0, 1], "the late Relinquish did not strike the holder of a live copy");
    assert.is(nodes[0].stats().relinquishApplied, 0);
    net.clear();
    await fault(0, Access.Write);
    assert.equal(net.transcript(pageTraffic).map((l) => l.split(" ")[0]), ["Invalidate", "InvalidateAck"]);
    assert.equal(protections(), [RW, None]);
    ports[0].page(16)[0] = 14;
    await fault(1, Access.Read);
    assert.is(ports[1].page(16)[0], 14);
  });

  /** Pushes on: node 1 relinquished page 16 at a barrier, node 0 wrote `value` into it since. */
  const pushSetup = async (value: number) => {
    const cluster = await setup(create, { pushes: true });
    await cluster.readWriteRead(11);
    await cluster.barrier();
    cluster.net.clear();
    await cluster.fault(0, Access.Write);
    cluster.ports[0].page(16)[0] = value;
    assert.equal(cluster.net.transcript(), []);
    return cluster;
  };
  const pushKind = name === "diff" ? "DiffPush" : "PagePush";

  Self("pushes: the owner sends the version it wrote before its barrier message; the reader's read sends nothing, nor the writer's next write", async () => {
    const { net, nodes, ports, fault, barrier, entry, protections } = await pushSetup(21);
    const v = entry().version;
    net.clear();
    await barrier();
    assert.equal(net.transcript().slice(0, 2), [`${pushKind} 0→1 p16 v${v}`, "BarrierArrive 1→0 p0 v2"]);
    assert.equal(protections(), [RO, None], "the push waits for a read fault with no access");
    assert.equal([[...entry().holders].sort(), entry().writing], [[0, 1], false]);
    net.clear();
    await fault(1, Access.Read);
    assert.equal(net.transcript(), []);
    assert.equal(protections(), [RO, RO]);
    assert.is(ports[1].page(16)[0], 21);
    assert.equal([nodes[0].stats().pagesPushed, nodes[1].stats().pushesUsed], [1, 1]);
    await barrier(); // node 1 relinquishes the pushed copy
    assert.equal([...entry().holders], [0]);
    net.clear();
    await fault(0, Access.Write);
    assert.equal(net.transcript(), []);
  });

  Self("pushes: a lost push costs node 1 one fetch; the manager, seeing its older version, sends data, not a Grant", async () => {
    const { net, ports, fault, barrier, entry } = await pushSetup(22);
    net.drop = (m) => m.kind === MessageKind.PagePush || m.kind === MessageKind.DiffPush;
    await barrier();
    assert.equal([...entry().holders].sort(), [0, 1]);
    net.drop = undefined;
    net.clear();
    await fault(1, Access.Read);
    assert.equal(net.transcript(pageTraffic).map((l) => l.split(" ")[0]), ["ReadRequest", name === "diff" ? "DiffData" : "PageData"]);
    assert.is(ports[1].page(16)[0], 22);
  });

  Self("pushes: a push not read by the next barrier is relinquished as unused, and that page is pushed there no more", async () => {
    const { net, nodes, ports, fault, barrier, entry, protections } = await pushSetup(23);
    await barrier(); // the push
    await barrier(); // node 1 did not read it
    assert.equal([...entry().holders], [0]);
    assert.is(nodes[1].stats().pushesUnused, 1);
    net.clear();
    await fault(0, Access.Write);
    ports[0].page(16)[0] = 24;
    await barrier();
    assert.equal(net.transcript(pageTraffic), [], "no Invalidate, no push");
    assert.equal(protections(), [RW, None]);
    await fault(1, Access.Read);
    assert.is(ports[1].page(16)[0], 24);
  });

  Self("pushes: an invalidation takes a push not yet read; node 1's read then fetches the newer version", async () => {
    const { net, ports, fault, barrier } = await pushSetup(25);
    await barrier(); // the push, ready at node 1
    net.clear();
    await fault(0, Access.Write); // node 1 is a holder: invalidated
    assert.equal(net.transcript(pageTraffic).map((l) => l.split(" ")[0]), ["Invalidate", "InvalidateAck"]);
    ports[0].page(16)[0] = 26;
    await fault(1, Access.Read);
    assert.is(ports[1].page(16)[0], 26);
  });

  Self("pushes: a read fault takes the pushes of the pages that follow too, as read-ahead would", async () => {
    const { nodes, net, ports, barrier } = await setup(create, { pushes: true, placement: "allocation" });
    for (const n of nodes) n.allocated(16 * 1024, 4 * 1024); // pages 16 and 17 are node 0's, 18 and 19 node 1's
    const both = async (node: number, access: Access) => {
      await within(nodes[node].fault(16, 17, access));
      await net.quiet();
    };
    await both(1, Access.Read);
    await both(0, Access.Write);
    await both(1, Access.Read); // read again after an invalidation: both copies are dropped at the barrier
    await barrier();
    await both(0, Access.Write);
    ports[0].page(16)[0] = 41;
    ports[0].page(17)[0] = 42;
    await barrier(); // both pages pushed to node 1
    assert.is(nodes[0].stats().pagesPushed, 2);
    net.clear();
    await within(nodes[1].fault(16, 16, Access.Read));
    assert.equal(net.transcript(), []);
    assert.equal([ports[1].protection(16), ports[1].protection(17)], [RO, RO]);
    assert.equal([ports[1].page(16)[0], ports[1].page(17)[0], nodes[1].stats().pushesUsed], [41, 42, 2]);
  });

  Self.run();
}
