/**
 * Transcript tests of ivy over the recording network: 3 nodes, 1 KiB pages 16..19, so the manager
 * of page 16 is node 0 (which also owns it at first) and of page 17 node 1.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Access, Protection } from "../src/abi.js";
import { confirmsPayload, encodeMessage, MessageKind, type Message } from "../src/protocol/codec.js";
import { createIvy, IvyProtocol } from "../src/protocol/ivy.js";
import { recordedCluster } from "./helpers/recording_transport.js";
import { within } from "./helpers/expect.js";

const { ReadWrite: RW, ReadOnly: RO, None } = Protection;

async function setup(n = 3, retryMs?: number) {
  const cluster = recordedCluster(n, createIvy, retryMs ? { retryMs } : {});
  await Promise.all(cluster.nodes.map((c) => c.start()));
  const protections = (page: number) => cluster.ports.map((p) => p.protection(page));
  const fault = async (node: number, page: number, access: Access) => {
    await within(cluster.nodes[node].fault(page, page, access));
    await cluster.net.quiet();
  };
  return { ...cluster, protections, fault };
}

/** Transcript filter: Confirms and their acknowledgements. */
const confirmsOnly = (m: Message) => m.kind === MessageKind.Confirm || m.kind === MessageKind.ConfirmAck;

const Ivy = suite("ivy transcripts");

Ivy("the manager owns its pages read-write at start; the others have no access", async () => {
  const { protections } = await setup();
  assert.equal(protections(16), [RW, None, None]);
  assert.equal(protections(17), [None, RW, None]);
  assert.equal(protections(19), [RW, None, None]);
});

Ivy("read fault: the manager forwards to the owner, which downgrades and sends the page", async () => {
  const { net, ports, protections, fault } = await setup();
  ports[0].page(16).fill(7);
  await fault(1, 16, Access.Read);
  assert.equal(net.transcript(), [
    "ReadRequest 1→0 p16 v0",
    "PageData 0→1 p16 v0",
    "Confirm 1→0 p16 v0",
    "ConfirmAck 0→1 p16 v0",
  ]);
  assert.equal(protections(16), [RO, RO, None]);
  assert.equal(Array.from(ports[1].page(16).subarray(0, 4)), [7, 7, 7, 7]);
});

Ivy("write fault: copies are invalidated and acknowledged, then the page and ownership move", async () => {
  const { net, ports, nodes, protections, fault } = await setup();
  ports[0].page(16).fill(3);
  await fault(1, 16, Access.Read);
  net.clear();
  await fault(2, 16, Access.Write);
  assert.equal(net.transcript(), [
    "WriteRequest 2→0 p16 v0",
    "Invalidate 0→1 p16 v0",
    "InvalidateAck 1→0 p16 v0",
    "PageData 0→2 p16 v0",
    "Confirm 2→0 p16 v1",
    "ConfirmAck 0→2 p16 v0",
  ]);
  assert.equal(protections(16), [None, None, RW]);
  assert.is(ports[2].page(16)[100], 3);
  assert.equal((nodes[0] as IvyProtocol)["directory"].entry(16), { owner: 2, holders: new Set([2]), version: 1, writing: true });
  assert.is(nodes[1].stats().invalidations, 1);
  assert.is(nodes[0].stats().invalidations, 1);
});

Ivy("upgrade: a reader that writes keeps its copy and only gets permission", async () => {
  const { net, protections, fault, nodes } = await setup();
  await fault(2, 16, Access.Read);
  net.clear();
  await fault(2, 16, Access.Write);
  assert.equal(net.transcript(), [
    "WriteRequest 2→0 p16 v0",
    "Grant 0→2 p16 v0",
    "Confirm 2→0 p16 v1",
    "ConfirmAck 0→2 p16 v0",
  ]);
  assert.equal(protections(16), [None, None, RW]);
  assert.is(nodes[2].stats().upgrades, 1);
  assert.is(nodes[0].stats().pagesSent, 1);
});

