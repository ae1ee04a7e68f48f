// Read-ahead for lrc and hlrc (lrc/lrc.ts, hlrc/hlrc.ts): how many pages a fault brings in with it.

/** Most pages one fault brings up to date, or twins, ahead of the kernel. */
export const PREFETCH_PAGES = 64;

/** Most falsely shared pages a barrier brings up to date and opens ahead of the next phase (lrc.ts). */
export const REOPEN_PAGES = 1024;

/**
 * Read-ahead: a fault past the previous one but no further than just past its range is a forward
 * sweep, and doubles the range (up to PREFETCH_PAGES); any other fault resets it to the faulted
 * pages. So a sweep over a falsely shared array costs a few faults and round trips per barrier
 * instead of one per page, and scattered faults cost nothing extra.
 */
export class Sweep {
  private end = -2;
  private last = -1;
  private window = 1;

  constructor(private readonly lastPage: number) {}

  /** Records a fault on first..last; returns the last page of the range to bring in with it. */
  next(first: number, last: number): number {
    const sweeping = first > this.last && first <= this.end + 1;
    this.window = sweeping ? Math.min(this.window * 2, PREFETCH_PAGES) : 1;
    this.last = first;
    this.end = Math.min(last + this.window - 1, this.lastPage);
    return this.end;
  }
}
