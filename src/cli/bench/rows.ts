/**
 * One result row of `dsm bench` per configuration: medians over its repetitions, the speedup over
 * the uninstrumented single node of the same kernel and size, and whether every repetition
 * returned the baseline's result exactly.
 */

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
}

/** Protocol counters a row carries when the protocol reports them: lrc's intervals, write notices, twins, diffs and collections. */
export const PROTOCOL_COUNTERS = ["intervals", "writeNotices", "twins", "diffsCreated", "diffsApplied", "gcRuns"] as const;

/** Protocol labels of rows that are not a DSM protocol. */
export const BASELINE_PROTOCOL = "none";
export const MESSAGE_PASSING = "mp";
export const SHARED_ARRAY_BUFFER = "sab";

export interface BenchRow {
  kernel: string;
  /** tiny, quick or full; `small` for the --quick preset's sizes; `custom` for --args. */
  size: string;
  /** The arguments of `run`. */
  args: number[];
  nodes: number;
  /** migrate, ivy, diff, lrc; `none` for the uninstrumented single node; `mp` and `sab` for the Jacobi baselines. */
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
  /** Median read plus write faults. */
  faults: number;
  /** Median messages sent by all nodes. */
  messages: number;
  /** Median bytes sent by all nodes. */
  bytes: number;
  /** Medians of the protocol's own counters, all nodes; only for protocols that report them (lrc). */
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

export interface Machine {
  gitRevision: string;
  cores: number;
}

export function makeRow(config: RowConfig, measured: Measured, baseline: Measured, machine: Machine): BenchRow {
  const { samples } = measured;
  const ok = samples.length > 0 && !measured.error;
  const kernelMs = ok ? median(samples.map((s) => s.ms)) : null;
  const baselineOk = baseline.samples.length > 0 && !baseline.error;
  const baselineMs = baselineOk ? median(baseline.samples.map((s) => s.ms)) : null;
  const expected = baseline.samples[0]?.result;
  const counted = ok && samples.every((s) => s.counters);
  const counters = counted ? Object.fromEntries(Object.keys(samples[0].counters!).map((k) => [k, median(samples.map((s) => s.counters![k] ?? 0))])) : undefined;
  return {
    ...config,
    reps: samples.length,
    kernelMs,
    samplesMs: samples.map((s) => s.ms),
    speedup: kernelMs && baselineMs ? baselineMs / kernelMs : null,
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

/** The middle value; the mean of the two middle values for an even count. */
export function median(values: number[]): number {
  if (values.length === 0) throw new RangeError("median of no values");
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}
