// Read-ahead for lrc and hlrc (lrc/page_faults.ts, hlrc/faults.ts): how many pages a fault brings in with it.

/** Most pages one fault brings up to date, or twins, ahead of the kernel. */
export const PREFETCH_PAGES = 64;

/** Most falsely shared pages a barrier brings up to date and opens ahead of the next phase (lrc/page_faults.ts, hlrc/faults.ts). */
export const REOPEN_PAGES = 1024;

/** Sweeps followed at once: a stencil's initialisation writes two arrays side by side. */
const STREAMS = 4;

/** Sweep extents remembered; the oldest are forgotten first. */
const MAX_REMEMBERED = 4096;

/**
 * Read-ahead: a fault past the previous one of a sweep but no further than just past its range
 * continues that sweep, and doubles its range (up to PREFETCH_PAGES); any other fault starts a
 * sweep of its own, with the faulted pages, in place of the sweep continued longest ago. So a
 * sweep over a falsely shared array costs a few faults and round trips per barrier instead of
 * one per page, two arrays swept side by side are two sweeps, and scattered faults cost nothing
 * extra. A sweep's extent is remembered by its first page, as ivy's read-ahead remembers runs
 * (read_ahead.ts): a fault that starts a sweep again where one started before brings in at once
 * the pages that sweep reached (a stencil's neighbour row of two pages, every phase: one fault
 * instead of two).
 */
export class Sweep {
  /** The sweeps, the one continued last first. */
  private readonly streams: { start: number; last: number; end: number; window: number }[] = [];
  /** First page of a sweep → the last page it faulted on, for the sweeps that went past one fault. */
  private readonly reached = new Map<number, number>();

  constructor(private readonly lastPage: number) {}

  /** Records a fault on first..last; returns the last page of the range to bring in with it. */
  next(first: number, last: number): number {
    const at = this.streams.findIndex((s) => first > s.last && first <= s.end + 1);
    let stream = at >= 0 ? this.streams.splice(at, 1)[0] : undefined;
    let end: number;
    if (stream) {
      stream.window = Math.min(stream.window * 2, PREFETCH_PAGES);
      end = last + stream.window - 1;
      this.remember(stream.start, last);
    } else {
      stream = { start: first, last: first, end: first, window: 1 };
      if (this.streams.length === STREAMS) this.streams.pop();
      end = Math.max(last, Math.min(this.reached.get(first) ?? last, first + PREFETCH_PAGES - 1));
    }
    this.streams.unshift(stream);
    stream.last = first;
    stream.end = Math.min(end, this.lastPage);
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
