/**
 * Page copies for twins (lrc/pages.ts, diff_protocol.ts), recycled: falsely shared pages are
 * twinned by every node in every interval, and a fresh 4 KiB buffer per twin costs an allocation
 * and, later, the collector's time. One copy may serve twice (a closed interval's "after" is the next interval's
 * twin), so each copy counts its holders and returns to the spare list when the last lets go.
 */
export class PageCopies {
  private readonly spare: Uint8Array[] = [];
  private readonly holders = new Map<Uint8Array, number>();

  constructor(
    private readonly pageSize: number,
    /** Most spare copies kept; more are left to the collector. */
    private readonly maxSpare = 256,
  ) {}

  /** A copy of `page` with one holder. */
  copy(page: Uint8Array): Uint8Array {
    const bytes = this.spare.pop() ?? new Uint8Array(this.pageSize);
    bytes.set(page);
    this.holders.set(bytes, 1);
    return bytes;
  }

  /** One more holder of `bytes`. */
  hold(bytes: Uint8Array): void {
    this.holders.set(bytes, (this.holders.get(bytes) ?? 0) + 1);
  }

  /** One holder of `bytes` lets go; the last one returns it to the spare list. */
  release(bytes: Uint8Array): void {
    const left = (this.holders.get(bytes) ?? 0) - 1;
    if (left > 0) {
      this.holders.set(bytes, left);
      return;
    }
    if (left < 0) return; // not ours, or released already: never recycled twice
    this.holders.delete(bytes);
    if (this.spare.length < this.maxSpare) this.spare.push(bytes);
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
