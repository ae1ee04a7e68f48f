/**
 * report.md: the header, a table and the charts per kernel, a traffic table per protocol, and
 * which protocol wins where.
 */
import type { ChartFile } from "./charts.js";
import type { BenchResult } from "./runner.js";
import { headline, kernelSections, protocolSections, winners, type Table } from "./summary.js";

export function reportMarkdown(result: BenchResult, charts: ChartFile[]): string {
  const out = ["# wasm-dsm bench report", "", headline(result), ""];
  for (const note of result.meta.notes) out.push(`- ${cell(note)}`);
  out.push("", "## Summary", "", "Which DSM protocol was fastest, and which sent the least, per kernel and node count:", "", ...table(winners(result.rows)), "");
  for (const section of kernelSections(result.rows)) {
    out.push(`## ${section.kernel} (${section.args})`, "", `In ${section.language}.${section.stresses ? ` Stresses: ${section.stresses}.` : ""}`, "");
    out.push(...table(section.table), "");
    const images = charts.filter((c) => c.kernel === section.kernel).map((c) => `![${c.title}](${c.path})`);
    if (images.length) out.push(images.join("\n"), "");
  }
  out.push("## Traffic per protocol", "", "Messages and bytes sent by all nodes (medians), on more than one node.", "");
  for (const section of protocolSections(result.rows)) {
    out.push(`### ${section.protocol}`, "", ...table(section.table), "");
  }
  return out.join("\n");
}

function table(t: Table): string[] {
  return [
    `| ${t.header.map(cell).join(" | ")} |`,
    `|${t.header.map(() => "---").join("|")}|`,
    ...t.rows.map((r) => `| ${r.map(cell).join(" | ")} |`),
  ];
}

/** A Markdown table cell: pipes escaped, on one line. */
function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\s*\n\s*/g, " ");
}
