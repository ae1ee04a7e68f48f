/**
 * Transcript tests of migrate over the recording network: 1 KiB pages 16..19 divided in blocks,
 * so with 2 or 3 nodes pages 16-17 are node 0's and 18-19 node 1's.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Access, Protection } from "../src/abi.js";
import { MessageKind } from "../src/protocol/codec.js";
import { createMigrate, homeOf } from "../src/protocol/migrate.js";
import { recordedCluster } from "./helpers/recording_transport.js";
import { within } from "./helpers/expect.js";

const { ReadWrite: RW, None } = Protection;

async function setup(n: number) {
  const cluster = recordedCluster(n, createMigrate);
  await Promise.all(cluster.nodes.map((c) => c.start()));
  const protections = (page: number) => cluster.ports.map((p) => p.protection(page));
  const fault = async (node: number, page: number, access: Access) => {
    await within(cluster.nodes[node].fault(page, page, access));
    await cluster.net.quiet();
  };
  return { ...cluster, protections, fault };
}

const Migrate = suite("migrate transcripts");

Migrate("pages are divided in contiguous blocks and each home holds its block read-write", async () => {
  assert.equal([16, 17, 18, 19].map((p) => homeOf(p, 16, 4, 2)), [0, 0, 1, 1]);
  assert.equal([16, 17, 18, 19, 20].map((p) => homeOf(p, 16, 5, 2)), [0, 0, 0, 1, 1]);
  const { protections } = await setup(2);
  assert.equal([16, 17, 18, 19].map(protections), [
    [RW, None],
    [RW, None],
    [None, RW],
    [None, RW],
  ]);
});

Migrate("a read fault moves the whole page: the old owner has no access, the reader read-write", async () => {
  const { net, ports, protections, fault } = await setup(2);
  ports[0].page(16).fill(9);
  await fault(1, 16, Access.Read);
  assert.equal(net.transcript(), [
    "WriteRequest 1→0 p16 v0",
    "PageData 0→1 p16 v0",
    "Confirm 1→0 p16 v1",
    "ConfirmAck 0→1 p16 v0",
  ]);
  assert.equal(protections(16), [None, RW]);
  assert.is(ports[1].page(16)[1000], 9);
});

Migrate("the home forwards to the current owner when the page has moved on", async () => {
  const { net, ports, protections, fault } = await setup(3);
  await fault(1, 16, Access.Write);
  ports[1].page(16)[0] = 11;
  net.clear();
  await fault(2, 16, Access.Read);
  assert.equal(net.transcript(), [
    "WriteRequest 2→0 p16 v0",
    "WriteForward 0→1 p16 v1",
    "PageData 1→2 p16 v1",
    "Confirm 2→0 p16 v2",
    "ConfirmAck 0→2 p16 v0",
  ]);
  assert.equal(protections(16), [None, None, RW]);
  assert.is(ports[2].page(16)[0], 11);
});

Migrate("the page moves back to its home with the bytes written elsewhere", async () => {
  const { net, ports, protections, fault } = await setup(2);
  await fault(1, 17, Access.Write);
  ports[1].page(17)[5] = 55;
  net.clear();
  await fault(0, 17, Access.Read);
  assert.equal(net.transcript(), [
    "WriteForward 0→1 p17 v1",
    "PageData 1→0 p17 v1",
  ]);
  assert.equal(protections(17), [RW, None]);
  assert.is(ports[0].page(17)[5], 55);
});

Migrate("a lost forward is re-driven by the repeated request", async () => {
  const { net, protections, fault, nodes } = await setup(3);
  await fault(2, 18, Access.Write); // node 2 takes page 18 from its home, node 1
  net.clear();
  let lost = false;
  net.drop = (m) => m.kind === MessageKind.WriteForward && !lost && (lost = true);
  await fault(0, 18, Access.Write);
  assert.equal(net.transcript(), [
    "WriteRequest 0→1 p18 v0",
    "WriteForward 1→2 p18 v1 (dropped)",
    "WriteRequest 0→1 p18 v0",
    "WriteForward 1→2 p18 v1",
    "PageData 2→0 p18 v1",
    "Confirm 0→1 p18 v2",
    "ConfirmAck 1→0 p18 v0",
  ]);
  assert.equal(protections(18), [RW, None, None]);
  assert.is(nodes[0].stats().retries, 1);
});

Migrate("two nodes faulting on one page get it in turn, serialized at its home", async () => {
  const { net, protections, nodes } = await setup(3);
  await within(Promise.all([nodes[1].fault(16, 16, Access.Write), nodes[2].fault(16, 16, Access.Write)]));
  await net.quiet();
  assert.equal(net.transcript(), [
    "WriteRequest 1→0 p16 v0",
    "WriteRequest 2→0 p16 v0",
    "PageData 0→1 p16 v0",
    "Confirm 1→0 p16 v1",
    "WriteForward 0→1 p16 v1", // the next transaction starts as soon as the first is confirmed
    "ConfirmAck 0→1 p16 v0",
    "PageData 1→2 p16 v1",
    "Confirm 2→0 p16 v2",
    "ConfirmAck 0→2 p16 v0",
  ]);
  assert.equal(protections(16), [None, None, RW]);
  assert.is(nodes[0].stats().queued, 1);
});

Migrate.run();
