/**
 * hlrc's writer role (hlrc.ts): the pages this node writes in its open interval, their twins, and
 * the flushes that carry a closed interval's diffs to the pages' homes. Kept apart from the fault
 * path because it is the only part that holds write state across an interval; the fault path and
 * the barrier ask it what was written last and start writes through it.
 *
 *   writer ── HlrcFlush(interval i, previous interval flushed to that home, diffs) ──▶ home
 *   writer ◀── HlrcFlushAck(i) ── home          (resent until it comes)
 */
import { Protection } from "../../abi.js";
import { MessageKind, type Message } from "../codec.js";
import { PageTimeoutError } from "../errors.js";
import { all, type Future } from "../future.js";
import { ByteArena } from "../release/arena.js";
import { PageCopies } from "../release/copies.js";
import type { IntervalStore } from "../release/intervals.js";
import { encodeIntervalDiffs, pageRuns, type IntervalDiff } from "../release/wire.js";
import { encodeWritten, samePage } from "../release/word_diff.js";
import type { RoleContext } from "./role_context.js";

/** The reply kinds of this file's exchanges: one array, not one per exchange. */
const HLRC_FLUSH_ACK_REPLIES: readonly MessageKind[] = [MessageKind.HlrcFlushAck];

export interface WriterContext extends RoleContext {
  store: IntervalStore;
  nodeCount: number;
  counters: { intervals: number; twins: number; diffsCreated: number; flushes: number; diffsSent: number; diffBytes: number };
}

export class WriterRole {
  private readonly copies: PageCopies;
  /** An interval's diffs, between their encoding and their flush (closeInterval). */
  private readonly diffArena = new ByteArena();
  private readonly takeDiff = (bytes: number) => this.diffArena.take(bytes);
  /** Pages written in the open interval. */
  private readonly dirty = new Set<number>();
  /**
   * Twins of the open interval's pages written away from their homes, and of pages opened ahead
   * of the kernel (at their home too: there the twin only tells whether the kernel wrote it).
   */
  private readonly twins = new Map<number, Uint8Array>();
  /** Pages this node opened for writing in its last interval that wrote anything. */
  private recent = new Set<number>();
  /** Per home, the last interval flushed to it. */
  private readonly flushed: number[];
  /** Flushes not yet acknowledged. */
  private readonly inFlight = new Set<Future<Message>>();

  constructor(private readonly ctx: WriterContext) {
    this.copies = new PageCopies(ctx.port.pageSize);
    this.flushed = new Array<number>(ctx.nodeCount).fill(0);
  }

  /** Whether the kernel wrote `page` in its open interval. */
  isDirty(page: number): boolean {
    return this.dirty.has(page);
  }

  /** Whether this node opened `page` for writing in its last interval that wrote anything. */
  wroteRecently(page: number): boolean {
    return this.recent.has(page);
  }

  /** The pages of {@link wroteRecently}. */
  recentPages(): number[] {
    return [...this.recent];
  }

  /** The last interval flushed to `home` (0: none). */
  lastFlushedTo(home: number): number {
    return this.flushed[home];
  }

  /** Bytes the open interval's twins hold. */
  get twinBytes(): number {
    return this.twins.size * this.ctx.port.pageSize;
  }

  /** Resolves once every flush sent so far is acknowledged. */
  acknowledged(): Future<void> {
    return all([...this.inFlight]);
  }

  /**
   * Starts writing a valid page in the open interval (parked). `speculative`: opened ahead of the
   * kernel, which may not write it.
   */
  openWrite(page: number, speculative: boolean): void {
    const { port, placement, node, counters } = this.ctx;
    if (!this.dirty.has(page)) {
      this.dirty.add(page);
      if (speculative || placement.managerOf(page) !== node) {
        this.twins.set(page, this.copies.copy(port.page(page)));
        counters.twins++;
      }
    }
    port.setProtection(page, Protection.ReadWrite);
  }

  /**
   * Ends the open interval (parked): its pages become read-only, the diffs of pages written away
   * from their homes go to the homes, and an interval that wrote anything gets a record.
   */
  closeInterval(): void {
    if (this.dirty.size === 0) return;
    const { port, placement, node, store, counters } = this.ctx;
    const written: number[] = [];
    const opened = new Set<number>();
    const byHome = new Map<number, IntervalDiff[]>();
    for (const page of this.dirty) {
      if (port.protection(page) === Protection.ReadWrite) port.setProtection(page, Protection.ReadOnly);
      // Kept for the next sweep even when unchanged (a stencil's settled interior rewrites equal
      // values): it is opened ahead again rather than faulted on alone.
      opened.add(page);
      const twin = this.twins.get(page);
      if (!twin) {
        written.push(page);
        continue;
      }
      const home = placement.managerOf(page);
      if (home === node) {
        // Opened ahead at its home: the twin only says whether the kernel wrote it.
        if (!samePage(twin, port.page(page))) written.push(page);
        this.copies.release(twin);
        continue;
      }
      const diff = encodeWritten(twin, port.page(page), this.takeDiff);
      this.copies.release(twin);
      if (diff.bytes.byteLength === 0) continue; // written with the values it held: nothing to tell
      counters.diffsCreated++;
      written.push(page);
      let list = byHome.get(home);
      if (!list) byHome.set(home, (list = []));
      list.push({ page, interval: 0, diff });
    }
    this.dirty.clear();
    this.twins.clear();
    if (written.length === 0) return this.diffArena.reset();
    this.recent = opened;
    const record = store.create(pageRuns(written));
    counters.intervals++;
    for (const [home, entries] of byHome) this.flush(home, record.i, entries);
    this.diffArena.reset(); // the flushes copied the diffs
  }

  /** Sends one interval's diffs to `home`, resending until acknowledged. */
  private flush(home: number, interval: number, entries: IntervalDiff[]): void {
    const { endpoint, timeoutMs, counters } = this.ctx;
    for (const e of entries) e.interval = interval;
    const payload = encodeIntervalDiffs(entries);
    const previous = this.flushed[home];
    this.flushed[home] = interval;
    counters.flushes++;
    counters.diffsSent += entries.length;
    counters.diffBytes += payload.byteLength;
    const ack = endpoint.call(
      home,
      { kind: MessageKind.HlrcFlush, version: interval, arg: previous, payload },
      {
        replies: HLRC_FLUSH_ACK_REPLIES,
        accept: (m) => m.version === interval,
        timeoutMs,
        timeout: () => new PageTimeoutError(entries[0].page, home, "write", timeoutMs),
      },
    );
    this.inFlight.add(ack);
    ack.then(
      () => this.inFlight.delete(ack),
      (error) => {
        this.inFlight.delete(ack);
        endpoint.fail(error);
      },
    );
  }
}
