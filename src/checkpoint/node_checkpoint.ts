/**
 * Coordinated checkpoints at barriers, as one node takes part in them (in its kernel's worker).
 *
 * Taking checkpoint N (every node, in the same order):
 *   1. node 0's barrier manager finds one due (`--checkpoint-every` passed since the last) and
 *      names N in the barrier's release; every node hears it (`released`) before barrier() returns
 *   2. the barrier import unwinds the kernel (kernel_state.ts); `run` returns to the runtime
 *   3. the node brings the shared pages it is responsible for up to date through its protocol
 *      (read faults: a valid copy of each, whatever the protocol) and stores its part: kernel
 *      state, allocations, those pages (part.ts), with their record
 *   4. barrier: every part is stored, and no node reads pages any more
 *   5. node 0 writes the manifest: checkpoint N is committed, N−1 removed (store.ts)
 *   6. barrier: every node knows N is committed and prints so; the kernel rewinds and goes on
 * The kernel is parked from 2 to 6, and every node is inside these steps, so the pages read in 3
 * are the values the barrier of step 1 made visible.
 *
 * A node is responsible for the pages the "allocation" placement gives it (placement.ts): each
 * collective allocation cut into one block per node. Restoring writes them back through the
 * protocol (write faults in a fresh run), so every protocol starts from a valid state.
 */
import { Access, NO_READ, NO_WRITE, type Layout } from "../abi.js";
import { AllocationPlacement } from "../protocol/placement.js";
import type { CheckpointSignal } from "../protocol/sync.js";
import { CheckpointError, ResumeError } from "./errors.js";
import type { KernelUnwinder } from "./kernel_state.js";
import { decodePart, PartWriter, type NodePart } from "./part.js";
import { checkSetting, openStore, type CheckpointStore, type JobSetting, type StoreSpec } from "./store.js";

/** Checkpoints of one node, as plain data (posted to its worker). */
export interface CheckpointSpec {
  store: StoreSpec;
  job: string;
  /** Take one at the first barrier this long after the last (node 0 decides); absent: none. */
  everyMs?: number;
  /** Start from the job's last committed checkpoint. */
  resume: boolean;
  setting: JobSetting;
  /** What the commit line starts with: "dsm node", "dsm run: node 1". */
  label: string;
}

/** What a checkpoint needs of its node; every call runs with the kernel parked. */
export interface NodeAccess {
  readonly nodeId: number;
  readonly nodeCount: number;
  readonly layout: Layout;
  readonly memory: WebAssembly.Memory;
  /** Makes pages first..last allow `access` through the protocol; returns once they do. */
  fault(first: number, last: number, access: Access): void;
  /** A barrier of all nodes. */
  barrier(): void;
  /** Writes a line to the node's stderr. */
  log(line: string): void;
}

/** Pages faulted at once while saving or restoring. */
const PAGES_PER_FAULT = 64;

export class NodeCheckpoints implements CheckpointSignal {
  private storeOpen: CheckpointStore | undefined;
  private readonly writer = new PartWriter();
  /** The checkpoint a release named, not yet taken. */
  private pending: number | undefined;
  /** The last checkpoint committed (or resumed from). */
  private last = 0;
  /** Node 0: when the next one is due (performance.now() ms). */
  private dueAt: number;

  constructor(
    readonly spec: CheckpointSpec,
    private readonly node: NodeAccess,
  ) {
    this.dueAt = spec.everyMs === undefined ? Infinity : performance.now() + spec.everyMs;
  }

  /** Connects the store (before the first save or load). */
  async open(): Promise<void> {
    this.storeOpen ??= await openStore(this.spec.store, this.spec.job);
  }

  async close(): Promise<void> {
    await this.storeOpen?.close();
  }

  private get store(): CheckpointStore {
    return this.storeOpen!;
  }

  due(): number | undefined {
    if (this.node.nodeId !== 0 || performance.now() < this.dueAt) return undefined;
    this.dueAt = Infinity; // until this one is committed
    return this.last + 1;
  }

  released(checkpoint: number): void {
    this.pending = checkpoint;
  }

  /** The checkpoint the last barrier named, once: the kernel is to be unwound for it. */
  take(): number | undefined {
    const n = this.pending;
    this.pending = undefined;
    return n;
  }

