/**
 * `dsm node` jobs that checkpoint, on one nats-server with JetStream: with a node killed with
 * SIGKILL after a checkpoint and no replacement, the others exit 1 naming the lost rank and the
 * checkpoint kept, and the job started again later goes on from it to the one-node result (hlrc,
 * checkpoints in a directory). A replacement joining a running job, with checkpoints in the
 * cluster's JetStream object store, is tested on the three-host bed (multihost.test.ts); every
 * protocol's restore on the embedded transport (checkpoint.test.ts), the same path as over NATS.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { DsmProcess, oneNodeResult, settleAll } from "./helpers/dsm_node.js";
import { kernel } from "./helpers/kernels.js";
import { natsOrSkip } from "./helpers/nats.js";

const ARGS = ["256", "400"];
const Recovery = suite("dsm node with checkpoints: a lost node, and the job started again");
const dir = mkdtempSync(join(tmpdir(), "dsm-recovery-"));

async function jacobi(): Promise<{ path: string; reference: unknown }> {
  const module = (await kernel("assembly/kernels/jacobi.ts")).instrumented;
  const path = join(dir, "jacobi.wasm");
  writeFileSync(path, module.bytes);
  return { path, reference: await oneNodeResult(module, ARGS) };
}

function nodeArgs(path: string, url: string, job: string, protocol: string, store: string, rank: number, extra: string[] = []): string[] {
  return ["node", path, "--nats", url, "--job", job, "--nodes", "3", "--rank", String(rank), "--protocol", protocol, "--checkpoint-every", "0.3", "--checkpoint-store", store, "--json", ...extra, "--", ...ARGS];
}

Recovery("hlrc, checkpoints in a directory, no replacement in time: the others exit 1 naming the lost rank and the checkpoint kept; started again, the job goes on from it", async () => {
  const server = await natsOrSkip("dsm node recovery without a replacement", { jetStream: true });
  if (!server) return;
  const procs: DsmProcess[] = [];
  try {
    const { path, reference } = await jacobi();
    const job = `norepl${process.pid}`;
    const where = join(dir, "store-hlrc");
    for (let rank = 0; rank < 3; rank++) procs.push(new DsmProcess(nodeArgs(path, server.url, job, "hlrc", where, rank, ["--rejoin-timeout", "1500"])));
    await procs[2]!.waitFor((p) => p.err.includes("dsm node: checkpoint 1 committed"), 60_000, "checkpoint 1");
    procs[2]!.kill();
    const exits = await settleAll([procs[0]!, procs[1]!], 30_000);
    assert.equal(exits.map((e) => e.code), [1, 1]);
    for (const p of [procs[0]!, procs[1]!]) {
      assert.match(p.err, /NodeLostError: rank 2 lost: no heartbeat for \d+ ms .*; no replacement joined within 1500 ms; checkpoint \d+ of job \S+ is kept: start every node again to resume from it/);
    }
    assert.ok(existsSync(join(where, job)), "the checkpoint is kept");
    const again = [0, 1, 2].map((rank) => new DsmProcess(nodeArgs(path, server.url, job, "hlrc", where, rank, ["--resume"])));
    procs.push(...again);
    const ends = await settleAll(again, 90_000);
    assert.equal(ends.map((e) => e.code), [0, 0, 0], again.map((p) => p.err.slice(-800)).join("\n---\n"));
    assert.is(JSON.parse(again[0]!.out).result, reference);
    assert.not.ok(existsSync(join(where, job)), "a finished job's checkpoints are removed");
  } finally {
    await settleAll(procs, 5000).catch(() => undefined);
    await server.stop();
  }
});

Recovery.after(() => rmSync(dir, { recursive: true, force: true }));
Recovery.run();
