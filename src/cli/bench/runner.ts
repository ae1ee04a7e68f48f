/**
 * Runs a bench plan: builds every (kernel, page size) first, runs a warm-up kernel on each protocol
 * and each single-node job once unmeasured (V8 compiles the protocol code, and a module's hot
 * functions, with its optimising tier during their first runs), then the repetitions interleaved —
 * repetition 1 of every configuration, then repetition 2, ... — so that a slow minute on a shared
 * machine spreads over all configurations instead of landing on one; rows report medians.
 *
 * A configuration that fails (a timeout, a wrong allocation) is reported as a failed row with its
 * error and not run again; the others go on.
 */
import { startNatsServer, type NatsServer } from "../../transport/nats_server.js";
import { BaselinesMissingError, loadJacobiBaselines, type JacobiBaselines } from "./baselines.js";
import { KernelBuilds, type BuiltKernel } from "./build_cache.js";
import { baselinesKernel, benchConfigs, protocolWarmUps, warmUpNodes, type BenchJob } from "./jobs.js";
import { machineInfo, type MachineInfo } from "./machine.js";
import { loadMpiJacobi, MPI_CFLAGS, MpiMissingError, type MpiJacobi } from "./mpi.js";
import type { BenchPlan } from "./plan.js";
import { duration, SILENT_PROGRESS, type Progress } from "./progress.js";
import { makeRow, type BenchRow, type Measured } from "./rows.js";
import { WARM_UP_KERNEL, type BenchKernel } from "./suite.js";
import { WARM_UP_BOUNDS, warmFor } from "./warm_up.js";
import { holdHelpers } from "../../runtime/worker_pool.js";

export interface BenchMeta {
  startedAt: string;
  durationMs: number;
  machine: MachineInfo;
  plan: {
    kernels: string[];
    size: string;
    protocols: string[];
    nodes: number[];
    transports: string[];
    pageSizes: number[];
    reps: number;
    baselines: boolean;
  };
  /** How to read the rows, and anything left out. */
  notes: string[];
}

export interface BenchResult {
  meta: BenchMeta;
  rows: BenchRow[];
}

export interface BenchRunOptions {
  /** @default silent */
  progress?: Progress;
}

/** Builds at once: one per core, at most two (each build worker loads the compiler and Binaryen). */
const MAX_BUILDS_AT_ONCE = 2;

