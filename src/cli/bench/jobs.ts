/**
 * The configurations of one bench run and the job that measures each. Per kernel: the
 * uninstrumented single node (the baseline every speedup is against), then every transport ×
 * page size × node count × protocol on DSM, then, for jacobi, the hand-written baselines. Rows on
 * more than one node also carry the job that measures their hardware cap: min(nodes, cores)
 * copies of the baseline at once (rows.ts), one job per kernel and copy count.
 *
 * One node on the local transport runs without a protocol (there is nobody to be coherent with),
 * so its configurations share one job: it is measured once and reported under every protocol.
 */
import { parseRunArguments, type KernelModule, type RunArgument } from "../../runtime/kernel_module.js";
import { LocalNetwork } from "../../transport/local_transport.js";
import { NatsTransport } from "../../transport/nats_transport.js";
import type { Transport } from "../../transport/transport.js";
import { newJobName } from "../../cluster/job_id.js";
import { UsageError } from "../options.js";
import { runJob } from "../../cluster/run_job.js";
import type { JacobiBaselines } from "./baselines.js";
import type { MpiJacobi } from "./mpi.js";
import type { BuiltKernel } from "./build_cache.js";
import { argsFor, presetArgs, type BenchPlan } from "./plan.js";
import { BASELINE_PROTOCOL, MESSAGE_PASSING, MPI, PROTOCOL_COUNTERS, SHARED_ARRAY_BUFFER, type RowConfig, type Sample } from "./rows.js";
import { WARM_UP_KERNEL, warmUpResult, type BenchKernel } from "./suite.js";
import { WARM_UP_BOUNDS, type WarmUpBounds } from "./warm_up.js";

export interface BenchJob {
  /** Equal keys measure the same thing; the job runs once per repetition for all of them. */
  key: string;
  /** For progress lines. */
  label: string;
  /** Run once, unmeasured, before the repetitions: warms V8's code for the module. */
  warmUp: boolean;
  /** A warm-up that runs again and again within these bounds (warm_up.ts); absent: once. */
  repeat?: WarmUpBounds;
  run(): Promise<Sample>;
}

export interface BenchConfig extends RowConfig {
  job: BenchJob;
  /** Key of the job this configuration's speedup and correctness are measured against. */
  baselineKey: string;
  /** The job measuring the hardware cap on this configuration's speedup; none on one node. */
  cap?: { copies: number; job: BenchJob };
}

export interface JobContext {
  plan: BenchPlan;
  /** The build of (kernel, page size). */
  built(kernel: BenchKernel, pageSize: number): BuiltKernel;
  /** nats server URLs when the nats transport is selected. */
  natsServers: string[];
  /** Loaded when jacobi and baselines are selected. */
  baselines?: JacobiBaselines;
  /** Built when jacobi and baselines are selected and Open MPI is installed (mpi.ts). */
  mpi?: MpiJacobi;
  /** Cores of this machine: the most copies a cap job runs at once. */
  cores: number;
}

export function sizeLabel(plan: BenchPlan, kernel: BenchKernel): string {
  if (plan.args) return "custom";
  if (presetArgs(plan, kernel)) return "small";
  return plan.size;
}

export function benchConfigs(ctx: JobContext): BenchConfig[] {
  const { plan } = ctx;
  const configs: BenchConfig[] = [];
  for (const kernel of plan.kernels) {
    const args = argsFor(plan, kernel);
    const base = { kernel: kernel.name, language: kernel.language, size: sizeLabel(plan, kernel), args };
    const reference = ctx.built(kernel, plan.pageSizes[0]).reference;
    const baselineJob = dsmJob(ctx, reference, args, `${kernel.name}|baseline`, `${kernel.name} uninstrumented`, 1, BASELINE_PROTOCOL, "local");
    const baselineKey = baselineJob.key;
    configs.push({ ...base, nodes: 1, protocol: BASELINE_PROTOCOL, transport: "local", pageSize: plan.pageSizes[0], job: baselineJob, baselineKey });
    const capJobs = new Map<number, BenchJob>();
    const capFor = (nodes: number): BenchConfig["cap"] => {
      const copies = Math.min(nodes, ctx.cores);
      // One copy at a time is the baseline itself: the cap is 1 (rows.ts).
      if (copies === 1) return undefined;
      if (!capJobs.has(copies)) capJobs.set(copies, capJob(ctx, reference, args, kernel.name, copies));
      return { copies, job: capJobs.get(copies)! };
    };
    for (const transport of plan.transports) {
      for (const pageSize of plan.pageSizes) {
        const module = ctx.built(kernel, pageSize).instrumented;
        for (const nodes of plan.nodes) {
          for (const protocol of plan.protocols) {
            const solo = nodes === 1 && transport === "local";
            const key = `${kernel.name}|${transport}|${pageSize}|${nodes}|${solo ? "solo" : protocol}`;
            const label = `${kernel.name} ${nodes} node${nodes > 1 ? "s" : ""} ${solo ? "(no protocol)" : protocol} ${transport} ${pageSize / 1024}K`;
            const job = dsmJob(ctx, module, args, key, label, nodes, protocol, transport);
            configs.push({ ...base, nodes, protocol, transport, pageSize, job, baselineKey, cap: capFor(nodes) });
          }
        }
      }
    }
    if (kernel === baselinesKernel(plan) && ctx.baselines) configs.push(...jacobiBaselines(ctx, ctx.baselines, base, baselineKey, capFor));
  }
  return configs;
}

