/**
 * Page copies for twins (lrc/pages.ts, diff_protocol.ts), recycled: falsely shared pages are
 * twinned by every node in every interval, and a fresh 4 KiB buffer per twin costs an allocation
 * and, later, the collector's time. One copy may serve twice (a closed interval's "after" is the next interval's
 * twin), so each copy counts its holders and returns to the spare list when the last lets go.
 * New copies are cut from slabs of {@link SLAB_PAGES} pages: a view into an existing buffer costs
 * a fraction of a fresh 4 KiB buffer's allocation (lrc's Jacobi 1024×100 on 2 nodes makes 200,000
 * twins, most held until a collection, so the spare list is empty for most of them).
 */
import { firstChange, NEWER_AT, SCAN_BLOCK_BYTES, SCRATCH_BYTES, scratch } from "../diff_scan.js";

const SLAB_PAGES = 64;

export class PageCopies {
  private readonly spare: Uint8Array[] = [];
  private readonly holders = new Map<Uint8Array, number>();
  private slab: ArrayBuffer | undefined;
  private slabUsed = SLAB_PAGES;

  constructor(
    private readonly pageSize: number,
    /**
     * Most spare copies kept; more are left to the collector. Enough for the twins of a whole
     * lrc collection cycle (32 MiB): copies dropped at a collection and allocated afresh after
     * it cost the kernel's page faults on new memory and the collector's work, several times the
     * copying itself.
     */
    private readonly maxSpare = Math.max(256, (32 << 20) / pageSize),
  ) {}

  /**
   * A page of zeros, handed out for every all-zero page by {@link copyOrZero}: a first sweep over
   * fresh memory (a stencil's initialisation) twins thousands of such pages. Never written, never
   * recycled: hold() and release() leave it alone.
   */
  private zeros: Uint8Array | undefined;

  /**
   * A copy of `page` with one holder, or the shared page of zeros when `page` is all zeros. The
   * page is compared with zeros by the diff scan's WebAssembly (diff_scan.ts), 64 bytes at a
   * time from the first call: a first sweep twins thousands of pages, most of them before the
   * JavaScript compiler has optimised a word loop here.
   */
  copyOrZero(page: Uint8Array): Uint8Array {
    if (page.byteLength % SCAN_BLOCK_BYTES === 0 && page.byteLength <= SCRATCH_BYTES) {
      scratch.fill(0, 0, page.byteLength);
      scratch.set(page, NEWER_AT);
      if (firstChange(0, page.byteLength) < page.byteLength) return this.copy(page);
    } else if (page.some((b) => b !== 0)) return this.copy(page);
    return (this.zeros ??= new Uint8Array(this.pageSize));
  }

  /** A copy of `page` with one holder. */
  copy(page: Uint8Array): Uint8Array {
    const bytes = this.spare.pop() ?? this.fresh();
    bytes.set(page);
    this.holders.set(bytes, 1);
    return bytes;
  }

  /** One more holder of `bytes`. */
  hold(bytes: Uint8Array): void {
    if (bytes === this.zeros) return;
    this.holders.set(bytes, (this.holders.get(bytes) ?? 0) + 1);
  }

  /** One holder of `bytes` lets go; the last one returns it to the spare list. */
  release(bytes: Uint8Array): void {
    if (bytes === this.zeros) return;
    const left = (this.holders.get(bytes) ?? 0) - 1;
    if (left > 0) {
      this.holders.set(bytes, left);
      return;
    }
    if (left < 0) return; // not ours, or released already: never recycled twice
    this.holders.delete(bytes);
    if (this.spare.length < this.maxSpare) this.spare.push(bytes);
  }

  private fresh(): Uint8Array {
    if (this.slabUsed === SLAB_PAGES) {
      this.slab = new ArrayBuffer(this.pageSize * SLAB_PAGES);
      this.slabUsed = 0;
    }
    return new Uint8Array(this.slab!, this.pageSize * this.slabUsed++, this.pageSize);
  }

  /** Copies with at least one holder. */
  get live(): number {
    return this.holders.size;
  }

  /** Spare copies ready for reuse. */
  get spares(): number {
    return this.spare.length;
  }
}
