/**
 * Stores a node's parts on a thread of their own, so a checkpoint costs its kernel only the copy.
 *
 * The kernel's worker builds part N (node_checkpoint.ts) and hands its buffer over (transferred,
 * not copied); this thread writes it durably with its record and checksum, hands the buffer back,
 * and then commits or waits for the commit:
 *   - node 0 waits until every node's record of N is in the store, then writes the manifest:
 *     checkpoint N is committed (store.ts);
 *   - every other node waits until that manifest is there.
 * Either then prints `<label>: checkpoint N committed (BYTES bytes, MS ms)`, MS counted from the
 * barrier that named N. A node hands over part N+1 only once part N is stored (it waits for the
 * buffer), so one part per node is ever in flight, and the parts of N are all stored before
 * any node passes the first barrier of checkpoint N+1.
 *
 * The kernel's worker hears of this thread only when it waits for it (the kernel computes
 * meanwhile, so its event loop does not run): the buffer comes back, or the first failure.
 */
import { writeSync } from "node:fs";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { CheckpointCorruptError, CheckpointError } from "./errors.js";
import { openStore, type CheckpointStore, type JobSetting, type StoreSpec } from "./store.js";
import { bounded, within } from "../time_bound.js";

interface ThreadData {
  partThread: true;
  store: StoreSpec;
  job: string;
  setting: JobSetting;
  node: number;
  nodes: number;
  label: string;
}

type Order = { type: "put"; checkpoint: number; bytes: Uint8Array; sha256: string; startedAt: number } | { type: "close" };
type Reply = { type: "stored"; checkpoint: number; buffer: ArrayBuffer } | { type: "failed"; name: string; message: string } | { type: "closed" };

/** How long a commit may wait for the other nodes' parts, or for the manifest, before it fails. */
export const COMMIT_WAIT_MS = 300_000;

/** How long close() waits for the thread to finish what it does, then for it to end. */
const CLOSE_WAIT_MS = 2000;

/** The kernel worker's side: one thread per node, for the whole run. */
export class PartThread {
  private readonly worker: Worker;
  private failure: Error | undefined;
  /** The part in flight: resolves with its buffer once stored. */
  private inFlight: Promise<ArrayBuffer> | undefined;
  private readonly replies: Reply[] = [];
  private waiting: (() => void)[] = [];

  constructor(data: Omit<ThreadData, "partThread">) {
    this.worker = new Worker(new URL(import.meta.url), { workerData: { ...data, partThread: true } satisfies ThreadData });
    this.worker.on("message", (reply: Reply) => this.hear(reply));
    this.worker.on("error", (error) => this.hear({ type: "failed", name: "CheckpointError", message: `the thread storing checkpoint parts failed: ${error.message}` }));
    this.worker.on("exit", () => this.hear({ type: "failed", name: "CheckpointError", message: "the thread storing checkpoint parts ended" }));
  }

  /**
   * Hands part `checkpoint` over; its buffer (the whole ArrayBuffer) is the thread's until stored()
   * gives it back; `sha256` is its digest. `startedAt`: when the barrier named the checkpoint, as performance.timeOrigin + performance.now().
   */
  put(checkpoint: number, bytes: Uint8Array, sha256: string, startedAt: number): void {
    this.worker.postMessage({ type: "put", checkpoint, bytes, sha256, startedAt } satisfies Order, [bytes.buffer as ArrayBuffer]);
    this.inFlight = this.next("stored").then((reply) => (reply as Extract<Reply, { type: "stored" }>).buffer);
    this.inFlight.catch(() => undefined); // a run that ends without waiting for it does not care
  }

  /** Waits (at most `boundMs`) until the part handed over last is stored; returns its buffer, or undefined when none is in flight. */
  async stored(boundMs: number): Promise<ArrayBuffer | undefined> {
    const flight = this.inFlight;
    if (!flight) {
      if (this.failure) throw this.failure;
      return undefined;
    }
    try {
      return await bounded(flight, boundMs, () => new CheckpointError(`a checkpoint part was not stored within ${boundMs} ms; check that the checkpoint store is reachable and has room`));
    } finally {
      this.inFlight = undefined;
    }
  }

