/**
 * The bounded version history an owner keeps for each page, so that a node that last saw version
 * v of a page can be sent one merged diff v → newest instead of the whole page.
 *
 *   record(p, 1, d1)  record(p, 2, d2)  record(p, 3, d3)      history of p: d1 d2 d3, newest 3
 *   since(p, 1) = merge(d2, d3)   since(p, 3) = empty   since(p, 0) = merge(d1, d2, d3)
 *   with maxDiffsPerPage = 2: d1 is dropped, and since(p, 0) = null → send the whole page
 *
 * Every page starts at version 0 (all zeros) with no history. Versions of a page are recorded in
 * order; recording version v when the newest is below v - 1 (the page came back to this node after
 * others wrote it) drops the history, because a diff cannot span the missing versions.
 *
 * Bounds: at most `maxDiffsPerPage` diffs per page, and optionally at most `maxBytes` of diffs in
 * all pages together (the oldest diffs anywhere are dropped first). {@link DiffLog.bytes} reports
 * what is held. A dropped diff only means some requester gets the whole page.
 */
import { checkDiff, mergeDiffs } from "./diff.js";

/** A history used out of order: a version that goes backwards, or one ahead of the newest. */
export class DiffLogError extends Error {
  override name = "DiffLogError";
}

interface Entry {
  page: number;
  /** The diff turns version - 1 into version. */
  version: number;
  diff: Uint8Array;
  live: boolean;
}

interface History {
  newest: number;
  /** Consecutive versions, oldest first. */
  entries: Entry[];
}

/** The empty diff: no change. */
const NO_CHANGE = new Uint8Array(0);

function checkCount(value: number, what: string, min: number): void {
  if (!(Number.isInteger(value) && value >= min) && value !== Infinity) {
    throw new RangeError(`${what} ${value}: must be an integer of at least ${min}`);
  }
}

export class DiffLog {
  readonly pageSize: number;
  readonly maxDiffsPerPage: number;
  readonly maxBytes: number;
  private readonly pages = new Map<number, History>();
  /** Entries in recording order, for the global byte bound; dead ones are skipped and compacted. */
  private queue: Entry[] = [];
  private head = 0;
  private held = 0;
  private count = 0;

  /**
   * @param pageSize page size in bytes (a multiple of 4, at most 64 KiB)
   * @param maxDiffsPerPage diffs kept per page; 0 keeps none (every stale requester gets the page)
   * @param maxBytes bytes of diffs kept over all pages. @default Infinity
   */
  constructor(pageSize: number, maxDiffsPerPage: number, maxBytes: number = Infinity) {
    mergeDiffs(pageSize, []); // validates the page size
    checkCount(maxDiffsPerPage, "max diffs per page", 0);
    checkCount(maxBytes, "max diff log bytes", 0);
    this.pageSize = pageSize;
    this.maxDiffsPerPage = maxDiffsPerPage;
    this.maxBytes = maxBytes;
  }

  /** Bytes of diffs held over all pages. */
  get bytes(): number {
    return this.held;
  }

  /** Diffs held over all pages. */
  get diffs(): number {
    return this.count;
  }

  /** The newest version of `page` this log knows; 0 for a page never recorded. */
  newest(page: number): number {
    return this.pages.get(page)?.newest ?? 0;
  }

  /** The oldest version `since` can answer for (equal to newest when no diff is held). */
  oldest(page: number): number {
    const h = this.pages.get(page);
    if (!h) return 0;
    return h.entries.length > 0 ? h.entries[0].version - 1 : h.newest;
  }

  /**
   * Records `diff`, which turns version `version - 1` of `page` into `version`. The log keeps the
   * array itself: do not modify it afterwards. Throws DiffError for a malformed diff and
   * DiffLogError when `version` is not newer than the newest recorded.
   */
  record(page: number, version: number, diff: Uint8Array): void {
    checkCount(page, "page", 0);
    checkCount(version, "version", 1);
    checkDiff(diff, this.pageSize);
    let h = this.pages.get(page);
    if (!h) {
      h = { newest: 0, entries: [] };
      this.pages.set(page, h);
    }
    if (version <= h.newest) {
      throw new DiffLogError(`page ${page}: version ${version} is not newer than the newest recorded, ${h.newest}; record versions in order`);
    }
    if (version !== h.newest + 1) this.drop(h, h.entries.length);
    h.newest = version;
    if (this.maxDiffsPerPage === 0) return;
    const entry: Entry = { page, version, diff, live: true };
    h.entries.push(entry);
    this.held += diff.byteLength;
    this.count++;
    if (h.entries.length > this.maxDiffsPerPage) this.drop(h, h.entries.length - this.maxDiffsPerPage);
    if (this.maxBytes !== Infinity) {
      this.queue.push(entry);
      this.evict();
    }
  }

  /**
   * Sets the newest version of `page` without a diff and drops its history: for a node that
   * received the whole page at `version` (e.g. with ownership).
   */
  reset(page: number, version: number): void {
    checkCount(page, "page", 0);
    checkCount(version, "version", 0);
    const h = this.pages.get(page);
    if (h) {
      this.drop(h, h.entries.length);
      h.newest = version;
    } else if (version !== 0) {
      this.pages.set(page, { newest: version, entries: [] });
    }
  }

  /**
   * The diff from `version` to the newest version of `page`: empty when `version` is the newest,
   * null when the history kept no longer reaches back to `version` (send the whole page instead).
   * The result may be a recorded diff itself: do not modify it. Throws DiffLogError when `version`
   * is ahead of the newest.
   */
  since(page: number, version: number): Uint8Array | null {
    checkCount(page, "page", 0);
    checkCount(version, "version", 0);
    const h = this.pages.get(page);
    const newest = h?.newest ?? 0;
    if (version > newest) {
      throw new DiffLogError(`page ${page}: version ${version} is ahead of the newest recorded here, ${newest}; the request went to a node that is not the owner`);
    }
    if (version === newest) return NO_CHANGE;
    const first = this.oldest(page);
    if (version < first) return null;
    const entries = h!.entries;
    // One version behind, the usual case: that version's diff, validated when it was recorded.
    if (version === newest - 1) return entries[entries.length - 1]!.diff;
    const diffs: Uint8Array[] = [];
    for (let i = version - first; i < entries.length; i++) diffs.push(entries[i].diff);
    return mergeDiffs(this.pageSize, diffs);
  }

  /** Drops the `n` oldest diffs of a history. */
  private drop(h: History, n: number): void {
    for (let k = 0; k < n; k++) {
      const e = h.entries.shift()!;
      e.live = false;
      this.held -= e.diff.byteLength;
      this.count--;
    }
  }

  /** Drops the oldest diffs anywhere until the byte bound holds. */
  private evict(): void {
    while (this.held > this.maxBytes && this.head < this.queue.length) {
      const e = this.queue[this.head++];
      if (!e.live) continue;
      const h = this.pages.get(e.page)!;
      // Entries enter the queue in recording order, so a live one is the oldest of its page.
      this.drop(h, 1);
    }
    // Compact when the consumed prefix or the entries dropped per page outnumber the live ones.
    if ((this.head > 64 && this.head > this.queue.length / 2) || this.queue.length > 2 * this.count + 64) {
      this.queue = this.queue.slice(this.head).filter((e) => e.live);
      this.head = 0;
    }
  }
}
