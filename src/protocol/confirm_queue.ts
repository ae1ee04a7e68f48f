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
import { KeptList } from "./kept_list.js";
import type { Scheduler } from "./scheduler.js";

/** A queued Confirm and the node it goes to. */
export interface QueuedConfirm extends ConfirmEntry {
  manager: number;
}

export class ConfirmQueue {
  // Kept lists throughout (kept_list.ts): Confirms are queued and flushed for every fault, and a
  // flush allocates nothing once the lists have grown.
  private queued = new KeptList<QueuedConfirm>();
  /** Two lists in turn: a Confirm queued while a flush sends goes to the other one. */
  private spare = new KeptList<QueuedConfirm>();
  /** flush's grouping: byManager[manager], and the managers in the order first queued. */
  private readonly byManager: KeptList<ConfirmEntry>[] = [];
  private readonly managers = new KeptList<number>();

  constructor(
    private readonly scheduler: Scheduler,
    /** Once closed, queued Confirms are dropped instead of sent. */
    private readonly closed: () => boolean,
    /**
     * Sends one Confirm message to `manager` for `entries[0..count)` (1..MAX_BATCHED_CONFIRMS + 1,
     * in queue order). `entries` is the queue's own storage, used again once this returns: read
     * it, do not keep it.
     */
    private readonly send: (manager: number, entries: readonly (ConfirmEntry | undefined)[], count: number) => void,
  ) {}

  /** Queues the Confirm of `confirm.page`. */
  add(confirm: QueuedConfirm): void {
    if (this.queued.length === 0) this.scheduler.later(this.flush);
    this.queued.push(confirm);
  }

  /** Whether a Confirm of `page` waits (a fault brings a few pages: a scan beats keeping a set). */
  has(page: number): boolean {
    const q = this.queued;
    for (let i = 0; i < q.length; i++) if (q.at(i).page === page) return true;
    return false;
  }

  /** Sends every queued Confirm now, one message per manager (and per MAX_BATCHED_CONFIRMS + 1). */
  readonly flush = (): void => {
    const batch = this.queued;
    if (batch.length === 0) return;
    this.queued = this.spare;
    if (!this.closed()) {
      const { byManager, managers } = this;
      try {
        for (let i = 0; i < batch.length; i++) {
          const c = batch.at(i);
          const entries = (byManager[c.manager] ??= new KeptList());
          if (entries.length === 0) managers.push(c.manager);
          entries.push(c);
          if (entries.length === MAX_BATCHED_CONFIRMS + 1) this.sendAll(c.manager);
        }
        for (let i = 0; i < managers.length; i++) if (byManager[managers.at(i)]!.length > 0) this.sendAll(managers.at(i));
      } finally {
        for (let i = 0; i < managers.length; i++) byManager[managers.at(i)]!.clear();
        managers.clear();
      }
    }
    batch.clear();
    this.spare = batch;
  };

  /** Sends the entries grouped for `manager` and empties them. */
  private sendAll(manager: number): void {
    const entries = this.byManager[manager]!;
    this.send(manager, entries.items, entries.length);
    entries.clear();
  }
}
