/**
 * Bytes for diffs whose end their keeper knows, cut from recycled slabs. A fresh typed array costs
 * an allocation the collector later pays for again: a few microseconds for a 2 KiB diff, and
 * falsely shared pages make one diff per page per node at every barrier (lrc's falseshare on 2
 * nodes made 64,000 per node per second, and spent a fifth of its time collecting garbage). Here
 * a diff is a view into a slab; each slab counts its live views, and one whose views are all freed
 * is used again.
 *
 *   take(n)    an 8-byte aligned view of n bytes in the current slab (a new or spare slab when full)
 *   free(v)    v's slab has one live view fewer; at none it is spare again
 *   reset()    every view is dead (its keeper dropped them all): every slab is spare
 *
 * The keeper must free a view only once and use it no more after: the bytes are handed out again.
 * Views longer than a slab are plain arrays, left to the collector.
 */

/** Bytes of one slab. */
export const SLAB_BYTES = 256 << 10;

export class ByteArena {
  private slab: ArrayBuffer | undefined;
  private used = 0;
  private readonly live = new Map<ArrayBuffer, number>();
  private readonly spare: ArrayBuffer[] = [];

  constructor(
    /**
     * Bytes of spare slabs kept; more are left to the collector. A keeper that frees a whole
     * history at once (an lrc collection) keeps what it will fill again, as a fresh slab costs
     * the page faults of new memory (a tenth of lrc's time on LU).
     */
    private readonly spareBytes = 4 << 20,
  ) {}

  /** An 8-byte aligned view of `bytes` bytes, valid until freed. */
  take(bytes: number): Uint8Array {
    const size = (bytes + 7) & ~7;
    if (size > SLAB_BYTES) return new Uint8Array(bytes);
    if (this.slab === undefined || this.used + size > SLAB_BYTES) this.next();
    const slab = this.slab!;
    const view = new Uint8Array(slab, this.used, bytes);
    this.used += size;
    this.live.set(slab, (this.live.get(slab) ?? 0) + 1);
    return view;
  }

  /** `view` (from take) is dead. A view not from here is ignored. */
  free(view: Uint8Array): void {
    const slab = view.buffer as ArrayBuffer;
    const live = this.live.get(slab);
    if (live === undefined) return;
    if (live > 1) {
      this.live.set(slab, live - 1);
      return;
    }
    this.live.delete(slab);
    if (slab === this.slab) this.used = 0;
    else if (this.spare.length * SLAB_BYTES < this.spareBytes) this.spare.push(slab);
  }

  /** Every view handed out is dead. */
  reset(): void {
    for (const slab of this.live.keys()) if (slab !== this.slab && this.spare.length * SLAB_BYTES < this.spareBytes) this.spare.push(slab);
    this.live.clear();
    this.used = 0;
  }

  /** Slabs with live views. */
  get slabs(): number {
    return this.live.size;
  }

  private next(): void {
    if (this.slab !== undefined && !this.live.has(this.slab)) {
      this.used = 0;
      return;
    }
    this.slab = this.spare.pop() ?? new ArrayBuffer(SLAB_BYTES);
    this.used = 0;
  }
}
