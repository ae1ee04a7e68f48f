/**
 * `dsm bench` charts: one colour per series, over protocols, transports and page sizes.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { kernelCharts, PROTOCOL_COLORS, shade } from "../src/cli/bench/charts.js";
import { makeRow, type BenchRow, type Measured, type Sample } from "../src/cli/bench/rows.js";

const sample = (ms: number): Sample => ({ ms, result: 7, faults: 0, messages: 0, bytes: 0 });
const twoCores = { gitRevision: "abc1234", cores: 2 };
const baseline: Measured = { samples: [sample(100)] };
const capRun = { copies: 2, measured: { samples: [{ ...sample(125), aloneMs: 100 }] } };

const Colors = suite("chart colours");

/** Every series' colour in an SVG chart: the first stroke or fill inside each series group. */
function seriesColors(svg: string): string[] {
  return [...svg.matchAll(/<g class="series"[^>]*>([\s\S]*?)<\/g>/g)].map((m) => /(?:stroke|fill)="(#[0-9a-f]{6})"/.exec(m[1])![1]);
}

function row(protocol: string, transport: string, pageSize: number | null, nodes: number): BenchRow {
  const r = makeRow({ kernel: "k", language: "AssemblyScript" as const, size: "tiny", args: [1], nodes, protocol, transport, pageSize }, { samples: [sample(50)] }, baseline, twoCores, capRun);
  return { ...r, messages: 10, bytes: 1000 };
}

Colors("no two protocols share a colour, and lrc is not sab's", () => {
  const colors = Object.values(PROTOCOL_COLORS);
  assert.is(new Set(colors).size, colors.length);
  assert.is.not(PROTOCOL_COLORS.lrc, PROTOCOL_COLORS.sab);
});

Colors("shades of one hue differ from each other and from every protocol's hue", () => {
  const shades = [0, 1, 2, 3, 4, 5].map((v) => shade("#1f77b4", v));
  assert.equal(shades.slice(0, 3), ["#1f77b4", "#16537e", "#62a0cb"]);
  const all = Object.values(PROTOCOL_COLORS).flatMap((hue) => [0, 1, 2, 3, 4, 5].map((v) => shade(hue, v)));
  assert.is(new Set(all).size, all.length);
});

Colors("every series of every chart has its own colour, over protocols, transports and page sizes", () => {
  const rows: BenchRow[] = [];
  for (const nodes of [1, 2, 4]) {
    for (const transport of ["local", "nats"]) {
      for (const pageSize of [4096, 16384]) {
        for (const protocol of ["migrate", "ivy", "diff", "lrc", "hlrc", "mesi"]) rows.push(row(protocol, transport, pageSize, nodes));
      }
      rows.push(row("mp", transport, null, nodes));
    }
    rows.push(row("sab", "local", null, nodes));
  }
  const charts = kernelCharts(rows);
  assert.equal(charts.map((c) => c.path), ["charts/k-speedup.svg", "charts/k-bytes.svg", "charts/k-messages.svg"]);
  for (const chart of charts) {
    const colors = seriesColors(chart.svg);
    // 6 protocols × 2 transports × 2 page sizes, mp on 2 transports, sab (not in traffic charts), the cap (speedup only).
    assert.is(colors.length, chart.path.endsWith("speedup.svg") ? 24 + 2 + 1 + 1 : 24 + 2, chart.path);
    assert.is(new Set(colors).size, colors.length, `${chart.path}: ${colors.join(" ")}`);
  }
});

Colors.run();