Ivy("ownership moves: the manager forwards to the current owner, not to itself", async () => {
  const { net, ports, protections, fault } = await setup();
  await fault(1, 16, Access.Write);
  ports[1].page(16)[0] = 42;
  net.clear();
  await fault(2, 16, Access.Read);
  assert.equal(net.transcript(), [
    "ReadRequest 2→0 p16 v0",
    "ReadForward 0→1 p16 v1",
    "PageData 1→2 p16 v1",
    "Confirm 2→0 p16 v1",
    "ConfirmAck 0→2 p16 v0",
  ]);
  assert.equal(protections(16), [None, RO, RO]);
  assert.is(ports[2].page(16)[0], 42);
});

Ivy("lost reply: the request is repeated, the manager re-drives it, the page arrives once", async () => {
  const { net, ports, nodes, protections, fault } = await setup();
  ports[0].page(16).fill(5);
  let lost = false;
  net.drop = (m) => m.kind === MessageKind.PageData && !lost && (lost = true);
  await fault(1, 16, Access.Read);
  assert.equal(net.transcript(), [
    "ReadRequest 1→0 p16 v0",
    "PageData 0→1 p16 v0 (dropped)",
    "ReadRequest 1→0 p16 v0",
    "PageData 0→1 p16 v0",
    "Confirm 1→0 p16 v0",
    "ConfirmAck 0→1 p16 v0",
  ]);
  assert.equal(protections(16), [RO, RO, None]);
  assert.is(nodes[1].stats().retries, 1);
  assert.is(nodes[0].stats().stale, 1); // the repeated request, answered by re-driving
});

Ivy("a late duplicate reply is dropped, not installed over a newer state", async () => {
  const { net, ports, nodes, protections, fault } = await setup();
  let held = false;
  net.hold = (m) => m.kind === MessageKind.PageData && !held && (held = true);
  await fault(1, 16, Access.Read); // the first PageData is held; the repeat gets through
  await fault(0, 16, Access.Write); // node 0 takes the page back: node 1 is invalidated
  ports[0].page(16)[0] = 99;
  assert.equal(protections(16), [RW, None, None]);
  const droppedBefore = nodes[1].stats().dropped;
  net.releaseHeld();
  await net.quiet();
  assert.equal(protections(16), [RW, None, None]);
  assert.is(ports[1].page(16)[0], 0);
  assert.is(nodes[1].stats().dropped, droppedBefore + 1);
});

Ivy("a lost confirm acknowledgement is retried and the confirm is not applied twice", async () => {
  const { net, nodes, fault } = await setup();
  let lost = false;
  net.drop = (m) => m.kind === MessageKind.ConfirmAck && !lost && (lost = true);
  await fault(1, 16, Access.Write);
  await net.waitFor((m) => m.kind === MessageKind.ConfirmAck, 2);
  await net.quiet();
  assert.equal(net.transcript(confirmsOnly), [
    "Confirm 1→0 p16 v1",
    "ConfirmAck 0→1 p16 v0 (dropped)",
    "Confirm 1→0 p16 v1",
    "ConfirmAck 0→1 p16 v0",
  ]);
  assert.is((nodes[0] as IvyProtocol)["directory"].entry(16).version, 1);
});

Ivy("a fault on several pages confirms them in one message per manager, answered by one ConfirmAck", async () => {
  const { net, nodes } = await setup();
  // Node 2 manages and owns 18; 16 and 19 are node 0's, 17 node 1's.
  await within(nodes[2].fault(16, 19, Access.Read));
  await net.quiet();
  assert.equal(net.transcript(confirmsOnly), [
    "Confirm 2→0 p16 v0 +p19",
    "Confirm 2→1 p17 v0",
    "ConfirmAck 0→2 p16 v0",
    "ConfirmAck 1→2 p17 v0",
  ]);
  const directory = (node: number) => (nodes[node] as IvyProtocol)["directory"];
  assert.equal([16, 19].map((p) => [...directory(0).entry(p).holders].sort()), [
    [0, 2],
    [0, 2],
  ]);
  assert.equal([...directory(1).entry(17).holders].sort(), [1, 2]);
});

