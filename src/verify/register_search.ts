/**
 * The Wing & Gong search for one register, with Lowe's / Porcupine's memoization; used by
 * checkLinearizable (linearizability.ts), which explains the method.
 *
 * Events: the call of operation i is entry i, its return is entry n + i; entry 2n is the head of a
 * doubly linked list of the events not yet linearized, in time order. The candidates at any moment
 * are the calls before the first return in the list. Linearizing a call lifts it and its return out
 * of the list; backtracking puts them back.
 *
 * Memo: a search state is (set of linearized operations, register value). Operations are sorted by
 * start, so a set is stored compactly as "all below `low`" plus the few linearized ones above it,
 * which all start before operation `low` ends. Set hashes are Zobrist (XOR of per-operation keys).
 *
 * Pruning: a pending read that returns the register's current value is linearized at once, without
 * a choice point (see forcedRead), so reads never multiply the states searched.
 */
import { describeOperation, type Operation } from "./operation.js";

/** The search exceeded its state budget: the history is neither accepted nor rejected. */
export class CheckBudgetError extends Error {
  override name = "CheckBudgetError";
  constructor(
    message: string,
    readonly address: number,
    readonly states: number,
  ) {
    super(message);
  }
}

export interface Budget {
  left: number;
  readonly total: number;
}

/** Deterministic 32-bit keys, one per operation, XORed into the hash of a set of operations. */
function zobrist(n: number): Uint32Array {
  const keys = new Uint32Array(n);
  let x = 0x9e3779b9;
  for (let i = 0; i < n; i++) {
    x = (x + 0x6d2b79f5) | 0;
    let t = Math.imul(x ^ (x >>> 15), 1 | x);
    t ^= t + Math.imul(t ^ (t >>> 7), 61 | t);
    keys[i] = (t ^ (t >>> 14)) >>> 0;
  }
  return keys;
}

/** The linearized operations (indices into operations sorted by start). */
class Linearized {
  private readonly bits: Uint32Array;
  /** Lowest index not linearized. */
  private low = 0;
  hash = 0;

  constructor(
    private readonly ops: readonly Operation[],
    private readonly keys: Uint32Array,
  ) {
    this.bits = new Uint32Array((ops.length + 31) >>> 5);
  }

  private has(i: number): boolean {
    return (this.bits[i >>> 5] & (1 << (i & 31))) !== 0;
  }

  add(i: number): void {
    this.bits[i >>> 5] |= 1 << (i & 31);
    this.hash ^= this.keys[i];
    if (i === this.low) while (this.low < this.ops.length && this.has(this.low)) this.low++;
  }

  remove(i: number): void {
    this.bits[i >>> 5] &= ~(1 << (i & 31));
    this.hash ^= this.keys[i];
    if (i < this.low) this.low = i;
  }

  /** Last index that can be linearized above `low`: every such operation starts before `low` ends. */
  private windowEnd(): number {
    const n = this.ops.length;
    if (this.low >= n) return n;
    const limit = this.ops[this.low].end;
    let i = this.low + 1;
    while (i < n && this.ops[i].start <= limit) i++;
    return i;
  }

  snapshot(): Int32Array {
    const out = [this.low];
    for (let i = this.low + 1, end = this.windowEnd(); i < end; i++) if (this.has(i)) out.push(i);
    return Int32Array.from(out);
  }

  matches(s: Int32Array): boolean {
    if (s[0] !== this.low) return false;
    let k = 1;
    for (let i = this.low + 1, end = this.windowEnd(); i < end; i++) {
      if (this.has(i) && s[k++] !== i) return false;
    }
    return k === s.length;
  }
}

/**
 * Searches for a linearization of one register's operations, sorted by start; returns null when
 * one exists, else the reason. Throws CheckBudgetError when `budget` runs out.
 */
