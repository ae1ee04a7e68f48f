/**
 * Node workers kept for the next job of this process. Starting a worker and loading the protocol
 * stack into it takes ~110 ms here, and V8 warms the protocol code up again in every new worker
 * (each has its own isolate), while a job's own work may take a few milliseconds. So a worker that
 * ran a node to a normal end goes back here and runs a later job's node; one that failed, was
 * aborted or did not answer is terminated instead.
 *
 * An idle worker is unreferenced, so it never keeps the process alive: a process exits as soon as
 * it has nothing else to do, however many workers wait here.
 */
import { Worker } from "node:worker_threads";

/** Most idle workers kept; more are terminated. */
const MAX_IDLE = 16;

const WORKER_URL = new URL("./worker.js", import.meta.url);

const idle: Worker[] = [];

/** A worker ready for a node spec: an idle one, or a new one. */
export function takeWorker(): Worker {
  const worker = idle.pop() ?? newWorker();
  worker.ref();
  return worker;
}

function newWorker(): Worker {
  const worker = new Worker(WORKER_URL);
  // One that ends while idle (it should not) leaves the pool, so no node is sent to it.
  worker.once("exit", () => {
    const at = idle.indexOf(worker);
    if (at >= 0) idle.splice(at, 1);
  });
  return worker;
}

/** Keeps a worker whose node ended normally (it reported and waits for its next spec). */
export function returnWorker(worker: Worker): void {
  if (idle.length >= MAX_IDLE) {
    void worker.terminate();
    return;
  }
  worker.unref();
  idle.push(worker);
}

/** Terminates every idle worker (tests that count threads). */
export async function drainWorkers(): Promise<void> {
  const all = idle.splice(0);
  await Promise.all(all.map((w) => w.terminate()));
}
