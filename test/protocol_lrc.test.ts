/**
 * Transcript and semantics tests of lazy release consistency over the recording network: fake
 * ports with 1 KiB pages 16..19 (or more), lock 0 managed by node 0, barriers by node 0.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Access, Protection } from "../src/abi.js";
import { MessageKind } from "../src/protocol/codec.js";
import { createLrc, type LrcOptions } from "../src/protocol/lrc/lrc.js";
import { startedCluster } from "./helpers/recording_transport.js";
import { within } from "./helpers/expect.js";

const { ReadWrite: RW, ReadOnly: RO, None } = Protection;


/**
 * A started lrc cluster. Single-writer pages are off unless asked for: most cases here pin the
 * twin, diff and collection machinery, which a page written by one node alone would skip.
 */
async function setup(n: number, tuning: Partial<LrcOptions> & { pageCount?: number } = {}) {
  const { gcBytes, singleWriter = false, ...rest } = tuning;
  return startedCluster(n, (o) => createLrc({ ...o, gcBytes, singleWriter }), rest);
}

const Transcripts = suite("lrc transcripts");

Transcripts("every node starts read-only; a write fault twins the page locally, without a message", async () => {
  const { net, ports, write, stat } = await setup(3);
  assert.equal([16, 17, 18, 19].map((p) => ports.map((port) => port.protection(p))), [
    [RO, RO, RO],
    [RO, RO, RO],
    [RO, RO, RO],
    [RO, RO, RO],
  ]);
  await write(1, 16, 0, 7);
  assert.equal(net.transcript(), []);
  assert.equal([ports[1].protection(16), stat(1, "twins"), stat(1, "diffsCreated")], [RW, 1, 0]);
});

Transcripts("lock acquire: the manager forwards to the last requester, which grants with its write notices and its own diffs of them; the page is current at once", async () => {
  const { net, nodes, ports, write, read, stat } = await setup(3);
  await within(nodes[1].lock(0));
  await write(1, 16, 5, 41);
  await within(nodes[1].unlock(0));
  await net.quiet();
  assert.equal(stat(1, "diffsCreated"), 0, "diffs are made lazily, not at the release");
  await within(nodes[2].lock(0));
  assert.is(ports[2].protection(16), RO, "the grant's diff brought page 16 up to date");
  assert.is(await read(2, 16, 5), 41);
  await within(nodes[2].unlock(0));
  await net.quiet();
  assert.equal(net.transcript(), [
    "LockAcquire 1→0 p0 v0",
    "LockGrant 0→1 p0 v0",
    "LockAcquire 2→0 p0 v0",
    "LockForward 0→1 p0 v0",
    "LockGrant 1→2 p0 v0",
  ]);
  assert.equal([stat(1, "intervals"), stat(1, "diffsCreated"), stat(1, "diffsSent"), stat(2, "writeNotices"), stat(2, "diffsApplied")], [1, 1, 1, 1, 1]);
});

Transcripts("a page with a notice the grant's diffs do not cover (a third writer) is left to the fault, which asks every writer", async () => {
  const { net, nodes, ports, write, read } = await setup(3);
  await within(nodes[2].lock(0));
  await write(2, 16, 0, 7);
  await within(nodes[2].unlock(0));
  await within(nodes[1].lock(0));
  assert.is(ports[1].protection(16), RO, "node 2's diff came with its grant");
  await write(1, 16, 1, 8);
  await within(nodes[1].unlock(0));
  await net.quiet();
  net.clear();
  await within(nodes[0].lock(0));
  assert.is(ports[0].protection(16), None, "node 1's grant carries its own diff, not node 2's: the page waits for its fault");
  assert.equal([await read(0, 16, 0), await read(0, 16, 1)], [7, 8]);
  await within(nodes[0].unlock(0));
  await net.quiet();
  assert.equal(net.transcript(), [
    "LockForward 0→1 p0 v0",
    "LockGrant 1→0 p0 v0",
    "LrcDiffRequest 0→2 p16 v0",
    "LrcDiffRequest 0→1 p16 v0",
    "LrcDiffReply 2→0 p16 v0",
    "LrcDiffReply 1→0 p16 v0",
  ]);
});

