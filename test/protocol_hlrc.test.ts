/**
 * Transcript and semantics tests of home-based lazy release consistency over the recording
 * network: fake ports with 1 KiB pages 16.., homes round-robin (page 16 at node 0, 17 at node 1, …),
 * lock 0 managed by node 0, barriers by node 0.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Protection } from "../src/abi.js";
import type { Coherence } from "../src/protocol/coherence.js";
import { MessageKind, type LockGrantBody } from "../src/protocol/codec.js";
import { createHlrc, type HlrcOptions } from "../src/protocol/hlrc/hlrc.js";
import { startedCluster } from "./helpers/recording_transport.js";
import { within } from "./helpers/expect.js";

const { ReadWrite: RW, ReadOnly: RO, None } = Protection;

async function setup(n: number, tuning: Partial<HlrcOptions> & { pageCount?: number } = {}) {
  return startedCluster(n, (o) => createHlrc(o), tuning);
}

/** As {@link setup}, with links that leave the process, as NATS links do (Link.leavesProcess). */
async function setupOverSockets(n: number) {
  return startedCluster(n, (o) => createHlrc({ ...o, transport: { ...o.transport, leavesProcess: true } }));
}

const Transcripts = suite("hlrc transcripts");

Transcripts("each page starts read-write at its home and with no access elsewhere; the home writes it without a fault or message", async () => {
  const { net, ports, write, stat } = await setup(3);
  assert.equal([16, 17, 18, 19].map((p) => ports.map((port) => port.protection(p))), [
    [RW, None, None],
    [None, RW, None],
    [None, None, RW],
    [RW, None, None],
  ]);
  await write(0, 16, 0, 7);
  assert.equal(net.transcript(), []);
  assert.equal([stat(0, "twins"), stat(0, "intervals")], [0, 0]);
});

Transcripts("a write away from the home: the page comes whole from the home, the release flushes the diff there, and the next acquirer's miss fetches the merged page", async () => {
  const { net, nodes, ports, write, read, stat, words } = await setup(3);
  await within(nodes[1].lock(0));
  await write(1, 16, 5, 41);
  assert.equal([ports[1].protection(16), stat(1, "twins")], [RW, 1]);
  await within(nodes[1].unlock(0));
  await net.quiet();
  assert.is(words(0, 16)[5], 41, "the home applied the flushed diff");
  await within(nodes[2].lock(0));
  assert.is(ports[2].protection(16), None);
  assert.is(await read(2, 16, 5), 41);
  await within(nodes[2].unlock(0));
  await net.quiet();
  assert.equal(net.transcript(), [
    "LockAcquire 1→0 p0 v0",
    "LockGrant 0→1 p0 v0",
    "HlrcPageRequest 1→0 p16 v0",
    "HlrcPageReply 0→1 p16 v0",
    "HlrcFlush 1→0 p0 v1",
    "HlrcFlushAck 0→1 p0 v1",
    "LockAcquire 2→0 p0 v0",
    "LockForward 0→1 p0 v0",
    "LockGrant 1→2 p0 v0",
    "HlrcPageRequest 2→0 p16 v0",
    "HlrcPageReply 0→2 p16 v0",
  ]);
  assert.equal([stat(1, "flushes"), stat(1, "diffsCreated"), stat(0, "diffsApplied"), stat(1, "twins")], [1, 1, 1, 1]);
});

/**
 * Node 0 (home of page 16) and node 1 take turns writing page 16 under lock 0; then node 1
 * acquires once more and reads what both wrote. Returns the messages of that last acquire and
 * read, and the pages node 0 sent for it.
 */
