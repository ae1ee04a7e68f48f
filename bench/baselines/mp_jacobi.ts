/**
 * @fileoverview Jacobi by hand-written message passing over the {@link Transport} seam: what a user
 * writes without DSM, as TreadMarks was compared with PVM. It computes the same checksum as
 * assembly/kernels/jacobi.ts (same rows per node, same update, same checksum order), but the
 * compute is plain JavaScript on Float64Arrays (bench/baselines/jacobi_rows.ts), not Wasm.
 *
 * Node `id` owns rows lo..hi-1 (the kernel's split) plus one ghost row on each side. Each sweep t:
 *
 *   node id-1                      node id                           node id+1
 *      ◀──── ROW(t, lo) ──────────   send own edge rows   ──── ROW(t, hi-1) ────▶
 *      ───── ROW(t, lo-1) ───────▶   wait for both ghosts ◀──── ROW(t, hi) ───────
 *                                    sweep own rows, swap
 *
 * Start: each node asks each neighbour HELLO (request/reply, retried while nobody listens), so no
 * row is sent before its receiver listens. End: every node sums its own rows (the kernel's
 * reduction); nodes 1.. send their row sums to node 0 as a GATHER request, acknowledged; node 0
 * adds all row sums in row order. Rows go as fire-and-forget sends, like PVM; a lost one shows up
 * as {@link MpTimeoutError}. Wire format, little-endian: u32 kind, u32 sweep, u32 first row,
 * u32 row count, then rows × n f64 (ROW) or row count f64 row sums (GATHER).
 *
 * {@link runMpJacobi} runs every node in this process (one thread: the nodes' compute takes turns,
 * so its time is the sum of their sweeps plus the messaging); {@link runMpJacobiNode} runs one node,
 * for a process of its own over NATS.
 */
import { NoRespondersError } from "../../src/transport/errors.js";
import type { Transport } from "../../src/transport/transport.js";
import { checkJacobiArgs, initRows, rowSum, rowsOf, sweepRows } from "./jacobi_rows.js";

const Kind = { Hello: 1, Row: 2, Gather: 3 } as const;
const HEADER = 16;

export interface MpJacobiOptions {
  /** Bound on every wait for another node, in milliseconds. @default 10000 */
  timeoutMs?: number;
}

export interface MpJacobiResult {
  /** Node 0's checksum. */
  result: number;
  ms: number;
  /** Messages and bytes sent by all nodes during the run. */
  messages: number;
  bytes: number;
}

export class MpTimeoutError extends Error {
  override name = "MpTimeoutError";
}

export class MpMessageError extends Error {
  override name = "MpMessageError";
}

/** Runs every node of `transports` (one per node, ids 0..n-1) in this process. */
export async function runMpJacobi(transports: Transport[], n: number, iters: number, options: MpJacobiOptions = {}): Promise<MpJacobiResult> {
  const before = transports.map((t) => ({ ...t.counters }));
  const nodes = transports.map((t) => new MpJacobiNode(t, n, iters, options));
  // A NATS subscription is live once the server has it: flush, so no HELLO finds nobody listening.
  await Promise.all(transports.map((t) => (t as { flush?: () => Promise<void> }).flush?.()));
  const t0 = performance.now();
  const results = await Promise.all(nodes.map((node) => node.run()));
  const ms = performance.now() - t0;
  let messages = 0;
  let bytes = 0;
  transports.forEach((t, i) => {
    messages += t.counters.messages - before[i].messages;
    bytes += t.counters.bytes - before[i].bytes;
  });
  return { result: results[0], ms, messages, bytes };
}

/** Runs node `transport.nodeId`; resolves to the checksum on node 0 and to 0 elsewhere. */
export function runMpJacobiNode(transport: Transport, n: number, iters: number, options: MpJacobiOptions = {}): Promise<number> {
  return new MpJacobiNode(transport, n, iters, options).run();
}

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

class MpJacobiNode {
  private readonly id: number;
  private readonly nodes: number;
  private readonly lo: number;
  private readonly hi: number;
  private readonly timeoutMs: number;
  /** Early rows by `sweep:row`, and the one wait for a row that has not arrived. */
  private readonly arrived = new Map<string, Uint8Array>();
  private readonly waiting = new Map<string, Waiter>();
  /** Node 0 only: the row sums of the whole grid, and how many of them came from others. */
  private sums?: Float64Array;
  private gathered = 0;
  private gatherWaiter?: Waiter;
  private failure?: Error;

  constructor(
    private readonly transport: Transport,
    private readonly n: number,
    private readonly iters: number,
    options: MpJacobiOptions,
  ) {
    this.id = transport.nodeId;
    this.nodes = transport.nodeCount;
    checkJacobiArgs(n, iters, this.nodes);
    ({ lo: this.lo, hi: this.hi } = rowsOf(this.id, this.nodes, n));
    this.timeoutMs = options.timeoutMs ?? 10_000;
    if (this.id === 0) this.sums = new Float64Array(n);
    transport.listen((bytes, reply) => this.receive(bytes, reply));
  }

