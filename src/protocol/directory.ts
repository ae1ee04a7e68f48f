/**
 * The page manager's side of migrate, ivy and diff: for each page it manages, a directory entry
 * (owner, holders of the current version, version, whether the owner is writing) and a FIFO queue
 * that serializes requests, one transaction at a time per page.
 *
 *   read by R:  R not a holder ──▶ ReadForward(version v, requester R) to the owner,
 *                                  who answers R directly (PageData / DiffData at v)
 *               R a holder      ──▶ Grant(v) to R
 *   write by W: Invalidate(v) to every holder except W (and except the owner when W needs its
 *               data); each answers InvalidateAck; then
 *               W holds version v and the owner is not writing ──▶ Grant(v) to W   (upgrade)
 *               otherwise ──▶ WriteForward(v, requester W) to the owner, who gives the page up
 *                              and sends it (or a diff) to W at v; W writes version v+1
 *   then:       requester ── Confirm ──▶ manager, which updates the entry, answers ConfirmAck,
 *               and starts the next queued transaction (one Confirm message may confirm several
 *               transactions of the requester, and one ConfirmAck answers it)
 *
 * Repeats are safe. The requester repeats its request until it gets the page; the manager answers
 * a repeat of the current transaction by resending its pending step (invalidations not yet acked,
 * or the final forward/grant), ignores repeats of queued ones, and drops requests older than the
 * requester's last completed one. Acks and confirms must match the current transaction's
 * requester, request id and version. Versions make stale forwards and invalidations harmless at
 * the nodes (see page_protocol.ts).
 */
import { MessageKind, u32Payload, type Message } from "./codec.js";
import type { Endpoint } from "./endpoint.js";

export interface DirectoryEntry {
  owner: number;
  /** Nodes holding a valid copy of `version`, the owner included. */
  holders: Set<number>;
  version: number;
  /** The owner holds the page read-write (its version is still being written). */
  writing: boolean;
}

export interface DirectoryPolicy {
  /** The entry of a page before any transaction. */
  initial(page: number): DirectoryEntry;
}

interface Transaction {
  node: number;
  request: number;
  write: boolean;
  /** The requester's version of the page, forwarded so the owner can send a diff. */
  requesterVersion: number;
  /** Invalidations still awaiting an ack. */
  waiting: Set<number>;
  /** The requester keeps its copy and only needs permission. */
  upgrade: boolean;
}

interface PageState {
  entry: DirectoryEntry;
  current: Transaction | null;
  queue: Transaction[];
  /** Per node, the request id of its last completed transaction on this page. */
  done: Map<number, number>;
}

export class Directory {
  private readonly pages = new Map<number, PageState>();
  /** Transactions queued behind another one, for stats. */
  queued = 0;
  /** Holders removed by a Relinquish, for stats. */
  relinquished = 0;

  constructor(
    private readonly endpoint: Endpoint,
    private readonly policy: DirectoryPolicy,
  ) {}

  /** The entry of `page` (for tests and stats). */
  entry(page: number): DirectoryEntry {
    return this.state(page).entry;
  }

  onRequest(msg: Message): void {
    const state = this.state(msg.page);
    const { source: node, request } = msg;
    const current = state.current;
    if (current && current.node === node && current.request === request) {
      this.endpoint.dropStale();
      return this.drive(msg.page, state, current);
    }
    if (state.queue.some((t) => t.node === node && t.request === request) || request <= (state.done.get(node) ?? 0)) {
      return this.endpoint.dropStale();
    }
    const txn: Transaction = {
      node,
      request,
      write: msg.kind === MessageKind.WriteRequest,
      requesterVersion: msg.version,
      waiting: new Set(),
      upgrade: false,
    };
    if (current) {
      this.queued++;
      state.queue.push(txn);
    } else {
      this.begin(msg.page, state, txn);
    }
  }

  onInvalidateAck(msg: Message): void {
    const state = this.pages.get(msg.page);
    const txn = state?.current;
    if (!state || !txn || txn.request !== msg.request || txn.node !== msg.arg || msg.version !== state.entry.version || !txn.waiting.has(msg.source)) {
      return this.endpoint.dropStale();
    }
    txn.waiting.delete(msg.source);
    if (txn.waiting.size === 0) this.drive(msg.page, state, txn);
  }

  /** One transaction of a Confirm message; the protocol answers the message (page_protocol.ts). */
  onConfirm(msg: Message): void {
    const state = this.pages.get(msg.page);
    const txn = state?.current;
    if (state && txn && txn.node === msg.source && txn.request === msg.request && txn.waiting.size === 0) {
      const entry = state.entry;
      if (txn.write) {
        entry.owner = txn.node;
        entry.holders = new Set([txn.node]);
        entry.version++;
        entry.writing = true;
      } else {
        entry.holders.add(txn.node);
        entry.writing = false;
      }
      state.done.set(txn.node, txn.request);
      state.current = null;
      const next = state.queue.shift();
      if (next) this.begin(msg.page, state, next);
    } else {
      this.endpoint.dropStale();
    }
  }

