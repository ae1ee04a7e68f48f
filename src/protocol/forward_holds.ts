/**
 * Forwards a copy holder cannot serve at once (page_protocol.ts): a forward must read or take a
 * page the kernel may be writing, so its work waits for the kernel to park; and a page this node
 * was given for writing is kept for a window while the kernel works with it (PageRoles.holdMs,
 * Mirage's window), so the forward waits for a sync call or the window's end.
 *
 * Either way the forward is remembered by (page, access, request), so a repeat (the requester
 * retries) neither queues the same work twice nor is served twice: it is dropped as stale.
 * Separate from the protocol object because it keeps its own state (the waiting keys, the held
 * messages and their timer) and touches nothing of the page table but through `parked`.
 */
import type { PagePort } from "./coherence.js";
import type { Message } from "./codec.js";
import type { Endpoint } from "./endpoint.js";
import type { Scheduler, TimerHandle } from "./scheduler.js";

export class ForwardHolds {
  /** Forwards waiting for the kernel to park or for a hold to end. */
  private readonly waiting = new Set<string>();
  /** Forwards held by `hold`, and the timer that ends the hold. */
  private held: Message[] = [];
  private heldTimer: TimerHandle | undefined;
  private releasingNow = false;

  constructor(
    private readonly endpoint: Endpoint,
    private readonly port: PagePort,
    private readonly scheduler: Scheduler,
    /** Runs `fn` once the kernel is parked (at once when it is). */
    private readonly parked: (fn: () => void) => void,
    /** Called for each forward held. */
    private readonly counted: () => void,
  ) {}

  /** A held forward is being handled again: it is served now. */
  get releasing(): boolean {
    return this.releasingNow;
  }

  /** Runs a forward's work parked, once per forward however often the forward is repeated. */
  serveParked(msg: Message, serve: () => void): void {
    const waiting = this.waiting;
    if (waiting.size > 0 && waiting.has(forwardKey(msg))) return this.endpoint.dropStale();
    let served = false;
    this.parked(() => {
      served = true;
      if (waiting.size > 0) waiting.delete(forwardKey(msg));
      serve();
    });
    // Usually the kernel is parked and the work ran at once; otherwise remember it is waiting.
    if (!served) waiting.add(forwardKey(msg));
  }

  /**
   * Holds `msg` (a forward that would take a page away) while the kernel is still working with
   * the page (PagePort.working: at a poll or in a fault): until it reaches a barrier, a lock or
   * its end, or until `until` (a scheduler time) at the latest, which also bounds two nodes that
   * each hold a page the other faults on. False when the forward must be served now. Repeats
   * meanwhile are dropped as stale.
   */
  hold(msg: Message, until: number): boolean {
    if (this.port.working?.() !== true || this.scheduler.now() >= until) return false;
    const key = forwardKey(msg);
    if (this.waiting.has(key)) {
      this.endpoint.dropStale();
      return true;
    }
    this.waiting.add(key);
    this.counted();
    this.held.push(msg);
    if (this.held.length === 1) this.heldTimer = this.scheduler.at(until, this.release);
    return true;
  }

  /** Serves the forwards held by `hold`: the kernel reached a sync call, or a hold ran out. */
  readonly release = (): void => {
    if (this.held.length === 0) return;
    const held = this.held;
    this.held = [];
    if (this.heldTimer) this.scheduler.cancel(this.heldTimer);
    this.heldTimer = undefined;
    for (const msg of held) {
      this.waiting.delete(forwardKey(msg));
      this.releasingNow = true;
      try {
        this.endpoint.redeliver(msg);
      } finally {
        this.releasingNow = false;
      }
    }
  };
}

/** Identifies a forward however often it is repeated. */
function forwardKey(msg: Message): string {
  return `${msg.page}:${msg.arg}:${msg.request}`;
}
