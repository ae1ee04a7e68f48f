/**
 * hlrc's pushes (hlrc.ts), over links that leave the process (NATS) and in one process with more
 * nodes than cores (cluster.ts sendAheadInProcess): as a home arrives at a
 * barrier, it sends the master copies of the pages it wrote since its previous barrier to the
 * nodes that fetched them, so that their misses after the barrier find the page here instead of
 * asking the home for it.
 *
 *   home H, at barrier arrival:  H ── HlrcPush(first page, applied, pages) ──▶ Y   (Y fetched them)
 *                                H ── BarrierArrive ──▶ every other node (peer_barriers.ts; over
 *                                NATS a barrier has no manager), so Y has the push before it leaves
 *   Y, after the release:        miss on p: the pushed copy is installed when it holds every write
 *                                Y's notices name for p and Y's own last flush to H; else, or
 *                                with no push here, Y ── HlrcPageRequest ──▶ H as before
 *   Y, a push of p while the previous push of p is still unread: Y ── HlrcPushDecline(p) ──▶ H,
 *                                and H pushes p to Y no more (until Y fetches p again)
 *
 * `applied` says, per writer, the last interval whose writes the bytes hold: H's own latest
 * interval, and the flushes H has applied (as a lock grant's pages, grant_pages.ts). A push is
 * only ever held: it changes no page when it arrives, so it needs no parking and cannot show a
 * write early. It is installed at a miss, parked, under the same rule a home applies before it
 * answers a page request (home.ts satisfied). A lost, late or duplicated push costs the fetch it
 * would have saved, never a wrong copy.
 *
 * Why: over NATS a message costs the wake-ups of four threads and a server hop. In a 2-node Jacobi
 * (hlrc, nodes in one process, warm) a hop took 326 µs in the median and 970 µs on average, with
 * tails of 4 ms (one in a hundred), and each node's miss on its neighbour's row after every barrier
 * cost a round trip of them: 150 ms of a 430 ms job per node. H knows at its barrier which rows
 * its neighbours will read next, and the push travels with the barrier instead of after it.
 * Between the nodes of one process a fetch costs microseconds, so pushes are off there.
 */
import { Protection } from "../../abi.js";
import { MessageKind, type Message } from "../codec.js";
import { MAX_PAGES_PAYLOAD } from "../codec_checks.js";
import { forEachPage, type IntervalRecord } from "../release/wire.js";
import { Scratch } from "../scratch.js";
import type { HomeRole } from "./home.js";
import type { Need } from "./home.js";
import type { RoleContext } from "./role_context.js";

/** Most pages a home pushes to one node at one barrier. */
export const PUSH_PAGES = 64;
/** Most pushed copies a node holds; a push beyond is dropped (the miss fetches). */
export const MAX_PUSHED = 512;

export interface PushContext extends RoleContext {
  nodeCount: number;
  home: HomeRole;
  /** This node's latest interval. */
  ownInterval: () => number;
  counters: { pagesPushed: number; pushesUsed: number; pushesDeclined: number };
}

/** A pushed copy of one page, held until a miss takes it or a newer push replaces it. */
interface Pushed {
  from: number;
  /** Per writer, the last interval whose writes `bytes` hold. */
  applied: Uint32Array;
  bytes: Uint8Array;
}

export class PushRole {
  /** Home side: per node, per region page, whether that node fetched the page (and did not decline it). */
  private readonly copies: Uint8Array[];
  /** Receiving side: the pushed copies held. */
  private readonly held = new Map<number, Pushed>();
  /** Receiving side: per region page, whether the kernel missed on it since its last push came. */
  private readonly missed: Uint8Array;
  private readonly payload = new Scratch();

  constructor(private readonly ctx: PushContext) {
    const pages = ctx.port.pageCount;
    this.copies = Array.from({ length: ctx.nodeCount }, () => new Uint8Array(pages));
    this.missed = new Uint8Array(pages);
  }

  /** Home side: `node` got `pages` (homed here) from this home. */
  served(node: number, pages: readonly number[]): void {
    const copies = this.copies[node]!;
    const first = this.ctx.port.firstPage;
    for (const p of pages) copies[p - first] = 1;
  }

