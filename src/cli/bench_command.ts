/**
 * `dsm bench`: runs the kernel suite over a matrix of protocols, node counts, transports and page
 * sizes, prints a table (or JSON rows) and writes a report folder. The work is in src/cli/bench/.
 */
import { formatTable } from "./bench/format.js";
import { DEFAULT_OUT, defaultNodes, planBench, type BenchOptionValues, type BenchPlan } from "./bench/plan.js";
import { progressOn, SILENT_PROGRESS, type Progress } from "./bench/progress.js";
import { writeReport } from "./bench/report_files.js";
import { runBench, type BenchResult } from "./bench/runner.js";
import { BENCH_SUITE, C_BENCH_SUITE } from "./bench/suite.js";
import { wrap } from "./build_command.js";
import { parseCommandLine, UsageError } from "./options.js";
import { PROTOCOL_NAMES, TRANSPORT_NAMES } from "../cluster/run_job.js";

export const BENCH_HELP = `usage: dsm bench [options]

Runs kernels × protocols × node counts × transports × page sizes, each configuration
--reps times (interleaved), and reports medians against the uninstrumented build on
one node, and against the hardware cap: N uninstrumented copies at once against one.
Kernels in AssemblyScript or C; rows name each kernel's language. With jacobi (or
jacobi.c), also runs hand-written message-passing Jacobi (mp) and Jacobi
on worker threads over one SharedArrayBuffer (sab). Writes a report folder with
results.json, report.md, index.html and SVG charts.

options:
  --kernels K,K         kernels (default: all in --languages), any of
                        ${wrap(`${BENCH_SUITE.map((k) => k.name).join(", ")}; the C kernels ${C_BENCH_SUITE.map((k) => k.name).join(", ")}; or the path of a kernel source (.ts, .c, .cc, .cpp; with --args)`, 62, "                        ")}
  --languages L,L       which version of each named kernel: as (AssemblyScript), c
                        (its C twin, e.g. jacobi.c); as,c runs both (default as)
  --protocols P,P       ${PROTOCOL_NAMES.join(", ")} (default all)
  --nodes N,N           node counts (default ${defaultNodes()}: powers of two up to the cores
                        here; more nodes than cores is single-host emulation)
  --transports T,T      ${TRANSPORT_NAMES.join(", ")} (default local)
  --nats URL[,URL]      nats server(s) for the nats transport (default: start a private one)
  --page-sizes S,S      DSM page sizes, powers of two from 1K to 64K (default 4K)
  --size S              kernel arguments: tiny, quick or full (default quick)
  --args A,A            the arguments of run for the one kernel given by --kernels
                        (or its versions in each language)
  --shared-size N       shared region of every build (default 64M)
  --reps N              repetitions of each configuration (default 3)
  --quick               preset: every kernel at a size where one node takes ~100 ms (lu,
                        falseshare, sparse less), ivy/diff/migrate/lrc on 1,2,4 nodes, local,
                        1 repetition (3-5 minutes on 2 cores); options given explicitly
                        override it
  --no-baselines        no mp or sab rows for jacobi
  --no-cache            rebuild the kernels instead of reusing node_modules/.cache
  --out DIR             report folder (default ${DEFAULT_OUT}/)
  --json                print the rows as JSON, one object per line, instead of a table
  --timeout MS          bound on one page fault (default 10000, env DSM_TIMEOUT_MS)
  --sync-timeout MS     bound on one barrier or lock wait (default 120000, env DSM_SYNC_TIMEOUT_MS)`;

export interface BenchCommandIo {
  stdout(text: string): void;
  progress: Progress;
}

const CONSOLE_IO: BenchCommandIo = {
  stdout: (text) => console.log(text),
  progress: progressOn(process.stderr),
};

export async function benchCommand(argv: string[], io: BenchCommandIo = CONSOLE_IO): Promise<number> {
  const { values, positionals } = parse(argv);
  if (values.help) {
    io.stdout(BENCH_HELP);
    return 0;
  }
  if (positionals.length) throw new UsageError(`bench takes no positional arguments, got "${positionals[0]}"; choose kernels with --kernels`);
  const plan = planBench(values as BenchOptionValues);
  const result = await runAndReport(plan, io.progress);
  if (values.json) {
    for (const row of result.rows) io.stdout(JSON.stringify(row));
  } else {
    io.stdout(formatTable(result.rows, result.meta.machine.cores));
    io.stdout(`\nreport: ${plan.out}/index.html (also report.md, results.json, charts/)`);
  }
  return result.rows.every((r) => r.correct) ? 0 : 1;
}

/** Runs a plan and writes its report folder; shared by `dsm bench` and `dsm demo`. */
export async function runAndReport(plan: BenchPlan, progress: Progress = SILENT_PROGRESS): Promise<BenchResult> {
  const result = await runBench(plan, { progress });
  writeReport(plan.out, result);
  return result;
}

function parse(argv: string[]) {
  return parseCommandLine("bench", argv, {
        kernels: { type: "string" },
        languages: { type: "string" },
        protocols: { type: "string" },
        nodes: { type: "string" },
        transports: { type: "string" },
        nats: { type: "string" },
        "page-sizes": { type: "string" },
        size: { type: "string" },
        args: { type: "string" },
        "shared-size": { type: "string" },
        reps: { type: "string" },
        quick: { type: "boolean" },
        "no-baselines": { type: "boolean" },
        "no-cache": { type: "boolean" },
        out: { type: "string" },
        json: { type: "boolean" },
        timeout: { type: "string" },
        "sync-timeout": { type: "string" },
        help: { type: "boolean", short: "h" },
      });
}