  /** Ends the thread; a commit it waits for is given up (the last committed checkpoint stays the job's latest). */
  async close(): Promise<void> {
    this.worker.postMessage({ type: "close" } satisfies Order);
    await within(this.next("closed").catch(() => undefined), CLOSE_WAIT_MS);
    // A thread blocked in a file operation (a hung mount) ends only once it returns: not waited for.
    await within(this.worker.terminate(), CLOSE_WAIT_MS);
  }

  private hear(reply: Reply): void {
    if (reply.type === "failed") {
      this.failure ??= makeError(reply.name, reply.message);
    } else this.replies.push(reply);
    for (const wake of this.waiting.splice(0)) wake();
  }

  private async next(type: "stored" | "closed"): Promise<Reply> {
    for (;;) {
      const at = this.replies.findIndex((r) => r.type === type);
      if (at >= 0) return this.replies.splice(at, 1)[0]!;
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }
}

function makeError(name: string, message: string): Error {
  const error = new CheckpointError(message);
  if (name !== "CheckpointError") error.name = name;
  return error;
}

/** Polls `ready` with growing pauses (1 to 20 ms) until it is true (true), the thread is closing (false), or COMMIT_WAIT_MS passed (throws, naming `what`). */
async function waitFor(what: string, ready: () => Promise<boolean>, closing: () => boolean): Promise<boolean> {
  const deadline = performance.now() + COMMIT_WAIT_MS;
  for (let pause = 1; ; pause = Math.min(20, pause * 2)) {
    if (closing()) return false;
    if (await ready()) return true;
    if (performance.now() > deadline) throw new CheckpointError(`waited ${COMMIT_WAIT_MS} ms for ${what}`);
    await new Promise((r) => setTimeout(r, pause));
  }
}

async function serve(data: ThreadData): Promise<void> {
  const port = parentPort!;
  let store: CheckpointStore | undefined;
  let closing = false;
  const orders: Order[] = [];
  let wake: (() => void) | undefined;
  port.on("message", (order: Order) => {
    if (order.type === "close") closing = true;
    orders.push(order);
    wake?.();
  });
  for (;;) {
    while (orders.length === 0) await new Promise<void>((r) => (wake = r));
    const order = orders.shift()!;
    if (order.type === "close") break;
    store ??= await openStore(data.store, data.job);
    const n = order.checkpoint;
    const record = await store.putPart(n, data.node, order.bytes, order.sha256);
    port.postMessage({ type: "stored", checkpoint: n, buffer: order.bytes.buffer as ArrayBuffer } satisfies Reply, [order.bytes.buffer as ArrayBuffer]);
    const s = store;
    let committed: boolean;
    if (data.node === 0) {
      // A record not there yet is a CheckpointCorruptError ("is missing"); anything else is the store failing.
      const stored = () => s.partRecords(n, data.nodes).then(() => true, (error: unknown) => (error instanceof CheckpointCorruptError ? false : Promise.reject(error)));
      committed = await waitFor(`every node's part of checkpoint ${n} in ${s.where}`, stored, () => closing);
      if (committed) {
        const parts = await s.partRecords(n, data.nodes);
        await s.commit({ format: 1, job: data.job, checkpoint: n, setting: data.setting, parts, committedAt: new Date().toISOString() });
      }
    } else {
      committed = await waitFor(`node 0 to commit checkpoint ${n} in ${s.where}`, () => s.committed(n), () => closing);
    }
    if (committed) writeSync(2, `${data.label}: checkpoint ${n} committed (${record.bytes} bytes, ${Math.round(performance.timeOrigin + performance.now() - order.startedAt)} ms)\n`);
  }
  await store?.close();
  port.postMessage({ type: "closed" } satisfies Reply);
}

if (!isMainThread && (workerData as ThreadData | undefined)?.partThread) {
  serve(workerData as ThreadData).catch((error: Error) => {
    parentPort!.postMessage({ type: "failed", name: error.name, message: error.message } satisfies Reply);
  });
}
