/**
 * What embedded nodes send each other through their rings, as recorded by the ring links in the
 * workers (RingLinkSpec.transcript): the exact messages of barriers and lock handoffs on the new
 * paths, on every protocol. A lock its last holder takes again costs no message; a barrier is an
 * arrival and a release; the final barrier's release is acknowledged.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { runLocalJob } from "../src/cluster/job.js";
import { ringNetwork } from "../src/transport/ring_network.js";
import { kernel } from "./helpers/kernels.js";

async function transcripts(protocol: string, path: string, args: number[]): Promise<string[][]> {
  const { instrumented } = await kernel(path);
  const sent: string[][] = [];
  await runLocalJob(instrumented, args, {
    nodes: 2,
    protocol: { name: protocol, job: 3, timeoutMs: 10_000, placement: "allocation" },
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

Transcripts("100 barriers in a row are 100 arrivals and 100 releases, and the final barrier's acknowledgement", async () => {
  const [n0, n1] = await transcripts("ivy", "test/kernels/barriers.ts", [100]);
  assert.equal(n0, Array.from({ length: 101 }, () => "BarrierRelease 0→1"));
  assert.equal(n1, [...Array.from({ length: 101 }, () => "BarrierArrive 1→0"), "BarrierDone 1→0"]);
});

Transcripts.run();