async function handoff(cluster: Awaited<ReturnType<typeof setup>>) {
  const { net, nodes, ports, write, read, stat } = cluster;
  await within(nodes[0].lock(0));
  await write(0, 16, 3, 9);
  await within(nodes[0].unlock(0));
  await within(nodes[1].lock(0));
  assert.is(await read(1, 16, 3), 9);
  await write(1, 16, 4, 5);
  await within(nodes[1].unlock(0));
  await within(nodes[0].lock(0));
  await write(0, 16, 3, 10);
  await within(nodes[0].unlock(0));
  await net.quiet();
  net.clear();
  const sent = stat(0, "pagesSent");
  await within(nodes[1].lock(0));
  const atAcquire = ports[1].protection(16);
  assert.equal([await read(1, 16, 3), await read(1, 16, 4)], [10, 5]);
  await within(nodes[1].unlock(0));
  await net.quiet();
  const grant = net.log.find((s) => s.message.kind === MessageKind.LockGrant && s.message.target === 1)!.message;
  return { transcript: net.transcript(), atAcquire, pagesSent: stat(0, "pagesSent") - sent, grant: grant.body as LockGrantBody };
}

Transcripts("over links that leave the process, a lock granted by the home of the page it guards carries the page: the acquirer's access sends no message", async () => {
  const { transcript, atAcquire, pagesSent, grant } = await handoff(await setupOverSockets(2));
  assert.is(atAcquire, RO, "the grant's copy of page 16 was installed");
  assert.equal(transcript, ["LockAcquire 1→0 p0 v0", "LockGrant 0→1 p0 v0"]);
  assert.is(pagesSent, 1);
  assert.equal(grant.homePages?.pages.map(([page]) => page), [16]);
});

Transcripts("between nodes of one process the grant carries no page: the acquirer fetches it at its access", async () => {
  const { transcript, atAcquire, pagesSent, grant } = await handoff(await setup(2));
  assert.is(atAcquire, None, "invalidated by node 0's write notice");
  assert.equal(transcript, ["LockAcquire 1→0 p0 v0", "LockGrant 0→1 p0 v0", "HlrcPageRequest 1→0 p16 v0", "HlrcPageReply 0→1 p16 v0"]);
  assert.is(pagesSent, 1);
  assert.is(grant.homePages, undefined);
});

Transcripts("the home leaves a page out of its grant while a flush the grant's notices name is on its way; the acquirer's access fetches it once applied", async () => {
  const { net, nodes, write, read } = await setupOverSockets(3);
  await within(nodes[2].lock(0));
  await write(2, 16, 0, 7);
  net.hold = (m) => m.kind === MessageKind.HlrcFlush;
  await within(nodes[2].unlock(0));
  await within(nodes[0].lock(0));
  await within(nodes[0].unlock(0));
  await net.quiet();
  net.clear();
  await within(nodes[1].lock(0));
  const value = read(1, 16, 0);
  await net.waitFor((m) => m.kind === MessageKind.HlrcPageRequest && m.source === 1);
  net.releaseHeld();
  assert.is(await value, 7);
  await within(nodes[1].unlock(0));
  await net.quiet();
  assert.equal(net.transcript((m) => m.target === 1 || m.source === 1), [
    "LockAcquire 1→0 p0 v0",
    "LockGrant 0→1 p0 v0",
    "HlrcPageRequest 1→0 p16 v0",
    "HlrcPageReply 0→1 p16 v0",
  ]);
  const grant = net.log.find((s) => s.message.kind === MessageKind.LockGrant && s.message.target === 1)!.message;
  assert.is((grant.body as LockGrantBody).homePages, undefined, "the home held no copy with node 2's write");
});

Transcripts("the home holds a page request until the flush its write notice names is applied", async () => {
  const { net, nodes, write, read, words } = await setup(3);
  net.hold = (m) => m.kind === MessageKind.HlrcFlush;
  await within(nodes[1].lock(0));
  await write(1, 16, 9, 1234);
  await within(nodes[1].unlock(0));
  await within(nodes[2].lock(0));
  const value = read(2, 16, 9);
  await net.waitFor((m) => m.kind === MessageKind.HlrcPageRequest && m.source === 2);
  await net.quiet();
  assert.is(net.transcript((m) => m.kind === MessageKind.HlrcPageReply && m.target === 2).length, 0, "no reply before the flush");
  assert.is(words(0, 16)[9], 0);
  net.releaseHeld();
  assert.is(await value, 1234);
  assert.is(words(0, 16)[9], 1234);
});

