/**
 * hlrc's fetch role (hlrc.ts): what this node's invalid copies lack, and bringing them up to date.
 * Write notices record, per page, the newest interval of each writer the copy must hold; an access
 * miss takes the whole page from its home, or at the home waits for the flushes those notices
 * name. Kept apart from the writer and home roles because it is the only part that holds the
 * notices, and the only part that asks another node for pages.
 *
 *   node ── HlrcPageRequest([p, pages read ahead], need) ──▶ home(p)
 *   node ◀── HlrcPageReply(the pages) ── home(p)
 */
import { Access, Protection } from "../../abi.js";
import { MessageKind } from "../codec.js";
import { MAX_PAGES_PAYLOAD } from "../codec_checks.js";
import { PageTimeoutError } from "../errors.js";
import { all, flow, Future, wait, type Flow } from "../future.js";
import type { HomeRole } from "./home.js";
import type { PushRole } from "./pushes.js";
import type { RoleContext } from "./role_context.js";
import type { HlrcPageRequestBody } from "./wire.js";

/** The reply kinds of this file's exchanges: one array, not one per exchange. */
const HLRC_PAGE_REPLY_REPLIES: readonly MessageKind[] = [MessageKind.HlrcPageReply];

export interface FetchContext extends RoleContext {
  nodeCount: number;
  home: HomeRole;
  counters: { writeNotices: number; invalidations: number; prefetched: number; pagesFetched: number };
  /** The last interval this node flushed to `home` (0: none). */
  lastFlushedTo: (home: number) => number;
  /** Pushed copies to install at misses instead of fetching (over NATS, and in one process with more nodes than cores). @default none */
  pushes?: PushRole;
}

export class FetchRole {
  /**
   * Per writer, per region page (page - firstPage): the newest interval of that writer's writes
   * this node's copy lacks (0: none); and per page, whether any writer's entry is set. Typed
   * arrays, not a map per page: a barrier after a phase that wrote a grid brings a notice for
   * every page of it (a Jacobi half of 1024×1024 doubles: 1,024 notices per barrier), and a map
   * per page cost ~20-45 µs per barrier even warm; this is a store per notice.
   */
  private readonly lacks: Uint32Array[];
  private readonly stale: Uint8Array;

  constructor(private readonly ctx: FetchContext) {
    const pages = ctx.port.pageCount;
    this.lacks = Array.from({ length: ctx.nodeCount }, () => new Uint32Array(pages));
    this.stale = new Uint8Array(pages);
  }

  /** A write notice of `writer`'s interval `interval` for `page`: the copy here lacks that write. */
  notice(page: number, writer: number, interval: number): void {
    const { port, placement, home, node, counters } = this.ctx;
    counters.writeNotices++;
    // At the home, a flush applied already holds the write.
    if (placement.managerOf(page) === node && home.hasApplied(writer, interval)) return;
    const i = page - port.firstPage;
    const lacks = this.lacks[writer]!;
    if (lacks[i]! < interval) lacks[i] = interval;
    this.stale[i] = 1;
    if (port.protection(page) !== Protection.None) {
      port.setProtection(page, Protection.None);
      counters.invalidations++;
    }
  }

  /**
   * Brings `faulted` (no access here) up to date (parked): pages homed here once the flushes their
   * notices name are applied; the others fetched from their homes, one request per home, with the
   * pages up to `end` that this node has no copy of and that the same home holds.
   */
  *validate(faulted: readonly number[], end: number, access: Access): Flow<void> {
    const { port, placement, node, counters } = this.ctx;
    const mode = access === Access.Write ? "write" : "read";
    const byHome = new Map<number, number[]>();
    for (const p of faulted) {
      const home = placement.managerOf(p);
      let list = byHome.get(home);
      if (!list) byHome.set(home, (list = []));
      list.push(p);
    }
    const waits: Future<void>[] = [];
    for (const [home, pages] of byHome) {
      if (home === node) {
        for (const p of pages) waits.push(flow(this.untilApplied(p, mode)));
        continue;
      }
      const batch = pages.filter((p) => !this.fromPush(p, home));
      const asked = batch.length;
      const lastAsked = pages[pages.length - 1];
      for (let p = lastAsked + 1; p <= end && batch.length < MAX_PAGES_PAYLOAD; p++) {
        if (port.protection(p) !== Protection.None || placement.pending(p) || placement.managerOf(p) !== home) break;
        if (!this.fromPush(p, home)) batch.push(p);
      }
      if (batch.length === 0) continue;
      counters.prefetched += batch.length - asked;
      for (let k = 0; k < batch.length; k += MAX_PAGES_PAYLOAD) waits.push(this.fetch(home, batch.slice(k, k + MAX_PAGES_PAYLOAD), mode));
    }
    yield* wait(all(waits));
  }

