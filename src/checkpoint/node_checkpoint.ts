/**
 * Coordinated checkpoints at barriers, as one node takes part in them (in its kernel's worker).
 *
 * Taking checkpoint N (every node, in the same order):
 *   1. node 0's barrier manager finds one due (`--checkpoint-every` passed since the last) and
 *      names N in the barrier's release; every node hears it (`released`) before barrier() returns
 *   2. the barrier import unwinds the kernel (kernel_state.ts); `run` returns to the runtime
 *   3. the node waits until its part of N−1 is stored (part_thread.ts), then brings the shared
 *      pages it is responsible for up to date through its protocol (read faults: a valid copy of
 *      each, whatever the protocol) and copies its part: kernel state, allocations, those pages
 *      (part.ts)
 *   4. barrier: no node reads pages any more, and every part of N−1 is stored
 *   5. the part goes to the node's part thread; the kernel rewinds and goes on
 * The kernel is parked from 2 to 5, and every node is inside these steps, so the pages read in 3
 * are the values the barrier of step 1 made visible. The part thread then stores the part, and
 * node 0's writes the manifest once every node's part is stored: checkpoint N is committed, and
 * N−1 removed (store.ts). A checkpoint costs the kernel the copy and one barrier; the writing,
 * flushing and checksum go on while it computes.
 *
 * A node is responsible for its block of each collective allocation (shared_pages.ts).
 * Restoring writes those pages back through the protocol (write faults in a fresh run), so every
 * protocol starts from a valid state, and the locks a node held at the barrier are taken again
 * before the kernel goes on.
 *
 * The kernel's side: the runtime tells this class of the kernel's allocations and locks as it
 * makes them, and calls rewound() and afterBarrier() around each barrier.
 */
import { Access, unwindArea } from "../abi.js";
import type { CheckpointSignal } from "../protocol/sync.js";
import { CheckpointError, ResumeError } from "./errors.js";
import { KernelUnwinder } from "./kernel_state.js";
import { makeAccessible, pageRanges, responsiblePages, restorePages, type PageAccess } from "./shared_pages.js";
import { decodePart, PartWriter, type NodePart } from "./part.js";
import { PartThread } from "./part_thread.js";
import { checkSetting, openStore, sha256, type CheckpointStore, type JobSetting, type StoreSpec } from "./store.js";

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
export interface NodeAccess extends PageAccess {
  readonly nodeId: number;
  readonly nodeCount: number;
  /** A barrier of all nodes. */
  barrier(): void;
  /** Tells the protocol of a collective allocation (replayed on restoring). */
  allocated(address: number, bytes: number): void;
  /** Takes a lock through the protocol (one held at the checkpoint, on restoring). */
  lock(id: number): void;
}

/** How long a checkpoint waits for the node's previous part to be stored, or a run's end for its last. */
const STORE_WAIT_MS = 300_000;

export class NodeCheckpoints implements CheckpointSignal {
  private storeOpen: CheckpointStore | undefined;
  /** Stores this node's parts while its kernel computes (with everyMs). */
  private parts: PartThread | undefined;
  private readonly writer = new PartWriter();
  private unwinder: KernelUnwinder | undefined;
  /** The checkpoint the kernel is being unwound for. */
  private unwoundFor: number | undefined;
  /** With `resume`: this node's part of the checkpoint it starts from (load()). */
  private resumed: NodePart | undefined;
  /** The kernel's collective allocations so far, in order (what a checkpoint replays). */
  private readonly allocations: [number, number][] = [];
  /** Locks the kernel holds now (what a restore takes again). */
  private readonly held = new Set<number>();
  /** The checkpoint a release named, not yet taken. */
  private pending: number | undefined;
  /** The last checkpoint taken, resumed from, or (node 0) recorded in the store by any run of the job. */
  private last = 0;
  /** Node 0: when the next one is due (performance.now() ms). */
  private dueAt: number;

  constructor(
    readonly spec: CheckpointSpec,
    private readonly node: NodeAccess,
  ) {
    this.dueAt = spec.everyMs === undefined ? Infinity : performance.now() + spec.everyMs;
  }

  /**
   * With `resume`, loads this node's part of the job's last committed checkpoint (restore() puts
   * it in place); starts the part thread when checkpoints are taken. This node's own connection to
   * the store is made only where it is used: to resume, and on node 0 (numbering, and dropping a
   * finished job's checkpoints); parts are stored through the part thread's.
   */
  async open(): Promise<void> {
    const { spec, node } = this;
    if (spec.resume || node.nodeId === 0) this.storeOpen ??= await openStore(spec.store, spec.job);
    if (spec.resume) await this.load();
    // Node 0 numbers checkpoints: past any a stopped run recorded parts of without committing it.
    if (node.nodeId === 0) this.last = Math.max(this.last, await this.store.highest());
    if (spec.everyMs !== undefined) {
      this.parts = new PartThread({ store: spec.store, job: spec.job, setting: spec.setting, node: node.nodeId, nodes: node.nodeCount, label: spec.label });
    }
  }

