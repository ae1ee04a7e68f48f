/**
 * Which pages a fault of migrate, ivy or diff brings in with the pages it needs (page_requester.ts):
 * the requests for all of them leave at once, so they cost one exchange instead of one per page.
 * ArgoDSM fetches 8 pages per miss; TreadMarks lost to message passing mainly by sending one
 * request per page.
 *
 * Two patterns are predicted, and nothing else (a scattered fault brings only its own pages, so a
 * page another node is writing is not copied for nothing):
 * - a run seen before: faults on p, p+1, …, q in a row are remembered as a run from p; the next
 *   fault on p brings p..q at once (a stencil reading a neighbour's boundary row every phase);
 * - a sweep: a fault just past the previous run continues it and brings twice as many pages as
 *   the last continuation, up to READ_AHEAD_PAGES (a first pass over a large array).
 */

/** Most pages one fault brings in beyond the pages it needs. */
export const READ_AHEAD_PAGES = 8;

/** Runs remembered; the oldest are forgotten first. */
const MAX_RUNS = 4096;

export class ReadAhead {
  /** The run the faults are extending now: its first page and the last page faulted in it. */
  private start = -2;
  private faulted = -2;
  /** The last page brought in for the run, faulted or read ahead. */
  private end = -2;
  /** Pages the next continuation brings beyond its own. */
  private window = 1;
  private readonly runs = new Map<number, number>();

  /** Records a fault on first..last; returns the last page to bring in with it (≥ last). */
  next(first: number, last: number): number {
    if (first > this.faulted && first <= this.end + 1) {
      this.faulted = last;
      this.end = Math.max(this.end, last + this.window);
      this.window = Math.min(this.window * 2, READ_AHEAD_PAGES);
      return this.end;
    }
    this.remember();
    this.start = first;
    this.faulted = last;
    this.window = 1;
    const known = this.runs.get(first);
    this.end = known === undefined ? last : Math.max(last, Math.min(known, first + READ_AHEAD_PAGES));
    return this.end;
  }

  /** Keeps the run just ended (the pages faulted in it), if it spans more than one page. */
  private remember(): void {
    if (this.faulted <= this.start) return;
    this.runs.delete(this.start);
    this.runs.set(this.start, this.faulted);
    if (this.runs.size > MAX_RUNS) this.runs.delete(this.runs.keys().next().value!);
  }
}
