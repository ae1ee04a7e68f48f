/**
 * diff — the seed's TreadMarks protocol (Definition 1.3). Every page is zeros at version 0 on every
 * node. Its manager (placement.ts; (p - firstPage) % N by default) starts as its owner, writing
 * version 1 in an open write epoch whose twin is the zero page: it writes its pages with no fault,
 * as a node that write-faulted on them at the start would. The directory entry starts as
 * {owner: manager, holders: {manager}, version 1, writing} and serializes the page's requests
 * (directory.ts): that is "the owner locks the page". Every other node starts with no access at
 * version 0, so its first read of the page gets the diff 0→1 (the words the owner wrote) and its
 * first write takes the page over the same way.
 *
 * Write fault on p by W (newest version v, held by owner O):
 *   W ── WriteRequest(p, W's version w) ──▶ M ── Invalidate(p, v) ──▶ every other holder
 *                                               ◀── InvalidateAck (each sets None, keeps its bytes)
 *   W holds v:      M ── Grant(p, v) ──▶ W                                       (upgrade)
 *   W is older:     M ── WriteForward(p, v, W, w) ──▶ O: closes its write epoch if open, None;
 *                   O ── DiffData(p, v, diff w→v) ──▶ W   (PageData when its history no longer reaches w)
 *   W: apply, twin := copy of the page, read-write: write epoch of version v+1
 *   W ── Confirm ──▶ M: owner W, holders {W}, version v+1, writing
 *
 * Read fault on p by R (R has None at version r < v):
 *   R ── ReadRequest(p, r) ──▶ M ── ReadForward(p, v, R, r) ──▶ O
 *   O, epoch open: read-only (parked); diff twin→page is version v's diff, recorded in its DiffLog
 *   O ── DiffData(p, v, diff r→v) ──▶ R: apply, read-only at v    (both now read-only)
 *   R ── Confirm ──▶ M: holders += R, not writing
 *
 * Invalidated nodes keep their bytes and version, so a later fault needs only the diff since
 * then. A requester records the diff it receives in its own DiffLog, so it can serve diffs in turn
 * when it becomes the owner. Both records are made off the fault's path: as the scheduler's
 * later() work (the node's next poll or wait), or before the log is next read, whichever comes first. The history is bounded
 * (historyLength diffs per page, historyBytes per node); a requester older than the owner's
 * history gets the whole page.
 *
 * Strong consistency, as ivy: a write epoch starts only after every other copy is invalidated, and
 * a read gets the newest version. Not covered: multiple concurrent writers of one page (that is
 * lazy release consistency), and crashed nodes.
 */
import { Protection } from "../abi.js";
import type { Coherence } from "./coherence.js";
import { MessageKind, type Message } from "./codec.js";
import { applyDiff, encodeDiff } from "./diff.js";
import { DiffLog } from "./diff_log.js";
import { InvalidProtocolOptionError } from "./errors.js";
import { PageCopies } from "./release/copies.js";
import { PageProtocol, type ProtocolOptions } from "./page_protocol.js";

export const DEFAULT_HISTORY_LENGTH = 32;
export const DEFAULT_HISTORY_BYTES = 64 << 20;

const EMPTY = new Uint8Array(0);
/** Spare twins kept for reuse; more are left to the garbage collector. */
const MAX_SPARE_TWINS = 64;

export class DiffProtocol extends PageProtocol {
  private readonly log: DiffLog;
  /** Pages in an open write epoch, with the twin taken when it opened. */
  private readonly twins = new Map<number, Uint8Array>();
  /** Where twins come from: those of closed epochs are reused, as a fresh one costs an allocation per write fault. */
  private readonly twinCopies: PageCopies;
  private readonly historyLength: number;
  /**
   * Diffs of versions this node made or received, not yet in the log. The kernel waits for the
   * install or the reply, not for the record: it is made as later() work, or before the log is
   * next used (`history`).
   */
  private unrecorded: Unrecorded[] = [];