  async close(): Promise<void> {
    const parts = this.parts;
    this.parts = undefined;
    await parts?.close();
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

  // The kernel's side: its exports, and what it does between checkpoints.

  /** The kernel's instance is made: checkpoints unwind and rewind it through its exports. */
  attach(exports: WebAssembly.Exports, kernel: string): void {
    this.unwinder = new KernelUnwinder(exports, this.node.memory, this.node.layout, kernel);
  }

  allocated(address: number, bytes: number): void {
    this.allocations.push([address, bytes]);
  }

  locked(id: number): void {
    this.held.add(id);
  }

  unlocked(id: number): void {
    this.held.delete(id);
  }

  /**
   * At the start of the barrier import: true when the kernel is rewinding into it after a
   * checkpoint (or a restore), which ends the rewind; the barrier was passed then.
   */
  rewound(): boolean {
    if (!this.unwinder?.rewinding) return false;
    this.unwinder.stopRewind();
    return true;
  }

  /** At the end of the barrier import: unwinds the kernel when the barrier named a checkpoint. */
  afterBarrier(): void {
    const n = this.pending;
    if (n === undefined) return;
    this.pending = undefined;
    this.unwoundFor = n;
    this.unwinder!.startUnwind();
  }

  /** Whether the kernel returned because it was unwound for a checkpoint. */
  get unwinding(): boolean {
    return this.unwoundFor !== undefined;
  }

  /** Whether the node starts from a checkpoint (restore() before the kernel runs). */
  get resuming(): boolean {
    return this.resumed !== undefined;
  }

  /** The error for a kernel that trapped while unwinding: its stack did not fit the unwind area. */
  stackTooDeep(trap: unknown): CheckpointError {
    const area = unwindArea(this.node.layout);
    return new CheckpointError(
      `node ${this.node.nodeId}: the kernel's stack at the barrier did not fit the ${area.end - area.base} bytes checkpoints keep for it (${trap instanceof Error ? trap.message : String(trap)}); call barrier() from a shallower call depth`,
    );
  }

  /**
   * Takes the checkpoint the kernel was unwound for (steps 3 to 5 above), then lets it rewind;
   * returns the bytes of this node's part and the milliseconds the steps took.
   */
  async checkpoint(): Promise<{ bytes: number; ms: number }> {
    const n = this.unwoundFor!;
    this.unwoundFor = undefined;
    this.unwinder!.stopUnwind();
    const saved = await this.save(n);
    this.unwinder!.startRewind();
    return saved;
  }

  /**
   * Puts the checkpoint loaded in place, before the kernel runs: the allocations replayed into
   * the protocol, the locks held taken again, the kernel's state, this node's pages written back
   * through the protocol; a barrier, so every node's pages are back before any kernel goes on;
   * then the kernel rewinds to the barrier it was unwound at.
   */
  restore(): void {
    const { node } = this;
    const part = this.resumed!;
    this.resumed = undefined;
    for (const [address, bytes] of part.allocations) {
      this.allocations.push([address, bytes]);
      node.allocated(address, bytes);
    }
    for (const id of part.locks) {
      node.lock(id);
      this.held.add(id);
    }
    this.unwinder!.restore(part.kernel);
    restorePages(node, part);
    node.barrier();
    this.unwinder!.startRewind();
  }

  private async save(n: number): Promise<{ bytes: number; ms: number }> {
    const t0 = performance.now();
    const { node, spec } = this;
    const parts = this.parts!;
    // Part N−1 is stored long since, unless the store is slower than the checkpoints.
    const buffer = await parts.stored(STORE_WAIT_MS);
    if (buffer) this.writer.adopt(buffer);
    const size = node.layout.pageSize;
    const pages = responsiblePages(node.layout, node.nodeCount, node.nodeId, this.allocations);
    this.writer.begin(this.unwinder!.capture(), pages.length, size);
    for (const [first, last] of pageRanges(pages)) {
      // Read at once: the protocol may take a page again at the next fault (the kernel is parked there).
      makeAccessible(node, first, last, Access.Read);
      this.writer.pages(node.memory.buffer, first, last, size);
    }
    const part = this.writer.finish(node.nodeId, size, this.allocations, [...this.held]);
    // The checksum is computed here, on every node at once, rather than on a thread that would take a core from a kernel.
    const digest = sha256(part);
    node.barrier();
    const bytes = part.length;
    parts.put(n, part, digest, performance.timeOrigin + t0);
    this.last = n;
    if (spec.everyMs !== undefined) this.dueAt = performance.now() + spec.everyMs;
    return { bytes, ms: performance.now() - t0 };
  }

  /** Before the run's final barrier: this node's last part is stored (so node 0 may drop them all after it). */
  async settle(): Promise<void> {
    const buffer = await this.parts?.stored(STORE_WAIT_MS);
    if (buffer) this.writer.adopt(buffer);
  }

  /** Loads this node's part of the job's last committed checkpoint, checked. */
  private async load(): Promise<void> {
    const { spec, node } = this;
    const manifest = await this.store.latest();
    if (!manifest) throw new ResumeError(`job ${spec.job} has no committed checkpoint in ${this.store.where}; start it without --resume`);
    checkSetting(manifest, spec.setting, this.store.where);
    const part = decodePart(await this.store.getPart(manifest, node.nodeId), `checkpoint ${manifest.checkpoint}, part of node ${node.nodeId}`);
    if (part.node !== node.nodeId || part.pageSize !== node.layout.pageSize) throw new CheckpointError(`checkpoint ${manifest.checkpoint}: the part of node ${node.nodeId} holds node ${part.node}'s state`);
    this.last = manifest.checkpoint;
    this.resumed = part;
  }

  /** After a finished run (and its final barrier): its checkpoints are of no further use. */
  async finished(): Promise<void> {
    // No commit may land after the drop.
    const parts = this.parts;
    this.parts = undefined;
    await parts?.close();
    if (this.node.nodeId === 0) await this.store.drop();
  }
}