Transcripts("a grant looks at the diffs of 16 pages at most: a node that wrote 40 makes no diff for the rest until it is asked", async () => {
  const { net, nodes, write, read, stat } = await setup(2, { pageCount: 40 });
  await within(nodes[1].lock(0));
  for (let p = 16; p < 56; p++) await write(1, p, 1, p);
  await within(nodes[1].unlock(0));
  await within(nodes[0].lock(0));
  assert.equal([stat(1, "diffsCreated"), stat(1, "diffsSent"), stat(0, "diffsApplied")], [16, 16, 16]);
  net.clear();
  assert.equal([await read(0, 16, 1), await read(0, 55, 1)], [16, 55]);
  assert.ok(net.transcript().includes("LrcDiffRequest 0→1 p55 v0"), "a page beyond the grant's is fetched at its access");
  assert.ok(!net.transcript().some((line) => line.includes(" p16 ")), "a page the grant brought costs no message");
  await within(nodes[0].unlock(0));
});

Transcripts("a node that still has the token locks again without a message", async () => {
  const { net, nodes } = await setup(2);
  for (let i = 0; i < 3; i++) {
    await within(nodes[0].lock(0));
    await within(nodes[0].unlock(0));
  }
  await net.quiet();
  assert.equal(net.transcript(), []);
  assert.is(nodes[0].stats().localLocks, 3);
});

Transcripts("a forward that reaches the holder waits for its unlock", async () => {
  const { net, nodes, write, read } = await setup(3);
  await within(nodes[1].lock(0));
  let granted = false;
  const waiting = nodes[2].lock(0).then(() => (granted = true));
  await net.waitFor((m) => m.kind === MessageKind.LockForward && m.target === 1);
  await net.quiet();
  assert.is(granted, false);
  await write(1, 17, 0, 99);
  await within(nodes[1].unlock(0));
  await within(waiting);
  assert.is(await read(2, 17, 0), 99);
  await within(nodes[2].unlock(0));
});

Transcripts("a lost grant: the acquirer repeats, the manager forwards again, the granter resends the same grant", async () => {
  const { net, nodes, write, read } = await setup(3);
  await within(nodes[1].lock(0));
  await write(1, 16, 1, 12);
  await within(nodes[1].unlock(0));
  await net.quiet();
  net.clear();
  let lost = 0;
  net.drop = (m) => m.kind === MessageKind.LockGrant && lost++ === 0;
  await within(nodes[2].lock(0));
  await net.quiet();
  assert.equal(net.transcript(), [
    "LockAcquire 2→0 p0 v0",
    "LockForward 0→1 p0 v0",
    "LockGrant 1→2 p0 v0 (dropped)",
    "LockAcquire 2→0 p0 v0",
    "LockForward 0→1 p0 v0",
    "LockGrant 1→2 p0 v0",
  ]);
  assert.is(await read(2, 16, 1), 12);
  await within(nodes[2].unlock(0));
});

Transcripts("a lost diff reply is asked for again and the page is still exact", async () => {
  const { net, nodes, write, read, all } = await setup(2);
  await write(1, 18, 3, 5);
  await all((c) => c.barrier());
  net.clear();
  let lost = 0;
  net.drop = (m) => m.kind === MessageKind.LrcDiffReply && lost++ === 0;
  assert.is(await read(0, 18, 3), 5);
  assert.equal(net.transcript(), ["LrcDiffRequest 0→1 p18 v0", "LrcDiffReply 1→0 p18 v0 (dropped)", "LrcDiffRequest 0→1 p18 v0", "LrcDiffReply 1→0 p18 v0"]);
  assert.is(nodes[0].stats().diffsApplied, 1);
});

Transcripts("a write sweep twins the pages it wrote last time ahead of the kernel, also when it rewrote them with equal values", async () => {
  const { nodes, ports, all, words, read } = await setup(2, { pageCount: 12 });
  const faultsPerSweep: number[] = [];
  for (let sweep = 0; sweep < 5; sweep++) {
    let faults = 0;
    for (let page = 16; page < 28; page++) {
      if (ports[0].protection(page) !== RW) {
        faults++;
        await within(nodes[0].fault(page, page, Access.Write));
      }
      words(0, page)[3] = 500 + page; // the same value from the second sweep on: a settled stencil
    }
    faultsPerSweep.push(faults);
    await all((c) => c.barrier());
  }
  // Sweep 1 learns the run, one page at a time at first; every later sweep faults once.
  assert.equal(faultsPerSweep.slice(1), [1, 1, 1, 1]);
  assert.equal([await read(1, 20, 3), await read(1, 27, 3)], [520, 527], "the other node sees the values");
});

