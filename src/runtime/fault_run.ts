/**
 * Runs of faults served through {@link Coherence.faultNow} (see {@link serveFaults}), for a
 * node's host (kernel_node.ts), which lends what they need as a {@link FaultHost}.
 */
import { Access, Request } from "../abi.js";
import type { Coherence } from "../protocol/coherence.js";
import { FaultTimeoutError } from "./errors.js";
import type { RuntimeStats } from "./kernel_node.js";
import { HOST_SPIN_US, type MailboxHost, type MailboxRequest } from "./mailbox.js";
import type { Watch, Watchdog } from "./watchdog.js";

/** What a run of faults needs of its node's host. */
export interface FaultHost {
  readonly nodeId: number;
  readonly stats: RuntimeStats;
  readonly mailbox: MailboxHost;
  readonly watchdog: Watchdog;
  /** The kernel is parked on `request` (the parking invariant): run the park hook and parked work; may throw. */
  park(request: MailboxRequest): void;
  /** Runs work queued for the kernel's parking; may throw. */
  drain(): void;
  /** Answers `request` Ok: the kernel runs again. */
  release(request: MailboxRequest): void;
  /** Answers `request` Abort: the node fails with `error`. */
  fail(request: MailboxRequest, error: unknown): void;
  /** Whether every page `request` names allows its access now. */
  accessible(request: MailboxRequest): boolean;
  /** Whether another node of this process waits for this thread (its request not taken yet). */
  othersWaiting(): boolean;
}

/**
 * Serves a run of faults through {@link Coherence.faultNow}: each is answered inside the
 * handling of the message that resolved it, and the worker's next request, when it comes
 * within HOST_SPIN_US, is started right there. On the local transport that request joins the
 * delivery under way, so a kernel faulting page after page costs no promise jobs and no turn
 * of the event loop per fault. When messages wait behind the one that resolved a fault
 * (Coherence.backlog), the fault is answered after them instead, and the run of faults ends;
 * it ends too when another node of the process waits for this thread.
 * Resolves with the first request that is not a fault, or null when none came in time (or the
 * run ended so); rejects (the kernel answered Abort) when a fault failed.
 */
export function serveFaults(host: FaultHost, coherence: Coherence, first: MailboxRequest, timeoutMs: number): Promise<MailboxRequest | null> {
  const faultNow = (first: number, last: number, access: Access, done: (error?: unknown) => void) => coherence.fault(first, last, access).onSettle(done);
  const backlog = coherence.backlog?.bind(coherence);
  return new Promise((resolve, reject) => {
    let request = first;
    let watch: Watch | undefined;
    let started = 0;
    /** faultNow is under way: a `done` now is kept in `early` and handled when it returns. */
    let calling = false;
    let early: { error: unknown } | undefined;

    const attempt = (): boolean => {
      const [a0, a1, a2] = request.args;
      calling = true;
      early = undefined;
      try {
        faultNow(a0 >>> 0, a1 >>> 0, a2 === Access.Write ? Access.Write : Access.Read, done);
      } catch (error) {
        early ??= { error };
      }
      calling = false;
      return early !== undefined;
    };

    /** Parks the kernel on `request` and asks the protocol; true when that already ended. */
    const begin = (): boolean => {
      const [a0, , a2] = request.args;
      const write = a2 === Access.Write;
      if (write) host.stats.writeFaults++;
      else host.stats.readFaults++;
      started = performance.now();
      const current = host.watchdog.start(timeoutMs, (error) => {
        if (watch === current) ended(error);
      }, () => new FaultTimeoutError(host.nodeId, a0 >>> 0, write ? "write" : "read", timeoutMs));
      watch = current;
      try {
        host.park(request);
      } catch (error) {
        early = { error };
        return true;
      }
      return attempt();
    };

    const done = (error?: unknown): void => {
      if (!watch) return; // already ended: timed out or aborted
      if (calling) {
        early = { error };
        return;
      }
      ended(error);
    };

    /**
     * An attempt ended. Every page of the range must allow the access at the moment of the
     * reply (the kernel does not check again); while the protocol waited for one page another
     * node may have taken an earlier one, so ask again until one pass finds them all.
     */
    const ended = (error: unknown): void => {
      for (;;) {
        if (error === undefined && !host.accessible(request)) {
          host.stats.refaults++;
          if (!attempt()) return;
          error = early!.error;
          continue;
        }
        host.watchdog.end(watch!);
        watch = undefined;
        if (error === undefined) {
          try {
            host.stats.faultMs += performance.now() - started;
            host.drain();
          } catch (thrown) {
            error = thrown;
          }
        }
        if (error !== undefined) return fail(error);
        if (backlog?.() || host.othersWaiting()) {
          // Messages wait behind the one that resolved this fault: answer after them, so what
          // they bring that needs the kernel parked (a forward, an invalidation) is served now.
          // Another node of this process waits for its host: end the run of faults, which
          // would keep this thread from it.
          queueMicrotask(() => {
            try {
              host.drain();
            } catch (thrown) {
              return fail(thrown);
            }
            answer();
            resolve(null);
          });
          return;
        }
        answer();
        const next = host.mailbox.poll(HOST_SPIN_US);
        if (!next || next.kind !== Request.Fault) return resolve(next);
        request = next;
        if (!begin()) return;
        error = early!.error;
      }
    };

    const answer = (): void => host.release(request);

    const fail = (error: unknown): void => {
      host.fail(request, error);
      reject(error);
    };

    if (begin()) ended(early!.error);
  });
}
