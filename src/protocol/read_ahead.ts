/**
 * Which pages a fault brings in with the pages it needs, for every protocol: ivy, diff and
 * migrate (page_requester.ts, at most READ_AHEAD_PAGES beyond the faulted ones), lrc and hlrc
 * (lrc/page_faults.ts, hlrc/faults.ts, at most PREFETCH_PAGES in all). The requests for all of
 * them leave at once, so they cost one exchange instead of one per page. ArgoDSM fetches 8 pages
 * per miss; TreadMarks lost to message passing mainly by sending one request per page.
 *
 * A fault past the previous one of a sweep but no further than just past its range continues
 * that sweep and doubles its range, up to the reach; any other fault starts a sweep of its own,
 * with the faulted pages only, in place of the sweep continued longest ago. So a first pass over
 * a large array costs a few faults instead of one per page, arrays swept side by side (a
 * stencil's initialisation writing two grids, matmul's node 0 writing A and B) are sweeps each,
 * and scattered faults bring nothing extra (a page another node is writing is not copied for
 * nothing). A sweep's extent is remembered by its first page: a fault that starts a sweep again
 * where one started before brings in at once the pages that sweep reached (a stencil's neighbour
 * row of two pages, every phase: one fault instead of two).
 */

/** Most pages an ivy, diff or migrate fault brings in beyond the pages it needs. */
export const READ_AHEAD_PAGES = 8;

/** Throws a RangeError naming a reach that is not a whole number of pages, at least 1. */
function checkReach(reach: number): void {
  if (!Number.isInteger(reach) || reach < 1) throw new RangeError(`read-ahead reach ${reach}: expected a whole number of pages, at least 1`);
}

/** Sweeps followed at once. */
const STREAMS = 4;

/** Sweep extents remembered; the oldest are forgotten first. */
const MAX_REMEMBERED = 4096;

export class ReadAhead {
  /** The sweeps, the one continued last first. */
  private readonly streams: { start: number; last: number; end: number; window: number }[] = [];
  /** First page of a sweep → the last page it faulted on, for the sweeps that went past one fault. */
  private readonly reached = new Map<number, number>();

  /**
   * @param lastPage the last page a fault may bring in
   * @param reach most pages one fault brings in, the faulted ones included when they are one page
   */
  constructor(
    private readonly lastPage: number,
    private readonly reach: number,
  ) {
    checkReach(reach);
  }

  /** Records a fault on first..last; returns the last page of the range to bring in with it (≥ last). */
  next(first: number, last: number): number {
    // Runs on every fault before its requests leave: plain loops, and a sweep moved to the front
    // in place (at most STREAMS of them), instead of findIndex, splice and unshift.
    const streams = this.streams;
    let at = -1;
    for (let i = 0; i < streams.length; i++) {
      const s = streams[i]!;
      if (first > s.last && first <= s.end + 1) {
        at = i;
        break;
      }
    }
    let stream: { start: number; last: number; end: number; window: number };
    let end: number;
    if (at >= 0) {
      stream = streams[at]!;
      for (let i = at; i > 0; i--) streams[i] = streams[i - 1]!;
      streams[0] = stream;
      stream.window = Math.min(stream.window * 2, this.reach);
      end = last + stream.window - 1;
      this.remember(stream.start, last);
    } else {
      // The sweep continued longest ago makes room, its record used again for the new one.
      const reuse = streams.length === STREAMS ? streams[STREAMS - 1] : undefined;
      stream = reuse ?? { start: first, last: first, end: first, window: 1 };
      stream.start = first;
      stream.window = 1;
      for (let i = reuse ? STREAMS - 1 : streams.length; i > 0; i--) streams[i] = streams[i - 1]!;
      streams[0] = stream;
      end = Math.max(last, Math.min(this.reached.get(first) ?? last, first + this.reach - 1));
    }
    stream.last = first;
    stream.end = Math.max(last, Math.min(end, this.lastPage));
    return stream.end;
  }

  private remember(start: number, last: number): void {
    const known = this.reached.get(start);
    if (known !== undefined && known >= last) return;
    this.reached.delete(start);
    this.reached.set(start, last);
    if (this.reached.size > MAX_REMEMBERED) this.reached.delete(this.reached.keys().next().value!);
  }
}

/** No pages: shared, never changed. */
export const NO_PAGES: readonly number[] = [];

/** Largest distance, in pages, between the faults of a strided sweep that {@link StrideAhead} follows. */
export const MAX_STRIDE = 64;

/**
 * Strided read-ahead for ivy, diff and migrate (page_requester.ts): single-page faults an equal
 * number of pages apart, more than one, are a sweep down a column of a row-major array (fft2d's
 * transpose reads every fourth page of the other nodes' rows, one page per row of 16 KiB). Three
 * faults in a row at the same distance start it; each fault that lands where it predicted, at
 * most one stride past the pages it brought, continues it and doubles how many pages the next
 * brings, up to the reach. Anything else ends it. {@link ReadAhead} sees every such fault as a
 * sweep of its own, one page each.
 */
export class StrideAhead {
  /** The pages of the last two single-page faults, the newer last; -1: none. */
  private older = -1;
  private newer = -1;
  /** The sweep followed: its stride (0: none), last faulted page, last page brought, and how many pages a fault brings (itself included). */
  private stride = 0;
  private last = -1;
  private end = -1;
  private window = 1;

  constructor(
    private readonly lastPage: number,
    private readonly reach: number,
  ) {
    checkReach(reach);
  }

  /** Records a fault on first..last; returns the pages a strided sweep brings in with it (none: no such sweep). */
  next(first: number, last: number): readonly number[] {
    if (first !== last) {
      this.older = this.newer = -1;
      this.stride = 0;
      return NO_PAGES;
    }
    const s = this.stride;
    const continues = s > 0 && first > this.last && first <= this.end + s && (first - this.last) % s === 0;
    const stride = first - this.newer;
    const starts = !continues && this.older >= 0 && stride > 1 && stride <= MAX_STRIDE && this.newer - this.older === stride;
    this.older = this.newer;
    this.newer = first;
    if (continues) {
      this.window = Math.min(this.window * 2, this.reach);
    } else if (starts) {
      this.stride = stride;
      this.window = 2;
    } else {
      this.stride = 0;
      return NO_PAGES;
    }
    this.last = first;
    const pages: number[] = [];
    for (let k = 1; k < this.window && first + k * this.stride <= this.lastPage; k++) pages.push(first + k * this.stride);
    this.end = pages.length > 0 ? pages[pages.length - 1]! : first;
    return pages;
  }
}