Transcripts("a page written again in a later interval still gives each interval exactly its own words", async () => {
  const { nodes, write, read, all, stat } = await setup(2);
  await write(1, 16, 0, 1);
  await all((c) => c.barrier());
  await write(1, 16, 1, 2); // node 1's second interval: its first is kept as two copies
  assert.equal([stat(1, "twins"), stat(1, "diffsCreated")], [2, 0]);
  assert.equal([await read(0, 16, 0), await read(0, 16, 1)], [1, 0], "interval 1's diff, without interval 2's word");
  await all((c) => c.barrier());
  assert.equal([await read(0, 16, 0), await read(0, 16, 1)], [1, 2]);
  assert.is(nodes[1].stats().diffsCreated, 2);
});

Transcripts.run();

const Merge = suite("lrc: several writers of one page");

Merge("two nodes writing disjoint halves of one page at once both see the whole page after a barrier", async () => {
  const { write, read, all, stat } = await setup(2);
  for (let w = 0; w < 128; w++) {
    await write(0, 16, w, 1000 + w);
    await write(1, 16, 128 + w, 2000 + w);
  }
  await all((c) => c.barrier());
  for (const node of [0, 1]) {
    const got: number[] = [];
    for (let w = 0; w < 256; w++) got.push(await read(node, 16, w));
    assert.equal(got, Array.from({ length: 256 }, (_, w) => (w < 128 ? 1000 + w : 1872 + w)), `node ${node}`);
  }
  assert.equal([stat(0, "diffsApplied"), stat(1, "diffsApplied")], [1, 1]);
});

Merge("after a barrier a falsely shared page is current and writable before the next phase; left unwritten, it sends no notice", async () => {
  const { ports, write, words, all, stat } = await setup(2);
  await write(0, 16, 0, 10);
  await write(1, 16, 1, 11);
  await all((c) => c.barrier());
  // Both wrote page 16 and each has the other's notice: the barrier fetched and applied the diff
  // and opened the page, so the next phase reads and writes it without a fault.
  assert.equal([ports[0].protection(16), ports[1].protection(16)], [RW, RW]);
  assert.equal([words(0, 16)[1], words(1, 16)[0]], [11, 10]);
  assert.equal([stat(0, "reopened"), stat(1, "reopened")], [1, 1]);
  words(1, 16)[1] = 21; // only node 1 writes in this phase
  const before = stat(0, "writeNotices");
  await all((c) => c.barrier());
  assert.equal(stat(0, "writeNotices") - before, 1, "node 1's write reaches node 0");
  assert.equal(stat(1, "writeNotices"), 1, "node 0 left the page unwritten: no notice for node 1");
  assert.is(words(0, 16)[1], 21);
});

Merge("four writers of interleaved words of one page between barriers, three rounds: every node sees every word", async () => {
  const { write, read, all } = await setup(4);
  for (let round = 1; round <= 3; round++) {
    for (let node = 0; node < 4; node++) for (let k = 0; k < 64; k++) await write(node, 17, k * 4 + node, round * 10000 + k * 4 + node);
    await all((c) => c.barrier());
    for (let node = 0; node < 4; node++) {
      let wrong = 0;
      for (let w = 0; w < 256; w++) if ((await read(node, 17, w)) !== round * 10000 + w) wrong++;
      assert.is(wrong, 0, `round ${round}, node ${node}`);
    }
  }
});

Merge("counters on one page under different locks, taken in turn by three nodes, end exact", async () => {
  const { nodes, write, read, all } = await setup(3);
  for (let i = 0; i < 5; i++) {
    for (let node = 0; node < 3; node++) {
      for (const id of [0, 1]) {
        await within(nodes[node].lock(id));
        await write(node, 19, id, (await read(node, 19, id)) + 1 + id);
        await within(nodes[node].unlock(id));
      }
    }
  }
  await all((c) => c.barrier());
  for (let node = 0; node < 3; node++) assert.equal([await read(node, 19, 0), await read(node, 19, 1)], [15, 30], `node ${node}`);
});

Merge("a writer's later interval brings only its own words: a newer write of an earlier word by another node survives", async () => {
  // Node 0 writes word 0 (lock 0), then word 1 (lock 1). Node 1 takes lock 0 while node 0 still
  // holds lock 1 and overwrites word 0; node 2 takes lock 1 from node 0; node 1 takes lock 1 from
  // node 2 and learns node 0's second interval then: applying it must leave word 0 at node 1's 2.
  const { nodes, write, read } = await setup(3);
  await within(nodes[0].lock(0));
  await write(0, 16, 0, 1);
  await within(nodes[0].unlock(0));
  await within(nodes[0].lock(1));
  await write(0, 16, 1, 1);
  await within(nodes[1].lock(0));
  assert.is(await read(1, 16, 0), 1);
  await write(1, 16, 0, 2);
  await within(nodes[1].unlock(0));
  await within(nodes[0].unlock(1));
  await within(nodes[2].lock(1));
  await write(2, 16, 1, (await read(2, 16, 1)) + 1);
  await within(nodes[2].unlock(1));
  await within(nodes[1].lock(1));
  assert.equal([await read(1, 16, 0), await read(1, 16, 1)], [2, 2]);
  await within(nodes[1].unlock(1));
});

