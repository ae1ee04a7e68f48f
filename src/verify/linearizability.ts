/**
 * A linearizability checker for histories of read/write registers (one register per address).
 *
 * A history is linearizable when each operation can be given one instant inside its interval
 * [start, end] such that, in the order of those instants, every read returns the value of the last
 * write before it (or the initial value). Example on one address, initial value 0:
 *
 *   node 0:  |--- write 1 ---|                          linearizable: write 1, then read 1
 *   node 1:        |--- read 1 ---|   |-- read 0 --|    NOT: read 0 starts after write 1 returned
 *
 * Registers are independent, so the history is split by address and each part checked alone
 * (P-compositionality). Each part is searched as in Wing & Gong, with the memoization of Lowe and
 * Porcupine: walk the call/return events in time order, tentatively linearize any pending call the
 * register allows, backtrack when a return is reached whose call is not yet linearized, and never
 * revisit a (set of linearized operations, register value) pair. Intervals that touch (one ends at
 * the instant another starts) count as concurrent, so clock resolution cannot cause a false alarm.
 *
 * The search is exponential in the worst case: past `maxStates` distinct states it stops with
 * {@link CheckBudgetError} rather than pass or fail.
 */
import { describeOperation, type Operation } from "./operation.js";
import { searchRegister } from "./register_search.js";

export { describeOperation, type Operation } from "./operation.js";
export { CheckBudgetError } from "./register_search.js";

export type CheckResult =
  | { ok: true; operations: number }
  | { ok: false; address: number; operations: Operation[]; reason: string };

export interface CheckOptions {
  /** Distinct search states allowed over all addresses before giving up. @default 500000 */
  maxStates?: number;
}

/** An operation that cannot be part of a history (bad kind, times out of order, non-numbers). */
export class HistoryError extends Error {
  override name = "HistoryError";
}

export const DEFAULT_MAX_STATES = 500_000;

function validate(history: readonly Operation[]): void {
  history.forEach((op, i) => {
    if (op.kind !== "read" && op.kind !== "write") throw new HistoryError(`operation ${i}: kind ${JSON.stringify(op.kind)} is not "read" or "write"`);
    for (const field of ["node", "address", "value", "start", "end"] as const) {
      if (typeof op[field] !== "number" || !Number.isFinite(op[field])) {
        throw new HistoryError(`operation ${i}: ${field} ${JSON.stringify(op[field])} is not a finite number`);
      }
    }
    if (op.start > op.end) throw new HistoryError(`operation ${i}: starts at ${op.start} µs after it ends at ${op.end} µs; record start before end`);
  });
}

/** Checks `history`; every address starts at `initialValue`. */
export function checkLinearizable(history: readonly Operation[], initialValue = 0, options: CheckOptions = {}): CheckResult {
  validate(history);
  const byAddress = new Map<number, Operation[]>();
  for (const op of history) {
    let ops = byAddress.get(op.address);
    if (!ops) byAddress.set(op.address, (ops = []));
    ops.push(op);
  }
  const budget = { left: options.maxStates ?? DEFAULT_MAX_STATES, total: options.maxStates ?? DEFAULT_MAX_STATES };
  for (const address of [...byAddress.keys()].sort((a, b) => a - b)) {
    const ops = byAddress.get(address)!.slice().sort((a, b) => a.start - b.start || a.end - b.end);
    const reason = impossibleRead(ops, initialValue) ?? searchRegister(ops, initialValue, address, budget);
    if (reason !== null) return { ok: false, address, operations: ops, reason };
  }
  return { ok: true, operations: history.length };
}

/** Cheap rejections with a plain reason: a read of a value that no write could have produced. */
function impossibleRead(ops: readonly Operation[], initial: number): string | null {
  const earliestWrite = new Map<number, number>();
  for (const op of ops) {
    if (op.kind === "write") earliestWrite.set(op.value, Math.min(op.start, earliestWrite.get(op.value) ?? Infinity));
  }
  for (const op of ops) {
    if (op.kind !== "read" || op.value === initial) continue;
    const start = earliestWrite.get(op.value);
    if (start === undefined) return `${describeOperation(op)} returns a value never written (initial value ${initial})`;
    if (start > op.end) return `${describeOperation(op)} returns a value first written at ${start} µs, after the read returned`;
  }
  return null;
}