Ivy("a lost acknowledgement of several confirms repeats them all; the manager applies each once", async () => {
  const { net, nodes } = await setup();
  let lost = false;
  net.drop = (m) => m.kind === MessageKind.ConfirmAck && m.source === 0 && !lost && (lost = true);
  await within(nodes[2].fault(16, 19, Access.Write));
  await net.waitFor((m) => m.kind === MessageKind.ConfirmAck && m.source === 0, 2);
  await net.quiet();
  assert.equal(net.transcript((m) => confirmsOnly(m) && m.source !== 1 && m.target !== 1), [
    "Confirm 2→0 p16 v1 +p19",
    "ConfirmAck 0→2 p16 v0 (dropped)",
    "Confirm 2→0 p16 v1 +p19",
    "ConfirmAck 0→2 p16 v0",
  ]);
  const directory = (nodes[0] as IvyProtocol)["directory"];
  // Applied once each: node 2 owns both at version 1 (a second application would make it 2).
  assert.equal([16, 19].map((p) => [directory.entry(p).owner, directory.entry(p).version]), [
    [2, 1],
    [2, 1],
  ]);
  assert.is(nodes[0].stats().stale, 2, "the repeated confirms of 16 and 19 were counted as stale");
});

Ivy("forwards wait for the kernel to park when the owner is writing, once however often repeated", async () => {
  const { net, ports, nodes } = await setup(3, 20);
  ports[0].resume(); // node 0's kernel is running
  const reading = within(nodes[1].fault(16, 16, Access.Read));
  await new Promise((resolve) => setTimeout(resolve, 100)); // long enough for repeats
  const sent = () => net.transcript((m) => m.kind === MessageKind.PageData);
  assert.equal(sent(), []);
  assert.ok(net.transcript().filter((t) => t === "ReadRequest 1→0 p16 v0").length > 1, "the request was not repeated");
  assert.is(ports[0].waiting, 1);
  ports[0].park();
  await reading;
  await net.quiet();
  assert.equal(sent(), ["PageData 0→1 p16 v0"]);
  assert.equal(ports[0].violations, []);
  assert.equal(ports.map((p) => p.protection(16)), [RO, RO, None]);
});

Ivy("malformed messages, other jobs and pages outside the region are dropped and counted", async () => {
  const { net, nodes } = await setup();
  const deliver = (bytes: Uint8Array) => (net as unknown as { handlers: ((b: Uint8Array) => void)[] }).handlers[1](bytes);
  deliver(new Uint8Array([1, 2, 3]));
  deliver(encodeMessage({ kind: MessageKind.Grant, job: 10, source: 0, target: 1, page: 16, arg: 1 }));
  deliver(encodeMessage({ kind: MessageKind.Grant, job: 9, source: 0, target: 1, page: 40, arg: 1 }));
  deliver(encodeMessage({ kind: MessageKind.Grant, job: 9, source: 0, target: 1, page: 16, arg: 1, request: 12345 }));
  const stats = nodes[1].stats();
  assert.equal([stats.dropped, stats.malformed, stats.misdelivered, stats.stale], [4, 2, 1, 1]);
});

Ivy("a Confirm naming a page another node manages is not answered, so its sender sends it again", async () => {
  const { net, nodes } = await setup();
  const deliver = (bytes: Uint8Array) => (net as unknown as { handlers: ((b: Uint8Array) => void)[] }).handlers[1](bytes);
  // Node 1 manages page 17, not 16: one entry misdelivered, one with no transaction (stale).
  const entries = [
    { page: 16, version: 0, request: 5, access: 0 },
    { page: 17, version: 0, request: 6, access: 0 },
  ];
  deliver(encodeMessage({ kind: MessageKind.Confirm, job: 9, source: 2, target: 1, page: 16, request: 5, arg: 0, payload: confirmsPayload(entries) }));
  await net.quiet();
  assert.equal(net.transcript(), []);
  const stats = nodes[1].stats();
  assert.equal([stats.misdelivered, stats.stale], [1, 1]);
});

Ivy("a fault outside the region is refused", async () => {
  const { nodes } = await setup();
  try {
    await nodes[0].fault(3, 3, Access.Read);
    assert.unreachable();
  } catch (error) {
    assert.is((error as Error).message, "pages 3..3: outside the shared region (pages 16..19); only memory from sharedAlloc is shared");
  }
});

Ivy.run();
