/**
 * What a node of migrate, ivy or diff does with page copies around its barriers (a part of the
 * protocol object, page_protocol.ts, as the requester role is): it drops the read copies it
 * expects another node to write next and tells their managers (self_invalidation.ts), and, as a
 * manager, pushes the versions it wrote to the nodes that dropped the previous ones
 * (page_pushes.ts); as a reader it keeps the pushes it gets until a read fault takes them. The
 * protocol supplies how a page is installed and how its own write access ends.
 *
 *   barrier():   drop copies ── Relinquish ──▶ managers;  pushes ── PagePush / DiffPush ──▶ readers
 *                (both before the barrier arrival, on the same links)
 *   Relinquish:  manager: holder struck (Directory.onRelinquish); a read copy's node becomes a push target
 *   Push:        reader (parked): bytes in, no access, ready for a read fault
 */
import { Protection } from "../abi.js";
import type { PagePort } from "./coherence.js";
import { baseDiffPayload, confirmsPayload, MAX_BATCHED_CONFIRMS, MessageKind, type ConfirmEntry, type Message } from "./codec.js";
import type { Directory } from "./directory.js";
import type { Endpoint } from "./endpoint.js";
import { getU32 } from "./little_endian.js";
import { PushTargets, ReadyPushes } from "./page_pushes.js";
import { READ_AHEAD_PAGES } from "./read_ahead.js";
import { SelfInvalidation } from "./self_invalidation.js";

export interface BarrierCopiesContext {
  port: PagePort;
  endpoint: Endpoint;
  directory: Directory;
  /** Per region page: the version of the copy this node holds or last held (the protocol's). */
  versions: Uint32Array;
  /** Whether this node pushes the pages it writes (ProtocolTuning.pushes). */
  pushes: boolean;
  managerOf(page: number): number;
  /** Installs a reply (PageData or DiffData) as a read (parked). */
  install(page: number, reply: Message): void;
  /** Drops this node's copy of `page` to None, as an invalidation does (parked). */
  drop(page: number): void;
  /** Ends this node's write access to a page it pushes (parked). */
  endWrite(page: number): void;
  /** What a push to a node holding version `base` carries: a diff from there, or null for the whole page. */
  diffFrom(page: number, base: number): Uint8Array | null;
  counters: { relinquished: number; pagesPushed: number; pushesUsed: number; pushesUnused: number };
}

export class BarrierCopies {
  private readonly selfInvalidation: SelfInvalidation;
  /** Whom this manager pushes to; absent when pushes are off. */
  private readonly pushTargets: PushTargets | undefined;
  private readonly readyPushes = new ReadyPushes();
  /** Barrier calls of the kernel so far, this one included once it is called. */
  private barriers = 0;
  private readonly node: number;

  constructor(private readonly ctx: BarrierCopiesContext) {
    const { port, endpoint } = ctx;
    this.node = endpoint.node;
    this.selfInvalidation = new SelfInvalidation(port.firstPage, port.pageCount);
    if (ctx.pushes) this.pushTargets = new PushTargets();
  }

  /** One entry of a Relinquish, at this page's manager. */
  relinquished(c: Message): void {
    // A read copy relinquished (access 0) is pushed its next version; an unused push (1) is not.
    if (this.ctx.directory.onRelinquish(c) && c.arg === 0) this.pushTargets?.add(c.page, c.source, c.version);
  }

  /** A transaction of `node` on `page` was confirmed here: it holds the page by its own request, no push. */
  confirmed(page: number, node: number): void {
    this.pushTargets?.remove(page, node);
  }

  /** A fault's reply (or a lock grant's page) was installed: a push of it is no longer ready; a read may be dropped later. */
  installed(page: number, reply: Message | undefined, write: boolean): void {
    this.readyPushes.clear(page);
    if (!write && reply) this.selfInvalidation.installed(page, reply.version, reply.request);
  }

  /** An invalidation reached this node: a push not yet read goes with it, as the copy would. */
  invalidating(page: number): void {
    this.readyPushes.clear(page);
  }

  /** An invalidation took this node's copy of `page`. */
  invalidated(page: number): void {
    this.selfInvalidation.invalidated(page);
  }

  /**
   * A read fault takes the pushes ready for its pages: read-only, no message. Returns whether
   * every page of the fault is readable now.
   */
  usePushes(first: number, last: number): boolean {
    if (this.readyPushes.size === 0) return false;
    const { port } = this.ctx;
    let all = true;
    for (let p = first; p <= last; p++) if (!this.usePush(p) && port.protection(p) === Protection.None) all = false;
    // The pushes that follow, as read-ahead would fetch them (a row of several pages: one fault).
    if (all) for (let p = last + 1, n = 0; n < READ_AHEAD_PAGES && p < port.firstPage + port.pageCount && this.usePush(p); p++, n++);
    return all;
  }

