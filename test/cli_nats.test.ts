/**
 * `dsm run --transport nats`: one OS process per node over a private nats-server, or over a
 * server given with --nats; the result equals the one-node run.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { findNatsServer } from "../src/transport/nats_server.js";
import { ROOT } from "./helpers/kernels.js";
import { natsOrSkip } from "./helpers/nats.js";

const DSM = join(ROOT, "bin/dsm.js");
const JACOBI = join(ROOT, "assembly/kernels/jacobi.ts");

function dsm(...args: string[]) {
  const r = spawnSync(process.execPath, [DSM, ...args], { encoding: "utf8", timeout: 120_000 });
  return { code: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
}

const Nats = suite("dsm run over NATS");
let reference: unknown;

Nats.before(() => {
  const r = dsm("run", JACOBI, "--nodes", "1", "--json", "--", "48", "4");
  assert.is(r.code, 0, r.err);
  reference = JSON.parse(r.out).result;
});

Nats("3 node processes over a private nats-server give the one-node result", () => {
  if (!findNatsServer()) {
    if (process.env.CI === "true") assert.unreachable("nats-server is required in CI");
    console.error("SKIPPED (nats-server not installed): dsm run --transport nats");
    return;
  }
  const r = dsm("run", JACOBI, "--nodes", "3", "--protocol", "ivy", "--transport", "nats", "--json", "--", "48", "4");
  assert.is(r.code, 0, r.err);
  const job = JSON.parse(r.out);
  assert.is(job.result, reference);
  assert.is(job.transport, "nats");
  assert.is(job.perNode.length, 3);
  assert.ok(job.perNode.every((n: { stats: { messages: number } }) => n.stats.messages > 0));
});

Nats("--nats uses the given server", async () => {
  const server = await natsOrSkip("dsm run --nats URL");
  if (!server) return;
  try {
    const r = dsm("run", JACOBI, "--nodes", "2", "--protocol", "diff", "--transport", "nats", "--nats", server.url, "--json", "--", "48", "4");
    assert.is(r.code, 0, r.err);
    assert.is(JSON.parse(r.out).result, reference);
  } finally {
    await server.stop();
  }
});

Nats("an unreachable --nats server is a clear error naming the URL", () => {
  const r = dsm("run", JACOBI, "--nodes", "2", "--transport", "nats", "--nats", "nats://127.0.0.1:1", "--", "48", "4");
  assert.is(r.code, 1);
  assert.match(r.err, "nats://127.0.0.1:1");
});

Nats.run();
