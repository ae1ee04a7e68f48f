/**
 * Checkpoints and resuming (src/checkpoint/): the store's commit rule, the part format, every
 * protocol resuming a stopped job to the single-node result, checkpoints taken and gone on from
 * within one run, refusals (another setting, a fresh start over a checkpoint, no checkpoint), a
 * damaged part, a checkpoint stopped before its manifest, and a `dsm run` killed with SIGKILL and
 * resumed from the command line.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CheckpointCorruptError, ResumeError } from "../src/checkpoint/errors.js";
import { jobSetting, prepareCheckpoints } from "../src/checkpoint/job_checkpoints.js";
import { decodePart, PartWriter } from "../src/checkpoint/part.js";
import { DirectoryStore, sha256, type Manifest } from "../src/checkpoint/store.js";
import { runCluster } from "../src/cluster/cluster.js";
import { runJob } from "../src/cluster/run_job.js";
import type { KernelModule, RunArgument } from "../src/runtime/kernel_module.js";
import type { NodeThread } from "../src/runtime/node_thread.js";
import { rejection } from "./helpers/expect.js";
import { kernel, referenceResult } from "./helpers/kernels.js";
import { runAndKill, runToEnd } from "./helpers/kill_resume.js";
import { tempDir } from "./helpers/temp_dir.js";

const dir = tempDir("dsm-checkpoint-test-");
/** A checkpoint at every barrier: the next one is due as soon as one is committed. */
const EVERY_BARRIER_MS = 1e-6;
const JACOBI = "assembly/kernels/jacobi.ts";
const ARGS = [256, 40];

async function rejectsWith(work: Promise<unknown>, cls: abstract new (...args: never[]) => Error, pattern: RegExp): Promise<void> {
  const error = await rejection(work);
  assert.instance(error, cls);
  assert.match(error.message, pattern);
}


interface Job {
  kernel: KernelModule;
  args: RunArgument[];
  protocol: string;
  nodes: number;
  store: string;
  job: string;
}

async function specs(j: Job, resume: boolean) {
  const setting = jobSetting(j.kernel, j.args, j.nodes, j.protocol);
  return prepareCheckpoints({ store: { kind: "dir", path: j.store }, job: j.job, everyMs: resume ? undefined : EVERY_BARRIER_MS, resume }, setting, (n) => `checkpoint test: node ${n}`);
}

/** Runs `j` with a checkpoint at every barrier and stops every node once checkpoint `after` is committed. */
async function stopAfter(j: Job, after: number): Promise<void> {
  const checkpoint = await specs(j, false);
  const stop = new Error("stopped by the test");
  let threads: readonly NodeThread[] = [];
  const watch = setInterval(() => {
    if (!existsSync(join(j.store, j.job, String(after), "manifest.json"))) return;
    clearInterval(watch);
    for (const t of threads) t.abort(stop);
  }, 1);
  try {
    await runCluster(j.kernel, j.args, { nodes: j.nodes, protocol: j.protocol, faultTimeoutMs: 10_000, syncTimeoutMs: 20_000, checkpoint, started: (n) => (threads = n) });
    assert.unreachable("the job ended before the test stopped it");
  } catch (error) {
    assert.is(error, stop, String(error));
  } finally {
    clearInterval(watch);
  }
}

async function resume(j: Job) {
  const checkpoint = await specs(j, true);
  return runCluster(j.kernel, j.args, { nodes: j.nodes, protocol: j.protocol, faultTimeoutMs: 10_000, syncTimeoutMs: 20_000, checkpoint });
}

async function jacobiJob(protocol: string, nodes: number, name: string): Promise<Job> {
  return { kernel: (await kernel(JACOBI)).instrumented, args: ARGS, protocol, nodes, store: join(dir, name), job: "jacobi" };
}

const Store = suite("the directory store commits a checkpoint with its manifest, last");

function manifest(n: number, parts: Manifest["parts"]): Manifest {
  return { format: 1, job: "j", checkpoint: n, setting: { kernel: "k.ts", kernelSha256: "0".repeat(64), args: [], nodes: 2, protocol: "ivy", pageSize: 4096 }, parts, committedAt: "2026-12-07T00:00:00.000Z" };
}

