/**
 * The content both report formats share, as plain data: the header line, the per-kernel tables,
 * the per-protocol traffic tables and the "who wins" summary. markdown.ts and html.ts only render it.
 */
import { formatArgs, formatBytes, formatCount, formatEfficiency, formatMs, formatPage, formatSpeedup } from "./format.js";
import type { BenchResult } from "./runner.js";
import { BASELINE_PROTOCOL, MESSAGE_PASSING, MPI, SHARED_ARRAY_BUFFER, type BenchRow } from "./rows.js";
import { benchKernel } from "./suite.js";
import { duration } from "./progress.js";

export interface Table {
  header: string[];
  rows: string[][];
}

export interface KernelSection {
  kernel: string;
  language: string;
  args: string;
  stresses: string;
  table: Table;
}

export interface ProtocolSection {
  protocol: string;
  table: Table;
}

export function headline(result: BenchResult): string {
  const { meta } = result;
  const m = meta.machine;
  return `Run ${meta.startedAt} at revision ${m.gitRevision} on ${m.cores} cores (${m.cpu}, load average ${m.loadAverage} at the start), Node ${m.node}, ${m.platform}; ${meta.plan.reps} repetition(s) per configuration, interleaved, medians; ${duration(meta.durationMs)} in all.`;
}

export function kernelSections(rows: BenchRow[]): KernelSection[] {
  const kernels = [...new Set(rows.map((r) => r.kernel))];
  return kernels.map((kernel) => {
    const own = rows.filter((r) => r.kernel === kernel);
    return {
      kernel,
      language: own[0].language,
      args: formatArgs(own[0].args),
      stresses: benchKernel(kernel)?.stresses ?? "",
      table: {
        header: ["nodes", "protocol", "transport", "page", "ms", "speedup", "cap", "efficiency", "faults", "messages", "bytes", "correct"],
        rows: own.map((r) => [
          `${r.nodes}${r.emulated ? " (emulated)" : ""}`,
          r.protocol,
          r.transport,
          formatPage(r.pageSize),
          formatMs(r.kernelMs),
          formatSpeedup(r.speedup),
          formatSpeedup(r.cap),
          formatEfficiency(r.efficiency),
          formatCount(r.faults),
          formatCount(r.messages),
          formatBytes(r.bytes),
          r.error ? `error: ${r.error}` : r.correct ? "yes" : "NO",
        ]),
      },
    };
  });
}

/** Per protocol that sends messages: its traffic on every kernel and node count above one. */
export function protocolSections(rows: BenchRow[]): ProtocolSection[] {
  const talking = rows.filter((r) => r.protocol !== BASELINE_PROTOCOL && r.protocol !== SHARED_ARRAY_BUFFER && r.nodes > 1);
  const protocols = [...new Set(talking.map((r) => r.protocol))];
  return protocols.map((protocol) => ({
    protocol,
    table: {
      header: ["kernel", "nodes", "transport", "page", "faults", "messages", "bytes", "bytes/message", "ms"],
      rows: talking
        .filter((r) => r.protocol === protocol)
        .map((r) => [
          r.kernel,
          String(r.nodes),
          r.transport,
          formatPage(r.pageSize),
          formatCount(r.faults),
          formatCount(r.messages),
          formatBytes(r.bytes),
          r.messages ? formatBytes(r.bytes / r.messages) : "-",
          formatMs(r.kernelMs),
        ]),
    },
  }));
}

/** Per kernel, transport, page size and node count above one: the fastest DSM protocol and the most frugal. */
export function winners(rows: BenchRow[]): Table {
  const dsm = rows.filter((r) => r.protocol !== BASELINE_PROTOCOL && r.protocol !== SHARED_ARRAY_BUFFER && r.protocol !== MESSAGE_PASSING && r.protocol !== MPI && !r.error && r.nodes > 1);
  const groupOf = (r: BenchRow) => `${r.kernel}|${r.transport}|${r.pageSize}|${r.nodes}`;
  const out: string[][] = [];
  for (const key of new Set(dsm.map(groupOf))) {
    const at = dsm.filter((r) => groupOf(r) === key);
    const best = (score: (r: BenchRow) => number) => at.reduce((a, b) => (score(b) < score(a) ? b : a));
    const fastest = best((r) => r.kernelMs ?? Infinity);
    const fewestBytes = best((r) => r.bytes);
    const fewestMessages = best((r) => r.messages);
    const r0 = at[0];
    out.push([
      r0.kernel,
      `${r0.nodes}${r0.emulated ? " (emulated)" : ""}`,
      r0.transport,
      formatPage(r0.pageSize),
      `${fastest.protocol} (${formatSpeedup(fastest.speedup)})`,
      `${fewestBytes.protocol} (${formatBytes(fewestBytes.bytes)})`,
      `${fewestMessages.protocol} (${formatCount(fewestMessages.messages)})`,
    ]);
  }
  return { header: ["kernel", "nodes", "transport", "page", "fastest", "fewest bytes", "fewest messages"], rows: out };
}
