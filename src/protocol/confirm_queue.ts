/**
 * Confirms of installed pages waiting to be sent (page_requester.ts). The fault's answer to the
 * kernel is due at once; the manager needs the Confirm only to start the page's next transaction.
 * So Confirms go as the scheduler's later() work: after the kernel has its answer, at the node's
 * next poll or wait, off the path of the fault.
 *
 * The protocol also sends them (`flush`) before a barrier, lock or unlock, and before it asks for
 * a page with a Confirm waiting (`has`): that page's manager would hold the request until the
 * Confirm came.
 */
import type { Scheduler } from "./scheduler.js";

export class ConfirmQueue {
  private sends: (() => void)[] = [];
  private spare: (() => void)[] = [];
  /** Pages with a Confirm in `sends`. */
  private readonly pages = new Set<number>();

  constructor(
    private readonly scheduler: Scheduler,
    /** Once closed, queued Confirms are dropped instead of sent. */
    private readonly closed: () => boolean,
  ) {}

  /** Queues `send`, the Confirm of `page`. */
  add(page: number, send: () => void): void {
    if (this.sends.length === 0) this.scheduler.later(this.flush);
    this.sends.push(send);
    this.pages.add(page);
  }

  /** Whether a Confirm of `page` waits. */
  has(page: number): boolean {
    return this.pages.has(page);
  }

  /** Sends every queued Confirm now. */
  readonly flush = (): void => {
    const batch = this.sends;
    if (batch.length === 0) return;
    // Two arrays in turn: a Confirm queued while these are sent goes to the other one.
    this.sends = this.spare;
    this.pages.clear();
    if (!this.closed()) for (const send of batch) send();
    batch.length = 0;
    this.spare = batch;
  };
}
