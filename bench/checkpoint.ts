/**
 * `npm run bench:checkpoint`: what checkpoints cost (src/checkpoint/), measured side by side. A
 * node's kernel stands still for the copy of its part and a barrier; the part is stored while it
 * computes (part_thread.ts), so the stencils' ratio counts that work too.
 *
 *   1. A stencil on 2 embedded nodes (assembly/kernels/jacobi.ts, hlrc; 1024² and 2048²) with and without
 *      `--checkpoint-every 1`, interleaved: median time in run on node 0 of each, and their ratio.
 *   2. One checkpoint of a fully written 256 MiB shared region (bench/kernels/region_fill.ts on 2
 *      nodes) into a directory, then into a JetStream object store on a private nats-server
 *      (started with -js): how long the kernel stood still for it (the slower node), and the bytes
 *      of all parts.
 *
 *   npm run bench:checkpoint                     DSM_BENCH_REPS (3), DSM_BENCH_CKPT_STENCILS (1024,4000;2048,1200),
 *                                                DSM_BENCH_CKPT_MIB (256), DSM_BENCH_CKPT_DIR (a temp dir)
 *
 * Prints a readable line and a JSON line per case.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runJob } from "../src/cluster/run_job.js";
import { buildKernelIsolated } from "../src/instrument/build_worker.js";
import { loadKernelModule, type KernelModule } from "../src/runtime/kernel_module.js";
import type { StoreSpec } from "../src/checkpoint/store.js";
import { startNatsServer } from "../src/transport/nats_server.js";
import { countFromEnv, gitRev, median, r1, r2 } from "./common.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const REPS = countFromEnv("DSM_BENCH_REPS", 3);
/** Stencil sizes, `n,iterations;…`: the project's usual 1024² grid (8 MiB per node and checkpoint) and a 2048² one (32 MiB). */
const STENCILS = (process.env.DSM_BENCH_CKPT_STENCILS ?? "1024,4000;2048,1200").split(";").map((s) => s.split(",").map(Number) as [number, number]);
const MIB = countFromEnv("DSM_BENCH_CKPT_MIB", 256);
const NODES = 2;
const rev = gitRev();
const dir = process.env.DSM_BENCH_CKPT_DIR ?? mkdtempSync(join(tmpdir(), "dsm-bench-checkpoint-"));

async function build(file: string, regionMiB: number) {
  const out = await buildKernelIsolated(join(ROOT, file), { regionBytes: regionMiB << 20, maxMemoryBytes: (regionMiB + 384) << 20 });
  return loadKernelModule(out.instrumented, file);
}

async function stencil(N: number, ITERATIONS: number): Promise<void> {
  const kernel = await build("assembly/kernels/jacobi.ts", Math.max(64, Math.ceil((2 * N * N * 8) / 2 ** 20) + 16));
  const times = { plain: [] as number[], checkpointed: [] as number[] };
  const results = new Set<unknown>();
  let checkpoints = 0;
  let checkpointMs = 0;
  // Untimed first: the first job of a process runs colder than the rest.
  await runJob(kernel, [N, Math.max(1, Math.floor(ITERATIONS / 10))], { nodes: NODES, protocol: "hlrc", transport: "local", faultTimeoutMs: 30_000 });
  for (let rep = 0; rep < REPS; rep++) {
    for (const mode of ["plain", "checkpointed"] as const) {
      const options = mode === "checkpointed" ? { store: { kind: "dir" as const, path: dir }, job: `stencil${rep}`, everyMs: 1000, resume: false } : undefined;
      const job = await runJob(kernel, [N, ITERATIONS], { nodes: NODES, protocol: "hlrc", transport: "local", faultTimeoutMs: 30_000, checkpoints: options });
      times[mode].push(job.kernelMs);
      results.add(job.result);
      if (mode === "checkpointed") {
        checkpoints += job.perNode[0]!.stats.checkpoints;
        checkpointMs += Math.max(...job.perNode.map((p) => p.stats.checkpointMs));
      }
    }
  }
  if (results.size !== 1) throw new Error(`the stencil's result differs with checkpoints: ${[...results].join(", ")}`);
  const plain = median(times.plain);
  const checkpointed = median(times.checkpointed);
  console.log(
    `stencil ${N}x${ITERATIONS} hlrc ${NODES} nodes: ${r1(plain)} ms without, ${r1(checkpointed)} ms with a checkpoint every 1 s (${r1(checkpoints / REPS)} per run, the kernel still ${r1(checkpointMs / checkpoints)} ms each): ratio ${r2(checkpointed / plain)}x` +
      `  [without ${times.plain.map(r1).join(", ")}; with ${times.checkpointed.map(r1).join(", ")}]`,
  );
  console.log(JSON.stringify({ bench: "checkpoint", case: "stencil", rev, n: N, iterations: ITERATIONS, nodes: NODES, protocol: "hlrc", everyS: 1, plainMs: r1(plain), checkpointedMs: r1(checkpointed), ratio: r2(checkpointed / plain), checkpointsPerRun: checkpoints / REPS, msPerCheckpoint: r1(checkpointMs / checkpoints), reps: REPS }));
}

async function region(kernel: KernelModule, store: StoreSpec, name: string): Promise<void> {
  const ms: number[][] = [];
  const bytes: number[] = [];
  for (let rep = 0; rep < REPS; rep++) {
    // One round, then the barrier after it: with a checkpoint due at once, that barrier's is the one measured.
    const job = await runJob(kernel, [MIB, 1], { nodes: NODES, protocol: "hlrc", transport: "local", faultTimeoutMs: 60_000, checkpoints: { store, job: `region${rep}`, everyMs: 1e-6, resume: false } });
    const last = job.perNode.map((p) => p.stats);
    if (last.some((s) => s.checkpoints !== 1)) throw new Error(`expected 1 checkpoint per node, got ${last.map((s) => s.checkpoints).join(", ")}`);
    ms.push(last.map((s) => s.checkpointMs));
    bytes.push(last.reduce((n, s) => n + s.checkpointBytes, 0));
  }
  const perNode = ms.map((m) => Math.max(...m));
  console.log(`one checkpoint of a ${MIB} MiB shared region, ${NODES} nodes, to ${name}: ${r1(median(perNode))} ms (the slower node), ${median(bytes)} bytes  [${perNode.map(r1).join(", ")} ms]`);
  console.log(JSON.stringify({ bench: "checkpoint", case: "region", rev, mib: MIB, nodes: NODES, store: store.kind, ms: r1(median(perNode)), bytes: median(bytes), reps: REPS }));
}

try {
  for (const [n, iterations] of STENCILS) await stencil(n, iterations);
  const fill = await build("bench/kernels/region_fill.ts", MIB + 1);
  await region(fill, { kind: "dir", path: dir }, "a directory");
  const server = await startNatsServer({ jetStream: true });
  try {
    await region(fill, { kind: "nats", servers: [server.url], auth: {} }, "a NATS JetStream object store (one local server)");
  } finally {
    await server.stop();
  }
} finally {
  if (!process.env.DSM_BENCH_CKPT_DIR) rmSync(dir, { recursive: true, force: true });
}