  /**
   * Home side, at a barrier arrival (parked): pushes the pages homed here that `records` (this
   * node's intervals since its previous barrier) wrote to every node that fetched them, one
   * message per run of consecutive pages, at most PUSH_PAGES per node.
   */
  atArrival(records: readonly IntervalRecord[]): void {
    const { port, placement, node, nodeCount } = this.ctx;
    const first = port.firstPage;
    const written: number[] = [];
    for (const r of records) {
      forEachPage(r.p, (page) => {
        if (!placement.pending(page) && placement.managerOf(page) === node) written.push(page);
      });
    }
    if (written.length === 0) return;
    written.sort((a, b) => a - b);
    let applied: Uint32Array | undefined;
    for (let to = 0; to < nodeCount; to++) {
      if (to === node) continue;
      const copies = this.copies[to]!;
      const pages: number[] = [];
      for (let k = 0; k < written.length && pages.length < PUSH_PAGES; k++) {
        const p = written[k]!;
        if (copies[p - first] === 1 && p !== pages[pages.length - 1]) pages.push(p);
      }
      if (pages.length === 0) continue;
      applied ??= this.appliedNow();
      let start = 0;
      for (let k = 1; k <= pages.length; k++) {
        if (k < pages.length && pages[k] === pages[k - 1]! + 1 && k - start < MAX_PAGES_PAYLOAD) continue;
        this.push(to, pages.slice(start, k), applied);
        start = k;
      }
    }
  }

  /** Home side: `m.source` left two pushes of `m.page` unread. */
  onDecline(m: Message): void {
    const { port, placement, node, endpoint } = this.ctx;
    if (placement.pending(m.page) || placement.managerOf(m.page) !== node) return endpoint.dropMisdelivered();
    this.copies[m.source]![m.page - port.firstPage] = 0;
  }

  /** Receiving side: holds the pushed pages (changes none of them). */
  onPush(m: Message): void {
    const { port, placement, nodeCount, endpoint, counters } = this.ctx;
    const size = port.pageSize;
    const vector = nodeCount * 4;
    const count = (m.payload.byteLength - vector) / size;
    const end = port.firstPage + port.pageCount;
    for (let k = 0; k < count; k++) {
      const p = m.page + k;
      if (p >= end || placement.pending(p) || placement.managerOf(p) !== m.source) return endpoint.dropMisdelivered();
    }
    const applied = new Uint32Array(nodeCount);
    const view = new DataView(m.payload.buffer, m.payload.byteOffset, vector);
    for (let w = 0; w < nodeCount; w++) applied[w] = view.getUint32(w * 4, true);
    for (let k = 0; k < count; k++) {
      const p = m.page + k;
      const i = p - port.firstPage;
      if (this.held.has(p) && this.missed[i] === 0) {
        // The previous push of p is still unread: the kernel does not read p between barriers.
        this.held.delete(p);
        counters.pushesDeclined++;
        endpoint.send(m.source, { kind: MessageKind.HlrcPushDecline, page: p });
        continue;
      }
      if (!this.held.has(p) && this.held.size >= MAX_PUSHED) continue;
      this.held.set(p, { from: m.source, applied, bytes: m.payload.subarray(vector + k * size, vector + (k + 1) * size) });
      this.missed[i] = 0;
    }
  }

  /**
   * Receiving side, at a miss on `page` (homed elsewhere; parked): the pushed copy, when one is
   * held that holds every write `need` names and this node's own last flush to its home
   * (`flushed`); the caller installs it. Either way the held copy is used up.
   */
  take(page: number, need: Need | undefined, flushed: number): Uint8Array | undefined {
    const { port, node, counters } = this.ctx;
    if (port.protection(page) !== Protection.None) return undefined;
    this.missed[page - port.firstPage] = 1;
    const pushed = this.held.get(page);
    if (!pushed) return undefined;
    this.held.delete(page);
    if (flushed > pushed.applied[node]!) return undefined;
    if (need) for (const [writer, interval] of need) if (pushed.applied[writer]! < interval) return undefined;
    counters.pushesUsed++;
    return pushed.bytes;
  }

  /** Pushed copies held now (tests). */
  get heldPages(): number[] {
    return [...this.held.keys()].sort((a, b) => a - b);
  }

  /** Per writer, the last interval whose writes the master copies here hold. */
  private appliedNow(): Uint32Array {
    const applied = Uint32Array.from(this.ctx.home.appliedIntervals());
    applied[this.ctx.node] = this.ctx.ownInterval();
    return applied;
  }

  private push(to: number, pages: number[], applied: Uint32Array): void {
    const { port, home, endpoint, counters } = this.ctx;
    const size = port.pageSize;
    const vector = applied.byteLength;
    const payload = this.payload.bytes(vector + pages.length * size);
    const view = new DataView(payload.buffer, payload.byteOffset, vector);
    for (let w = 0; w < applied.length; w++) view.setUint32(w * 4, applied[w]!, true);
    pages.forEach((p, k) => payload.set(home.share(p), vector + k * size));
    counters.pagesPushed += pages.length;
    endpoint.send(to, { kind: MessageKind.HlrcPush, page: pages[0], payload });
  }
}
