/**
 * `dsm node` processes joined through one private nats-server on loopback: ranks agreed at
 * rendezvous, the one-node result on rank 0, a mismatch named, and a dead or failing node
 * stopping every other one with its rank named.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { NatsServer } from "../src/transport/nats_server.js";
import { DsmProcess, oneNodeResult, settleAll } from "./helpers/dsm_node.js";
import { kernel } from "./helpers/kernels.js";
import { natsOrSkip } from "./helpers/nats.js";

const Node = suite("dsm node over one nats-server");
let server: NatsServer | null = null;
let dir = "";
let jacobi = "";
let rankTrap = "";
let jobs = 0;

Node.before(async () => {
  server = await natsOrSkip("dsm node over one nats-server");
  dir = mkdtempSync(join(tmpdir(), "dsm-node-test-"));
  jacobi = join(dir, "jacobi.wasm");
  rankTrap = join(dir, "rank_trap.wasm");
  writeFileSync(jacobi, (await kernel("assembly/kernels/jacobi.ts")).instrumented.bytes);
  writeFileSync(rankTrap, (await kernel("test/kernels/rank_trap.ts")).instrumented.bytes);
});

Node.after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function nodes(count: number, args: string[], extra: (i: number) => string[] = () => []): DsmProcess[] {
  const job = `t${process.pid}x${++jobs}`;
  return Array.from({ length: count }, (_, i) => new DsmProcess(["node", ...extra(i), "--nats", server!.url, "--job", job, "--nodes", String(count), ...args]));
}

Node("three nodes without ranks agree on ranks and rank 0 prints the one-node result", async () => {
  if (!server) return;
  const reference = await oneNodeResult((await kernel("assembly/kernels/jacobi.ts")).instrumented, ["48", "4"]);
  const procs = nodes(3, ["--json", jacobi, "--", "48", "4"]);
  const exits = await settleAll(procs, 30_000);
  assert.equal(exits.map((e) => e.code), [0, 0, 0], procs.map((p) => p.err).join("\n"));
  assert.equal(procs.map((p) => p.rank).sort(), [0, 1, 2]);
  const printed = procs.filter((p) => p.out.trim() !== "");
  assert.is(printed.length, 1);
  assert.is(printed[0].rank, 0);
  const job = JSON.parse(printed[0].out);
  assert.is(job.result, reference);
  assert.is(job.nodes, 3);
  assert.is(job.transport, "nats");
  assert.equal(job.perNode.map((n: { node: number }) => n.node), [0, 1, 2]);
});

Node("a node started with other arguments stops every node, naming it and the field", async () => {
  if (!server) return;
  const job = `t${process.pid}mismatch`;
  const a = new DsmProcess(["node", jacobi, "--nats", server.url, "--job", job, "--nodes", "2", "--", "48", "4"]);
  const b = new DsmProcess(["node", jacobi, "--nats", server.url, "--job", job, "--nodes", "2", "--", "48", "5"]);
  const exits = await settleAll([a, b], 20_000);
  assert.equal(exits.map((e) => e.code), [1, 1]);
  assert.match(a.err, `dsm: JoinMismatchError: node ${hostname()}/${b.pid} differs in arguments: "48 5" there, "48 4" here; start every node of job ${job}`);
  assert.match(b.err, `dsm: JoinMismatchError: node ${hostname()}/${a.pid} differs in arguments: "48 4" there, "48 5" here;`);
});

Node("a killed node makes every other node exit 1 within 10 s, naming its rank", async () => {
  if (!server) return;
  const procs = nodes(3, [jacobi, "--", "64", "4000"]);
  try {
    await Promise.all(procs.map((p) => p.waitFor((x) => x.rank !== undefined, 20_000, "joined line")));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const victim = procs.find((p) => p.rank === 1)!;
    const killedAt = Date.now();
    victim.kill("SIGKILL");
    const others = procs.filter((p) => p !== victim);
    const exits = await settleAll(others, 10_000);
    for (const [i, p] of others.entries()) {
      assert.is(exits[i].code, 1, p.err);
      assert.match(p.err, "dsm: NodeLostError: rank 1 lost: no heartbeat for 3000 ms");
      assert.ok(exits[i].at - killedAt < 10_000);
    }
    console.log(`  killed rank 1: others exited after ${others.map((_, i) => exits[i].at - killedAt).join(", ")} ms`);
  } finally {
    await settleAll(procs, 5000).catch(() => undefined);
  }
});

Node("a node whose kernel traps stops the others at once with its reason", async () => {
  if (!server) return;
  const procs = nodes(3, [rankTrap, "--", "2", "40"], (i) => ["--rank", String(i)]);
  const t0 = Date.now();
  const exits = await settleAll(procs, 20_000);
  assert.equal(exits.map((e) => e.code), [1, 1, 1]);
  assert.match(procs[2].err, "dsm: KernelTrapError: node 2: kernel trapped:");
  for (const p of procs.slice(0, 2)) assert.match(p.err, "dsm: PeerFailedError: rank 2 failed: KernelTrapError: node 2: kernel trapped:");
  console.log(`  rank 2 trapped: all exited after ${Math.max(...exits.map((e) => e.at)) - t0} ms (process start included)`);
});

Node.run();
