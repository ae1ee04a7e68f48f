import { existsSync, readFileSync } from "node:fs";
import { loadKernelModule, parseRunArguments, type KernelModule } from "../runtime/kernel_module.js";
import { isCSource } from "../instrument/source_kinds.js";
import { buildOptionsFrom, checkSources, LAYOUT_OPTIONS, referencePath } from "./build_command.js";
import { runJob, PROTOCOL_NAMES, TRANSPORT_NAMES, type JobRequest } from "../cluster/run_job.js";
import { runNatsJob } from "../cluster/nats_job.js";
import { hasNatsAuth, NATS_AUTH_HELP, NATS_AUTH_OPTIONS, parseNatsAuth } from "./nats_auth.js";
import { parseChoice, parseInteger, parseCommandLine, UsageError } from "./options.js";
import { formatJob } from "./report.js";
import { CHECKPOINT_HELP, CHECKPOINT_OPTIONS, parseCheckpointOptions } from "./checkpoint_options.js";

export const RUN_HELP = `usage: dsm run <kernel.ts|kernel.c|kernel.wasm> [options] -- [run arguments]

Runs the kernel's exported run(...) on every node with the given arguments; the
result is node 0's return value. A C program with main(argc, argv) gets the words
after -- as argv on every node; node 0's stdout and stderr are the command's, the
other nodes' lines go to stderr prefixed with the node, and node 0's exit status is
the result and the command's exit code (no summary is printed; --json prints it).

options:
  --nodes N             number of nodes (default 1)
  --protocol P          coherence protocol: ${PROTOCOL_NAMES.join(", ")} (default diff)
                          migrate  one copy per page, moved on every fault
                          ivy      read copies, writes invalidate (sequentially consistent)
                          diff     versioned diffs from the owner (linearizable)
                          lrc      lazy release consistency, several writers per page:
                                   race-free programs (shared data ordered by locks and
                                   barriers) see sequential consistency; racy programs
                                   do not, and lrc is not linearizable
                          hlrc     home-based lrc: writers send diffs to each page's home
                                   at releases, misses fetch the page from it; same
                                   guarantee as lrc
  --transport T         ${TRANSPORT_NAMES.join(", ")} (default local: all nodes in this process)
  --nats URL[,URL]      nats server(s) for --transport nats (default: start a private one)
  --baseline            run the uninstrumented reference build on one node, without DSM
  --timeout MS          bound on one page fault (default 10000, env DSM_TIMEOUT_MS)
  --sync-timeout MS     bound on one barrier or lock wait (default 120000, env DSM_SYNC_TIMEOUT_MS)
  --json                print one JSON object instead of a summary
checkpoints (embedded transport):
${CHECKPOINT_HELP}
with --transport nats --nats URL, credentials and TLS:
${NATS_AUTH_HELP}
  --page-size, --shared-size, --max-memory, --no-polls, --no-opt, --cflags
                        layout, check and compiler options when building from a .ts, .c,
                        .cc, .cpp or .c.in file (see dsm build --help); a build is kept in wasm-dsm's
                        node_modules/.cache/wasm-dsm-builds and used again while every file
                        it read is unchanged (env DSM_BUILD_CACHE: another directory, or off)`;

