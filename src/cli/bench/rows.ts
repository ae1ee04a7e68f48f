/**
 * One result row of `dsm bench` per configuration: medians over its repetitions, the speedup over
 * the uninstrumented single node of the same kernel and size, the hardware cap on that speedup and
 * the efficiency against it, and whether every repetition returned the baseline's result exactly.
 *
 * The cap is the speedup this machine leaves N nodes: N uninstrumented copies run at once take
 * longer each than one alone (shared memory bandwidth, caches, turbo, other load), so
 * cap = N × (one alone) / (N at once), N = nodes but at most the cores. Two copies that each take
 * 1.087× as long give 1.84. It is the speedup of perfectly parallel code on this machine (code
 * whose split working set fits a cache better can beat it); efficiency = speedup / cap separates
 * what the DSM loses from what the hardware does. Each repetition times one copy alone right
 * before the N at once, so a slow spell of the machine lands on both sides of the ratio. A kernel
 * of a few milliseconds overlaps the other copies' start-up more than their work, and its cap
 * says little.
 */
import type { KernelLanguage } from "./suite.js";

/** What one repetition of one configuration measured. */
export interface Sample {
  /** Time in `run` on node 0 (or the hand-written baseline's compute and messaging time). */
  ms: number;
  result: number | string | null;
  /** Read plus write faults, all nodes. */
  faults: number;
  messages: number;
  bytes: number;
  /** The protocol's own counters that rows report (see PROTOCOL_COUNTERS), all nodes. */
  counters?: Record<string, number>;
  /** Hardware cap jobs only: one copy's time alone, measured just before the copies at once (`ms`). */
  aloneMs?: number;
}

/** Protocol counters a row carries when the protocol reports them: lrc's and hlrc's intervals, write notices, twins, diffs and (lrc) collections. */
export const PROTOCOL_COUNTERS = ["intervals", "writeNotices", "twins", "diffsCreated", "diffsApplied", "gcRuns"] as const;

export type RowLanguage = KernelLanguage | "JavaScript";

/** Protocol labels of rows that are not a DSM protocol. */
export const BASELINE_PROTOCOL = "none";
export const MESSAGE_PASSING = "mp";
export const SHARED_ARRAY_BUFFER = "sab";
/** Jacobi in C with Open MPI halo exchange, run natively (mpi.ts). */
export const MPI = "mpi";

export interface BenchRow {
  /** The suite name (`jacobi`, `jacobi.c`), or the file name of a kernel given by path. */
  kernel: string;
  /**
   * What the row's code is written in: the kernel's AssemblyScript, C or C++; JavaScript for the
   * mp and sab baselines, C for mpi.
   */
  language: RowLanguage;
  /** tiny, quick or full; `small` for the --quick preset's sizes; `custom` for --args. */
  size: string;
  /** The arguments of `run`. */
  args: number[];
  nodes: number;
  /** migrate, ivy, diff, lrc, hlrc; `none` for the uninstrumented single node; `mp`, `sab` and `mpi` for the Jacobi baselines. */
  protocol: string;
  transport: string;
  /** DSM page size in bytes; null for the hand-written baselines, which have no pages. */
  pageSize: number | null;
  /** Repetitions measured. */
  reps: number;
  /** Median time in `run` on node 0, in milliseconds; null when the configuration failed. */
  kernelMs: number | null;
  /** Every repetition's time, in the order run. */
  samplesMs: number[];
  /** Baseline median over this median; null when either failed. */
  speedup: number | null;
  /**
   * The speedup this machine leaves the row's nodes: N uninstrumented copies at once against one
   * alone, N = nodes (at most the cores); 1 on one node; null when either measurement failed.
   */
  cap: number | null;
  /** Speedup over cap; null when either is. */
  efficiency: number | null;
  /** Median read plus write faults. */
  faults: number;
  /** Median messages sent by all nodes. */
  messages: number;
  /** Median bytes sent by all nodes. */
  bytes: number;
  /** Medians of the protocol's own counters, all nodes; only for protocols that report them (lrc, hlrc). */
  counters?: Record<string, number>;
  /** Node 0's result (the first repetition's). */
  result: number | string | null;
  /** Every repetition returned exactly the baseline's result. */
  correct: boolean;
  /** More nodes than cores: all nodes shared this machine's cores (single-host emulation). */
  emulated: boolean;
  /** Why the configuration failed, or null. */
  error: string | null;
  gitRevision: string;
  /** os.availableParallelism() of the machine that ran it. */
  cores: number;
}

export interface RowConfig {
  kernel: string;
  language: RowLanguage;
  size: string;
  args: number[];
  nodes: number;
  protocol: string;
  transport: string;
  pageSize: number | null;
}

export interface Measured {
  samples: Sample[];
  error?: string;
}

/** The hardware cap's measurement for a row: `copies` uninstrumented single nodes at once. */
export interface CapRun {
  copies: number;
  /** Each sample's ms is the slowest copy's time in `run`, its aloneMs one copy's alone. */
  measured: Measured;
}

export interface Machine {
  gitRevision: string;
  cores: number;
}

/**
 * A configuration's row. `cap` is the measurement of `copies` at once for rows on more than one
 * node and core; without it such a row has no cap. One node, or one core, has a cap of 1.
 */
export function makeRow(config: RowConfig, measured: Measured, baseline: Measured, machine: Machine, cap?: CapRun): BenchRow {
  const { samples } = measured;
  const ok = samples.length > 0 && !measured.error;
  const kernelMs = ok ? median(samples.map((s) => s.ms)) : null;
  const baselineOk = baseline.samples.length > 0 && !baseline.error;
  const baselineMs = baselineOk ? median(baseline.samples.map((s) => s.ms)) : null;
  const expected = baseline.samples[0]?.result;
  const speedup = kernelMs && baselineMs ? baselineMs / kernelMs : null;
  const capValue = Math.min(config.nodes, machine.cores) === 1 ? 1 : cap ? capOf(cap.copies, cap.measured) : null;
  const counted = ok && samples.every((s) => s.counters);
  const counters = counted ? Object.fromEntries(Object.keys(samples[0].counters!).map((k) => [k, median(samples.map((s) => s.counters![k] ?? 0))])) : undefined;
  return {
    ...config,
    reps: samples.length,
    kernelMs,
    samplesMs: samples.map((s) => s.ms),
    speedup,
    cap: capValue,
    efficiency: speedup !== null && capValue ? speedup / capValue : null,
    faults: ok ? median(samples.map((s) => s.faults)) : 0,
    messages: ok ? median(samples.map((s) => s.messages)) : 0,
    bytes: ok ? median(samples.map((s) => s.bytes)) : 0,
    ...(counters ? { counters } : {}),
    result: samples[0]?.result ?? null,
    correct: ok && baselineOk && samples.every((s) => s.result === expected),
    emulated: config.nodes > machine.cores,
    error: measured.error ?? null,
    gitRevision: machine.gitRevision,
    cores: machine.cores,
  };
}

/** The median over repetitions of copies × (one alone) / (copies at once); null when the copies failed. */
export function capOf(copies: number, together: Measured): number | null {
  const paired = together.samples.filter((s) => s.aloneMs !== undefined && s.ms > 0);
  if (together.error || paired.length === 0) return null;
  return median(paired.map((s) => (copies * s.aloneMs!) / s.ms));
}

/** The middle value; the mean of the two middle values for an even count. */
export function median(values: number[]): number {
  if (values.length === 0) throw new RangeError("median of no values");
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}
