/**
 * Transcript tests of the diff protocol over the recording network: 3 nodes, 1 KiB pages 16..19;
 * the manager of page 16 is node 0. Each page starts at its manager, read-write in the write
 * epoch of version 1 (its twin the zero page); the other nodes start with no access at version 0.
 * Messages a node sends itself are handled in place and not recorded.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Access, Protection } from "../src/abi.js";
import { MessageKind } from "../src/protocol/codec.js";
import { createDiff, DiffProtocol } from "../src/protocol/diff_protocol.js";
import type { DiffLog } from "../src/protocol/diff_log.js";
import type { ProtocolTuning } from "../src/protocol/page_protocol.js";
import { recordedCluster } from "./helpers/recording_transport.js";
import { header } from "./helpers/diff_pages.js";
import { within } from "./helpers/expect.js";

const { ReadWrite: RW, ReadOnly: RO, None } = Protection;

async function setup(tuning: ProtocolTuning = {}) {
  const cluster = recordedCluster(3, createDiff, tuning);
  await Promise.all(cluster.nodes.map((c) => c.start()));
  const protections = (page: number) => cluster.ports.map((p) => p.protection(page));
  const fault = async (node: number, page: number, access: Access) => {
    await within(cluster.nodes[node].fault(page, page, access));
    await cluster.net.quiet();
  };
  /** Node `node` writes `value` at byte `offset` of page 16, faulting first if it must. */
  const write = async (node: number, offset: number, value: number) => {
    if (cluster.ports[node].protection(16) !== RW) await fault(node, 16, Access.Write);
    cluster.ports[node].page(16)[offset] = value;
  };
  const directory = (node: number) => (cluster.nodes[node] as DiffProtocol)["directory"];
  return { ...cluster, protections, fault, write, directory };
}

const Diff = suite("diff transcripts");

Diff("each page starts read-write at its manager in version 1's write epoch; the others have no access", async () => {
  const { protections, directory } = await setup();
  assert.equal([16, 17, 18, 19].map(protections), [
    [RW, None, None],
    [None, RW, None],
    [None, None, RW],
    [RW, None, None],
  ]);
  assert.equal(directory(0).entry(16), { owner: 0, holders: new Set([0]), version: 1, writing: true });
});

Diff("the manager writes its page with no fault; another writer gets its first epoch's diff and read-write", async () => {
  const { net, ports, protections, write, fault, directory } = await setup();
  await write(0, 8, 0xaa);
  assert.equal(net.transcript(), []);
  await fault(1, 16, Access.Write);
  assert.equal(net.transcript(), [
    "WriteRequest 1→0 p16 v0",
    "DiffData 0→1 p16 v1",
    "Confirm 1→0 p16 v2",
    "ConfirmAck 0→1 p16 v0",
  ]);
  assert.equal(protections(16), [None, RW, None]);
  assert.is(ports[1].page(16)[8], 0xaa);
  assert.equal(directory(0).entry(16), { owner: 1, holders: new Set([1]), version: 2, writing: true });
});

Diff("write fault: every other copy is invalidated and acknowledged before the writer gets read-write", async () => {
  const { net, protections, write, fault, directory } = await setup();
  await write(0, 8, 0xaa);
  await fault(1, 16, Access.Read);
  await fault(2, 16, Access.Read); // all three hold version 1 read-only
  net.clear();
  await fault(1, 16, Access.Write);
  assert.equal(net.transcript(), [
    "WriteRequest 1→0 p16 v1",
    "Invalidate 0→2 p16 v1",
    "InvalidateAck 2→0 p16 v1",
    "Grant 0→1 p16 v1",
    "Confirm 1→0 p16 v2",
    "ConfirmAck 0→1 p16 v0",
  ]);
  assert.equal(protections(16), [None, RW, None]);
  assert.equal(directory(0).entry(16), { owner: 1, holders: new Set([1]), version: 2, writing: true });
});