export async function runBench(plan: BenchPlan, options: BenchRunOptions = {}): Promise<BenchResult> {
  const progress = options.progress ?? SILENT_PROGRESS;
  const started = new Date();
  const t0 = performance.now();
  const machine = machineInfo();
  const notes = planNotes(plan, machine.cores);
  const warmsProtocols = protocolsWarmed(plan);
  const built = await buildAll(plan, Math.max(1, Math.min(MAX_BUILDS_AT_ONCE, machine.cores)), progress, warmsProtocols);
  let server: NatsServer | undefined;
  try {
    const natsServers = plan.transports.includes("nats") ? (plan.nats.length ? plan.nats : [(server = await startNatsServer()).url]) : [];
    let baselines: JacobiBaselines | undefined;
    if (plan.baselines && baselinesKernel(plan)) {
      try {
        baselines = await loadJacobiBaselines();
        notes.push("mp and sab rows are hand-written Jacobi in JavaScript (not Wasm): mp runs every node in this process, taking turns on one thread; sab runs one worker thread per node");
      } catch (error) {
        if (!(error instanceof BaselinesMissingError)) throw error;
        notes.push(`no mp or sab rows: ${error.message}`);
      }
    }
    let mpi: MpiJacobi | undefined;
    if (plan.baselines && baselinesKernel(plan)) {
      progress.begin("mpi", 1);
      progress.start("build bench/baselines/jacobi_mpi.c");
      try {
        mpi = await loadMpiJacobi();
        notes.push(`mpi rows are Jacobi in C with Open MPI halo exchange (bench/baselines/jacobi_mpi.c, mpicc ${MPI_CFLAGS.join(" ")}), run natively by mpirun, one process per rank, outside Wasm and without checks: the program a user would write instead of a DSM kernel`);
        progress.finish("build bench/baselines/jacobi_mpi.c", "ready");
      } catch (error) {
        if (!(error instanceof MpiMissingError)) throw error;
        notes.push(`no mpi rows: ${error.message}`);
        progress.finish("build bench/baselines/jacobi_mpi.c", `skipped: ${error.message}`);
      }
      progress.end();
    }
    const configs = benchConfigs({ plan, natsServers, baselines, mpi, cores: machine.cores, built: (k, pageSize) => built.get(buildKey(k, pageSize))! });
    const jobs = [...new Map(configs.flatMap((c) => (c.cap ? [c.job, c.cap.job] : [c.job])).map((j) => [j.key, j])).values()];
    const warmUpBuild = built.get(buildKey(WARM_UP_KERNEL, plan.pageSizes[0]!));
    const warmUps = warmUpBuild ? protocolWarmUps(plan, warmUpBuild, plan.pageSizes[0]!) : [];
    const measured = await measure(jobs, plan.reps, progress, warmUps);
    const rows = configs.map((c) => {
      const { job, baselineKey, cap, ...config } = c;
      const capRun = cap ? { copies: cap.copies, measured: measured.get(cap.job.key)! } : undefined;
      return makeRow(config, measured.get(job.key)!, measured.get(baselineKey)!, machine, capRun);
    });
    return {
      meta: {
        startedAt: started.toISOString(),
        durationMs: performance.now() - t0,
        machine,
        plan: {
          kernels: plan.kernels.map((k) => k.name),
          size: plan.size,
          protocols: plan.protocols,
          nodes: plan.nodes,
          transports: plan.transports,
          pageSizes: plan.pageSizes,
          reps: plan.reps,
          baselines: plan.baselines,
        },
        notes,
      },
      rows,
    };
  } finally {
    await server?.stop();
  }
}

function buildKey(kernel: BenchKernel, pageSize: number): string {
  return `${kernel.name}|${pageSize}`;
}

async function buildAll(plan: BenchPlan, concurrency: number, progress: Progress, warmsProtocols: boolean): Promise<Map<string, BuiltKernel>> {
  const builds = new KernelBuilds(plan.cache);
  const todo = plan.kernels.flatMap((kernel) => plan.pageSizes.map((pageSize) => ({ kernel, pageSize })));
  // The protocol code is the same at every page size: one build of the warm-up kernel warms it.
  if (warmsProtocols) todo.push({ kernel: WARM_UP_KERNEL, pageSize: plan.pageSizes[0]! });
  const done = new Map<string, BuiltKernel>();
  progress.begin("build", todo.length);
  let next = 0;
  const worker = async () => {
    while (next < todo.length) {
      const { kernel, pageSize } = todo[next++];
      const label = `${kernel.name} (${pageSize / 1024}K pages)`;
      const t = performance.now();
      progress.start(label);
      const result = await builds.build(kernel, { pageSize, ...(plan.sharedSize ? { regionBytes: plan.sharedSize } : {}) });
      done.set(buildKey(kernel, pageSize), result);
      progress.finish(label, result.cached ? "cached" : duration(performance.now() - t));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, todo.length) }, worker));
  progress.end();
  return done;
}

/**
 * `warmUps`: jobs that only warm up, run first. V8's helper threads stay at full priority until
 * every warm-up has run, so that they compile the protocol code now rather than during the
 * measured repetitions, and go below the kernels after (worker_pool.ts holdHelpers).
 */
