/**
 * Two hand-written SVG charts, no dependency: a line chart (one polyline and its points per series
 * over categorical x positions) and a grouped bar chart (one bar per series in each group). Every
 * series is one `<g class="series" ...>` carrying the caller's data attributes, so a reader (or a
 * test) finds, say, the ivy series as `g.series[data-protocol="ivy"]`. Output is well-formed XML:
 * all text goes through {@link escapeXml}.
 */

export interface SeriesStyle {
  name: string;
  color: string;
  /** A dash pattern for lines (bars ignore it: their colours tell them apart). @default 0, solid */
  variant?: number;
  /** Extra attributes of the series' `<g>`, e.g. `{ "data-protocol": "ivy" }`. */
  attrs: Record<string, string>;
}

export interface LineSeries extends SeriesStyle {
  /** One y per x category; null leaves a gap. */
  values: (number | null)[];
}

export interface LineChart {
  title: string;
  xLabel: string;
  yLabel: string;
  categories: string[];
  series: LineSeries[];
  /** A dashed horizontal reference line, e.g. 1 for "as fast as the baseline". */
  reference?: number;
  format(value: number): string;
}

export interface BarChart {
  title: string;
  xLabel: string;
  yLabel: string;
  /** Bar groups, left to right. */
  categories: string[];
  /** One value per category; null draws no bar. */
  series: LineSeries[];
  format(value: number): string;
}

const W = 640;
const H = 360;
const M = { left: 76, right: 150, top: 40, bottom: 50 };
const PLOT_W = W - M.left - M.right;
const PLOT_H = H - M.top - M.bottom;

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c]!);
}

export function lineChart(chart: LineChart): string {
  const top = niceMax(Math.max(chart.reference ?? 0, ...chart.series.flatMap((s) => s.values.filter((v): v is number => v !== null))));
  const x = (i: number) => M.left + (chart.categories.length === 1 ? PLOT_W / 2 : (PLOT_W * i) / (chart.categories.length - 1));
  const y = (v: number) => M.top + PLOT_H - (PLOT_H * v) / top;
  const body: string[] = [...frame(chart, top, chart.format), ...chart.categories.map((c, i) => xTick(x(i), c))];
  if (chart.reference !== undefined) {
    body.push(`<line class="reference" x1="${M.left}" x2="${M.left + PLOT_W}" y1="${fix(y(chart.reference))}" y2="${fix(y(chart.reference))}" stroke="#888" stroke-dasharray="4 4"/>`);
  }
  chart.series.forEach((s, k) => {
    const points = s.values.map((v, i) => (v === null ? null : { x: x(i), y: y(v), v }));
    const parts: string[] = [];
    // A null splits the line into runs.
    let run: string[] = [];
    for (const p of [...points, null]) {
      if (p) run.push(`${fix(p.x)},${fix(p.y)}`);
      else if (run.length) {
        if (run.length > 1) parts.push(`<polyline points="${run.join(" ")}" fill="none" stroke="${s.color}" stroke-width="2"${dash(s)}/>`);
        run = [];
      }
    }
    for (const p of points) {
      if (p) parts.push(`<circle cx="${fix(p.x)}" cy="${fix(p.y)}" r="3.5" fill="${s.color}"><title>${escapeXml(`${s.name}: ${chart.format(p.v)}`)}</title></circle>`);
    }
    body.push(group(s, parts), legendEntry(s, k, "line"));
  });
  return svg(chart.title, body);
}

export function barChart(chart: BarChart): string {
  const top = niceMax(Math.max(0, ...chart.series.flatMap((s) => s.values.filter((v): v is number => v !== null))));
  const slot = PLOT_W / Math.max(1, chart.categories.length);
  const barW = (slot * 0.8) / Math.max(1, chart.series.length);
  const y = (v: number) => M.top + PLOT_H - (PLOT_H * v) / top;
  const body: string[] = [...frame(chart, top, chart.format), ...chart.categories.map((c, i) => xTick(M.left + slot * (i + 0.5), c))];
  chart.series.forEach((s, k) => {
    const bars = s.values.flatMap((v, i) => {
      if (v === null) return [];
      const bx = M.left + slot * i + slot * 0.1 + barW * k;
      return [`<rect x="${fix(bx)}" y="${fix(y(v))}" width="${fix(barW)}" height="${fix(M.top + PLOT_H - y(v))}" fill="${s.color}"><title>${escapeXml(`${s.name}, ${chart.categories[i]}: ${chart.format(v)}`)}</title></rect>`];
    });
    body.push(group(s, bars), legendEntry(s, k, "bar"));
  });
  return svg(chart.title, body);
}

function svg(title: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12" role="img">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
    ...body,
    `</svg>`,
    "",
  ].join("\n");
}

/** Axes, horizontal grid lines with y labels, and the axis titles. */
function frame(chart: { xLabel: string; yLabel: string }, top: number, format: (v: number) => string): string[] {
  const out: string[] = [];
  for (let i = 0; i <= 5; i++) {
    const v = (top * i) / 5;
    const py = fix(M.top + PLOT_H - (PLOT_H * i) / 5);
    out.push(`<line x1="${M.left}" x2="${M.left + PLOT_W}" y1="${py}" y2="${py}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${M.left - 6}" y="${py}" text-anchor="end" dominant-baseline="middle">${escapeXml(format(v))}</text>`);
  }
  out.push(`<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${M.top + PLOT_H}" stroke="#333"/>`);
  out.push(`<line x1="${M.left}" x2="${M.left + PLOT_W}" y1="${M.top + PLOT_H}" y2="${M.top + PLOT_H}" stroke="#333"/>`);
  out.push(`<text x="${M.left + PLOT_W / 2}" y="${H - 10}" text-anchor="middle">${escapeXml(chart.xLabel)}</text>`);
  out.push(`<text transform="translate(16 ${M.top + PLOT_H / 2}) rotate(-90)" text-anchor="middle">${escapeXml(chart.yLabel)}</text>`);
  return out;
}

function xTick(px: number, label: string): string {
  return `<text x="${fix(px)}" y="${M.top + PLOT_H + 18}" text-anchor="middle">${escapeXml(label)}</text>`;
}

function group(s: SeriesStyle, children: string[]): string {
  const attrs = Object.entries(s.attrs)
    .map(([k, v]) => ` ${k}="${escapeXml(v)}"`)
    .join("");
  return `<g class="series"${attrs}>\n${children.join("\n")}\n</g>`;
}

function legendEntry(s: SeriesStyle, k: number, kind: "line" | "bar"): string {
  const ly = M.top + 10 + k * 18;
  const lx = M.left + PLOT_W + 12;
  const mark =
    kind === "line"
      ? `<line x1="${lx}" x2="${lx + 18}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2"${dash(s)}/>`
      : `<rect x="${lx + 3}" y="${ly - 6}" width="12" height="12" fill="${s.color}"/>`;
  return `<g class="legend">${mark}<text x="${lx + 24}" y="${ly}" dominant-baseline="middle">${escapeXml(s.name)}</text></g>`;
}

const DASHES = ["", "6 3", "2 2", "8 3 2 3"];

function dash(s: SeriesStyle): string {
  const pattern = DASHES[(s.variant ?? 0) % DASHES.length];
  return pattern ? ` stroke-dasharray="${pattern}"` : "";
}

/** A round upper bound for an axis (its fifths are round too), at least `max`. */
export function niceMax(max: number): number {
  if (!(max > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (step * power >= max) return step * power;
  return 10 * power;
}

function fix(v: number): string {
  return (Math.round(v * 10) / 10).toString();
}