Merge("a racy read without synchronisation may see an old value: lrc is not linearizable", async () => {
  const { write, read, all } = await setup(2);
  await write(1, 16, 0, 5);
  assert.is(await read(0, 16, 0), 0, "no acquire or barrier yet: node 0 keeps its copy");
  await all((c) => c.barrier());
  assert.is(await read(0, 16, 0), 5);
});

Merge.run();

const Gc = suite("lrc garbage collection");

Gc("a long run of barrier phases collects at barriers and keeps each node's history under the bound", async () => {
  const bound = 16 * 1024;
  const { write, read, all, stat, nodes } = await setup(2, { gcBytes: bound, pageCount: 8 });
  let peak = 0;
  for (let round = 1; round <= 40; round++) {
    // Each node rewrites 32 words of its half of every page: about 1 KiB of diffs per phase.
    for (let page = 16; page < 24; page++) {
      for (let w = 0; w < 32; w++) {
        await write(0, page, w, round);
        await write(1, page, 128 + w, round);
      }
    }
    await all((c) => c.barrier());
    for (const node of [0, 1]) peak = Math.max(peak, stat(node, "heldBytes"));
    for (let page = 16; page < 24; page++) assert.equal([await read(1, page, 31), await read(0, page, 159)], [round, round]);
  }
  // A node may pass the bound by one phase before the next barrier collects.
  assert.ok(peak < 2 * bound, `peak ${peak} bytes`);
  assert.ok(stat(0, "gcRuns") >= 3, `gcRuns ${stat(0, "gcRuns")}`);
  assert.is(stat(0, "gcRuns"), stat(1, "gcRuns"));
  await all((c) => c.finish());
  await all((c) => c.close());
  assert.ok(nodes.length === 2);
});

Gc("without the bound the same run holds ever more", async () => {
  const { write, all, stat } = await setup(2, { pageCount: 8 });
  const held: number[] = [];
  for (let round = 1; round <= 10; round++) {
    for (let page = 16; page < 24; page++) await write(0, page, round, round);
    await all((c) => c.barrier());
    held.push(stat(0, "heldBytes"));
  }
  assert.ok(held[9] > held[4] && held[4] > held[0], held.join(" "));
  assert.is(stat(0, "gcRuns"), 0);
});

Gc.run();

const Single = suite("lrc: single-writer pages");

Single("a page one node alone wrote before a barrier is written on with no fault, twin or notice; a reader takes it whole, and its next writes are noticed again", async () => {
  const { net, ports, write, read, all, stat } = await setup(2, { singleWriter: true });
  await write(1, 16, 3, 7);
  await all((c) => c.barrier());
  assert.equal([ports[1].protection(16), ports[0].protection(16), stat(1, "ownedPages"), stat(0, "stalePages")], [RW, None, 1, 1]);
  const twins = stat(1, "twins");
  net.clear();
  await write(1, 16, 4, 8);
  await all((c) => c.barrier());
  assert.equal(net.transcript((m) => m.kind !== MessageKind.BarrierArrive && m.kind !== MessageKind.BarrierRelease), []);
  assert.equal([stat(1, "twins"), stat(0, "writeNotices")], [twins, 1], "the owner's second write made no twin and no notice");
  assert.equal([await read(0, 16, 3), await read(0, 16, 4)], [7, 8]);
  assert.equal(net.transcript((m) => m.kind === MessageKind.LrcPageRequest || m.kind === MessageKind.LrcPageReply), ["LrcPageRequest 0→1 p16 v0", "LrcPageReply 1→0 p16 v0"]);
  assert.equal([ports[1].protection(16), stat(1, "sharedPages")], [RO, 1]);
  // Shared again: the next write twins it, and its notice brings the reader the new word.
  await write(1, 16, 4, 9);
  assert.is(stat(1, "twins"), twins + 1);
  await all((c) => c.barrier());
  assert.is(await read(0, 16, 4), 9);
});