async function measure(jobs: BenchJob[], reps: number, progress: Progress, warmUps: BenchJob[]): Promise<Map<string, Measured>> {
  const measured = new Map<string, Measured>(jobs.map((j) => [j.key, { samples: [] }]));
  const warm = [...warmUps, ...jobs.filter((j) => j.warmUp)];
  progress.begin("warm-up", warm.length);
  const release = holdHelpers();
  try {
    for (const job of warm) {
      progress.start(job.label);
      try {
        progress.finish(job.label, await warmUp(job));
      } catch (error) {
        // Measured again below, where a failure is recorded.
        progress.finish(job.label, `failed: ${(error as Error).message}`);
      }
    }
  } finally {
    release();
  }
  progress.end();
  progress.begin("run", jobs.length * reps);
  for (let rep = 1; rep <= reps; rep++) {
    for (const job of jobs) {
      const m = measured.get(job.key)!;
      const label = `${job.label}${reps > 1 ? ` rep ${rep}/${reps}` : ""}`;
      if (m.error) {
        progress.finish(label, "skipped (failed before)");
        continue;
      }
      progress.start(label);
      try {
        const sample = await job.run();
        m.samples.push(sample);
        progress.finish(label, `${sample.ms.toFixed(1)} ms`);
      } catch (error) {
        const e = error as Error;
        m.error = `${e.name && e.name !== "Error" ? `${e.name}: ` : ""}${e.message}`;
        progress.finish(label, `failed: ${m.error}`);
      }
    }
  }
  progress.end();
  return measured;
}

/** Runs a warm-up job (again and again for one with `repeat`); returns its progress line. */
async function warmUp(job: BenchJob): Promise<string> {
  if (!job.repeat) return `${(await job.run()).ms.toFixed(1)} ms (not counted)`;
  const outcome = await warmFor(() => job.run(), () => performance.now(), job.repeat);
  return `${outcome.last.ms.toFixed(1)} ms, the last of ${outcome.runs} runs in ${duration(outcome.ms)} (not counted)`;
}

/** Whether the plan runs protocol code, warmed up first (no protocol runs on one node). */
function protocolsWarmed(plan: BenchPlan): boolean {
  return plan.protocols.length > 0 && Math.max(...plan.nodes) > 1;
}

/** The report's notes that follow from the plan alone, on a machine of `cores` cores. */
export function planNotes(plan: BenchPlan, cores: number): string[] {
  const notes = [
    "speedup = median time of the uninstrumented build on one node (protocol none) / median time of the row; both measured in this run",
    `cap = N uninstrumented copies run at once against one alone (N × time alone / time at once; N = the row's nodes, at most the ${cores} cores here), the speedup this machine's hardware leaves N nodes, and efficiency = speedup / cap, the share of it the row reached`,
    "one node on the local transport runs without a protocol, so its rows are one measurement reported under every protocol",
    "every single-node job ran once unmeasured before the repetitions (warm-up)",
    `emulated: more nodes than the ${cores} cores of this machine, all on one host (single-host emulation)`,
  ];
  if (protocolsWarmed(plan)) {
    notes.push(
      `before anything was measured, each protocol ran a warm-up kernel on ${warmUpNodes(plan)} nodes (faults, locks, barriers; not counted)${plan.size === "tiny" ? "" : `, again and again for ${WARM_UP_BOUNDS.ms / 1000} s, with V8's compiler threads at full priority until every warm-up had run and below the kernels after`}: V8 compiles the protocol code, which runs in the kernels' threads, on those threads and runs it slower until then; a single dsm run pays that once, and a process whose compiler threads sit below its kernels from the start takes ~40 jobs (~6 s) of Jacobi 1024×100 to finish it (2 nodes, ivy, on 2 vCPUs: ~160 ms in a fresh process, 108-116 ms after one warm-up kernel, 91-102 ms once compiled)`,
    );
    // The warm-up runs in this process; a nats row's nodes are processes of their own.
    if (plan.transports.includes("nats")) {
      notes.push("nats rows run one new process per node for every repetition, as dsm run --transport nats does, so they pay that compilation (and the NATS client's) in every repetition; the warm-up above does not reach them");
    }
  }
  return notes;
}
