/**
 * Node workers kept for the next job of this process. Starting a worker and loading the protocol
 * stack into it takes ~110 ms here, and V8 warms the protocol code up again in every new worker
 * (each has its own isolate), while a job's own work may take a few milliseconds. So a worker that
 * ran a node to a normal end goes back here and runs a later job's node; one that failed, was
 * aborted or did not answer is terminated instead.
 *
 * An idle worker is unreferenced, so it never keeps the process alive: a process exits as soon as
 * it has nothing else to do, however many workers wait here.
 *
 * Every worker writes its thread id into a shared word as it starts (worker.ts); once every worker
 * of the pool has, the process's other threads are set below them (helper_threads.ts), unless
 * they are held where they are ({@link holdHelpers}: dsm bench's warm-up, when V8 should compile
 * the protocol code at full speed before anything is measured).
 */
import { Worker } from "node:worker_threads";
import { deprioritizeHelpers, helperNice } from "./helper_threads.js";

/** Most idle workers kept; more are terminated. */
const MAX_IDLE = 16;

const WORKER_URL = new URL("./worker.js", import.meta.url);

const idle: Worker[] = [];

/** Each live worker's thread id word: 0 until it starts, then its id (-1 where unknown). */
const threadIds = new Map<Worker, Int32Array>();

/** Holds taken by {@link holdHelpers} and not released. */
let holds = 0;

/** What a worker finds in its workerData. */
export interface PoolWorkerData {
  /** An Int32 word: the worker stores its thread id (or -1) and notifies it. */
  threadId: SharedArrayBuffer;
}

/**
 * A worker ready for a node spec: an idle one, or a new one. Throws HelperNiceError for a bad
 * DSM_HELPER_NICE.
 */
export function takeWorker(): Worker {
  const nice = helperNice();
  const worker = idle.pop() ?? newWorker(nice);
  worker.ref();
  return worker;
}

function newWorker(nice: number): Worker {
  const word = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(WORKER_URL, { workerData: { threadId: word.buffer as SharedArrayBuffer } satisfies PoolWorkerData });
  threadIds.set(worker, word);
  // One that ends while idle (it should not) leaves the pool, so no node is sent to it.
  worker.once("exit", () => {
    threadIds.delete(worker);
    const at = idle.indexOf(worker);
    if (at >= 0) idle.splice(at, 1);
  });
  // A pending waitAsync keeps nothing alive; the worker's start settles it.
  const started = Atomics.waitAsync(word, 0, 0);
  if (started.async) void started.value.then(() => yieldHelpers(nice));
  else yieldHelpers(nice);
  return worker;
}

/**
 * Keeps the process's helper threads at their priority until the returned function is called
 * (once; more calls do nothing), when they go below the pool's workers as they would have. It
 * cannot raise helpers already set below, since that needs privileges.
 */
export function holdHelpers(): () => void {
  holds++;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--holds === 0) yieldHelpers(helperNice());
  };
}

/** Once every worker has told its thread id, and nothing holds them: the other threads go below them. */
function yieldHelpers(nice: number): void {
  if (holds > 0) return;
  const ids: number[] = [];
  for (const word of threadIds.values()) {
    const id = Atomics.load(word, 0);
    // One still starting: its thread may exist already; the pass waits for it to tell its id.
    if (id === 0) return;
    if (id > 0) ids.push(id);
  }
  deprioritizeHelpers(ids, nice);
}

/** Thread ids of the pool's live workers that have told theirs (tests). */
export function workerThreadIds(): number[] {
  return [...threadIds.values()].map((w) => Atomics.load(w, 0)).filter((id) => id > 0);
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
