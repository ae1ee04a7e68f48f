/**
 * Kernels on 1, 2, 4 and 8 nodes, every protocol, both transports: the result equals the
 * single-node uninstrumented reference exactly.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { runJob } from "../src/cluster/run_job.js";
import { runCluster } from "../src/cluster/cluster.js";
import { kernel } from "./helpers/kernels.js";
import { natsOrSkip } from "./helpers/nats.js";

const KERNELS: [string, number[]][] = [
  ["assembly/kernels/jacobi.ts", [40, 6]],
  ["assembly/kernels/matmul.ts", [24]],
  ["assembly/kernels/wordfreq.ts", [300, 8]],
];
// All three kernels are race-free (shared data ordered by barriers and locks), so lrc and hlrc belong here.
const PROTOCOLS = ["migrate", "ivy", "diff", "lrc", "hlrc"];

const reference = new Map<string, unknown>();

async function referenceOf(file: string, args: number[]) {
  if (!reference.has(file)) {
    const { reference: ref } = await kernel(file);
    const job = await runJob(ref, args, { nodes: 1, protocol: "none", transport: "local", faultTimeoutMs: 10_000 });
    reference.set(file, job.result);
  }
  return reference.get(file);
}

const Local = suite("kernels over the local transport equal the single-node reference");
for (const [file, args] of KERNELS) {
  for (const protocol of PROTOCOLS) {
    for (const nodes of [1, 2, 4, 8]) {
      Local(`${file.split("/").pop()} on ${nodes} node(s) with ${protocol}`, async () => {
        const { instrumented } = await kernel(file);
        const job = nodes === 1
          ? await runJob(instrumented, args, { nodes, protocol, transport: "local", faultTimeoutMs: 10_000 })
          : await runCluster(instrumented, args, { nodes, protocol });
        assert.is(job.result, await referenceOf(file, args));
        if (nodes > 1) assert.ok(job.stats.messages > 0, "a multi-node run sends messages");
      });
    }
  }
}
Local.run();

const Nats = suite("kernels over NATS equal the single-node reference");
let server: Awaited<ReturnType<typeof natsOrSkip>> = null;
Nats.before(async () => {
  server = await natsOrSkip("kernels over NATS");
});
Nats.after(async () => {
  await server?.stop();
});
for (const [file, args] of KERNELS) {
  for (const protocol of PROTOCOLS) {
    for (const nodes of [2, 4, 8]) {
      Nats(`${file.split("/").pop()} on ${nodes} nodes with ${protocol}`, async () => {
        if (!server) return;
        const { instrumented } = await kernel(file);
        const job = await runCluster(instrumented, args, { nodes, protocol, natsUrl: server.url });
        assert.is(job.result, await referenceOf(file, args));
      });
    }
  }
}
Nats.run();

const Straddle = suite("migrate with every node reading values that straddle two pages");
Straddle("nbody 256×1 on 4 nodes finishes with the reference result, three runs in a row", async () => {
  // Before range faults held their pages back, the nodes passed pages 272/273 round forever about
  // half the time and the run failed with a fault timeout.
  const file = "assembly/kernels/nbody.ts";
  const { instrumented, reference: ref } = await kernel(file);
  const expected = (await runJob(ref, [256, 1], { nodes: 1, protocol: "none", transport: "local", faultTimeoutMs: 10_000 })).result;
  for (let run = 0; run < 3; run++) {
    const job = await runCluster(instrumented, [256, 1], { nodes: 4, protocol: "migrate" });
    assert.is(job.result, expected);
  }
});
Straddle.run();
