/**
 * What an hlrc fault or barrier opens (hlrc.ts): the faulted pages, and the pages a sweep will
 * reach next, so that a kernel sweeping over pages pays a few faults instead of one per page
 * (read_ahead.ts). Kept apart from the fetch and writer roles because it is policy only: it
 * decides which pages to validate and open, and leaves the messages and the twins to them.
 */
import { Access, Protection } from "../../abi.js";
import type { PagePort } from "../coherence.js";
import { flow, type Flow, type Future } from "../future.js";
import type { Placement } from "../placement.js";
import { ReadAhead } from "../read_ahead.js";
import { PREFETCH_PAGES, REOPEN_PAGES } from "../release/sweep.js";
import type { FetchRole } from "./fetch.js";
import type { WriterRole } from "./writer.js";

export interface FaultContext {
  port: PagePort;
  placement: Placement;
  writer: WriterRole;
  fetcher: FetchRole;
  counters: { writeAhead: number; reopened: number };
}

export class FaultPath {
  /** Read-ahead of misses (pages fetched) and of write faults (pages twinned), each on its own. */
  private readonly missAhead: ReadAhead;
  private readonly writeAhead: ReadAhead;

  constructor(private readonly ctx: FaultContext) {
    const { port } = ctx;
    this.missAhead = new ReadAhead(port.firstPage + port.pageCount - 1, PREFETCH_PAGES);
    this.writeAhead = new ReadAhead(port.firstPage + port.pageCount - 1, PREFETCH_PAGES);
  }

  /** A fault on pages that are all allocated: a future when some page must be fetched first. */
  fault(first: number, last: number, access: Access): Future<void> | void {
    const { port } = this.ctx;
    for (let p = first; p <= last; p++) if (port.protection(p) === Protection.None) return flow(this.faultSteps(first, last, access));
    // Every page is valid here (a write to read-only pages): decided at once, no message.
    this.open(first, last, access, this.againEnd(last, access));
  }

  /**
   * Right after a barrier, the kernel still parked: the pages this node wrote in its last
   * interval that other nodes wrote too (invalidated by their notices: false sharing, a shared
   * boundary) are brought up to date, one request per home, and opened for writing, so that a
   * phase loop rewriting them starts without a fault per page. One the kernel leaves unwritten
   * leaves no notice. Pages only this node writes are left to the write sweep of the first fault
   * (a phase that wrote them once, e.g. an initialisation, does not twin them all again).
   */
  *reopen(): Flow<void> {
    const { port, placement, writer, fetcher, counters } = this.ctx;
    const recent = writer.recentPages();
    if (recent.length === 0) return;
    const pages = recent.filter((p) => port.protection(p) === Protection.None && !placement.pending(p)).sort((a, b) => a - b).slice(0, REOPEN_PAGES);
    if (pages.length === 0) return;
    yield* fetcher.validate(pages, pages[pages.length - 1], Access.Write);
    for (const p of pages) {
      if (port.protection(p) !== Protection.ReadOnly) continue;
      writer.openWrite(p, true);
      counters.reopened++;
    }
  }

  /**
   * A write to a page this node wrote in its last interval is likely a sweep over them again: the
   * last of them within PREFETCH_PAGES after it. Gaps do not end the sweep unless `gaps` is false:
   * a node's rows dealt cyclically (LU) leave every third page to another node, and stopping
   * there cost a write fault per row (147,000 per node on LU 768, 8,000 without).
   */
  private againEnd(last: number, access: Access, gaps = true): number {
    let again = last;
    if (access !== Access.Write) return again;
    for (let p = last + 1; p < last + PREFETCH_PAGES; p++) {
      if (this.ctx.writer.wroteRecently(p)) again = p;
      else if (!gaps) break;
    }
    return again;
  }

  private *faultSteps(first: number, last: number, access: Access): Flow<void> {
    const { port, fetcher } = this.ctx;
    const misses: number[] = [];
    for (let p = first; p <= last; p++) if (port.protection(p) === Protection.None) misses.push(p);
    // Pages are fetched for the unbroken run only: a gap is another node's page, not to be fetched.
    yield* fetcher.validate(misses, Math.max(this.againEnd(last, access, false), this.missAhead.next(first, last)), access);
    this.open(first, last, access, this.againEnd(last, access));
  }

  /** The faulted pages, valid now, get the access asked for; a write sweep opens the pages ahead. */
  private open(first: number, last: number, access: Access, again: number): void {
    const { port, writer, counters } = this.ctx;
    for (let p = first; p <= last; p++) {
      if (access === Access.Write) {
        if (port.protection(p) !== Protection.ReadWrite) writer.openWrite(p, false);
      } else if (port.protection(p) === Protection.None) {
        port.setProtection(p, Protection.ReadOnly);
      }
    }
    // A write sweep: the valid pages ahead that this node wrote last time are opened now too. One
    // the kernel leaves unwritten leaves no notice (closeInterval compares it with its twin).
    if (access === Access.Write) {
      const end = Math.max(again, this.writeAhead.next(first, last));
      for (let p = last + 1; p <= end; p++) {
        if (port.protection(p) === Protection.ReadOnly && writer.wroteRecently(p)) {
          writer.openWrite(p, true);
          counters.writeAhead++;
        }
      }
    }
  }
}