  async run(): Promise<number> {
    const { n, lo, hi, id, nodes } = this;
    const base = lo - 1;
    let src = new Float64Array((hi - lo + 2) * n);
    let dst = new Float64Array((hi - lo + 2) * n);
    initRows(src, n, lo, hi, base);
    initRows(dst, n, lo, hi, base);
    if (id > 0) await this.hello(id - 1);
    if (id < nodes - 1) await this.hello(id + 1);
    for (let t = 0; t < this.iters; t++) {
      if (id > 0) this.transport.send(id - 1, encodeRows(Kind.Row, t, src, n, lo, 1, base));
      if (id < nodes - 1) this.transport.send(id + 1, encodeRows(Kind.Row, t, src, n, hi - 1, 1, base));
      if (id > 0) copyRows(await this.row(t, lo - 1), src, n, lo - 1, base);
      if (id < nodes - 1) copyRows(await this.row(t, hi), src, n, hi, base);
      sweepRows(src, dst, n, lo, hi, base);
      [src, dst] = [dst, src];
    }
    const own = new Float64Array(hi - lo);
    for (let i = lo; i < hi; i++) own[i - lo] = rowSum(src, n, i, base);
    if (id !== 0) {
      await this.sendSumsToZero(own);
      return 0;
    }
    this.sums!.set(own, lo);
    await this.allGathered();
    let sum = 0;
    for (let i = 0; i < n; i++) sum += this.sums![i];
    return sum;
  }

  private async hello(to: number): Promise<void> {
    const deadline = performance.now() + this.timeoutMs;
    const ask = new Uint8Array(HEADER);
    new DataView(ask.buffer).setUint32(0, Kind.Hello, true);
    for (;;) {
      try {
        await this.transport.request(to, ask, this.timeoutMs);
        return;
      } catch (error) {
        if (!(error instanceof NoRespondersError) || performance.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
  }

  private async sendSumsToZero(sums: Float64Array): Promise<void> {
    await this.transport.request(0, encodeRows(Kind.Gather, 0, sums, 1, this.lo, sums.length, this.lo), this.timeoutMs);
  }

  /** The bytes of row `row` for sweep `sweep`, as soon as they arrive. */
  private row(sweep: number, row: number): Promise<Uint8Array> {
    const key = `${sweep}:${row}`;
    const take = () => {
      const bytes = this.arrived.get(key)!;
      this.arrived.delete(key);
      return bytes;
    };
    if (this.arrived.has(key)) return Promise.resolve(take());
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(key);
        reject(new MpTimeoutError(`node ${this.id}: no row ${row} of sweep ${sweep} after ${this.timeoutMs} ms; was it lost, or is its node stuck?`));
      }, this.timeoutMs);
      this.waiting.set(key, { resolve, reject, timer });
    }).then(take);
  }

  private allGathered(): Promise<void> {
    const expected = this.n - (this.hi - this.lo);
    if (this.gathered === expected) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new MpTimeoutError(`node 0: gathered ${this.gathered} of ${expected} rows after ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.gatherWaiter = { resolve, reject, timer };
    });
  }

  private receive(bytes: Uint8Array, reply?: (bytes: Uint8Array) => void): void {
    try {
      const { kind, sweep, first, count } = decodeHeader(bytes, this.n);
      if (kind === Kind.Hello) {
        reply?.(new Uint8Array(0));
      } else if (kind === Kind.Row) {
        const key = `${sweep}:${first}`;
        this.arrived.set(key, bytes.slice(HEADER));
        const waiter = this.waiting.get(key);
        if (waiter) {
          this.waiting.delete(key);
          clearTimeout(waiter.timer);
          waiter.resolve();
        }
      } else {
        if (!this.sums || first + count > this.n) throw new MpMessageError(`node ${this.id}: unexpected gather of rows ${first}..${first + count - 1}`);
        copyRows(bytes.subarray(HEADER), this.sums, 1, first, 0);
        this.gathered += count;
        reply?.(new Uint8Array(0));
        if (this.gatherWaiter && this.gathered === this.n - (this.hi - this.lo)) {
          clearTimeout(this.gatherWaiter.timer);
          this.gatherWaiter.resolve();
        }
      }
    } catch (error) {
      this.fail(error as Error);
    }
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const waiter of [...this.waiting.values(), ...(this.gatherWaiter ? [this.gatherWaiter] : [])]) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
    this.waiting.clear();
  }
}

function encodeRows(kind: number, sweep: number, src: Float64Array, n: number, first: number, count: number, base: number): Uint8Array {
  const out = new Uint8Array(HEADER + count * n * 8);
  const view = new DataView(out.buffer);
  view.setUint32(0, kind, true);
  view.setUint32(4, sweep, true);
  view.setUint32(8, first, true);
  view.setUint32(12, count, true);
  out.set(new Uint8Array(src.buffer, src.byteOffset + (first - base) * n * 8, count * n * 8), HEADER);
  return out;
}

/** Validates a message's header against its length; the bytes may start at any offset. */
function decodeHeader(bytes: Uint8Array, n: number): { kind: number; sweep: number; first: number; count: number } {
  if (bytes.byteLength < HEADER) throw new MpMessageError(`message of ${bytes.byteLength} bytes: shorter than the ${HEADER}-byte header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const kind = view.getUint32(0, true);
  const sweep = view.getUint32(4, true);
  const first = view.getUint32(8, true);
  const count = view.getUint32(12, true);
  if (kind !== Kind.Hello && kind !== Kind.Row && kind !== Kind.Gather) throw new MpMessageError(`message kind ${kind}: not HELLO, ROW or GATHER`);
  const want = kind === Kind.Hello ? HEADER : HEADER + count * (kind === Kind.Row ? n : 1) * 8;
  if (bytes.byteLength !== want) throw new MpMessageError(`message kind ${kind} of ${bytes.byteLength} bytes: expected ${want} for ${count} row(s) of ${n}`);
  return { kind, sweep, first, count };
}

/** Copies whole rows (raw f64 bytes, any offset) into `dst` (stored from global row `base`) at global row `first`. */
function copyRows(bytes: Uint8Array, dst: Float64Array, n: number, first: number, base: number): void {
  new Uint8Array(dst.buffer, dst.byteOffset + (first - base) * n * 8, bytes.byteLength).set(bytes);
}
