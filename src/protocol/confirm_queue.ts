/**
 * Confirms of installed pages waiting to be sent (page_protocol.ts). The fault's reply to the
 * kernel is due at once; the manager needs the Confirm only to start the page's next transaction.
 * On the local transport a message is delivered within the same turn, so sending it at once
 * would put the whole Confirm exchange before the kernel resumes.
 *
 * Confirms leave on a later turn of the event loop, and while the kernel waits for another fault
 * (PagePort.busy) they wait for a turn when it does not, at most CONFIRM_DELAY_MS: a kernel
 * faulting page after page gets its pages first, and the Confirms go when it computes or waits.
 * The protocol also sends them (`flush`) before a barrier, lock or unlock, and before it asks for
 * a page with a Confirm waiting (`has`): that page's manager would hold the request until the
 * Confirm came.
 */
import type { PagePort } from "./coherence.js";

/** Longest a resolved fault's Confirm waits for the kernel to stop faulting. */
export const CONFIRM_DELAY_MS = 1;

export class ConfirmQueue {
  private sends: (() => void)[] = [];
  /** Pages with a Confirm in `sends`, and when the oldest was queued (performance.now()). */
  private readonly pages = new Set<number>();
  private since = 0;

  constructor(
    private readonly port: PagePort,
    /** Once closed, queued Confirms are dropped instead of sent. */
    private readonly closed: () => boolean,
  ) {}

  /** Queues `send`, the Confirm of `page`. */
  add(page: number, send: () => void): void {
    if (this.sends.length === 0) {
      this.since = performance.now();
      setImmediate(this.whenIdle);
    }
    this.sends.push(send);
    this.pages.add(page);
  }

  /** Whether a Confirm of `page` waits. */
  has(page: number): boolean {
    return this.pages.has(page);
  }

  /** Sends every queued Confirm now. */
  flush(): void {
    const batch = this.sends;
    if (batch.length === 0) return;
    this.sends = [];
    this.pages.clear();
    if (!this.closed()) for (const send of batch) send();
  }

  private readonly whenIdle = (): void => {
    if (this.sends.length === 0) return;
    if (this.port.busy?.() && !this.closed() && performance.now() - this.since < CONFIRM_DELAY_MS) {
      setImmediate(this.whenIdle);
      return;
    }
    this.flush();
  };
}