  /**
   * One entry of a Relinquish (self_invalidation.ts): its sender dropped its read-only copy of
   * `version`, installed by its transaction `request`. It stops being a holder, unless the entry
   * moved on, a later transaction of its own completed, is current or queued (its copy may be
   * newer than the drop), or an invalidation awaits its ack (the ack completes that). Ignoring
   * one is always safe: a holder without a copy costs an invalidation that drops nothing.
   */
  onRelinquish(msg: Message): boolean {
    const state = this.pages.get(msg.page);
    const node = msg.source;
    const current = state?.current;
    if (
      !state ||
      state.entry.version !== msg.version ||
      state.entry.owner === node ||
      !state.entry.holders.has(node) ||
      state.done.get(node) !== msg.request ||
      (current && (current.node === node || current.waiting.has(node))) ||
      state.queue.some((t) => t.node === node)
    ) {
      this.endpoint.dropStale();
      return false;
    }
    state.entry.holders.delete(node);
    this.relinquished++;
    return true;
  }

  /**
   * Whether `self`, this page's manager, may push it now (page_pushes.ts): "push" when it owns the
   * page, is writing a version newer than `since` and no transaction of the page is current or
   * queued; "wait" when it may later (not written since, or busy); "forget" when another node owns it.
   */
  pushable(page: number, self: number, since: number): "push" | "wait" | "forget" {
    const state = this.pages.get(page);
    if (!state || state.entry.owner !== self) return "forget";
    if (!state.entry.writing || state.entry.version <= since || busy(state)) return "wait";
    return "push";
  }

  /**
   * A read transaction the manager runs for each of `nodes` at once, as it pushes the page to
   * them (page_pushes.ts; the caller checked {@link pushable}): they become holders and the owner
   * stops writing. Returns each node added with the request id of its last completed transaction
   * on the page (its Relinquish of the pushed copy names that one).
   */
  pushTo(page: number, nodes: Iterable<number>): [node: number, request: number][] {
    const state = this.state(page);
    const added: [number, number][] = [];
    for (const node of nodes) {
      if (state.entry.holders.has(node)) continue;
      state.entry.holders.add(node);
      added.push([node, state.done.get(node) ?? 0]);
    }
    if (added.length > 0) state.entry.writing = false;
    return added;
  }

  /**
   * A write transaction without messages, for a page whose ownership moves with a lock grant
   * (lock_pages.ts): `from`, the owner, writing version `version` and its only holder, gives the
   * page to `to`, which writes version + 1. Only while no transaction of the page is current or
   * queued; returns whether it was done.
   */
  handOver(page: number, from: number, version: number, to: number): boolean {
    const state = this.state(page);
    const { entry } = state;
    if (entry.owner !== from || !entry.writing || entry.version !== version || busy(state)) return false;
    for (const n of entry.holders) if (n !== from) return false;
    entry.owner = to;
    entry.holders = new Set([to]);
    entry.version++;
    return true;
  }

  private begin(page: number, state: PageState, txn: Transaction): void {
    const { entry } = state;
    state.current = txn;
    // A holder whose copy is older than the entry's never received it (a push that was lost,
    // page_pushes.ts): it needs the data, not just permission.
    const current = entry.holders.has(txn.node) && txn.requesterVersion === entry.version && (!entry.writing || entry.owner === txn.node);
    if (txn.write) {
      txn.upgrade = current;
      for (const n of entry.holders) if (n !== txn.node && (current || n !== entry.owner)) txn.waiting.add(n);
    } else {
      txn.upgrade = current;
    }
    this.drive(page, state, txn);
  }

  /** Sends the transaction's pending step: invalidations not yet acked, else the final step. */
  private drive(page: number, state: PageState, txn: Transaction): void {
    const { entry } = state;
    if (txn.waiting.size > 0) {
      for (const n of txn.waiting) {
        this.endpoint.send(n, { kind: MessageKind.Invalidate, page, version: entry.version, request: txn.request, arg: txn.node });
      }
      return;
    }
    const access = txn.write ? 1 : 0;
    if (txn.upgrade) {
      this.endpoint.send(txn.node, { kind: MessageKind.Grant, page, version: entry.version, request: txn.request, arg: access });
      return;
    }
    this.endpoint.send(entry.owner, {
      kind: txn.write ? MessageKind.WriteForward : MessageKind.ReadForward,
      page,
      version: entry.version,
      request: txn.request,
      arg: txn.node,
      payload: u32Payload(txn.requesterVersion),
    });
  }

  private state(page: number): PageState {
    let state = this.pages.get(page);
    if (!state) {
      state = { entry: this.policy.initial(page), current: null, queue: [], done: new Map() };
      this.pages.set(page, state);
    }
    return state;
  }
}

/** Whether a transaction of the page is current or queued. */
function busy(state: PageState): boolean {
  return state.current !== null || state.queue.length > 0;
}
