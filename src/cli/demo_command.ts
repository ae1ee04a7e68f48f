/**
 * `dsm demo` (npm start): the main job on the embedded default. Builds the kernel suite, runs a
 * quick comparison of the protocols on 1, 2 and 4 nodes in this process (`dsm bench --quick`),
 * prints the table and writes the report folder.
 */
import { parseArgs } from "node:util";
import { runAndReport } from "./bench_command.js";
import { formatTable } from "./bench/format.js";
import { DEFAULT_OUT, planBench, type BenchOptionValues } from "./bench/plan.js";
import { progressOn, type Progress } from "./bench/progress.js";
import { UsageError } from "./options.js";

export const DEMO_HELP = `usage: dsm demo [--out DIR]

Builds the kernel suite and runs a quick comparison of the coherence protocols on
1, 2 and 4 nodes in this process (the same as dsm bench --quick), prints the table
and writes the report (default ${DEFAULT_OUT}/). For more, see dsm bench --help.`;

/** The bench options of the demo. */
export const DEMO_OPTIONS: BenchOptionValues = { quick: true };

export async function demoCommand(argv: string[], progress: Progress = progressOn(process.stderr)): Promise<number> {
  const { values } = parse(argv);
  if (values.help) {
    console.log(DEMO_HELP);
    return 0;
  }
  const plan = planBench({ ...DEMO_OPTIONS, out: values.out });
  console.log(`wasm-dsm demo: ${plan.kernels.length} kernels × ${plan.protocols.join("/")} on ${plan.nodes.join(", ")} node(s), in this process`);
  const result = await runAndReport(plan, progress);
  console.log(formatTable(result.rows, result.meta.machine.cores));
  const wrong = result.rows.filter((r) => !r.correct).length;
  console.log(`\n${wrong ? `${wrong} configuration(s) did not reproduce the baseline's result. ` : ""}report written to ${plan.out}/: open ${plan.out}/index.html, or read ${plan.out}/report.md`);
  console.log(`more: dsm bench --help (more nodes, --transports nats, --page-sizes, --size full)`);
  return wrong ? 1 : 0;
}

function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: { out: { type: "string" }, help: { type: "boolean", short: "h" } } });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}; see dsm demo --help`);
  }
}
