// Read-ahead for lrc and hlrc (lrc/lrc.ts, hlrc/hlrc.ts): how many pages a fault brings in with it.

/** Most pages one fault brings up to date, or twins, ahead of the kernel. */
export const PREFETCH_PAGES = 64;

/** Most falsely shared pages a barrier brings up to date and opens ahead of the next phase (lrc.ts). */
export const REOPEN_PAGES = 1024;

/** Sweeps followed at once: a stencil's initialisation writes two arrays side by side. */
const STREAMS = 4;

/**
 * Read-ahead: a fault past the previous one of a sweep but no further than just past its range
 * continues that sweep, and doubles its range (up to PREFETCH_PAGES); any other fault starts a
 * sweep of its own, with the faulted pages, in place of the sweep continued longest ago. So a
 * sweep over a falsely shared array costs a few faults and round trips per barrier instead of
 * one per page, two arrays swept side by side are two sweeps, and scattered faults cost nothing
 * extra.
 */
export class Sweep {
  /** The sweeps, the one continued last first. */
  private readonly streams: { last: number; end: number; window: number }[] = [];

  constructor(private readonly lastPage: number) {}

  /** Records a fault on first..last; returns the last page of the range to bring in with it. */
  next(first: number, last: number): number {
    const at = this.streams.findIndex((s) => first > s.last && first <= s.end + 1);
    let stream = at >= 0 ? this.streams.splice(at, 1)[0] : undefined;
    if (stream) stream.window = Math.min(stream.window * 2, PREFETCH_PAGES);
    else {
      stream = { last: first, end: first, window: 1 };
      if (this.streams.length === STREAMS) this.streams.pop();
    }
    this.streams.unshift(stream);
    stream.last = first;
    stream.end = Math.min(last + stream.window - 1, this.lastPage);
    return stream.end;
  }
}
