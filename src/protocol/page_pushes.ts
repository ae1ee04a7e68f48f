/**
 * Pushes at barriers for ivy and diff: the owner of a page that is also its manager sends the
 * version it wrote to the nodes that relinquished the previous one (self_invalidation.ts), as it
 * arrives at a barrier, and records them as holders then and there. Their next read of the page
 * then sends nothing. It is a read transaction the manager runs for the reader, completed on the
 * manager's side when it sends the page:
 *
 *   R ── Relinquish(p, v) ──▶ W (manager and owner)        R read p at v, dropped it at a barrier
 *   W writes p (version v+1), then at its next barrier:
 *   W: holders += R, not writing, read-only (parked)  ── PagePush / DiffPush(p, v+1) ──▶ R
 *   W ── BarrierArrive ──▶ …
 *   R: the bytes go in at v+1, its protection stays None (parked): the push is "ready"
 *   R's read fault on p: read-only, no message (the kernel sees the page from here on)
 *
 * Sequential consistency holds as for any read: R becomes a holder before the push leaves, so
 * every later write invalidates R, and that Invalidate leaves the same node (the manager) after
 * the push on the same link, so R has the push before it. The manager pushes only while it owns
 * the page, holds it read-write and has no transaction of it current or queued.
 *
 * R's protection stays None until a fault uses the push, so R knows whether it was read. A push
 * not used by R's barrier after the one it was meant for is relinquished as unused (access 1):
 * R stops being a holder and W pushes that page to R no more, until R reads it and relinquishes
 * a copy again.
 *
 * Loss: a lost push leaves R a holder without the version. R's read then asks with the version
 * it holds, older than the entry's, and the manager forwards instead of granting (directory.ts
 * begins a transaction as an upgrade only when the requester's version is the entry's). An
 * Invalidate drops the ready push with the copy, as it would have dropped the page.
 */

/** Most push targets a manager remembers; the oldest are forgotten first. */
export const MAX_PUSH_TARGETS = 4096;

/** Most pages one node pushes at one barrier. */
export const MAX_PUSHES_PER_BARRIER = 256;

/** The manager's side: which nodes read each page's previous version and dropped it. */
export class PushTargets {
  /** page → node → the version it relinquished. Insertion order: oldest first. */
  private readonly targets = new Map<number, Map<number, number>>();

  get size(): number {
    return this.targets.size;
  }

  /** `node` relinquished its read copy of `page` at `version` (the Relinquish was applied). */
  add(page: number, node: number, version: number): void {
    let nodes = this.targets.get(page);
    if (!nodes) {
      if (this.targets.size >= MAX_PUSH_TARGETS) this.targets.delete(this.targets.keys().next().value!);
      this.targets.set(page, (nodes = new Map()));
    }
    nodes.set(node, version);
  }

  /** `node` holds `page` again by a transaction of its own (or declined it): no push. */
  remove(page: number, node: number): void {
    const nodes = this.targets.get(page);
    if (!nodes || !nodes.delete(node)) return;
    if (nodes.size === 0) this.targets.delete(page);
  }

  /**
   * At a barrier: for each page `decide` answers "push" for, the nodes and versions to push to,
   * forgotten here; pages it answers "wait" for (not written since) stay; "forget" drops them.
   */
  take(decide: (page: number, nodes: ReadonlyMap<number, number>) => "push" | "wait" | "forget"): { page: number; nodes: Map<number, number> }[] {
    const out: { page: number; nodes: Map<number, number> }[] = [];
    for (const [page, nodes] of this.targets) {
      if (out.length >= MAX_PUSHES_PER_BARRIER) break;
      const verdict = decide(page, nodes);
      if (verdict === "wait") continue;
      this.targets.delete(page);
      if (verdict === "push") out.push({ page, nodes });
    }
    return out;
  }
}

/** A push installed here and not used yet. */
export interface ReadyPush {
  version: number;
  /** This node's last transaction on the page, as the manager knows it (for a Relinquish). */
  request: number;
  /** The barrier it was pushed at: it is meant for the phase after that barrier. */
  barrier: number;
}

/** The receiver's side: pushes installed with no access, until a fault uses them. */
export class ReadyPushes {
  private readonly ready = new Map<number, ReadyPush>();

  get size(): number {
    return this.ready.size;
  }

  set(page: number, push: ReadyPush): void {
    this.ready.set(page, push);
  }

  get(page: number): ReadyPush | undefined {
    return this.ready.get(page);
  }

  /** The page was installed, upgraded or invalidated: its push is no longer ready. */
  clear(page: number): void {
    if (this.ready.size > 0) this.ready.delete(page);
  }

  /** At this node's barrier `barrier`: the pushes meant for an earlier phase, never used, removed. */
  unused(barrier: number): { page: number; push: ReadyPush }[] {
    const out: { page: number; push: ReadyPush }[] = [];
    for (const [page, push] of this.ready) {
      if (push.barrier < barrier) {
        out.push({ page, push });
        this.ready.delete(page);
      }
    }
    return out;
  }
}
