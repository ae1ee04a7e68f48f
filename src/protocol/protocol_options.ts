/**
 * The options every page protocol (and lrc) takes, and their checks: timings with their
 * defaults, and the range of a fault.
 */
import type { PagePort, ProtocolContext } from "./coherence.js";
import { InvalidProtocolOptionError, PageRangeError } from "./errors.js";
import type { PlacementName } from "./placement.js";

/** Tuning beyond the fixed context; every field is optional. */
export interface ProtocolTuning {
  /** First retransmission of an unanswered request after this many ms (then 2×, 4×, 8×). @default min(200, max(10, timeoutMs / 25)) */
  retryMs?: number;
  /**
   * Bound on barrier and lock waits, which include the other nodes' compute time, so a kernel
   * with long unbalanced phases may need more than a page fault does. @default timeoutMs
   */
  syncTimeoutMs?: number;
  /** Diff protocol: diffs kept per page. @default 32 */
  historyLength?: number;
  /** Diff protocol: bytes of diffs kept per node over all pages. @default 64 MiB */
  historyBytes?: number;
  /** lrc: garbage collection at the next barrier once diffs, twins and records pass this. @default 32 MiB */
  gcBytes?: number;
  /**
   * lrc: a page one node alone wrote between two barriers is then written by it with no twin and
   * no notice, the others fetching it whole (lrc.ts, single-writer pages). @default true
   */
  singleWriter?: boolean;
  /**
   * migrate, ivy, diff: faults bring in the pages a run or sweep predicts (read_ahead.ts); under
   * migrate, write faults only (a read there moves the page). @default true
   */
  readAhead?: boolean;
  /** migrate, ivy: ms a page given for writing is kept before it is given away (PageRoles.holdMs). @default the protocol's */
  holdMs?: number;
  /**
   * Which node manages each page (placement.ts): the protocol's fixed mapping over the region, or
   * each collective allocation cut into one block per node. Kernel runs use "allocation".
   * @default "region"
   */
  placement?: PlacementName;
  /**
   * Barriers without a manager (peer_barriers.ts): every node's arrival goes to every other node,
   * and the last to arrive leaves at once. @default over links that leave the process (NATS);
   * kernel runs in one process set it when every node has a core of its own (cluster.ts)
   */
  peerBarriers?: boolean;
  /**
   * ivy, diff: the owner and manager of a page pushes the version it wrote, at its barrier, to
   * the nodes that relinquished the previous one (page_pushes.ts); hlrc: a home pushes the pages it
   * wrote to the nodes that fetched them (hlrc/pushes.ts). @default over links that leave the
   * process (NATS); kernel runs of one process set it when there are more nodes than cores
   * (cluster.ts sendAheadInProcess)
   */
  pushes?: boolean;
  /**
   * ivy, diff, migrate: a lock grant hands over the pages its granter took for writing under the lock,
   * when the granter or the acquirer manages them (lock_pages.ts); hlrc: a grant from a page's home
   * carries that page (hlrc/grant_pages.ts). @default as `pushes`
   */
  lockPages?: boolean;
}

export type ProtocolOptions = ProtocolContext & ProtocolTuning;

export function defaultRetryMs(timeoutMs: number): number {
  return Math.min(200, Math.max(10, Math.floor(timeoutMs / 25)));
}

/** Validates the options every protocol shares; returns the retry interval and sync bound with their defaults. */
export function checkedTimings(options: ProtocolOptions): { retryMs: number; syncTimeoutMs: number } {
  const { timeoutMs } = options;
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) throw new InvalidProtocolOptionError("timeoutMs", timeoutMs, "a positive number of milliseconds");
  const retryMs = options.retryMs ?? defaultRetryMs(timeoutMs);
  if (!(Number.isFinite(retryMs) && retryMs > 0)) throw new InvalidProtocolOptionError("retryMs", retryMs, "a positive number of milliseconds");
  const syncTimeoutMs = options.syncTimeoutMs ?? timeoutMs;
  if (!(Number.isFinite(syncTimeoutMs) && syncTimeoutMs > 0)) throw new InvalidProtocolOptionError("syncTimeoutMs", syncTimeoutMs, "a positive number of milliseconds");
  if (!Number.isInteger(options.job) || options.job < 0 || options.job > 0xffffffff) throw new InvalidProtocolOptionError("job", options.job, "an integer from 0 to 4294967295");
  return { retryMs, syncTimeoutMs };
}

/** Throws PageRangeError unless first..last is a page range inside the port's shared region. */
export function checkFaultRange(port: PagePort, first: number, last: number): void {
  const { firstPage, pageCount } = port;
  if (!(Number.isInteger(first) && Number.isInteger(last) && first >= firstPage && last >= first && last < firstPage + pageCount)) {
    throw new PageRangeError(first, last, firstPage, firstPage + pageCount - 1);
  }
}
