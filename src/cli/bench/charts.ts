/**
 * The report's charts, per kernel: speedup against node count (a line per protocol, and the
 * hardware cap), and bytes and messages per protocol at each node count (bars). A protocol run on
 * several transports or page sizes gets a series per combination, named e.g. "ivy (nats, 16K)".
 *
 * Every series of a chart has its own colour. A protocol keeps its hue in every chart; its
 * transports and page sizes are shades of it (and dash patterns, on lines).
 */
import { formatCount, formatPage } from "./format.js";
import { BASELINE_PROTOCOL, SHARED_ARRAY_BUFFER, type BenchRow } from "./rows.js";
import { barChart, lineChart, type LineSeries } from "./svg.js";

export interface ChartFile {
  /** Path inside the report folder, e.g. `charts/jacobi-speedup.svg`. */
  path: string;
  kernel: string;
  title: string;
  svg: string;
}

/** One hue per protocol, none shared, all far from the cap's grey. */
export const PROTOCOL_COLORS: Readonly<Record<string, string>> = {
  migrate: "#e8871e",
  ivy: "#1f77b4",
  diff: "#2ca02c",
  lrc: "#d62728",
  hlrc: "#e377c2",
  mp: "#9467bd",
  sab: "#8c564b",
  mpi: "#17becf",
};
/** Hues for protocols not listed above, in order of appearance; none is a listed protocol's. */
const SPARE_COLORS = ["#bcbd22", "#393b79", "#637939", "#843c39", "#7b4173"];
const CAP_COLOR = "#555555";

export function kernelCharts(rows: BenchRow[]): ChartFile[] {
  const kernels = [...new Set(rows.map((r) => r.kernel))];
  return kernels.flatMap((kernel) => chartsOf(kernel, rows.filter((r) => r.kernel === kernel)));
}

function chartsOf(kernel: string, rows: BenchRow[]): ChartFile[] {
  const measured = rows.filter((r) => r.protocol !== BASELINE_PROTOCOL);
  const nodes = [...new Set(measured.map((r) => r.nodes))].sort((a, b) => a - b);
  const args = rows[0]?.args.join(",") ?? "";
  // The language in every title: a chart is often looked at, or copied, on its own.
  const name = `${kernel} in ${rows[0]?.language ?? "?"} (${args})`;
  const speedupTitle = `${name}: speedup over the uninstrumented single node`;
  const charts: ChartFile[] = [
    {
      path: `charts/${kernel}-speedup.svg`,
      kernel,
      title: speedupTitle,
      svg: lineChart({
        title: speedupTitle,
        xLabel: "nodes",
        yLabel: "speedup (×)",
        categories: nodes.map(String),
        series: [...seriesOf(measured, nodes, (r) => r.speedup), ...capSeries(measured, nodes)],
        reference: 1,
        format: (v) => `${v.toFixed(2)}×`,
      }),
    },
  ];
  // Traffic: rows that send messages; one node sends none, so it is left out when there are more.
  const traffic = measured.filter((r) => r.protocol !== SHARED_ARRAY_BUFFER);
  const trafficNodes = nodes.length > 1 ? nodes.filter((n) => n > 1) : nodes;
  const bytesUnit = binaryUnit(Math.max(0, ...traffic.map((r) => r.bytes)));
  for (const metric of ["bytes", "messages"] as const) {
    const title = `${name}: ${metric} per protocol`;
    const scale = metric === "bytes" ? bytesUnit.size : 1;
    charts.push({
      path: `charts/${kernel}-${metric}.svg`,
      kernel,
      title,
      svg: barChart({
        title,
        xLabel: "nodes",
        yLabel: metric === "bytes" ? `${bytesUnit.name} sent (all nodes)` : "messages sent (all nodes)",
        categories: trafficNodes.map(String),
        series: seriesOf(traffic, trafficNodes, (r) => (r.error ? null : r[metric] / scale)),
        format: (v) => (v < 10_000 ? String(+v.toFixed(2)) : formatCount(v)),
      }),
    });
  }
  return charts;
}

/** The hardware cap at each node count (the same for every row of a kernel and node count), as a dotted line; none when no row has one above 1. */
function capSeries(rows: BenchRow[], nodes: number[]): LineSeries[] {
  const values = nodes.map((n) => rows.find((r) => r.nodes === n && r.cap !== null)?.cap ?? null);
  if (!values.some((v) => v !== null && v !== 1)) return [];
  return [{ name: "hardware cap", color: CAP_COLOR, variant: 2, attrs: { "data-series": "cap" }, values }];
}

/** The binary unit that keeps axis labels short for values up to `max` bytes. */
function binaryUnit(max: number): { name: string; size: number } {
  const units = ["bytes", "KiB", "MiB", "GiB"];
  let k = 0;
  while (k < units.length - 1 && max >= 1024 ** (k + 1)) k++;
  return { name: units[k], size: 1024 ** k };
}

/** One series per (protocol, transport, page size) in `rows`, with a value per node count. */
function seriesOf(rows: BenchRow[], nodes: number[], value: (row: BenchRow) => number | null): LineSeries[] {
  const variants = new Map<string, BenchRow>();
  for (const r of rows) variants.set(variantKey(r), r);
  const protocolOrder = [...new Set(rows.map((r) => r.protocol))];
  const ordered = [...variants.entries()].sort(([, a], [, b]) => protocolOrder.indexOf(a.protocol) - protocolOrder.indexOf(b.protocol));
  const transports = new Set(rows.map((r) => r.transport)).size;
  const pages = new Set(rows.filter((r) => r.pageSize !== null).map((r) => r.pageSize)).size;
  // Same protocol, same hue; its transports and page sizes are shades (and dashes, on lines).
  const seen = new Map<string, number>();
  const spare = protocolOrder.filter((p) => !(p in PROTOCOL_COLORS));
  return ordered.map(([key, r]) => {
    const extra = [transports > 1 ? r.transport : "", pages > 1 && r.pageSize !== null ? formatPage(r.pageSize) : ""].filter(Boolean);
    const variant = seen.get(r.protocol) ?? 0;
    seen.set(r.protocol, variant + 1);
    const hue = PROTOCOL_COLORS[r.protocol] ?? SPARE_COLORS[spare.indexOf(r.protocol) % SPARE_COLORS.length];
    return {
      name: extra.length ? `${r.protocol} (${extra.join(", ")})` : r.protocol,
      color: shade(hue, variant),
      variant,
      attrs: { "data-protocol": r.protocol, "data-transport": r.transport, "data-page-size": String(r.pageSize ?? "none") },
      values: nodes.map((n) => {
        const row = rows.find((x) => variantKey(x) === key && x.nodes === n);
        return row ? value(row) : null;
      }),
    };
  });
}

/**
 * Variant 0 is the hue itself; then alternately darker and lighter, further each time (mixed with
 * black or white by 30 %, 30 %, 55 %, 55 %, 80 %, 80 %), so six variants of one hue (two
 * transports × three page sizes) stay apart.
 */
export function shade(hex: string, variant: number): string {
  if (variant === 0) return hex;
  const step = Math.ceil(variant / 2);
  const amount = Math.min(0.85, 0.05 + 0.25 * step);
  const toward = variant % 2 === 1 ? 0 : 255;
  const channels = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return `#${channels.map((c) => Math.round(c + (toward - c) * amount).toString(16).padStart(2, "0")).join("")}`;
}

function variantKey(r: BenchRow): string {
  return `${r.protocol}|${r.transport}|${r.pageSize}`;
}
