/**
 * Runs one built C program in this process on several node counts and protocols, one job after
 * the other, and prints each job's output after a header line, so a test can compare every
 * job's exact output (node 0 writes the program's stdout to this process's stdout):
 *
 *   node dist/test/helpers/program_matrix.js prog.wasm lrc:4,ivy:2 -- -p {nodes}
 *   === run lrc 4
 *   <the program's stdout>
 *   === status 0
 *
 * `{nodes}` in the program's arguments becomes the job's node count.
 */
import { readFileSync, writeSync } from "node:fs";
import { runCluster } from "../../src/cluster/cluster.js";
import { runJob } from "../../src/cluster/run_job.js";
import { loadKernelModule } from "../../src/runtime/kernel_module.js";

const [path, runs, separator, ...template] = process.argv.slice(2);
if (!path || !runs || separator !== "--") {
  process.stderr.write("usage: program_matrix.js prog.wasm protocol:nodes[,...] -- args...\n");
  process.exit(2);
}
const kernel = loadKernelModule(readFileSync(path), path);
for (const run of runs.split(",")) {
  const [protocol, count] = run.split(":");
  const nodes = Number(count);
  const args = template.map((word) => word.replaceAll("{nodes}", String(nodes)));
  writeSync(1, `=== run ${protocol} ${nodes}\n`);
  try {
    const job =
      nodes === 1
        ? await runJob(kernel, args, { nodes, protocol, transport: "local", faultTimeoutMs: 10_000 })
        : await runCluster(kernel, args, { nodes, protocol, faultTimeoutMs: 10_000, syncTimeoutMs: 30_000 });
    writeSync(1, `=== status ${job.result}\n`);
  } catch (error) {
    writeSync(1, `=== failed ${(error as Error).name}: ${(error as Error).message}\n`);
  }
}