Transcripts("a lost flush is sent again; a flush repeated because its ack was lost is acknowledged and not applied twice", async () => {
  const { net, nodes, write, read, stat } = await setup(2);
  let lostFlush = 0;
  let lostAck = 0;
  net.drop = (m) => (m.kind === MessageKind.HlrcFlush && lostFlush++ === 0) || (m.kind === MessageKind.HlrcFlushAck && lostAck++ === 0);
  await write(1, 16, 3, 5);
  await all2(nodes);
  await net.quiet(700, 5000);
  assert.equal(net.transcript((m) => m.kind === MessageKind.HlrcFlush || m.kind === MessageKind.HlrcFlushAck), [
    "HlrcFlush 1→0 p0 v1 (dropped)",
    "HlrcFlush 1→0 p0 v1",
    "HlrcFlushAck 0→1 p0 v1 (dropped)",
    "HlrcFlush 1→0 p0 v1",
    "HlrcFlushAck 0→1 p0 v1",
  ]);
  assert.is(stat(0, "diffsApplied"), 1);
  assert.is(await read(0, 16, 3), 5);
});

async function all2(nodes: Coherence[]) {
  await within(Promise.all(nodes.map((c) => c.barrier())), 5000);
}

Transcripts("two nodes write disjoint halves of one page at once, away from its home; the home merges them and every node reads both", async () => {
  const { nodes, write, read, all, stat } = await setup(3);
  for (let w = 0; w < 128; w++) await write(1, 16, w, 1000 + w);
  for (let w = 128; w < 256; w++) await write(2, 16, w, 2000 + w);
  await all((c) => c.barrier());
  for (const node of [0, 1, 2]) {
    const seen: number[] = [];
    for (let w = 0; w < 256; w++) seen.push(await read(node, 16, w));
    assert.equal(seen, Array.from({ length: 256 }, (_, w) => (w < 128 ? 1000 + w : 2000 + w)), `node ${node}`);
  }
  assert.is(stat(0, "diffsApplied"), 2);
  await all2(nodes);
});

Transcripts("the home's writes to a page no other node holds leave no notice; once a node fetched it, they fault and invalidate that copy", async () => {
  const { nodes, ports, write, read, all, stat } = await setup(2);
  await write(0, 16, 1, 10);
  await all((c) => c.barrier());
  assert.equal([stat(0, "intervals"), stat(1, "writeNotices")], [0, 0]);
  assert.is(await read(1, 16, 1), 10);
  assert.is(ports[0].protection(16), RO, "tracked from the fetch on");
  await all((c) => c.barrier());
  await write(0, 16, 1, 11);
  assert.equal([stat(0, "intervals"), ports[1].protection(16)], [0, RO]);
  await all((c) => c.barrier());
  assert.equal([stat(0, "intervals"), stat(1, "writeNotices"), ports[1].protection(16)], [1, 1, None]);
  assert.is(await read(1, 16, 1), 11);
  await all2(nodes);
});

Transcripts("interval records are dropped a barrier after they were made", async () => {
  const { nodes, write, all, stat } = await setup(2);
  const held: number[] = [];
  for (let round = 0; round < 6; round++) {
    await write(1, 16, round, round + 1);
    await write(0, 17, round, round + 1);
    await all((c) => c.barrier());
    held.push(stat(0, "heldBytes"));
  }
  assert.ok(Math.max(...held.slice(2)) <= held[1], `held bytes per barrier: ${held.join(", ")}`);
  await all2(nodes);
});

Transcripts("a node's own flushed writes are in the copy it fetches back after an invalidation", async () => {
  const { nodes, net, read, write, all } = await setup(3);
  // Node 1 writes word 0 of page 16 (home 0); node 2 writes word 1 of it. At the barrier node 1's
  // copy is invalidated by node 2's notice, and node 1 fetches it again (to open it for the next
  // phase): the home must wait for node 1's own flush, held back here, before it answers.
  net.hold = (m) => m.kind === MessageKind.HlrcFlush && m.source === 1;
  await write(1, 16, 0, 70);
  await write(2, 16, 1, 71);
  const barrier = all((c) => c.barrier());
  await net.waitFor((m) => m.kind === MessageKind.HlrcPageRequest && m.source === 1 && m.page === 16, 2);
  await net.quiet();
  assert.is(net.transcript((m) => m.kind === MessageKind.HlrcPageReply && m.target === 1).length, 1, "only the first fetch (before the write) was answered");
  net.releaseHeld();
  await barrier;
  assert.is(await read(1, 16, 0), 70);
  assert.is(await read(1, 16, 1), 71);
  await all2(nodes);
});

