/**
 * index.html: the same content as report.md, with the SVG charts inlined, so the one file shows
 * everything when opened from disk.
 */
import type { ChartFile } from "./charts.js";
import type { BenchResult } from "./runner.js";
import { escapeXml } from "./svg.js";
import { headline, kernelSections, protocolSections, winners, type Table } from "./summary.js";

const STYLE = `body{font-family:sans-serif;margin:2em;max-width:1400px;color:#222}
table{border-collapse:collapse;margin:.5em 0 1em}th,td{border:1px solid #ccc;padding:.2em .6em;text-align:right}
th{background:#f3f3f3}td:nth-child(-n+4){text-align:left}.charts{display:flex;flex-wrap:wrap;gap:1em}.charts figure{margin:0}
.bad{color:#b00;font-weight:bold}`;

export function reportHtml(result: BenchResult, charts: ChartFile[]): string {
  const out = [
    "<!DOCTYPE html>",
    `<html lang="en"><head><meta charset="utf-8"><title>wasm-dsm bench report</title><style>${STYLE}</style></head><body>`,
    "<h1>wasm-dsm bench report</h1>",
    `<p>${escapeXml(headline(result))}</p>`,
    `<ul>${result.meta.notes.map((n) => `<li>${escapeXml(n)}</li>`).join("")}</ul>`,
    "<h2>Summary</h2>",
    "<p>Which DSM protocol was fastest, and which sent the least, per kernel and node count:</p>",
    table(winners(result.rows)),
  ];
  for (const section of kernelSections(result.rows)) {
    out.push(`<h2 id="${escapeXml(section.kernel)}">${escapeXml(`${section.kernel} (${section.args})`)}</h2>`);
    out.push(`<p>In ${escapeXml(section.language)}.${section.stresses ? ` Stresses: ${escapeXml(section.stresses)}.` : ""}</p>`);
    out.push(table(section.table));
    out.push(`<div class="charts">${charts.filter((c) => c.kernel === section.kernel).map((c) => `<figure>${c.svg}</figure>`).join("\n")}</div>`);
  }
  out.push("<h2>Traffic per protocol</h2>", "<p>Messages and bytes sent by all nodes (medians), on more than one node.</p>");
  for (const section of protocolSections(result.rows)) out.push(`<h3>${escapeXml(section.protocol)}</h3>`, table(section.table));
  out.push(`<p><a href="results.json">results.json</a> · <a href="report.md">report.md</a></p>`, "</body></html>", "");
  return out.join("\n");
}

function table(t: Table): string {
  const head = `<tr>${t.header.map((h) => `<th>${escapeXml(h)}</th>`).join("")}</tr>`;
  const body = t.rows.map((r) => `<tr>${r.map((c) => `<td${c === "NO" || c.startsWith("error") ? ' class="bad"' : ""}>${escapeXml(c)}</td>`).join("")}</tr>`);
  return `<table>\n${head}\n${body.join("\n")}\n</table>`;
}