  /** Per writer, the newest interval of its writes this node's copy of `page` lacks; undefined when current. */
  needOf(page: number): ReadonlyMap<number, number> | undefined {
    const i = page - this.ctx.port.firstPage;
    if (this.stale[i] === 0) return undefined;
    const need = new Map<number, number>();
    this.lacks.forEach((lacks, writer) => {
      if (lacks[i]! > 0) need.set(writer, lacks[i]!);
    });
    return need;
  }

  /** The copy of `page` here holds every write its notices named. */
  private current(page: number): void {
    const i = page - this.ctx.port.firstPage;
    if (this.stale[i] === 0) return;
    this.stale[i] = 0;
    for (const lacks of this.lacks) lacks[i] = 0;
  }

  /** Installs `bytes` as the copy of `page`, which holds every write its notices name (parked). */
  install(page: number, bytes: Uint8Array, fetched = true): void {
    const { port, counters } = this.ctx;
    port.page(page).set(bytes);
    this.current(page);
    port.setProtection(page, Protection.ReadOnly);
    if (fetched) counters.pagesFetched++;
  }

  /** Installs the pushed copy of `page` (homed at `home`) if one is held that will do (pushes.ts). */
  private fromPush(page: number, home: number): boolean {
    const pushes = this.ctx.pushes;
    if (!pushes) return false;
    const bytes = pushes.take(page, this.needOf(page), this.ctx.lastFlushedTo(home));
    if (!bytes) return false;
    this.install(page, bytes, false);
    return true;
  }

  /** Fetches `pages` from `home` and installs them read-only. */
  private fetch(home: number, pages: number[], mode: "read" | "write"): Future<void> {
    const { port, endpoint, node, timeoutMs } = this.ctx;
    const need = new Map<number, number>();
    // This node's own earlier writes to these pages must be in the copy it gets back.
    const flushed = this.ctx.lastFlushedTo(home);
    if (flushed > 0) need.set(node, flushed);
    for (const p of pages) for (const [w, i] of this.needOf(p) ?? []) if ((need.get(w) ?? 0) < i) need.set(w, i);
    const body: HlrcPageRequestBody = { pages, need: [...need] };
    const page = pages[0];
    const done = new Future<void>();
    endpoint.exchange(
      home,
      { kind: MessageKind.HlrcPageRequest, page, body },
      {
        replies: HLRC_PAGE_REPLY_REPLIES,
        accept: (m) => m.page === page && m.payload.byteLength === pages.length * port.pageSize,
        timeoutMs,
        timeout: () => new PageTimeoutError(page, home, mode, timeoutMs),
        borrows: true,
      },
      (reply) => {
        const size = port.pageSize;
        pages.forEach((p, k) => {
          // A page validated meanwhile (an earlier reply of an overlapping batch) keeps its copy.
          if (port.protection(p) !== Protection.None) return;
          this.install(p, reply.payload.subarray(k * size, (k + 1) * size));
        });
        done.resolve();
      },
      (error) => done.reject(error),
    );
    return done;
  }

  /** The home's own kernel: `page` is valid once the flushes its notices name are applied here. */
  private *untilApplied(page: number, mode: "read" | "write"): Flow<void> {
    const { port, home } = this.ctx;
    const need = this.needOf(page);
    if (need) yield* wait(home.untilApplied(page, need, mode));
    this.current(page);
    if (port.protection(page) === Protection.None) port.setProtection(page, Protection.ReadOnly);
  }
}