Store("a checkpoint without its manifest is not there; a commit removes older ones; a changed part is refused by name", async () => {
  const store = new DirectoryStore(join(dir, "store"), "j");
  const put = (n: number, node: number, bytes: Uint8Array) => store.putPart(n, node, bytes, sha256(bytes));
  assert.is(await store.highest(), 0);
  assert.is(await store.latest(), undefined);
  const one = [await put(1, 0, new Uint8Array([1, 2, 3])), await put(1, 1, new Uint8Array([4, 5]))];
  assert.equal(one[0], { node: 0, name: "node-0.part", bytes: 3, sha256: sha256(new Uint8Array([1, 2, 3])) });
  assert.equal(await store.partRecords(1, 2), one);
  assert.is(await store.latest(), undefined, "parts alone commit nothing");
  await store.commit(manifest(1, one));
  assert.is((await store.latest())!.checkpoint, 1);
  assert.ok(await store.committed(1));
  // Checkpoint 2 stops half-way: 1 stays the latest.
  await put(2, 0, new Uint8Array([9]));
  assert.is((await store.latest())!.checkpoint, 1);
  assert.not.ok(await store.committed(2));
  assert.is(await store.highest(), 2, "a new checkpoint is numbered past a stopped one's records");
  await rejectsWith(store.partRecords(2, 2), CheckpointCorruptError, /node-1\.json is missing/);
  await put(2, 1, new Uint8Array([8]));
  await store.commit(manifest(2, await store.partRecords(2, 2)));
  assert.is((await store.latest())!.checkpoint, 2);
  // Removed in the background once 2 is committed.
  for (let waited = 0; existsSync(join(dir, "store", "j", "1")); waited += 10) {
    assert.ok(waited < 5000, "checkpoint 1 still there 5 s after checkpoint 2 was committed");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.equal([...(await store.getPart((await store.latest())!, 1))], [8]);
  // Checkpoint 3's parts are written over checkpoint 1's files, cut to their length.
  const three = [await put(3, 0, new Uint8Array([6])), await put(3, 1, new Uint8Array([5, 4, 3, 2]))];
  await store.commit(manifest(3, three));
  assert.equal([...(await store.getPart(manifest(3, three), 0))], [6]);
  assert.equal([...(await store.getPart(manifest(3, three), 1))], [5, 4, 3, 2]);
  writeFileSync(join(dir, "store", "j", "2", "node-1.part"), new Uint8Array([7]));
  await rejectsWith(store.getPart(manifest(2, one.map((p) => ({ ...p, bytes: 1, sha256: sha256(new Uint8Array([8])) }))), 1), CheckpointCorruptError, /checkpoint 2: .*node-1\.part does not match its checksum/);
  await store.drop();
  assert.is(await store.latest(), undefined);
});

Store("a part keeps kernel state, allocations, locks and only the non-zero pages", () => {
  const pageSize = 1024;
  const memory = new Uint8Array(12 * pageSize);
  for (const p of [5, 6, 9, 10]) memory.fill(p, p * pageSize, (p + 1) * pageSize);
  memory[8 * pageSize + 1000] = 1;
  const kernel = { memory: new Uint8Array([1, 2, 3, 4]), globals: { __dsm_global_0: 7, __dsm_global_1: "-9007199254740993" }, stack: new Uint8Array([5, 6]) };
  const writer = new PartWriter();
  const encode = () => {
    writer.begin(kernel, 7, pageSize);
    writer.pages(memory.buffer, 4, 6, pageSize);
    writer.pages(memory.buffer, 8, 10, pageSize);
    return writer.finish(1, pageSize, [[65536, 4096]], [3]);
  };
  const bytes = encode().slice();
  const back = decodePart(bytes, "part");
  assert.equal(back.pages.map((r) => [r.first, r.data.length / pageSize]), [[5, 2], [8, 3]]);
  assert.equal([...back.pages[1]!.data], [...memory.subarray(8 * pageSize, 11 * pageSize)]);
  assert.equal({ ...back, kernel: { ...back.kernel, memory: [...back.kernel.memory], stack: [...back.kernel.stack] }, pages: [] }, {
    node: 1,
    pageSize,
    kernel: { ...kernel, memory: [1, 2, 3, 4], stack: [5, 6] },
    allocations: [[65536, 4096]],
    locks: [3],
    pages: [],
  });
  // The writer keeps its buffer: a second part is the same bytes.
  assert.equal([...encode()], [...bytes]);
  assert.throws(() => decodePart(bytes.subarray(0, bytes.length - 1), "node-1.part"), /node-1\.part: /);
  assert.throws(() => decodePart(bytes.subarray(8), "node-1.part"), /node-1\.part: no part header/);
});

const Resume = suite("a job stopped after a checkpoint resumes to the single-node result");

for (const [protocol, nodes] of [["migrate", 2], ["ivy", 3], ["diff", 2], ["lrc", 2], ["hlrc", 3]] as const) {
  Resume(`${protocol} on ${nodes} nodes: jacobi(${ARGS.join(", ")}) stopped after checkpoint 4, resumed`, async () => {
    const j = await jacobiJob(protocol, nodes, `resume-${protocol}`);
    await stopAfter(j, 4);
    const manifest = await new DirectoryStore(j.store, j.job).latest();
    assert.ok(manifest && manifest.checkpoint >= 4, `a committed checkpoint from 4 on, got ${manifest?.checkpoint}`);
    assert.equal(manifest.setting, jobSetting(j.kernel, j.args, nodes, protocol));
    assert.is(manifest.parts.length, nodes);
    const resumed = await resume(j);
    assert.is(resumed.result, await referenceResult(JACOBI, ARGS));
    assert.not.ok(existsSync(join(j.store, j.job)), "a finished job's checkpoints are removed");
  });
}

Resume("checkpoints at every barrier leave the result as it was, on 1 node and on 2", async () => {
  for (const nodes of [1, 2]) {
    const j = { ...(await jacobiJob("hlrc", nodes, `inline-${nodes}`)), args: [256, 6] };
    const result = await runJob(j.kernel, j.args, { nodes, protocol: "hlrc", transport: "local", faultTimeoutMs: 10_000, checkpoints: { store: { kind: "dir", path: j.store }, job: j.job, everyMs: EVERY_BARRIER_MS, resume: false } });
    assert.is(result.result, await referenceResult(JACOBI, j.args), `${nodes} node(s)`);
    // One at each of the kernel's barriers.
    assert.ok(result.stats.barriers >= 7 * nodes, `barriers: ${result.stats.barriers}`);
    assert.is(result.stats.checkpoints, result.stats.barriers);
  }
});

Resume("chaos mode on every node (pages taken and given back at every park) with a checkpoint at every barrier: ivy and lrc give the reference result", async () => {
  for (const protocol of ["ivy", "lrc"]) {
    const j = { ...(await jacobiJob(protocol, 2, `chaos-${protocol}`)), args: [256, 6] };
    const checkpoint = await specs(j, false);
    const result = await runCluster(j.kernel, j.args, { nodes: 2, protocol, faultTimeoutMs: 10_000, syncTimeoutMs: 20_000, checkpoint, chaos: (node) => ({ seed: 7 + node }) });
    assert.is(result.result, await referenceResult(JACOBI, j.args), protocol);
    assert.is(result.stats.checkpoints, result.stats.barriers, protocol);
  }
});

const Refusals = suite("resuming refuses what would give a wrong result");

Refusals("another argument list, node count or protocol is named; a fresh start over a checkpoint and a resume without one are refused", async () => {
  const j = await jacobiJob("ivy", 2, "refusals");
  await rejectsWith(specs(j, true), ResumeError, /job jacobi has no committed checkpoint in .*refusals\/jacobi; start it without --resume/);
  await stopAfter(j, 2);
  await rejectsWith(specs(j, false), ResumeError, /job jacobi already has checkpoint \d+ in .*; continue it with --resume/);
  const refused = async (other: Partial<Job>, pattern: RegExp) =>
    rejectsWith(specs({ ...j, ...other }, true), ResumeError, pattern);
  await refused({ args: [256, 41] }, /the arguments \(-- 256 40; this run: -- 256 41\)/);
  await refused({ nodes: 3 }, /the node count \(--nodes 2; this run: 3\)/);
  await refused({ protocol: "lrc" }, /the protocol \(--protocol ivy; this run: lrc\)/);
  await refused({ kernel: (await kernel("assembly/kernels/sor.ts")).instrumented }, /the kernel \(jacobi\.ts, sha256 [0-9a-f]{12}…; this run: sor\.ts/);
});

Refusals("a job stopped while a node is inside checkpoint 3 (its part's file never opens) resumes from checkpoint 2", async () => {
  const j = await jacobiJob("lrc", 2, "mid-checkpoint");
  // Node 1's part of checkpoint 3 is a named pipe nobody reads: opening it for writing blocks, so
  // node 1 stays inside the checkpoint's steps and node 0 waits at its barrier.
  const third = join(j.store, j.job, "3");
  mkdirSync(third, { recursive: true });
  const fifo = join(third, "node-1.part");
  assert.is(spawnSync("mkfifo", [fifo]).status, 0, "mkfifo");
  const checkpoint = await specs(j, false);
  const stop = new Error("stopped inside checkpoint 3");
  let threads: readonly NodeThread[] = [];
  // The stopped job may have removed checkpoint 3's folder first (once in four runs here): no pipe, nothing to let go.
  const release = () => {
    try {
      closeSync(openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
  };
  const watch = setInterval(() => {
    if (!existsSync(join(third, "node-0.json"))) return;
    clearInterval(watch);
    for (const t of threads) t.abort(stop);
    // Once the nodes are told to stop, let the blocked open go (its write then fails on a pipe
    // without a reader): a worker cannot end while one of its file operations is pending.
    setTimeout(release, 200);
  }, 1);
  try {
    await runCluster(j.kernel, j.args, { nodes: 2, protocol: "lrc", faultTimeoutMs: 10_000, syncTimeoutMs: 20_000, checkpoint, started: (n) => (threads = n) });
    assert.unreachable("the job ended inside checkpoint 3");
  } catch (error) {
    assert.is(error, stop, String(error));
  } finally {
    clearInterval(watch);
  }
  assert.not.ok(existsSync(join(third, "manifest.json")));
  assert.is((await new DirectoryStore(j.store, j.job).latest())!.checkpoint, 2);
  assert.is((await resume(j)).result, await referenceResult(JACOBI, ARGS));
});

Refusals("a damaged part stops the resume naming it; a checkpoint stopped before its manifest is passed over", async () => {
  const j = await jacobiJob("diff", 2, "damaged");
  await stopAfter(j, 3);
  const latest = (await new DirectoryStore(j.store, j.job).latest())!;
  // A later checkpoint that never got its manifest: ignored.
  const partial = join(j.store, j.job, String(latest.checkpoint + 1));
  mkdirSync(partial, { recursive: true });
  writeFileSync(join(partial, "node-0.part"), "half");
  const good = readFileSync(join(j.store, j.job, String(latest.checkpoint), "node-1.part"));
  const bad = Uint8Array.from(good);
  bad[bad.length - 1] ^= 1;
  writeFileSync(join(j.store, j.job, String(latest.checkpoint), "node-1.part"), bad);
  await rejectsWith(resume(j), CheckpointCorruptError, new RegExp(`checkpoint ${latest.checkpoint}: .*node-1\\.part does not match its checksum`));
  writeFileSync(join(j.store, j.job, String(latest.checkpoint), "node-1.part"), good);
  assert.is((await resume(j)).result, await referenceResult(JACOBI, ARGS));
});

const Command = suite("dsm run killed with SIGKILL goes on with --resume");

Command("jacobi on 2 nodes under hlrc: killed after checkpoint 2, resumed from the command line to the same result", async () => {
  const { instrumented } = await kernel(JACOBI);
  const wasm = join(dir, "jacobi.wasm");
  writeFileSync(wasm, instrumented.bytes);
  const store = join(dir, "command");
  const options = [wasm, "--nodes", "2", "--protocol", "hlrc", "--checkpoint-store", store];
  const args = ["384", "1500"];
  const stderr = await runAndKill([...options, "--checkpoint-every", "0.05"], args, 2);
  assert.match(stderr, /dsm run: node 1: checkpoint 1 committed \(\d+ bytes, \d+ ms\)/);
  const run = runToEnd([...options, "--resume"], args);
  assert.is(run.status, 0, run.stderr);
  assert.match(run.stdout, new RegExp(`^result +${String(await referenceResult(JACOBI, [384, 1500])).replace(".", "\\.")}$`, "m"));
  const again = runToEnd([...options, "--resume"], args);
  assert.is(again.status, 1);
  assert.match(again.stderr, /ResumeError: job jacobi has no committed checkpoint in .*command\/jacobi; start it without --resume/);
});

Store.run();
Resume.run();
Refusals.run();
Command.run();
