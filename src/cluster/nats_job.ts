/**
 * `dsm run --transport nats`: one OS process per node, over a nats-server given by --nats or a
 * private one started on a free loopback port. The first node to fail stops the others.
 */
import { fork, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startNatsServer, type NatsServer } from "../transport/nats_server.js";
import type { KernelModule, RunArgument } from "../runtime/kernel_module.js";
import { DEFAULT_SYNC_TIMEOUT_MS } from "./cluster.js";
import { newJobName } from "./job_id.js";
import { sumStats, type JobResult, type PerNodeResult } from "./job.js";
import type { NatsAuth } from "../transport/nats_transport.js";
import type { NodeProcessConfig, NodeProcessReport } from "./node_process.js";
import type { JobRequest } from "./run_job.js";

const NODE_ENTRY = new URL("./node_process.js", import.meta.url);

export class NodeProcessError extends Error {
  override name = "NodeProcessError";
}

export async function runNatsJob(kernel: KernelModule, bytes: Uint8Array, args: RunArgument[], request: JobRequest, auth: NatsAuth = {}): Promise<JobResult> {
  const t0 = performance.now();
  let server: NatsServer | undefined;
  const dir = mkdtempSync(join(tmpdir(), "dsm-job-"));
  const children: ChildProcess[] = [];
  try {
    const servers = request.nats?.length ? request.nats : [(server = await startNatsServer()).url];
    const kernelPath = join(dir, "kernel.wasm");
    writeFileSync(kernelPath, bytes);
    const job = newJobName();
    const reports = Array.from({ length: request.nodes }, (_, nodeId) => {
      const child = fork(NODE_ENTRY, [], { stdio: ["ignore", "inherit", "inherit", "ipc"], execArgv: [] });
      children.push(child);
      const config: NodeProcessConfig = {
        kernelPath,
        job,
        nodeId,
        nodeCount: request.nodes,
        protocol: request.protocol,
        servers,
        args: args.map((a) => (typeof a === "bigint" ? a.toString() : a)),
        i64: args.map((a) => typeof a === "bigint"),
        faultTimeoutMs: request.faultTimeoutMs,
        syncTimeoutMs: request.syncTimeoutMs ?? DEFAULT_SYNC_TIMEOUT_MS,
        auth,
      };
      child.send(config);
      return new Promise<PerNodeResult>((resolve, reject) => {
        child.once("message", (report: NodeProcessReport) => {
          if (report.type === "result") resolve(report.node);
          else reject(new NodeProcessError(`node ${nodeId}: ${report.name}: ${report.message}`));
        });
        child.once("exit", (code, signal) => reject(new NodeProcessError(`node ${nodeId}: process exited (${signal ?? `code ${code}`}) before reporting`)));
      });
    });
    let first: Error | undefined;
    const settled = await Promise.allSettled(
      reports.map((p) =>
        p.catch((error: Error) => {
          if (!first) {
            first = error;
            for (const c of children) c.kill("SIGTERM");
          }
          throw error;
        }),
      ),
    );
    if (first) throw first;
    const perNode = settled.map((s) => (s as PromiseFulfilledResult<PerNodeResult>).value);
    return {
      result: perNode[0].value,
      kernel: kernel.meta.kernel,
      nodes: request.nodes,
      protocol: request.protocol,
      transport: "nats",
      pageSize: kernel.meta.layout.pageSize,
      instrumented: kernel.meta.instrumented,
      kernelMs: perNode[0].kernelMs,
      wallMs: performance.now() - t0,
      stats: sumStats(perNode.map((n) => n.stats)),
      perNode,
    };
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
