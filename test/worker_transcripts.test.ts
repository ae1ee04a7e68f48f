/**
 * What embedded nodes send each other through their rings, as recorded by the ring links in the
 * workers (RingLinkSpec.transcript): the exact messages of barriers and lock handoffs on the new
 * paths, on every protocol. A lock its last holder takes again costs no message; a barrier is an
 * arrival and a release; the final barrier's release is acknowledged. Without a barrier manager
 * (peer_barriers.ts) a barrier is an arrival each way, and the final one a Done each way.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { peerBarriersInProcess, sendAheadInProcess } from "../src/cluster/cluster.js";
import { runLocalJob } from "../src/cluster/job.js";
import { ringNetwork } from "../src/transport/ring_network.js";
import { kernel } from "./helpers/kernels.js";

async function transcripts(protocol: string, path: string, args: number[], peerBarriers = false): Promise<string[][]> {
  const { instrumented } = await kernel(path);
  const sent: string[][] = [];
  await runLocalJob(instrumented, args, {
    nodes: 2,
    protocol: { name: protocol, job: 3, timeoutMs: 10_000, placement: "allocation", peerBarriers },
    transport: "local",
    links: (nodes) => ringNetwork(2, { wake: (n) => nodes[n]!.pollWord, transcript: true }),
    inspect: (node, result) => (sent[node.nodeId] = result.transcript ?? []),
  });
  return sent;
}

const Transcripts = suite("transcripts of embedded nodes");

for (const protocol of ["migrate", "ivy", "diff", "lrc", "hlrc"]) {
  Transcripts(`${protocol}: two lock turns of 5 re-takes each and three barriers are exactly these messages`, async () => {
    const [n0, n1] = await transcripts(protocol, "test/kernels/lock_turns.ts", [5]);
    assert.equal(n0, ["BarrierRelease 0→1", "LockGrant 0→1", "BarrierRelease 0→1", "BarrierRelease 0→1"]);
    assert.equal(n1, ["BarrierArrive 1→0", "LockAcquire 1→0", "BarrierArrive 1→0", "BarrierArrive 1→0", "BarrierDone 1→0"]);
  });
}

for (const protocol of ["migrate", "ivy", "diff", "lrc", "hlrc"]) {
  Transcripts(`${protocol}, barriers without a manager (each node has a core): every barrier is one arrival each way, and the final one a Done each way`, async () => {
    const [n0, n1] = await transcripts(protocol, "test/kernels/lock_turns.ts", [5], true);
    // Node 0 goes on to the second barrier at once and grants the lock from there.
    assert.equal(n0, ["BarrierArrive 0→1", "BarrierArrive 0→1", "LockGrant 0→1", "BarrierArrive 0→1", "BarrierDone 0→1"]);
    assert.equal(n1, ["BarrierArrive 1→0", "LockAcquire 1→0", "BarrierArrive 1→0", "BarrierArrive 1→0", "BarrierDone 1→0"]);
  });
}

Transcripts("a job of one process goes without a barrier manager when every node has a core of its own", () => {
  assert.equal([peerBarriersInProcess(2, 2), peerBarriersInProcess(2, 8), peerBarriersInProcess(3, 2), peerBarriersInProcess(4, 2)], [true, true, false, false]);
});

Transcripts("a job of one process pushes pages and hands them over with locks when it has more nodes than cores", () => {
  assert.equal([sendAheadInProcess(2, 2), sendAheadInProcess(2, 8), sendAheadInProcess(3, 2), sendAheadInProcess(4, 2)], [false, false, true, true]);
});

Transcripts("100 barriers in a row are 100 arrivals and 100 releases, and the final barrier's acknowledgement", async () => {
  const [n0, n1] = await transcripts("ivy", "test/kernels/barriers.ts", [100]);
  assert.equal(n0, Array.from({ length: 101 }, () => "BarrierRelease 0→1"));
  assert.equal(n1, [...Array.from({ length: 101 }, () => "BarrierArrive 1→0"), "BarrierDone 1→0"]);
});

Transcripts.run();
