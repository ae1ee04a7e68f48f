/**
 * hlrc's home role (hlrc.ts): the master copies of the pages homed on this node. It applies the
 * writers' flushes in the order each writer made them, answers page requests once the flushes
 * they need are applied, and marks a page tracked once another node holds a copy (from then on
 * the home's own writes to it must fault and leave notices).
 */
import { Protection } from "../../abi.js";
import { MessageKind, type DecodeContext, type Message } from "../codec.js";
import { PageTimeoutError } from "../errors.js";
import { Future } from "../future.js";
import { decodeIntervalDiffs } from "../release/wire.js";
import { Scratch } from "../scratch.js";
import { applyWordDiff } from "../release/word_diff.js";
import type { RoleContext } from "./role_context.js";
import type { HlrcPageRequestBody } from "./wire.js";

/** Most requests a home holds while it waits for flushes or for its kernel's allocation. */
export const MAX_HELD = 10_000;

/** Per writer, the newest interval whose writes a copy must hold. */
export type Need = ReadonlyMap<number, number>;

/** A page request the home cannot answer yet, or a wait of the home's own kernel. */
interface Waiter {
  need: Need;
  ready: () => void;
}

export interface HomeContext extends RoleContext {
  nodeCount: number;
  decodeContext: DecodeContext;
  counters: { diffsApplied: number; trackedPages: number; pagesSent: number; homeWaits: number };
  /** Whether the kernel wrote `page` in its open interval. */
  dirty: (page: number) => boolean;
  /** Called when `node` was sent `pages` (pushes.ts keeps who has which). @default nothing */
  served?: (node: number, pages: readonly number[]) => void;
}

export class HomeRole {
  /** Pages homed here that some other node has fetched. */
  private readonly tracked: Uint8Array;
  /** Per writer, the last interval whose flush to this home is applied. */
  private readonly applied: number[];
  private waiters: Waiter[] = [];
  /** Requests for pages this node will home once its kernel allocates them. */
  private unplaced: Message[] = [];

  constructor(private readonly ctx: HomeContext) {
    this.tracked = new Uint8Array(ctx.port.pageCount);
    this.applied = new Array<number>(ctx.nodeCount).fill(0);
  }

  /** Whether the flush of `writer`'s interval `interval` is applied here. */
  hasApplied(writer: number, interval: number): boolean {
    return this.applied[writer] >= interval;
  }

  /** Whether every flush `need` names is applied (this node's own writes always are). */
  satisfied(need: Need): boolean {
    for (const [writer, interval] of need) if (writer !== this.ctx.node && this.applied[writer] < interval) return false;
    return true;
  }

  /** The home's own kernel: resolves once the flushes `need` names for `page` are applied. */
  untilApplied(page: number, need: Need, mode: "read" | "write"): Future<void> {
    const done = new Future<void>();
    if (this.satisfied(need)) {
      done.resolve();
      return done;
    }
    const { endpoint, timeoutMs, counters } = this.ctx;
    counters.homeWaits++;
    const scheduler = endpoint.scheduler;
    const waiter: Waiter = {
      need,
      ready: () => {
        scheduler.cancel(timer);
        done.resolve();
      },
    };
    const timer = scheduler.at(scheduler.now() + timeoutMs, () => {
      this.waiters = this.waiters.filter((w) => w !== waiter);
      const [writer] = [...need].find(([w, i]) => this.applied[w] < i)!;
      done.reject(new PageTimeoutError(page, writer, mode, timeoutMs));
    });
    this.waiters.push(waiter);
    return done;
  }

  /** Answers a page request once the flushes it needs are applied. */
  onPageRequest(m: Message): void {
    const { endpoint, placement, port, node } = this.ctx;
    const { pages, need } = m.body as HlrcPageRequestBody;
    if (pages.some((p) => placement.pending(p))) {
      if (this.unplaced.length < MAX_HELD) this.unplaced.push(m);
      else endpoint.dropStale();
      return;
    }
    if (pages.some((p) => placement.managerOf(p) !== node)) return endpoint.dropMisdelivered();
    const needs = new Map(need);
    const serve = () => port.whenParked(() => this.servePages(m, pages), (error) => endpoint.fail(error));
    if (this.satisfied(needs)) return serve();
    if (this.waiters.length >= MAX_HELD) return endpoint.dropStale();
    this.waiters.push({ need: needs, ready: serve });
  }

  /** The kernel allocated more: requests held for pages it had not allocated are handled again. */
  allocated(): void {
    if (this.unplaced.length === 0) return;
    const held = this.unplaced;
    this.unplaced = [];
    for (const m of held) this.ctx.endpoint.redeliver(m);
  }

  /** Applies a writer's flush in the order the writer made them, and acknowledges it. */
  onFlush(m: Message): void {
    const { endpoint, placement, port, node, decodeContext, counters } = this.ctx;
    const writer = m.source;
    const interval = m.version;
    const ack = () => endpoint.send(writer, { kind: MessageKind.HlrcFlushAck, version: interval, request: m.request });
    if (interval <= this.applied[writer]) return ack(); // a copy resent before the ack arrived
    // An earlier flush of this writer is still missing (lost): the writer resends both.
    if (m.arg !== this.applied[writer]) return endpoint.dropStale();
    const entries = decodeIntervalDiffs(m.payload, decodeContext, false);
    if (entries.some((e) => placement.managerOf(e.page) !== node)) return endpoint.dropMisdelivered();
    port.whenParked(
      () => {
        if (interval <= this.applied[writer]) return ack();
        for (const e of entries) applyWordDiff(port.page(e.page), e.diff, true);
        counters.diffsApplied += entries.length;
        this.applied[writer] = interval;
        ack();
        this.wake();
      },
      (error) => endpoint.fail(error),
    );
  }

  /** servePages' payload: sent at once (the endpoint copies it), so one buffer serves every reply. */
  private readonly replyBytes = new Scratch();

  private servePages(m: Message, pages: readonly number[]): void {
    const { port, endpoint, counters } = this.ctx;
    const size = port.pageSize;
    const payload = this.replyBytes.bytes(pages.length * size);
    pages.forEach((p, k) => payload.set(this.share(p), k * size));
    counters.pagesSent += pages.length;
    this.ctx.served?.(m.source, pages);
    endpoint.send(m.source, { kind: MessageKind.HlrcPageReply, page: m.page, request: m.request, payload });
  }

  /**
   * `page` (homed here) as another node gets it, parked: the master copy's bytes, valid until the
   * kernel runs again. Another node has a copy from now on: this node's next write to it must
   * fault and leave a write notice. Writes made so far are in the copy sent.
   */
  share(page: number): Uint8Array {
    const { port, counters } = this.ctx;
    const index = page - port.firstPage;
    if (this.tracked[index] === 0) {
      this.tracked[index] = 1;
      counters.trackedPages++;
      if (port.protection(page) === Protection.ReadWrite && !this.ctx.dirty(page)) port.setProtection(page, Protection.ReadOnly);
    }
    return port.page(page);
  }

  /** Per writer, the last interval whose flush is applied here (this node's own entry is 0). */
  appliedIntervals(): number[] {
    return this.applied.slice();
  }

  /** Runs the waiters whose flushes are all applied now. */
  private wake(): void {
    if (this.waiters.length === 0) return;
    const ready: Waiter[] = [];
    this.waiters = this.waiters.filter((w) => {
      if (!this.satisfied(w.need)) return true;
      ready.push(w);
      return false;
    });
    for (const w of ready) w.ready();
  }
}