export async function runCommand(argv: string[]): Promise<number> {
  const split = argv.indexOf("--");
  const own = split < 0 ? argv : argv.slice(0, split);
  const kernelArgs = split < 0 ? [] : argv.slice(split + 1);
  const { values, positionals } = parse(own);
  if (values.help) {
    console.log(RUN_HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`run takes one kernel (.ts, .c, .cc, .cpp or .wasm), got ${positionals.length}; put the kernel's own arguments after --`);
  const request: JobRequest = {
    nodes: values.nodes === undefined ? 1 : parseInteger("nodes", values.nodes, 1, 64),
    protocol: parseChoice("protocol", values.protocol ?? "diff", PROTOCOL_NAMES),
    transport: parseChoice("transport", values.transport ?? "local", TRANSPORT_NAMES),
    nats: values.nats?.split(",").filter(Boolean),
    faultTimeoutMs: parseInteger("timeout", values.timeout ?? process.env.DSM_TIMEOUT_MS ?? "10000", 1, 3_600_000),
    syncTimeoutMs: parseInteger("sync-timeout", values["sync-timeout"] ?? process.env.DSM_SYNC_TIMEOUT_MS ?? "120000", 1, 86_400_000),
  };
  const auth = parseNatsAuth(values);
  if (hasNatsAuth(auth) && !(request.transport === "nats" && request.nats?.length)) {
    throw new UsageError(`credentials and TLS options apply to servers given with --transport nats --nats URL; add them or drop the credentials`);
  }
  const baseline = Boolean(values.baseline);
  if (baseline && request.nodes !== 1) throw new UsageError(`--baseline runs on one node without DSM; drop --nodes ${request.nodes}`);
  const checkpoints = parseCheckpointOptions(values, positionals[0]);
  if (checkpoints && (baseline || request.transport === "nats")) {
    throw new UsageError(`checkpoints (--checkpoint-every, --resume) run on the embedded transport with dsm run; drop ${baseline ? "--baseline" : "--transport nats"}, or run the nodes with dsm node`);
  }
  if (values.job !== undefined && !checkpoints) throw new UsageError(`--job names a job's checkpoints; add --checkpoint-every or --resume`);
  request.checkpoints = checkpoints;
  const kernel = await loadKernel(positionals[0], baseline, values);
  const args = parseRunArguments(kernel.meta, kernelArgs);
  const result =
    !baseline && request.transport === "nats"
      ? await runNatsJob(kernel, kernel.bytes, args, request, auth)
      : await runJob(kernel, args, baseline ? { ...request, protocol: "none", transport: "none" } : request);
  if (kernel.meta.entry === "main") {
    // A program's stdout is its own: no summary, and its exit status is the command's.
    if (values.json) console.log(JSON.stringify(result));
    return Number(result.result);
  }
  console.log(values.json ? JSON.stringify(result) : formatJob(result));
  return 0;
}

/** Reads a built .wasm kernel or builds a .ts, .c, .cc or .cpp one; `values` holds the layout options for building. */
export async function loadKernel(path: string, baseline: boolean, values: Record<string, string | boolean | undefined>): Promise<KernelModule> {
  if (!existsSync(path)) throw new UsageError(`kernel "${path}": no such file`);
  if (path.endsWith(".ts") || isCSource(path)) {
    checkSources([path], values.cflags !== undefined);
    // Binaryen and the compilers load only when something is built (source_kinds.ts), and not
    // at all when the build cache holds this kernel as its files are now (build_cache.ts).
    const { buildCacheDir, cachedBuild } = await import("../instrument/build_cache.js");
    const options = buildOptionsFrom(values);
    const build = async () => (await import("../instrument/build_worker.js")).buildKernelIsolated(path, options);
    const built = await cachedBuild(path, options, build, buildCacheDir());
    return loadKernelModule(baseline ? built.reference : built.instrumented, path);
  }
  for (const name of Object.keys(LAYOUT_OPTIONS)) {
    if (values[name] !== undefined) throw new UsageError(`--${name} applies when building; ${path} is already built (rebuild with dsm build --${name})`);
  }
  const kernel = loadKernelModule(readFileSync(path), path);
  if (baseline && kernel.meta.instrumented) {
    const ref = referencePath(path);
    if (!existsSync(ref)) throw new UsageError(`--baseline needs the reference build ${ref}, written by dsm build next to ${path}; or pass the source file`);
    return loadKernelModule(readFileSync(ref), ref);
  }
  if (!baseline && !kernel.meta.instrumented) {
    throw new UsageError(`${path} is the uninstrumented reference build; run the instrumented one, or add --baseline`);
  }
  return kernel;
}

function parse(argv: string[]) {
  return parseCommandLine("run", argv, {
        nodes: { type: "string" },
        protocol: { type: "string" },
        transport: { type: "string" },
        nats: { type: "string" },
        timeout: { type: "string" },
        "sync-timeout": { type: "string" },
        baseline: { type: "boolean" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
        ...NATS_AUTH_OPTIONS,
        ...LAYOUT_OPTIONS,
        ...CHECKPOINT_OPTIONS,
      });
}