Transcripts("after a barrier the pages a node wrote that others wrote too are brought up to date and opened again; one left unwritten leaves no notice", async () => {
  const { nodes, ports, write, read, all, stat } = await setup(2, { pageCount: 6 });
  // Node 1 writes word 1 of pages 16..21; 16, 18 and 20 are node 0's, the others its own, which
  // nobody else holds (written without faults). Node 0 writes word 0 of pages 18 and 20.
  for (let p = 16; p < 22; p++) await write(1, p, 1, p);
  await write(0, 18, 0, 5);
  await write(0, 20, 0, 6);
  await all((c) => c.barrier());
  assert.equal([16, 17, 18, 19, 20, 21].map((p) => ports[1].protection(p)), [RO, RW, RW, RW, RW, RW]);
  assert.is(stat(1, "reopened"), 2, "pages 18 and 20 (written by both) opened again; 16 (only node 1's writes) left to the first fault");
  assert.equal([await read(1, 18, 0), await read(1, 20, 0)], [5, 6], "brought up to date before they were opened");
  for (const p of [16, 17, 18, 19, 21]) await write(1, p, 1, 100 + p); // not page 20
  await all((c) => c.barrier());
  assert.equal([await read(0, 16, 1), await read(0, 17, 1), await read(0, 20, 1)], [116, 117, 20]);
  assert.is(stat(0, "writeNotices"), 3 + 2, "the second interval's notices name pages 16 and 18, not page 20");
  await all2(nodes);
});

/**
 * Node 1 fetches page 16 (home 0); after a barrier node 0 rewrites word 1 with 11, and after
 * another barrier node 1 reads the word again, which must be 11. `beforeBarrier` runs just
 * before that second barrier.
 */
async function rewriteAndRead(cluster: Awaited<ReturnType<typeof setup>>, beforeBarrier: () => Promise<void> | void = () => undefined) {
  const { read, write, all } = cluster;
  assert.is(await read(1, 16, 1), 0);
  await all((c) => c.barrier());
  await write(0, 16, 1, 11);
  await beforeBarrier();
  await all((c) => c.barrier());
  assert.is(await read(1, 16, 1), 11);
}

Transcripts("over links that leave the process, a home arriving at a barrier pushes the pages it wrote to the node that fetched them; that node's miss after the barrier sends nothing", async () => {
  const cluster = await setupOverSockets(2);
  const { net, nodes, stat } = cluster;
  await rewriteAndRead(cluster, async () => {
    await net.quiet();
    net.clear();
  });
  await net.quiet();
  // Over such links a barrier has no manager: each node's arrival goes to the other (peer_barriers.ts).
  assert.equal(net.transcript(), ["HlrcPush 0→1 p16 v0", "BarrierArrive 0→1 p0 v2", "BarrierArrive 1→0 p0 v2"]);
  assert.equal([stat(0, "pagesPushed"), stat(1, "pushesUsed"), stat(1, "pagesFetched")], [1, 1, 1]);
  await all2(nodes);
});

