/**
 * Writes a bench result as a report folder: results.json (metadata and every row), report.md,
 * index.html and charts/*.svg.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { kernelCharts } from "./charts.js";
import { reportHtml } from "./html.js";
import { reportMarkdown } from "./markdown.js";
import type { BenchResult } from "./runner.js";

export const REPORT_FILES = ["results.json", "report.md", "index.html"] as const;

/** Writes the report into `dir` (created if missing); returns the absolute paths written. */
export function writeReport(dir: string, result: BenchResult): string[] {
  const root = resolve(dir);
  const charts = kernelCharts(result.rows);
  mkdirSync(join(root, "charts"), { recursive: true });
  // Charts of kernels from an earlier run would sit beside this run's otherwise.
  for (const old of readdirSync(join(root, "charts")).filter((f) => f.endsWith(".svg"))) rmSync(join(root, "charts", old));
  const files: [string, string][] = [
    ["results.json", `${JSON.stringify(result, null, 2)}\n`],
    ["report.md", reportMarkdown(result, charts)],
    ["index.html", reportHtml(result, charts)],
    ...charts.map((c): [string, string] => [c.path, c.svg]),
  ];
  for (const [name, text] of files) writeFileSync(join(root, name), text);
  return files.map(([name]) => join(root, name));
}
