/**
 * Self-invalidation at barriers (self_invalidation.ts) under ivy and diff, over the recording
 * network: 2 nodes, 1 KiB pages 16..19; node 0 manages and first owns page 16. Node 1 reads
 * 16, node 0 rewrites it (an invalidation takes node 1's copy), node 1 reads it again: at the
 * next barrier node 1 drops that copy and tells node 0, whose next write needs no message.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Access, Protection } from "../src/abi.js";
import type { Coherence } from "../src/protocol/coherence.js";
import { MessageKind, type Message } from "../src/protocol/codec.js";
import { createDiff } from "../src/protocol/diff_protocol.js";
import type { DirectoryEntry } from "../src/protocol/directory.js";
import { createIvy } from "../src/protocol/ivy.js";
import type { ProtocolOptions } from "../src/protocol/page_protocol.js";
import { within } from "./helpers/expect.js";
import { recordedCluster } from "./helpers/recording_transport.js";

const { ReadWrite: RW, ReadOnly: RO, None } = Protection;

async function setup(create: (options: ProtocolOptions) => Coherence) {
  const cluster = recordedCluster(2, create);
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
  Self.run();
}
