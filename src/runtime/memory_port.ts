/**
 * A node's memory as its protocol sees it (PagePort), inside the kernel's worker: page views and
 * the protection table over the node's shared WebAssembly.Memory.
 *
 * The parking invariant is checked here. `parked` is true while the kernel is inside one of its
 * calls into the runtime (a fault, a poll, a sync call, an allocation), before `run` starts and
 * after it returned (worker_node.ts sets it). Protocol code runs only then (reactor.ts), so
 * whenParked runs its function at once; a protection change while the kernel runs is a bug and
 * throws.
 */
import type { Layout, Protection } from "../abi.js";
import { regionPages } from "../abi.js";
import type { PagePort } from "../protocol/coherence.js";

export class ParkingError extends Error {
  override name = "ParkingError";
}

export class MemoryPort implements PagePort {
  readonly pageSize: number;
  readonly firstPage: number;
  readonly pageCount: number;
  /** See the file comment. */
  parked = true;
  /** The kernel is parked at a poll point or in a fault (worker_node.ts sets it around them). */
  busy = false;
  private readonly table: Uint8Array;
  private readonly shift: number;
  private readonly views: (Uint8Array | undefined)[] = [];

  constructor(
    readonly memory: WebAssembly.Memory,
    readonly layout: Layout,
    readonly nodeId: number,
  ) {
    const { first, end } = regionPages(layout);
    this.pageSize = layout.pageSize;
    this.shift = layout.pageShift;
    this.firstPage = first;
    this.pageCount = end - first;
    this.table = new Uint8Array(memory.buffer, layout.tableBase, layout.tableBytes);
  }

  page(page: number): Uint8Array {
    // One view per page, made on first use: the protocol asks for pages on every message.
    const i = page - this.firstPage;
    if (i >= 0 && i < this.pageCount) return (this.views[i] ??= new Uint8Array(this.memory.buffer, page << this.shift, this.pageSize));
    return new Uint8Array(this.memory.buffer, page << this.shift, this.pageSize);
  }

  protection(page: number): Protection {
    return this.table[page] as Protection;
  }

  setProtection(page: number, protection: Protection): void {
    if (!this.parked) throw new ParkingError(`node ${this.nodeId}: page ${page} protection changed while the kernel runs (parking invariant)`);
    this.table[page] = protection;
  }

  working(): boolean {
    return this.busy;
  }

  whenParked(fn: () => void, failed: (error: unknown) => void): void {
    if (!this.parked) return failed(new ParkingError(`node ${this.nodeId}: protocol work asked for while the kernel runs (parking invariant)`));
    try {
      fn();
    } catch (error) {
      failed(error);
    }
  }
}
