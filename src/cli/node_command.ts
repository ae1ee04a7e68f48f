/**
 * `dsm node`: one node of a job whose nodes are started separately, on one machine or several,
 * joined through a NATS server or cluster. Rank 0 prints the job's result.
 */
import { parseRunArguments } from "../runtime/kernel_module.js";
import { LAYOUT_OPTIONS } from "./build_command.js";
import { sumStats, type JobResult } from "../cluster/job.js";
import { runMemberNode, type MemberNodeConfig } from "../cluster/member_node.js";
import { runCheckpointedNode } from "../cluster/checkpointed_node.js";
import { CHECKPOINT_OPTIONS, NODE_CHECKPOINT_HELP, parseCheckpointOptions } from "./checkpoint_options.js";
import { NATS_AUTH_HELP, NATS_AUTH_OPTIONS, parseNatsAuth } from "./nats_auth.js";
import { parseChoice, parseInteger, parseCommandLine, UsageError } from "./options.js";
import { formatJob } from "./report.js";
import { loadKernel } from "./run_command.js";
import { PROTOCOL_NAMES } from "../cluster/run_job.js";

export const NODE_HELP = `usage: dsm node <kernel.ts|kernel.c|kernel.wasm> --nats URL[,URL] --job ID --nodes N [options] -- [run arguments]

Runs one node of a job. Start one \`dsm node\` per node, on any machines that reach the same
nats server or cluster, with the same kernel, job, node count, protocol and arguments; they
find each other, agree on ranks and check they run the same thing. Rank 0 prints the result.
A node that dies or is cut off stops every other node within seconds (exit code 1), unless the
job checkpoints: then the others wait for a replacement and go on from the last checkpoint.

options:
  --nats URL[,URL]      nats server(s) of the cluster, several for failover (env NATS_URL)
  --job ID              job name shared by its nodes: letters, digits, - and _ (env DSM_JOB)
  --nodes N             number of nodes in the job (env DSM_NODES)
  --rank R              this node's rank, 0..N-1 (env DSM_RANK; default: assigned at rendezvous)
  --protocol P          ${PROTOCOL_NAMES.join(", ")} (default diff)
  --join-timeout MS     bound on waiting for the other nodes (default 60000, env DSM_JOIN_TIMEOUT_MS)
  --timeout MS          bound on one page fault (default 10000, env DSM_TIMEOUT_MS)
  --sync-timeout MS     bound on one barrier or lock wait (default 120000, env DSM_SYNC_TIMEOUT_MS)
  --json                rank 0 prints one JSON object instead of a summary
${NATS_AUTH_HELP}
${NODE_CHECKPOINT_HELP}
  --page-size, --shared-size, --max-memory, --no-polls, --no-opt, --cflags
                        layout, check and compiler options when building from a .ts, .c,
                        .cc, .cpp or .c.in file (see dsm build --help); a build is kept in wasm-dsm's
                        node_modules/.cache/wasm-dsm-builds and used again while every file
                        it read is unchanged (env DSM_BUILD_CACHE: another directory, or off)`;

const JOB_NAME = /^[A-Za-z0-9_-]{1,64}$/;
/** Bound on closing down after the job, so a stuck connection cannot keep the process alive. */
const EXIT_GRACE_MS = 5000;

