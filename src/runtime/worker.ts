/**
 * Worker thread entry: runs a node — its kernel, and its protocol in the same thread
 * (worker_node.ts) — for each spec it is sent, and posts one WorkerReport back for each. A HostAbort (the host stopped the node)
 * reports "aborted"; any other error (a runtime error, or the kernel's trap as KernelTrapError)
 * is relayed as data (error_relay.ts).
 */
import { parentPort, workerData } from "node:worker_threads";
import { instantiateSync, type Imports } from "@assemblyscript/loader";
import { relayError } from "./error_relay.js";
import { currentThreadId } from "./helper_threads.js";
import type { PoolWorkerData } from "./worker_pool.js";
import { HostAbort } from "./errors.js";
import { WorkerNode } from "./worker_node.js";
import type { NodeSpec, NodeStats, WorkerReport } from "./node_spec.js";

async function runNode(spec: NodeSpec): Promise<WorkerReport> {
  const node = new WorkerNode(spec);
  try {
    await node.prepare();
    const { value, kernelMs } = await node.run((imports) => instantiateSync(spec.module, imports as unknown as Imports).exports as unknown as WebAssembly.Exports);
    return { type: "result", value, kernelMs, stats: node.report(), transcript: node.transcript() };
  } catch (error) {
    if (error instanceof HostAbort) return { type: "aborted" };
    return { type: "failed", error: relayError(error), stats: safeReport(node) };
  } finally {
    await node.close();
  }
}

function safeReport(node: WorkerNode): NodeStats {
  try {
    return node.report();
  } catch {
    return {} as NodeStats;
  }
}

// The pool keeps this thread's priority where it is and sets the process's helpers below it.
const data = workerData as PoolWorkerData | undefined;
if (data?.threadId) {
  const word = new Int32Array(data.threadId);
  Atomics.store(word, 0, currentThreadId() ?? -1);
  Atomics.notify(word, 0);
}

// One node at a time: the host sends the next spec only after this node's report (worker_pool.ts).
parentPort?.on("message", (spec: NodeSpec) => {
  runNode(spec).then(
    (report) => parentPort!.postMessage(report),
    (error) => parentPort!.postMessage({ type: "failed", error: relayError(error), stats: {} as NodeStats } satisfies WorkerReport),
  );
});