Diff("read fault: the owner ends its write epoch and sends only the diff; both end read-only", async () => {
  const { net, ports, nodes, protections, write, fault } = await setup();
  await write(1, 8, 0xaa);
  await write(1, 12, 0xbb);
  net.clear();
  await fault(2, 16, Access.Read);
  assert.equal(net.transcript(), [
    "ReadRequest 2→0 p16 v0",
    "ReadForward 0→1 p16 v2",
    "DiffData 1→2 p16 v2",
    "Confirm 2→0 p16 v2",
    "ConfirmAck 0→2 p16 v0",
  ]);
  assert.equal(protections(16), [None, RO, RO]);
  assert.equal(Array.from(ports[2].page(16).subarray(8, 16)), [0xaa, 0, 0, 0, 0xbb, 0, 0, 0]);
  // Node 2 is at version 0, node 1 at 2 (version 1, node 0's, wrote nothing): one merged run of two words, a 4-byte header and 8 bytes of words.
  assert.equal([nodes[1].stats().diffsSent, nodes[1].stats().diffBytes, nodes[1].stats().pagesSent], [1, 12, 0]);
});

Diff("stale version: a node that missed two versions gets one merged diff from its version", async () => {
  const { net, ports, nodes, write, fault } = await setup();
  await write(1, 0, 1); // version 2 (node 0's version 1 wrote nothing)
  await fault(2, 16, Access.Read); // node 2 reads version 1; node 1's epoch ends
  await write(1, 100, 2); // upgrade: version 3
  net.clear();
  await fault(0, 16, Access.Read);
  assert.equal(net.transcript(), [
    "ReadForward 0→1 p16 v3",
    "DiffData 1→0 p16 v3",
  ]);
  assert.is(ports[0].page(16)[0], 1);
  assert.is(ports[0].page(16)[100], 2);
  assert.is(nodes[1].stats().diffBytes - 8, 16); // two runs of one word after the 8-byte first diff
});

Diff("upgrade: the owner whose epoch ended writes again, invalidating the readers, without data", async () => {
  const { net, protections, write, fault, directory, nodes } = await setup();
  await write(1, 0, 1);
  await fault(2, 16, Access.Read); // node 1's epoch ends; both hold version 2 read-only
  net.clear();
  await write(1, 4, 2);
  assert.equal(net.transcript(), [
    "WriteRequest 1→0 p16 v2",
    "Invalidate 0→2 p16 v2",
    "InvalidateAck 2→0 p16 v2",
    "Grant 0→1 p16 v2",
    "Confirm 1→0 p16 v3",
    "ConfirmAck 0→1 p16 v0",
  ]);
  assert.equal(protections(16), [None, RW, None]);
  assert.equal(directory(0).entry(16), { owner: 1, holders: new Set([1]), version: 3, writing: true });
  // Its first write fault took the page from node 0 with a diff; only this one is an upgrade.
  assert.is(nodes[1].stats().upgrades, 1);
});

Diff("a requester older than the owner's history gets the whole page", async () => {
  const { net, ports, nodes, write, fault } = await setup({ historyLength: 1 });
  await write(1, 0, 1);
  await fault(2, 16, Access.Read);
  await write(1, 4, 2);
  net.clear();
  await fault(0, 16, Access.Read);
  assert.equal(net.transcript(), [
    "ReadForward 0→1 p16 v3",
    "PageData 1→0 p16 v3",
  ]);
  assert.equal(Array.from(ports[0].page(16).subarray(0, 8)), [1, 0, 0, 0, 2, 0, 0, 0]);
  // Node 2's read at version 0 got the whole page too: one diff kept does not reach back two versions.
  assert.is(nodes[1].stats().pagesSent, 2);
});