export async function nodeCommand(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const split = argv.indexOf("--");
  const { values, positionals } = parse(split < 0 ? argv : argv.slice(0, split));
  const kernelArgs = split < 0 ? [] : argv.slice(split + 1);
  if (values.help) {
    console.log(NODE_HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`node takes one kernel (.ts, .c/.cc/.cpp or .wasm), got ${positionals.length}; put the kernel's own arguments after --`);
  const t0 = performance.now();
  const nats = (values.nats ?? env.NATS_URL ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  if (nats.length === 0) throw new UsageError(`--nats is required (or NATS_URL): the nats server(s) every node of the job reaches, e.g. --nats nats://10.0.0.1:4222`);
  const job = values.job ?? env.DSM_JOB;
  if (job === undefined) throw new UsageError(`--job is required (or DSM_JOB): a name shared by every node of the job, e.g. --job jacobi1`);
  if (!JOB_NAME.test(job)) throw new UsageError(`--job "${job}": use 1 to 64 letters, digits, "-" and "_"`);
  const nodesText = values.nodes ?? env.DSM_NODES;
  if (nodesText === undefined) throw new UsageError(`--nodes is required (or DSM_NODES): the number of nodes in the job`);
  const nodes = parseInteger("nodes", nodesText, 1, 64);
  const rankText = values.rank ?? env.DSM_RANK;
  const rank = rankText === undefined || rankText === "" ? undefined : parseInteger("rank", rankText, 0, nodes - 1);
  const protocol = parseChoice("protocol", values.protocol ?? "diff", PROTOCOL_NAMES);
  const auth = parseNatsAuth(values, env);
  const joinTimeoutMs = parseInteger("join-timeout", values["join-timeout"] ?? env.DSM_JOIN_TIMEOUT_MS ?? "60000", 1, 86_400_000);
  const faultTimeoutMs = parseInteger("timeout", values.timeout ?? env.DSM_TIMEOUT_MS ?? "10000", 1, 3_600_000);
  const syncTimeoutMs = parseInteger("sync-timeout", values["sync-timeout"] ?? env.DSM_SYNC_TIMEOUT_MS ?? "120000", 1, 86_400_000);
  const checkpoints = parseCheckpointOptions({ ...values, job }, positionals[0], { servers: nats, auth });
  const rejoinText = values["rejoin-timeout"] ?? env.DSM_REJOIN_TIMEOUT_MS;
  if (rejoinText !== undefined && !checkpoints) throw new UsageError(`--rejoin-timeout applies with checkpoints; add --checkpoint-every`);
  const rejoinTimeoutMs = parseInteger("rejoin-timeout", rejoinText ?? "60000", 1, 86_400_000);
  const kernel = await loadKernel(positionals[0], false, values);
  const args = parseRunArguments(kernel.meta, kernelArgs);

  try {
    const config: MemberNodeConfig = {
      kernel,
      job,
      nodes,
      rank,
      protocol,
      servers: nats,
      auth,
      args,
      faultTimeoutMs,
      syncTimeoutMs,
      joinTimeoutMs,
      onStatus: (r, event) => {
        if (["disconnect", "reconnect", "error"].includes(event.type)) console.error(`dsm node: rank ${r}: nats ${event.type} ${String(event.data)}`);
      },
      onJoined: (self, members, server) => {
        const list = members.map((m) => `${m.rank} ${m.host}/${m.pid}`).join(", ");
        console.error(`dsm node: joined job ${job} as rank ${self.rank} of ${nodes} (${list}) via nats ${server}`);
      },
    };
    const outcome = checkpoints ? await runCheckpointedNode(config, { checkpoints, rejoinTimeoutMs, log: (line) => console.error(line) }) : await runMemberNode(config);
    if (outcome.self.rank !== 0) return 0;
    if (outcome.missingReports.length > 0) {
      console.error(`dsm node: no statistics from rank(s) ${outcome.missingReports.join(", ")} after the final barrier; the totals leave them out`);
    }
    const perNode = outcome.perNode ?? [outcome.node];
    const result: JobResult & { job: string } = {
      result: outcome.node.value,
      kernel: kernel.meta.kernel,
      nodes,
      protocol,
      transport: "nats",
      pageSize: kernel.meta.layout.pageSize,
      instrumented: kernel.meta.instrumented,
      kernelMs: outcome.node.kernelMs,
      wallMs: performance.now() - t0,
      stats: sumStats(perNode.map((n) => n.stats)),
      perNode,
      job,
    };
    if (kernel.meta.entry === "main") {
      // A program's stdout is its own; rank 0's exit status is the command's.
      if (values.json) console.log(JSON.stringify(result));
      return Number(result.result);
    }
    console.log(values.json ? JSON.stringify(result) : formatJob(result));
    return 0;
  } finally {
    setTimeout(() => process.exit(), EXIT_GRACE_MS).unref();
  }
}

function parse(argv: string[]) {
  return parseCommandLine("node", argv, {
        nats: { type: "string" },
        job: { type: "string" },
        nodes: { type: "string" },
        rank: { type: "string" },
        protocol: { type: "string" },
        "join-timeout": { type: "string" },
        timeout: { type: "string" },
        "sync-timeout": { type: "string" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
        "checkpoint-every": CHECKPOINT_OPTIONS["checkpoint-every"],
        "checkpoint-store": CHECKPOINT_OPTIONS["checkpoint-store"],
        resume: CHECKPOINT_OPTIONS.resume,
        "rejoin-timeout": { type: "string" },
        ...NATS_AUTH_OPTIONS,
        ...LAYOUT_OPTIONS,
      });
}
