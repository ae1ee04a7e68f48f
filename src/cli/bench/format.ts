/**
 * Number formats shared by the terminal table, the Markdown report and the charts, and the
 * terminal table itself: one block per kernel, columns aligned.
 */
import type { BenchRow } from "./rows.js";

export function formatMs(ms: number | null): string {
  if (ms === null) return "failed";
  return ms >= 100 ? ms.toFixed(0) : ms.toFixed(1);
}

export function formatSpeedup(speedup: number | null): string {
  return speedup === null ? "-" : `${speedup.toFixed(2)}×`;
}

/** Efficiency as a percentage: `87 %`, `4.2 %`, or `-` when unknown. */
export function formatEfficiency(efficiency: number | null): string {
  if (efficiency === null) return "-";
  const percent = efficiency * 100;
  return `${percent < 10 ? percent.toFixed(1) : percent.toFixed(0)} %`;
}

/** Bytes in binary units: `812 B`, `14.0 KiB`, `3.2 MiB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

/** `4K`, `64K`, or `-` for rows without pages. */
export function formatPage(pageSize: number | null): string {
  return pageSize === null ? "-" : pageSize % 1024 === 0 ? `${pageSize / 1024}K` : String(pageSize);
}

export function formatArgs(args: number[]): string {
  return args.join(",");
}

/** Counts: `950`, `12.3k`, `4.1M`. */
export function formatCount(n: number): string {
  if (n < 10_000) return String(Math.round(n));
  if (n < 1e6) return `${(n / 1000).toFixed(1)}k`;
  return `${(n / 1e6).toFixed(1)}M`;
}

export const TABLE_HEADER = ["kernel", "language", "args", "nodes", "protocol", "transport", "page", "ms", "speedup", "cap", "efficiency", "faults", "messages", "bytes", "correct"];

/** One row's cells in {@link TABLE_HEADER} order; `*` marks single-host emulation. */
export function tableCells(row: BenchRow): string[] {
  return [
    row.kernel,
    row.language,
    formatArgs(row.args),
    `${row.nodes}${row.emulated ? "*" : ""}`,
    row.protocol,
    row.transport,
    formatPage(row.pageSize),
    formatMs(row.kernelMs),
    formatSpeedup(row.speedup),
    formatSpeedup(row.cap),
    formatEfficiency(row.efficiency),
    formatCount(row.faults),
    formatCount(row.messages),
    formatBytes(row.bytes),
    row.error ? "error" : row.correct ? "yes" : "NO",
  ];
}

const RIGHT_ALIGNED = new Set(["nodes", "ms", "speedup", "cap", "efficiency", "faults", "messages", "bytes"]);

/** The terminal table: aligned columns, a blank line between kernels, footnotes for * and errors. */
export function formatTable(rows: BenchRow[], cores: number): string {
  const cells = rows.map(tableCells);
  const widths = TABLE_HEADER.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((v, i) => (RIGHT_ALIGNED.has(TABLE_HEADER[i]) ? v.padStart(widths[i]) : v.padEnd(widths[i]))).join("  ").trimEnd();
  const out = [line(TABLE_HEADER)];
  rows.forEach((row, i) => {
    if (i > 0 && rows[i - 1].kernel !== row.kernel) out.push("");
    out.push(line(cells[i]));
  });
  if (rows.some((r) => r.emulated)) out.push("", `* more nodes than the ${cores} cores here: single-host emulation`);
  for (const row of rows.filter((r) => r.error)) out.push(`error: ${row.kernel} ${row.nodes} node(s) ${row.protocol} ${row.transport}: ${row.error}`);
  return out.join("\n");
}