/**
 * The kernel whose rows the hand-written Jacobi baselines (mp, sab, mpi) join: the first Jacobi
 * of the plan, in AssemblyScript or C (both give the baselines' checksum); none without one.
 */
export function baselinesKernel(plan: BenchPlan): BenchKernel | undefined {
  return plan.kernels.find((k) => k.name === "jacobi" || k.twin === "jacobi");
}

function dsmJob(ctx: JobContext, module: KernelModule, args: number[], key: string, label: string, nodes: number, protocol: string, transport: string): BenchJob {
  const typed = runArguments(module, args);
  return {
    key,
    label,
    // One node is cheap and touches the same code as more nodes.
    warmUp: nodes === 1 && transport === "local",
    run: async () => {
      return sampleOf(await runOne(ctx, module, typed, nodes, protocol, transport));
    },
  };
}

/** A DSM job's sample: its time, result, faults and traffic, and the protocol counters it reports. */
function sampleOf(job: Awaited<ReturnType<typeof runJob>>): Sample {
  const s = job.stats;
  const reported = PROTOCOL_COUNTERS.filter((k) => typeof s[k] === "number");
  const counters = reported.length > 0 ? Object.fromEntries(reported.map((k) => [k, s[k]])) : undefined;
  return { ms: job.kernelMs, result: job.result, faults: s.readFaults + s.writeFaults, messages: s.messages, bytes: s.bytes, ...(counters ? { counters } : {}) };
}

/**
 * One uninstrumented single node of `module` alone, then `copies` at once, each on its own worker
 * thread. The sample's time is the slowest copy's: the copies' work is done when it is, as a DSM
 * run's is when its slowest node reaches the final barrier. The copies start within a few
 * milliseconds of each other (the module is compiled already), so they overlap almost entirely.
 */
function capJob(ctx: JobContext, module: KernelModule, args: number[], kernel: string, copies: number): BenchJob {
  const typed = runArguments(module, args);
  return {
    key: `${kernel}|cap|${copies}`,
    label: `${kernel} 1 and ${copies} uninstrumented copies at once (hardware cap)`,
    // The baseline job runs the same module alone and is warmed up.
    warmUp: false,
    run: async () => {
      const alone = await runOne(ctx, module, typed, 1, BASELINE_PROTOCOL, "local");
      const jobs = await Promise.all(Array.from({ length: copies }, () => runOne(ctx, module, typed, 1, BASELINE_PROTOCOL, "local")));
      const odd = jobs.find((j) => j.result !== alone.result);
      if (odd) throw new Error(`copies at once disagree: ${alone.result} and ${odd.result}`);
      return { ms: Math.max(...jobs.map((j) => j.kernelMs)), aloneMs: alone.kernelMs, result: alone.result, faults: 0, messages: 0, bytes: 0 };
    },
  };
}

function runOne(ctx: JobContext, module: KernelModule, args: RunArgument[], nodes: number, protocol: string, transport: string): ReturnType<typeof runJob> {
  return runJob(module, args, {
    nodes,
    protocol,
    transport,
    nats: transport === "nats" ? ctx.natsServers : undefined,
    faultTimeoutMs: ctx.plan.faultTimeoutMs,
    syncTimeoutMs: ctx.plan.syncTimeoutMs,
  });
}