  /** Makes a ready push of `page` readable; false when there is none. */
  private usePush(page: number): boolean {
    const { port, versions, counters } = this.ctx;
    const push = this.readyPushes.get(page);
    if (!push || versions[page - port.firstPage] !== push.version || port.protection(page) !== Protection.None) return false;
    this.readyPushes.clear(page);
    port.setProtection(page, Protection.ReadOnly);
    counters.pushesUsed++;
    this.selfInvalidation.installed(page, push.version, push.request);
    return true;
  }

  /** At the kernel's barrier call, after its Confirms and before its arrival (parked). */
  atBarrier(): void {
    this.barriers++;
    this.relinquish();
    if (this.pushTargets && this.pushTargets.size > 0) this.push(this.pushTargets);
  }

  /**
   * Drops the read copies self_invalidation.ts picks and gives back the pushes never read, and
   * tells their managers: Relinquish messages of at most 64 entries per manager.
   */
  private relinquish(): void {
    const { port, versions, endpoint, counters } = this.ctx;
    const taken = this.selfInvalidation.take(
      (e) => versions[e.page - port.firstPage] === e.version && port.protection(e.page) === Protection.ReadOnly && this.ctx.managerOf(e.page) !== this.node,
    );
    const unused = this.readyPushes.size > 0 ? this.readyPushes.unused(this.barriers) : [];
    if (taken.length === 0 && unused.length === 0) return;
    const byManager = new Map<number, ConfirmEntry[]>();
    const add = (e: ConfirmEntry) => {
      const manager = this.ctx.managerOf(e.page);
      const list = byManager.get(manager);
      if (list) list.push(e);
      else byManager.set(manager, [e]);
    };
    for (const e of taken) {
      this.ctx.drop(e.page);
      add(e);
    }
    // A push this node never read: no longer a holder, and no more pushes of it (access 1).
    for (const { page, push } of unused) add({ page, version: push.version, request: push.request, access: 1 });
    counters.pushesUnused += unused.length;
    for (const [manager, entries] of byManager) {
      for (let at = 0; at < entries.length; at += MAX_BATCHED_CONFIRMS + 1) {
        const batch = entries.slice(at, at + MAX_BATCHED_CONFIRMS + 1);
        const first = batch[0]!;
        endpoint.send(manager, { kind: MessageKind.Relinquish, page: first.page, version: first.version, request: first.request, arg: first.access, payload: confirmsPayload(batch) });
      }
    }
    counters.relinquished += taken.length;
  }

  /** Pushes the pages this node owns, manages and wrote to the nodes that relinquished their previous version. */
  private push(targets: PushTargets): void {
    const { port, versions, endpoint, directory, counters } = this.ctx;
    const taken = targets.take((page, nodes) => {
      if (this.ctx.managerOf(page) !== this.node) return "forget";
      let since = 0;
      for (const v of nodes.values()) since = Math.max(since, v);
      const verdict = directory.pushable(page, this.node, since);
      return verdict === "push" && port.protection(page) !== Protection.ReadWrite ? "wait" : verdict;
    });
    for (const { page, nodes } of taken) {
      const added = directory.pushTo(page, nodes.keys());
      if (added.length === 0) continue;
      this.ctx.endWrite(page);
      const version = versions[page - port.firstPage]!;
      for (const [node, request] of added) {
        const base = nodes.get(node)!;
        const diff = this.ctx.diffFrom(page, base);
        if (diff) endpoint.send(node, { kind: MessageKind.DiffPush, page, version, request, arg: this.barriers, payload: baseDiffPayload(base, diff) });
        else endpoint.send(node, { kind: MessageKind.PagePush, page, version, request, arg: this.barriers, payload: port.page(page) });
        counters.pagesPushed++;
      }
    }
  }

  /**
   * A push (parked): its bytes go in with no access, ready for the next read fault, unless this
   * node holds the page or a version as new, or a diff's base is not the version it holds.
   */
  onPush(m: Message): void {
    const { port, versions, endpoint } = this.ctx;
    const { page } = m;
    const i = page - port.firstPage;
    if (versions[i]! >= m.version || port.protection(page) !== Protection.None) return endpoint.dropStale();
    let reply: Message;
    if (m.kind === MessageKind.DiffPush) {
      if (getU32(m.payload, 0) !== versions[i]) return endpoint.dropStale();
      reply = { ...m, kind: MessageKind.DiffData, arg: 0, payload: m.payload.subarray(4) };
    } else {
      reply = { ...m, kind: MessageKind.PageData, arg: 0 };
    }
    this.ctx.install(page, reply);
    port.setProtection(page, Protection.None);
    this.readyPushes.set(page, { version: m.version, request: m.request, barrier: m.arg });
  }
}
