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

interface History {
  newest: number;
  /** Diffs held: those of versions newest - held + 1 .. newest. */
  held: number;
  /**
   * A ring indexed by version: the diff that turns version v - 1 into v is at `ring[v & (ring.length - 1)]`.
   * Its length is a power of two, doubled when a history outgrows it.
   */
  ring: (Uint8Array | undefined)[];
  /** Counts the times the whole history was dropped: queued versions of an older generation are dead. */
  generation: number;
}

/** Ring slots a history starts with. */
const FIRST_RING = 4;

function history(newest: number): History {
  return { newest, held: 0, ring: new Array<Uint8Array | undefined>(FIRST_RING).fill(undefined), generation: 0 };
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
  /**
   * Diffs in recording order, for the global byte bound, as (page, version, generation) from
   * `head` on; those no longer held are skipped, and compacted away.
   */
  private queuePages: number[] = [];
  private queueVersions: number[] = [];
  private queueGenerations: number[] = [];
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
    return h.newest - h.held;
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
      h = history(0);
      this.pages.set(page, h);
    }
    if (version <= h.newest) {
      throw new DiffLogError(`page ${page}: version ${version} is not newer than the newest recorded, ${h.newest}; record versions in order`);
    }
    if (version !== h.newest + 1) this.dropAll(h);
    if (this.maxDiffsPerPage === 0) {
      h.newest = version;
      return;
    }
    if (h.held === this.maxDiffsPerPage) this.dropOldest(h);
    if (h.held === h.ring.length) this.grow(h);
    h.newest = version;
    h.ring[version & (h.ring.length - 1)] = diff;
    h.held++;
    this.held += diff.byteLength;
    this.count++;
    if (this.maxBytes !== Infinity) {
      this.queuePages.push(page);
      this.queueVersions.push(version);
      this.queueGenerations.push(h.generation);
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
      this.dropAll(h);
      h.newest = version;
    } else if (version !== 0) {
      this.pages.set(page, history(version));
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
    const ring = h!.ring;
    const mask = ring.length - 1;
    // One version behind, the usual case: that version's diff, validated when it was recorded.
    if (version === newest - 1) return ring[newest & mask]!;
    const diffs: Uint8Array[] = [];
    for (let v = version + 1; v <= newest; v++) diffs.push(ring[v & mask]!);
    return mergeDiffs(this.pageSize, diffs);
  }

  /** Drops the oldest diff of a history. */
  private dropOldest(h: History): void {
    const slot = (h.newest - h.held + 1) & (h.ring.length - 1);
    this.held -= h.ring[slot]!.byteLength;
    this.count--;
    h.ring[slot] = undefined;
    h.held--;
  }

  /** Drops the whole history of a page. */
  private dropAll(h: History): void {
    while (h.held > 0) this.dropOldest(h);
    h.generation++;
  }

  /** Doubles the ring of a full history. */
  private grow(h: History): void {
    const old = h.ring;
    const ring = new Array<Uint8Array | undefined>(old.length * 2).fill(undefined);
    for (let v = h.newest - h.held + 1; v <= h.newest; v++) ring[v & (ring.length - 1)] = old[v & (old.length - 1)];
    h.ring = ring;
  }

  /** Drops the oldest diffs anywhere until the byte bound holds. */
  private evict(): void {
    const pages = this.queuePages;
    while (this.held > this.maxBytes && this.head < pages.length) {
      // Versions enter the queue in recording order, so one still held is the oldest of its page.
      const h = this.heldAt(this.head++);
      if (h) this.dropOldest(h);
    }
    // Compact when the consumed prefix, or the versions dropped per page, outnumber the held ones
    // several times over: each compaction visits every queued version.
    if ((this.head > 1024 && this.head > pages.length / 2) || pages.length > 4 * this.count + 1024) this.compact();
  }

  /** The history of the version queued at `at`, if that version is still held; else null. */
  private heldAt(at: number): History | null {
    const h = this.pages.get(this.queuePages[at])!;
    return h.generation === this.queueGenerations[at] && this.queueVersions[at] > h.newest - h.held ? h : null;
  }

  /** Keeps only the queued versions still held, in order. */
  private compact(): void {
    const pages = this.queuePages;
    const versions = this.queueVersions;
    const generations = this.queueGenerations;
    let kept = 0;
    for (let at = this.head; at < pages.length; at++) {
      if (!this.heldAt(at)) continue;
      pages[kept] = pages[at];
      versions[kept] = versions[at];
      generations[kept] = generations[at];
      kept++;
    }
    pages.length = kept;
    versions.length = kept;
    generations.length = kept;
    this.head = 0;
  }
}