  /** The twin of every page's first write epoch: the zeros each node's copy starts as. */
  private readonly zeroPage: Uint8Array;

  constructor(options: ProtocolOptions) {
    const nodes = options.transport.nodeCount;
    const first = options.port.firstPage;
    const managerOf = (page: number) => (page - first) % nodes;
    super(options, {
      managerOf,
      initialEntry: (_page, manager) => ({ owner: manager, holders: new Set([manager]), version: 1, writing: true }),
      readsMove: false,
      dataKinds: [MessageKind.PageData, MessageKind.DiffData, MessageKind.Grant],
    });
    const length = options.historyLength ?? DEFAULT_HISTORY_LENGTH;
    const bytes = options.historyBytes ?? DEFAULT_HISTORY_BYTES;
    if (!(Number.isInteger(length) && length >= 0)) throw new InvalidProtocolOptionError("historyLength", length, "an integer of at least 0 (diffs kept per page)");
    if (!((Number.isInteger(bytes) && bytes >= 0) || bytes === Infinity)) throw new InvalidProtocolOptionError("historyBytes", bytes, "a byte count of at least 0");
    this.historyLength = length;
    this.log = new DiffLog(options.port.pageSize, length, bytes);
    this.twinCopies = new PageCopies(options.port.pageSize, MAX_SPARE_TWINS);
    this.zeroPage = new Uint8Array(options.port.pageSize);
  }

  override stats() {
    return { ...super.stats(), historyBytes: this.history.bytes };
  }

  protected initialProtection(page: number): Protection {
    return this.managerOf(page) === this.node ? Protection.ReadWrite : Protection.None;
  }

  /** The manager owns the page in version 1's write epoch, its twin the zero page; the others have version 0 and no access. */
  protected override initializePage(page: number): void {
    const i = this.index(page);
    const owner = this.managerOf(page) === this.node;
    this.versions[i] = owner ? 1 : 0;
    // The shared zero page is no copy of PageCopies': releasing it is a no-op.
    if (owner) this.twins.set(page, this.zeroPage);
    else this.twins.delete(page);
    this.port.setProtection(page, owner ? Protection.ReadWrite : Protection.None);
  }

  protected serveForward(msg: Message, requesterVersion: number): void {
    const { page } = msg;
    const i = this.index(page);
    const write = msg.kind === MessageKind.WriteForward;
    if (this.versions[i] !== msg.version) return this.endpoint.dropStale();
    const protection = this.port.protection(page);
    const serve = () => {
      if (this.versions[i] !== msg.version) return this.endpoint.dropStale();
      const closed = this.closeEpoch(page);
      if (write) this.dropCopy(page);
      this.sendData(msg, requesterVersion, write, closed);
    };
    // Parking is needed to end a write epoch or lower a protection; a page the kernel can only
    // read (or not touch) can be diffed and sent at once.
    if (this.twins.has(page) || protection === Protection.ReadWrite || (write && protection !== Protection.None)) this.parkedForward(msg, serve);
    else serve();
  }

  protected install(page: number, reply: Message, write: boolean): void {
    const i = this.index(page);
    const bytes = this.port.page(page);
    if (reply.kind === MessageKind.PageData) {
      bytes.set(reply.payload);
      this.history.reset(page, reply.version);
    } else if (reply.kind === MessageKind.DiffData) {
      applyDiff(bytes, reply.payload);
      this.recordSoon(page, this.versions[i], reply.version, reply.payload); // the decoded payload is the message's own copy
    }
    this.versions[i] = write ? reply.version + 1 : reply.version;
    if (write) {
      const open = this.twins.get(page);
      if (open) this.twinCopies.release(open);
      this.twins.set(page, this.twinCopies.copy(bytes));
    }
    this.port.setProtection(page, write ? Protection.ReadWrite : Protection.ReadOnly);
  }

  protected override beforeInvalidate(page: number): void {
    this.closeEpoch(page);
  }

