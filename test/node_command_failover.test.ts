/**
 * Server failover on one machine: three nats-servers clustered by routes on loopback, three
 * `dsm node` processes given all three URLs. Killing the server rank 0 uses mid-job must not
 * change the result: clients reconnect to a survivor, the protocols resend what was lost.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { findNatsServer } from "../src/transport/nats_server.js";
import { DsmProcess, oneNodeResult, settleAll } from "./helpers/dsm_node.js";
import { kernel } from "./helpers/kernels.js";
import { startNatsCluster } from "./helpers/nats_cluster.js";

const ARGS = ["64", "300"];
const Failover = suite("dsm node across a nats cluster");

Failover("nodes keep going when their nats server dies, and the job gives the one-node result", async () => {
  if (!findNatsServer()) {
    if (process.env.CI === "true") assert.unreachable("nats-server is required in CI");
    console.error("SKIPPED (nats-server not installed): dsm node server failover");
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "dsm-failover-"));
  const jacobi = join(dir, "jacobi.wasm");
  const module = (await kernel("assembly/kernels/jacobi.ts")).instrumented;
  writeFileSync(jacobi, module.bytes);
  const cluster = await startNatsCluster({ hosts: ["127.0.0.1", "127.0.0.1", "127.0.0.1"], dir });
  const procs: DsmProcess[] = [];
  try {
    const reference = await oneNodeResult(module, ARGS);
    const job = `failover${process.pid}`;
    for (let i = 0; i < 3; i++) procs.push(new DsmProcess(["node", jacobi, "--nats", cluster.urls, "--job", job, "--nodes", "3", "--json", "--", ...ARGS]));
    await Promise.all(procs.map((p) => p.waitFor((x) => x.rank !== undefined, 20_000, "joined line")));
    // Kill the server rank 0's transport uses (a random one of the list), mid-job.
    await new Promise((resolve) => setTimeout(resolve, 700));
    const victim = cluster.indexOf(procs.find((p) => p.rank === 0)!.server!);
    assert.ok(victim >= 0, procs.map((p) => p.err).join("\n"));
    await cluster.kill(victim);
    const exits = await settleAll(procs, 60_000);
    assert.equal(exits.map((e) => e.code), [0, 0, 0], procs.map((p) => p.err).join("\n"));
    const moved = procs.filter((p) => p.err.includes("nats reconnect"));
    assert.ok(moved.some((p) => p.rank === 0), procs.map((p) => p.err).join("\n"));
    const rank0 = procs.find((p) => p.rank === 0)!;
    assert.is(JSON.parse(rank0.out).result, reference);
    console.log(`  killed server ${victim} (rank 0's); ${moved.length} node(s) reconnected; job ${JSON.parse(rank0.out).wallMs.toFixed(0)} ms`);
  } finally {
    await settleAll(procs, 5000).catch(() => undefined);
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

Failover.run();