Diff("write fault on an older copy: the writer's epoch ends and the new writer gets the diff", async () => {
  const { net, ports, protections, write, fault } = await setup();
  await write(1, 20, 7);
  net.clear();
  await fault(2, 16, Access.Write);
  assert.equal(net.transcript(), [
    "WriteRequest 2→0 p16 v0",
    "WriteForward 0→1 p16 v2",
    "DiffData 1→2 p16 v2",
    "Confirm 2→0 p16 v3",
    "ConfirmAck 0→2 p16 v0",
  ]);
  assert.equal(protections(16), [None, None, RW]);
  assert.is(ports[2].page(16)[20], 7);
});

Diff("a node that received diffs serves them in turn when it becomes the owner", async () => {
  const { net, ports, nodes, write, fault } = await setup();
  await write(1, 0, 1); // v2 by node 1
  await write(2, 4, 2); // v3 by node 2, which received v2 as a diff
  net.clear();
  await fault(0, 16, Access.Read); // node 0 is at version 0: node 2 sends diff 0→3
  assert.equal(net.transcript((m) => m.kind === MessageKind.DiffData || m.kind === MessageKind.PageData), ["DiffData 2→0 p16 v3"]);
  assert.equal(Array.from(ports[0].page(16).subarray(0, 8)), [1, 0, 0, 0, 2, 0, 0, 0]);
  assert.is(nodes[2].stats().pagesSent, 0);
});

Diff("lost diff: the request is repeated and the same diff applied once", async () => {
  const { net, ports, nodes, write, fault } = await setup();
  await write(1, 40, 4);
  net.clear();
  let lost = false;
  net.drop = (m) => m.kind === MessageKind.DiffData && !lost && (lost = true);
  await fault(2, 16, Access.Read);
  assert.equal(net.transcript(), [
    "ReadRequest 2→0 p16 v0",
    "ReadForward 0→1 p16 v2",
    "DiffData 1→2 p16 v2 (dropped)",
    "ReadRequest 2→0 p16 v0",
    "ReadForward 0→1 p16 v2",
    "DiffData 1→2 p16 v2",
    "Confirm 2→0 p16 v2",
    "ConfirmAck 0→2 p16 v0",
  ]);
  assert.is(ports[2].page(16)[40], 4);
  assert.is(nodes[1].stats().diffsSent, 2);
});

Diff("a late duplicate diff is dropped after the page moved on", async () => {
  const { net, ports, nodes, write, fault, protections } = await setup();
  await write(1, 40, 4);
  let held = false;
  net.hold = (m) => m.kind === MessageKind.DiffData && !held && (held = true);
  await fault(2, 16, Access.Read);
  await write(0, 40, 5); // node 0 writes: node 2's copy is invalidated
  const dropped = nodes[2].stats().dropped;
  net.releaseHeld();
  await net.quiet();
  assert.equal(protections(16), [RW, None, None]);
  assert.is(ports[2].page(16)[40], 4);
  assert.is(nodes[2].stats().dropped, dropped + 1);
});

Diff("a diff's records are made after the reply: on a later turn, or before the log is next read", async () => {
  const { nodes, write, fault } = await setup();
  const owner = nodes[1] as DiffProtocol;
  const reader = nodes[2] as DiffProtocol;
  const log = (node: DiffProtocol) => node["log"] as DiffLog;
  await write(1, 0, 1);
  await fault(2, 16, Access.Read); // turns pass: both records were made without a read of the log
  assert.equal([log(owner).newest(16), log(reader).newest(16)], [2, 2]);
  assert.equal([owner["unrecorded"].length, reader["unrecorded"].length], [0, 0]);
  const bytes = log(reader).bytes;
  // A record queued now is not made yet, and is made by the next read of the log.
  const diff = Uint8Array.of(...header(1, 1), 9, 0, 0, 0);
  reader["recordSoon"](16, 2, 3, diff);
  assert.is(log(reader).newest(16), 2);
  assert.is(reader.stats().historyBytes, bytes + diff.byteLength);
  assert.is(log(reader).newest(16), 3);
  assert.is(log(reader).since(16, 2), diff);
});

Diff.run();