Single("a copy served after the owner's arrival, before it left the barrier, keeps the page noticed: the reader sees the next write", async () => {
  const { net, nodes, ports, write, read, all } = await setup(2, { singleWriter: true });
  await write(1, 16, 3, 7);
  // Node 1 leaves the barrier only after node 0 has left it and fetched the page from node 1.
  net.hold = (m) => m.kind === MessageKind.BarrierRelease && m.target === 1;
  const late = nodes[1].barrier();
  await within(nodes[0].barrier());
  assert.is(await read(0, 16, 3), 7);
  net.hold = undefined;
  net.releaseHeld();
  await within(late);
  assert.is(ports[1].protection(16), RO, "not taken as single-writer: node 0 holds a copy");
  await write(1, 16, 3, 42);
  await all((c) => c.barrier());
  assert.is(await read(0, 16, 3), 42);
});

/** Pages 16..19 (1 KiB each) as one collective allocation: under allocation placement, 16 and 17 are node 0's block, 18 and 19 node 1's. */
const REGION = { address: 16 * 1024, bytes: 4 * 1024 };

Single("under allocation placement a block's pages are its node's from the allocation: written with no fault or message, taken whole by the other node, noticed after that", async () => {
  const { net, nodes, ports, write, read, all, stat } = await setup(2, { singleWriter: true, placement: "allocation" });
  for (const node of nodes) node.allocated(REGION.address, REGION.bytes);
  assert.equal([16, 17, 18, 19].map((p) => ports.map((port) => port.protection(p))), [
    [RW, None],
    [RW, None],
    [None, RW],
    [None, RW],
  ]);
  await write(0, 16, 0, 5);
  await write(1, 19, 0, 6);
  assert.equal(net.transcript(), [], "no fault sent anything");
  assert.equal([stat(0, "twins"), stat(1, "twins")], [0, 0]);
  await all((c) => c.barrier());
  net.clear();
  assert.equal([await read(1, 16, 0), await read(0, 19, 0)], [5, 6]);
  assert.equal(net.transcript((m) => m.kind === MessageKind.LrcPageRequest), ["LrcPageRequest 1→0 p16 v0", "LrcPageRequest 0→1 p19 v0"]);
  await write(0, 16, 1, 7);
  assert.is(stat(0, "twins"), 1, "node 1 holds a copy now: node 0's write twins the page");
  await all((c) => c.barrier());
  assert.is(await read(1, 16, 1), 7);
});

Single("a node asked for a page of its block before it allocated serves its zeros and does not take the page: its later writes are noticed", async () => {
  const { nodes, ports, write, read, all } = await setup(2, { singleWriter: true, placement: "allocation" });
  nodes[1].allocated(REGION.address, REGION.bytes);
  assert.is(await read(1, 16, 0), 0, "node 0 has not allocated yet and serves its zeros");
  nodes[0].allocated(REGION.address, REGION.bytes);
  assert.equal([ports[0].protection(16), ports[0].protection(17)], [RO, RW], "page 16 was served: not taken");
  await write(0, 16, 0, 9);
  await all((c) => c.barrier());
  assert.is(await read(1, 16, 0), 9);
});

Single("pages written by two nodes between barriers keep their twins and diffs, and both writers' words arrive", async () => {
  const { ports, write, read, all, stat } = await setup(2, { singleWriter: true });
  await write(0, 17, 0, 1);
  await write(1, 17, 1, 2);
  await all((c) => c.barrier());
  // Each writer brought the page up to date with the other's diff and opened it again (reopenShared).
  assert.equal([stat(0, "ownedPages"), stat(1, "ownedPages"), stat(0, "reopened"), stat(1, "reopened")], [0, 0, 1, 1]);
  assert.equal([ports[0].protection(17), ports[1].protection(17), stat(0, "diffsApplied"), stat(1, "diffsApplied")], [RW, RW, 1, 1]);
  assert.equal([await read(0, 17, 1), await read(1, 17, 0)], [2, 1]);
});

Single("a first write sweep that leaves its pages as they were (zeros written over zeros) still makes them single-writer", async () => {
  const { ports, write, all, stat } = await setup(2, { singleWriter: true });
  await write(1, 16, 0, 0);
  await write(1, 17, 0, 0); // continues the sweep: page 18, never written here, is twinned ahead
  assert.equal([ports[1].protection(18), stat(1, "writeAhead")], [RW, 1]);
  await write(1, 18, 0, 0);
  await all((c) => c.barrier());
  assert.equal([16, 17, 18].map((p) => [ports[1].protection(p), ports[0].protection(p)]), [
    [RW, None],
    [RW, None],
    [RW, None],
  ]);
  assert.is(stat(1, "ownedPages"), 3);
});

Single.run();
