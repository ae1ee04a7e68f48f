/**
 * Worker thread entry: runs one node's kernel on the node's shared memory. Every kernel import
 * that needs the host (faults, polls, sync calls) goes through the mailbox and blocks the kernel
 * there: that is where it is parked.
 */
import { parentPort } from "node:worker_threads";
import { instantiateSync, type Imports } from "@assemblyscript/loader";
import { FAULT_IMPORT, IMPORT_MODULE, POLL_IMPORT, Request, type Layout } from "../abi.js";
import { CoreGauge, HostAbort, MailboxClient } from "./mailbox.js";

export interface WorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  nodeId: number;
  nodeCount: number;
  layout: Layout;
  args: (number | bigint)[];
  spinMicros: number;
  /** Shared running-thread count of the process and its core count (mailbox.ts CoreGauge); absent: spin always. */
  gauge?: { buffer: SharedArrayBuffer; cores: number };
}

export type WorkerReport =
  | { type: "result"; value: number | bigint | undefined; kernelMs: number }
  | { type: "trap"; message: string }
  | { type: "aborted" };

/** Microseconds on CLOCK_MONOTONIC: common to every thread and process of one machine. */
export function monotonicMicros(): number {
  return Number(process.hrtime.bigint()) / 1000;
}

function runNode(init: WorkerInit): WorkerReport {
  const control = new Int32Array(init.memory.buffer, 0, 64);
  const gauge = init.gauge ? new CoreGauge(init.gauge.buffer, init.gauge.cores) : undefined;
  gauge?.enter();
  try {
    return runKernel(init, new MailboxClient(control, init.spinMicros, gauge));
  } finally {
    gauge?.leave();
  }
}

function runKernel(init: WorkerInit, mailbox: MailboxClient): WorkerReport {
  const { layout } = init;
  const imports = {
    env: { memory: init.memory },
    [IMPORT_MODULE]: {
      nodeId: () => init.nodeId,
      nodeCount: () => init.nodeCount,
      barrier: () => void mailbox.call(Request.Barrier),
      lock: (id: number) => void mailbox.call(Request.Lock, id),
      unlock: (id: number) => void mailbox.call(Request.Unlock, id),
      now: monotonicMicros,
      regionBase: () => layout.regionBase,
      regionBytes: () => layout.regionBytes,
      pageSize: () => layout.pageSize,
      allocated: (address: number, bytes: number) => void mailbox.call(Request.Alloc, address, bytes),
      [FAULT_IMPORT]: (first: number, last: number, access: number) => void mailbox.call(Request.Fault, first, last, access),
      [POLL_IMPORT]: () => void mailbox.call(Request.Poll),
    },
  };
  try {
    const { exports } = instantiateSync(init.module, imports as unknown as Imports);
    const start = exports._start as (() => void) | undefined;
    if (typeof start === "function") start();
    const run = exports.run as (...args: (number | bigint)[]) => number | bigint | undefined;
    const t0 = performance.now();
    const value = run(...init.args);
    const kernelMs = performance.now() - t0;
    mailbox.call(Request.Done);
    return { type: "result", value, kernelMs };
  } catch (error) {
    if (error instanceof HostAbort) return { type: "aborted" };
    return { type: "trap", message: describe(error) };
  }
}

function describe(error: unknown): string {
  if (error instanceof WebAssembly.RuntimeError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}

parentPort?.once("message", (init: WorkerInit) => {
  parentPort!.postMessage(runNode(init));
});