Transcripts("a pushed copy without the reader's own flush is not installed: the miss fetches the page once the flush is applied", async () => {
  const { net, nodes, read, write, all, stat } = await setupOverSockets(2);
  // Node 1 writes word 0 of page 16 (home 0), node 0 word 1. Node 0 pushes its copy while node
  // 1's flush is held, so the push lacks node 1's write; node 1 fetches the merged page instead.
  await write(1, 16, 0, 70);
  await all((c) => c.barrier());
  await write(1, 16, 0, 72);
  await write(0, 16, 1, 71);
  net.hold = (m) => m.kind === MessageKind.HlrcFlush;
  net.clear();
  const barrier = all((c) => c.barrier());
  await net.waitFor((m) => m.kind === MessageKind.HlrcPush);
  net.releaseHeld();
  await barrier;
  assert.equal([await read(1, 16, 0), await read(1, 16, 1)], [72, 71]);
  await net.quiet();
  assert.equal(net.transcript((m) => m.kind === MessageKind.HlrcPush || m.kind === MessageKind.HlrcPageRequest || m.kind === MessageKind.HlrcPageReply), [
    "HlrcPush 0→1 p16 v0",
    "HlrcPageRequest 1→0 p16 v0",
    "HlrcPageReply 0→1 p16 v0",
  ]);
  assert.is(stat(1, "pushesUsed"), 0);
  await all2(nodes);
});

Transcripts("a pushed copy without a third node's write that the reader's notices name is not installed: the miss fetches the merged page", async () => {
  const { net, nodes, read, write, all, stat } = await setupOverSockets(3);
  assert.is(await read(1, 16, 1), 0);
  await all((c) => c.barrier());
  await write(2, 16, 2, 72);
  await write(0, 16, 1, 71);
  net.hold = (m) => m.kind === MessageKind.HlrcFlush;
  net.clear();
  const barrier = all((c) => c.barrier());
  await net.waitFor((m) => m.kind === MessageKind.HlrcPush && m.target === 1);
  await net.waitFor((m) => m.kind === MessageKind.BarrierArrive && m.source === 0 && m.target === 1);
  net.releaseHeld();
  await barrier;
  assert.equal([await read(1, 16, 1), await read(1, 16, 2)], [71, 72]);
  await net.quiet();
  assert.equal(net.transcript((m) => m.target === 1 && (m.kind === MessageKind.HlrcPush || m.kind === MessageKind.HlrcPageReply)), ["HlrcPush 0→1 p16 v0", "HlrcPageReply 0→1 p16 v0"]);
  assert.is(stat(1, "pushesUsed"), 0);
  await all2(nodes);
});

Transcripts("a node left two pushes of a page unread declines it, and the home pushes it there no more", async () => {
  const { net, nodes, read, write, all, stat } = await setupOverSockets(2);
  assert.is(await read(1, 16, 1), 0);
  await all((c) => c.barrier());
  net.clear();
  for (let round = 0; round < 3; round++) {
    await write(0, 16, 1, 20 + round);
    await all((c) => c.barrier());
    // The decline answers the second push; it reaches node 0 before node 0 arrives again.
    await net.quiet();
  }
  assert.equal(net.transcript((m) => m.kind === MessageKind.HlrcPush || m.kind === MessageKind.HlrcPushDecline), ["HlrcPush 0→1 p16 v0", "HlrcPush 0→1 p16 v0", "HlrcPushDecline 1→0 p16 v0"]);
  assert.equal([stat(0, "pagesPushed"), stat(1, "pushesDeclined")], [2, 1]);
  assert.is(await read(1, 16, 1), 22, "fetched: no push is held");
  assert.equal([stat(1, "pushesUsed"), stat(1, "pagesFetched")], [0, 2]);
  await all2(nodes);
});

Transcripts("a lost push costs the fetch it would have saved", async () => {
  const cluster = await setupOverSockets(2);
  const { net, nodes, stat } = cluster;
  await rewriteAndRead(cluster, () => {
    net.drop = (m) => m.kind === MessageKind.HlrcPush;
  });
  assert.equal([stat(1, "pushesUsed"), stat(1, "pagesFetched")], [0, 2]);
  await all2(nodes);
});

Transcripts("between nodes of one process a home pushes nothing", async () => {
  const cluster = await setup(2);
  const { net, nodes, stat } = cluster;
  await rewriteAndRead(cluster);
  await net.quiet();
  assert.equal(net.transcript((m) => m.kind === MessageKind.HlrcPush).length, 0);
  assert.equal([stat(0, "pagesPushed"), stat(1, "pagesFetched")], [0, 2]);
  await all2(nodes);
});

Transcripts.run();