  /** Steps 3 to 6, with the kernel unwound. */
  /** Returns the bytes of this node's part and the milliseconds the steps took. */
  async save(n: number, unwinder: KernelUnwinder, allocations: [number, number][], locks: number[]): Promise<{ bytes: number; ms: number }> {
    const t0 = performance.now();
    const { node, spec } = this;
    const size = node.layout.pageSize;
    const pages = this.responsible(allocations);
    this.writer.begin(unwinder.capture(), pages.length, size);
    for (const [first, last] of ranges(pages)) {
      // Read at once: the protocol may take a page again at the next fault (the kernel is parked there).
      this.makeAccessible(first, last, Access.Read);
      this.writer.pages(node.memory.buffer, first, last, size);
    }
    const part = this.writer.finish(node.nodeId, size, allocations, locks);
    await this.store.putPart(n, node.nodeId, part);
    node.barrier();
    if (node.nodeId === 0) {
      const parts = await this.store.partRecords(n, node.nodeCount);
      await this.store.commit({ format: 1, job: spec.job, checkpoint: n, setting: spec.setting, parts, committedAt: new Date().toISOString() });
    }
    node.barrier();
    this.last = n;
    if (spec.everyMs !== undefined) this.dueAt = performance.now() + spec.everyMs;
    const ms = performance.now() - t0;
    node.log(`${spec.label}: checkpoint ${n} committed (${part.length} bytes, ${Math.round(ms)} ms)`);
    return { bytes: part.length, ms };
  }

  /** With `resume`: this node's part of the job's last committed checkpoint, checked. */
  async load(): Promise<NodePart> {
    const { spec, node } = this;
    const manifest = await this.store.latest();
    if (!manifest) throw new ResumeError(`job ${spec.job} has no committed checkpoint in ${this.store.where}; start it without --resume`);
    checkSetting(manifest, spec.setting, this.store.where);
    const part = decodePart(await this.store.getPart(manifest, node.nodeId), `checkpoint ${manifest.checkpoint}, part of node ${node.nodeId}`);
    if (part.node !== node.nodeId || part.pageSize !== node.layout.pageSize) throw new CheckpointError(`checkpoint ${manifest.checkpoint}: the part of node ${node.nodeId} holds node ${part.node}'s state`);
    this.last = manifest.checkpoint;
    return part;
  }

  /** Writes a part's pages back through the protocol (after the allocations were replayed). */
  restorePages(part: NodePart): void {
    const { node } = this;
    const size = node.layout.pageSize;
    for (const run of part.pages) {
      const count = run.data.length / size;
      for (let at = 0; at < count; at += PAGES_PER_FAULT) {
        const first = run.first + at;
        const last = run.first + Math.min(count, at + PAGES_PER_FAULT) - 1;
        this.makeAccessible(first, last, Access.Write);
        new Uint8Array(node.memory.buffer, first * size, (last - first + 1) * size).set(run.data.subarray(at * size, (last - run.first + 1) * size));
      }
    }
  }

  /** After a finished run: its checkpoints are of no further use. */
  async finished(): Promise<void> {
    if (this.node.nodeId === 0) await this.store.drop();
  }

  /** The region pages this node saves: its block of each allocation. */
  private responsible(allocations: [number, number][]): number[] {
    const { layout, nodeCount, nodeId } = this.node;
    const firstPage = layout.regionBase >>> layout.pageShift;
    const placement = new AllocationPlacement(firstPage, layout.regionBytes >>> layout.pageShift, nodeCount, layout.pageShift, () => -1);
    const pages: number[] = [];
    for (const [address, bytes] of allocations) {
      const placed = placement.allocate(address, bytes);
      if (!placed) continue;
      for (let p = placed.first; p <= placed.last; p++) if (placement.managerOf(p) === nodeId) pages.push(p);
    }
    return pages;
  }

  private makeAccessible(first: number, last: number, access: Access): void {
    const { layout, memory } = this.node;
    const table = new Uint8Array(memory.buffer, layout.tableBase, layout.tableBytes);
    const forbidden = access === Access.Write ? NO_READ | NO_WRITE : NO_READ;
    for (let p = first; p <= last; p++) {
      if ((table[p]! & forbidden) === 0) continue;
      this.node.fault(p, Math.min(last, p + PAGES_PER_FAULT - 1), access);
      p = Math.min(last, p + PAGES_PER_FAULT - 1);
    }
  }
}

/** Ascending pages as [first, last] runs of consecutive ones, at most PAGES_PER_FAULT long. */
function* ranges(pages: readonly number[]): Generator<[number, number]> {
  let i = 0;
  while (i < pages.length) {
    let j = i;
    while (j + 1 < pages.length && pages[j + 1] === pages[j]! + 1 && j + 1 - i < PAGES_PER_FAULT) j++;
    yield [pages[i]!, pages[j]!];
    i = j + 1;
  }
}