export function searchRegister(ops: readonly Operation[], initial: number, address: number, budget: Budget): string | null {
  const n = ops.length;
  const events: number[] = [];
  for (let i = 0; i < 2 * n; i++) events.push(i);
  const time = (e: number) => (e < n ? ops[e].start : ops[e - n].end);
  // Calls before returns at equal times: touching intervals are concurrent.
  events.sort((a, b) => time(a) - time(b) || (a < n ? 0 : 1) - (b < n ? 0 : 1) || a - b);
  const HEAD = 2 * n;
  const next = new Int32Array(2 * n + 1);
  const prev = new Int32Array(2 * n + 1);
  let last = HEAD;
  for (const e of events) {
    next[last] = e;
    prev[e] = last;
    last = e;
  }
  next[last] = -1;
  const lift = (c: number) => {
    const r = c + n;
    prev[next[c]] = prev[c];
    next[prev[c]] = next[c];
    if (next[r] !== -1) prev[next[r]] = prev[r];
    next[prev[r]] = next[r];
  };
  const unlift = (c: number) => {
    const r = c + n;
    next[prev[r]] = r;
    if (next[r] !== -1) prev[next[r]] = r;
    next[prev[c]] = c;
    prev[next[c]] = c;
  };

  const linearized = new Linearized(ops, zobrist(n));
  const seen = new Map<number, { set: Int32Array; state: number }[]>();
  /** Records the current (set, state); false when it was seen before. */
  const remember = (state: number): boolean => {
    const key = (linearized.hash ^ Math.imul(state | 0, 0x85ebca6b)) >>> 0;
    let bucket = seen.get(key);
    if (!bucket) seen.set(key, (bucket = []));
    for (const s of bucket) if (s.state === state && linearized.matches(s.set)) return false;
    bucket.push({ set: linearized.snapshot(), state });
    return true;
  };

  const stackCall: number[] = [];
  const stackState: number[] = [];
  const stackForced: boolean[] = [];
  let state = initial;
  let best = { depth: -1, op: 0, state: initial };

  /** Linearizes call `c`, leaving the register at `after`, if that gives a new search state. */
  const tryPush = (c: number, after: number, forced: boolean): boolean => {
    linearized.add(c);
    if (!remember(after)) {
      linearized.remove(c);
      return false;
    }
    if (--budget.left < 0) {
      throw new CheckBudgetError(
        `address ${address}: gave up after ${budget.total} search states (${n} operations on it); check a shorter history or raise maxStates`,
        address,
        budget.total,
      );
    }
    stackCall.push(c);
    stackState.push(state);
    stackForced.push(forced);
    state = after;
    lift(c);
    return true;
  };
  /** Undoes choices back to the last free one; returns the call undone, or -1 when none is left. */
  const backtrack = (): number => {
    while (stackCall.length > 0) {
      const c = stackCall.pop()!;
      state = stackState.pop()!;
      linearized.remove(c);
      unlift(c);
      if (!stackForced.pop()) return c;
    }
    return -1;
  };
  /**
   * A pending read that returns the current value can always go first: it changes nothing, and
   * its call precedes every pending return. So it is taken without a choice point, and if the
   * search fails after it, it fails for the state before it too.
   */
  const forcedRead = (): number => {
    for (let e = next[HEAD]; e !== -1 && e < n; e = next[e]) {
      if (ops[e].kind === "read" && ops[e].value === state) return e;
    }
    return -1;
  };

  let entry = next[HEAD];
  let scan = true;
  while (next[HEAD] !== -1) {
    if (scan) {
      scan = false;
      const read = forcedRead();
      if (read !== -1) {
        if (tryPush(read, state, true)) {
          entry = next[HEAD];
          scan = true;
        } else {
          const c = backtrack();
          if (c === -1) break;
          entry = next[c];
        }
        continue;
      }
    }
    if (entry < n) {
      const op = ops[entry];
      if ((op.kind === "write" || op.value === state) && tryPush(entry, op.kind === "write" ? op.value : state, false)) {
        entry = next[HEAD];
        scan = true;
      } else {
        entry = next[entry];
      }
    } else {
      if (stackCall.length > best.depth) best = { depth: stackCall.length, op: entry - n, state };
      const c = backtrack();
      if (c === -1) break;
      entry = next[c];
    }
  }
  if (next[HEAD] === -1) return null;
  return (
    `no linearization of the ${n} operations on address ${address}: at most ${best.depth} can be ordered, ` +
    `after which the register holds ${best.state} and ${describeOperation(ops[best.op])} cannot take effect`
  );
}
