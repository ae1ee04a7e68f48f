/**
 * The request/reply exchanges of one Endpoint that are still waiting for their reply, and their
 * retransmissions (endpoint.ts shows the exchange). Retries back off (retryMs, 2×, 4×, 8× at most)
 * and stop at the call's deadline, where the call rejects with the error its caller built.
 *
 * One timer serves every call (armed for the earliest retransmission), since almost every call is
 * answered long before its first retry and a timer per call would cost more than the call. It
 * stays armed when the calls it was armed for settle (it then finds nothing to do), so a call that
 * settles before its first retry costs no timer work.
 *
 * Separate from the Endpoint, which encodes, decodes and routes: this part only keeps time.
 */
import type { CallOptions } from "./endpoint.js";
import type { Message } from "./codec.js";
import { KeptList } from "./kept_list.js";
import type { Scheduler, TimerHandle } from "./scheduler.js";

export interface PendingCall {
  readonly to: number;
  readonly request: number;
  /** What each transmission sends: bytes, or for a call to this node itself the message. */
  readonly bytes: Uint8Array | Message;
  readonly options: CallOptions;
  /** scheduler.now() at which the call gives up. */
  readonly deadline: number;
  /** scheduler.now() of the next retransmission. */
  due: number;
  /** Wait before the retransmission after the next one. */
  interval: number;
  last: Message | undefined;
  /** Index in the table's list of unsettled calls; -1 once settled. */
  slot: number;
  resolve(reply: Message): void;
  reject(error: Error): void;
}

export class CallTable {
  /** Calls by request id, for routing replies. */
  private readonly pending = new Map<number, PendingCall>();
  /**
   * Every call not yet settled (a later call may reuse an earlier one's request id), each at its
   * `slot`. A kept list (kept_list.ts), not a Set: a Set shrinks its table as calls settle, an
   * allocation per call.
   */
  private readonly calls = new KeptList<PendingCall>();
  private retryTimer: TimerHandle | undefined;
  private retryAt = Infinity;
  private stopped = false;

  constructor(
    private readonly scheduler: Scheduler,
    /** First retransmission after this many ms. */
    private readonly retryMs: number,
    /** Sends a call's bytes (`retry`: a retransmission); a throw ends the call with that error. */
    private readonly deliver: (to: number, bytes: Uint8Array | Message, retry: boolean) => void,
    /** Counts a retransmission. */
    private readonly retried: () => void,
  ) {}

  /** Starts a call: sends it now and keeps it until its reply, its deadline or a failure. */
  start(to: number, request: number, bytes: Uint8Array | Message, options: CallOptions, onReply: (reply: Message) => void, onError: (error: Error) => void): void {
    const now = this.scheduler.now();
    const call: PendingCall = { to, request, bytes, options, deadline: now + options.timeoutMs, due: now, interval: this.retryMs, last: undefined, slot: this.calls.length, resolve: onReply, reject: onError };
    this.pending.set(request, call);
    this.calls.push(call);
    if (this.transmit(call, now, false)) this.armRetry(call.due);
  }

  /** The call waiting for a reply with request id `request`. */
  waiting(request: number): PendingCall | undefined {
    return this.pending.get(request);
  }

  /** Ends `call`: it no longer receives replies or retransmits. */
  settle(call: PendingCall): void {
    const slot = call.slot;
    if (slot >= 0) {
      // The last call takes the settled one's place.
      const last = this.calls.pop()!;
      if (last !== call) {
        this.calls.items[slot] = last;
        last.slot = slot;
      }
      call.slot = -1;
    }
    if (this.pending.get(call.request) === call) this.pending.delete(call.request);
  }

  /** Ends every call with `error`. */
  rejectAll(error: Error): void {
    const calls = this.calls.toArray();
    for (const call of calls) this.settle(call);
    for (const call of calls) call.reject(error);
  }

  /** Stops the timer and ends every call with `error`; no call starts afterwards. */
  stop(error: Error): void {
    this.stopped = true;
    this.disarmRetry();
    this.rejectAll(error);
  }

  /** Sends (or resends) a call, or ends it at its deadline; true while it still waits. */
  private transmit(call: PendingCall, now: number, retry: boolean): boolean {
    const left = call.deadline - now;
    if (left <= 0) {
      this.settle(call);
      call.reject(call.options.timeout(call.last));
      return false;
    }
    if (retry) this.retried();
    try {
      this.deliver(call.to, call.bytes, retry);
    } catch (error) {
      this.settle(call);
      call.reject(error as Error);
      return false;
    }
    call.due = now + Math.min(call.interval, left);
    call.interval = Math.min(call.interval * 2, this.retryMs * 8);
    return true;
  }

  private armRetry(due: number): void {
    if (this.retryTimer !== undefined && this.retryAt <= due) return;
    this.disarmRetry();
    this.retryAt = due;
    this.retryTimer = this.scheduler.at(due, this.onRetryTimer);
  }

  private disarmRetry(): void {
    if (this.retryTimer === undefined) return;
    this.scheduler.cancel(this.retryTimer);
    this.retryTimer = undefined;
    this.retryAt = Infinity;
  }

  private readonly onRetryTimer = (): void => {
    this.retryTimer = undefined;
    this.retryAt = Infinity;
    if (this.stopped) return;
    const now = this.scheduler.now();
    let next = Infinity;
    for (const call of this.calls.toArray()) {
      if (call.due <= now && !this.transmit(call, now, true)) continue;
      if (call.slot >= 0) next = Math.min(next, call.due);
    }
    if (next !== Infinity) this.armRetry(next);
  };
}