function jacobiBaselines(
  ctx: JobContext,
  baselines: JacobiBaselines,
  base: Pick<RowConfig, "kernel" | "language" | "size" | "args">,
  baselineKey: string,
  capFor: (nodes: number) => BenchConfig["cap"],
): BenchConfig[] {
  const [n, iters] = base.args;
  const timeoutMs = ctx.plan.faultTimeoutMs;
  const configs: BenchConfig[] = [];
  for (const transport of ctx.plan.transports) {
    for (const nodes of ctx.plan.nodes) {
      const job: BenchJob = {
        key: `jacobi|mp|${transport}|${nodes}`,
        label: `jacobi ${nodes} node${nodes > 1 ? "s" : ""} message passing ${transport}`,
        warmUp: nodes === ctx.plan.nodes[0] && transport === "local",
        run: () =>
          withTransports(ctx, transport, nodes, async (transports) => {
            const run = await baselines.runMpJacobi(transports, n, iters, { timeoutMs });
            return { ms: run.ms, result: run.result, faults: 0, messages: run.messages, bytes: run.bytes };
          }),
      };
      configs.push({ ...base, language: "JavaScript", nodes, protocol: MESSAGE_PASSING, transport, pageSize: null, job, baselineKey, cap: capFor(nodes) });
    }
  }
  for (const nodes of ctx.plan.nodes) {
    const job: BenchJob = {
      key: `jacobi|sab|${nodes}`,
      label: `jacobi ${nodes} worker${nodes > 1 ? "s" : ""} SharedArrayBuffer`,
      // Every run starts fresh worker isolates, so there is nothing to warm.
      warmUp: false,
      run: async () => {
        const run = await baselines.runSabJacobi(nodes, n, iters, { timeoutMs });
        return { ms: run.ms, result: run.result, faults: 0, messages: 0, bytes: 0 };
      },
    };
    configs.push({ ...base, language: "JavaScript", nodes, protocol: SHARED_ARRAY_BUFFER, transport: "local", pageSize: null, job, baselineKey, cap: capFor(nodes) });
  }
  const mpi = ctx.mpi;
  if (mpi) {
    for (const nodes of ctx.plan.nodes) {
      const job: BenchJob = {
        key: `jacobi|mpi|${nodes}`,
        label: `jacobi ${nodes} rank${nodes > 1 ? "s" : ""} Open MPI (native C)`,
        // Native code: nothing to warm.
        warmUp: false,
        run: async () => {
          const run = await mpi.run(nodes, n, iters, timeoutMs);
          return { ms: run.ms, result: run.result, faults: 0, messages: run.messages, bytes: run.bytes };
        },
      };
      configs.push({ ...base, language: "C", nodes, protocol: MPI, transport: "local", pageSize: null, job, baselineKey, cap: capFor(nodes) });
    }
  }
  return configs;
}

/**
 * Node counts the protocol warm-up runs on: the plan's largest, within [2, 4]. The node workers of
 * a process are kept between jobs (runtime/worker_pool.ts) and V8 compiles each one's code on its
 * own, so warming that many workers warms every 2-node job and most of the larger ones.
 */
export function warmUpNodes(plan: BenchPlan): number {
  return Math.max(2, Math.min(4, Math.max(...plan.nodes)));
}

/**
 * One job per protocol of the plan, run before anything is measured: WARM_UP_KERNEL on
 * warmUpNodes() nodes of the local transport. The protocols run in JavaScript in the kernels'
 * threads, and V8 compiles their hot code with its optimising tier on background threads, running
 * it slower until then; at quick and full sizes each warm-up runs again and again for ~2 s
 * (warm_up.ts), with those threads at full priority meanwhile (runner.ts holds them), so that
 * measured rows show the protocols, not that one-time cost of a process; the report's notes say it
 * was paid beforehand. At the tiny size (tests) it runs once.
 */
export function protocolWarmUps(plan: BenchPlan, built: BuiltKernel, pageSize: number): BenchJob[] {
  const nodes = warmUpNodes(plan);
  const [pages, rounds] = plan.size === "tiny" ? WARM_UP_KERNEL.tiny : WARM_UP_KERNEL.quick;
  const args = runArguments(built.instrumented, [pages, rounds, pageSize]);
  const expected = warmUpResult(pages, rounds, nodes);
  return plan.protocols.map((protocol) => ({
    key: `warmup|${protocol}|${nodes}`,
    label: `${protocol} protocol code, ${nodes} nodes`,
    warmUp: true,
    ...(plan.size === "tiny" ? {} : { repeat: WARM_UP_BOUNDS }),
    run: async () => {
      const job = await runJob(built.instrumented, args, { nodes, protocol, transport: "local", faultTimeoutMs: plan.faultTimeoutMs, syncTimeoutMs: plan.syncTimeoutMs });
      if (job.result !== expected) throw new Error(`warm-up kernel returned ${String(job.result)}, expected ${expected}`);
      return sampleOf(job);
    },
  }));
}

/** `args` as `run`'s parameter types (i64 as BigInt); a wrong count or value is a usage error. */
function runArguments(module: KernelModule, args: number[]): RunArgument[] {
  const params = module.meta.run.params;
  if (args.length !== params.length) {
    throw new UsageError(`--args "${args.join(",")}": ${module.meta.kernel} has run(${params.join(", ")}), ${params.length} argument(s); got ${args.length}`);
  }
  try {
    return parseRunArguments(module.meta, args.map(String));
  } catch (error) {
    throw new UsageError(`--args "${args.join(",")}": ${module.meta.kernel}: ${(error as Error).message}`);
  }
}

/** Runs `work` on `nodes` fresh transports of a new job, closing them afterwards. */
async function withTransports<T>(ctx: JobContext, transport: string, nodes: number, work: (transports: Transport[]) => Promise<T>): Promise<T> {
  if (transport === "local") {
    const network = new LocalNetwork(nodes);
    try {
      return await work(Array.from({ length: nodes }, (_, id) => network.transport(id)));
    } finally {
      await network.close();
    }
  }
  const job = newJobName();
  const transports = await Promise.all(
    Array.from({ length: nodes }, (_, nodeId) => NatsTransport.connect({ servers: ctx.natsServers, job, nodeId, nodeCount: nodes })),
  );
  try {
    return await work(transports);
  } finally {
    await Promise.all(transports.map((t) => t.close().catch(() => undefined)));
  }
}