  protected override endPushedWrite(page: number): void {
    this.closeEpoch(page);
  }

  /** The diff from `base` to this node's version, as a read forward's reply would carry it. */
  protected override pushedDiff(page: number, base: number): Uint8Array | null {
    const version = this.versions[this.index(page)]!;
    const log = this.history;
    if (log.newest(page) !== version || base > version) return null;
    const diff = log.since(page, base);
    return diff !== null && diff.byteLength < this.port.pageSize ? diff : null;
  }

  /**
   * Ends the write epoch of `page` (parked): read-only, and its diff recorded as its version.
   * Returns that diff, or null when no epoch was open.
   */
  private closeEpoch(page: number): Uint8Array | null {
    const twin = this.twins.get(page);
    if (!twin) return null;
    this.twins.delete(page);
    if (this.port.protection(page) === Protection.ReadWrite) this.port.setProtection(page, Protection.ReadOnly);
    const version = this.versions[this.index(page)];
    const diff = encodeDiff(twin, this.port.page(page));
    this.recordSoon(page, version - 1, version, diff);
    this.twinCopies.release(twin);
    return diff;
  }

  /**
   * Replies to a forward (of this node's current version, checked by the caller) with the diff
   * from the requester's version, or the whole page. `closed` is the diff of the epoch just
   * closed: what a requester one version behind needs.
   */
  private sendData(msg: Message, requesterVersion: number, write: boolean, closed: Uint8Array | null): void {
    const { page } = msg;
    let diff: Uint8Array | null = null;
    if (closed !== null && requesterVersion === msg.version - 1) {
      diff = closed;
    } else {
      const log = this.history;
      if (log.newest(page) === msg.version && requesterVersion <= msg.version) diff = log.since(page, requesterVersion);
    }
    if (diff === null || diff.byteLength >= this.port.pageSize) return this.sendPage(msg, write);
    this.endpoint.send(msg.arg, { kind: MessageKind.DiffData, page, version: msg.version, request: msg.request, arg: write ? 1 : 0, payload: diff });
    this.counters.diffsSent++;
    this.counters.diffBytes += diff.byteLength;
  }

  /** The diff log, with every diff made or received so far recorded. */
  private get history(): DiffLog {
    if (this.unrecorded.length > 0) this.recordAll();
    return this.log;
  }

  /** Queues the record of `diff`, from version `base` of `page` to `version`. */
  private recordSoon(page: number, base: number, version: number, diff: Uint8Array): void {
    if (this.unrecorded.length === 0) this.scheduler.later(this.recordLater);
    this.unrecorded.push({ page, base, version, diff });
  }

  private readonly recordLater = (): void => {
    try {
      this.recordAll();
    } catch (error) {
      this.endpoint.fail(error);
    }
  };

  /**
   * Keeps the diffs made or received (base→version each) so this node can serve them later. A
   * diff carries the newest value of every word written since `base`, so it is also correct from
   * any version in between: recorded as version's diff after empty diffs for the versions between,
   * the history stays contiguous and `since` stays exact. A history that cannot reach `base` (or
   * runs past it: a version made again after an invalidation) restarts at version - 1.
   */
  private recordAll(): void {
    const unrecorded = this.unrecorded;
    this.unrecorded = [];
    const log = this.log;
    for (const { page, base, version, diff } of unrecorded) {
      if (version <= base) continue;
      if (log.newest(page) === base && version - base - 1 <= this.historyLength) {
        for (let v = base + 1; v < version; v++) log.record(page, v, EMPTY);
      } else {
        log.reset(page, version - 1);
      }
      log.record(page, version, diff);
    }
  }
}

/** A diff from version `base` of `page` to `version`, to be recorded. */
interface Unrecorded {
  page: number;
  base: number;
  version: number;
  diff: Uint8Array;
}

export function createDiff(options: ProtocolOptions): Coherence {
  return new DiffProtocol(options);
}
