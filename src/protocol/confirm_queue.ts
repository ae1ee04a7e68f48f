/**
 * Confirms of installed pages waiting to be sent (page_requester.ts). The fault's answer to the
 * kernel is due at once; the manager needs the Confirm only to start the page's next transaction.
 * So Confirms go as the scheduler's later() work: after the kernel has its answer, at the node's
 * next poll or wait, off the path of the fault. They go together: one Confirm message per
 * manager carries every Confirm queued for it (up to MAX_BATCHED_CONFIRMS + 1), and one
 * ConfirmAck answers it, so a fault that brought nine pages read ahead costs its manager one
 * message to handle instead of nine.
 *
 * The protocol also sends them (`flush`) before a barrier, lock or unlock, and before it asks for
 * a page with a Confirm waiting (`has`): that page's manager would hold the request until the
 * Confirm came.
 */
import { MAX_BATCHED_CONFIRMS, type ConfirmEntry } from "./codec.js";
import type { Scheduler } from "./scheduler.js";

/** A queued Confirm and the node it goes to. */
export interface QueuedConfirm extends ConfirmEntry {
  manager: number;
}

export class ConfirmQueue {
  private queued: QueuedConfirm[] = [];
  private spare: QueuedConfirm[] = [];
  /** Pages with a Confirm in `queued`. */
  private readonly pages = new Set<number>();

  constructor(
    private readonly scheduler: Scheduler,
    /** Once closed, queued Confirms are dropped instead of sent. */
    private readonly closed: () => boolean,
    /** Sends one Confirm message to `manager` for `entries` (1..MAX_BATCHED_CONFIRMS + 1, in queue order). */
    private readonly send: (manager: number, entries: ConfirmEntry[]) => void,
  ) {}

  /** Queues the Confirm of `confirm.page`. */
  add(confirm: QueuedConfirm): void {
    if (this.queued.length === 0) this.scheduler.later(this.flush);
    this.queued.push(confirm);
    this.pages.add(confirm.page);
  }

  /** Whether a Confirm of `page` waits. */
  has(page: number): boolean {
    return this.pages.has(page);
  }

  /** Sends every queued Confirm now, one message per manager (and per MAX_BATCHED_CONFIRMS + 1). */
  readonly flush = (): void => {
    const batch = this.queued;
    if (batch.length === 0) return;
    // Two arrays in turn: a Confirm queued while these are sent goes to the other one.
    this.queued = this.spare;
    this.pages.clear();
    if (!this.closed()) {
      const byManager = new Map<number, ConfirmEntry[]>();
      for (const c of batch) {
        let entries = byManager.get(c.manager);
        if (!entries) byManager.set(c.manager, (entries = []));
        entries.push(c);
        if (entries.length === MAX_BATCHED_CONFIRMS + 1) {
          this.send(c.manager, entries);
          byManager.delete(c.manager);
        }
      }
      for (const [manager, entries] of byManager) this.send(manager, entries);
    }
    batch.length = 0;
    this.spare = batch;
  };
}
