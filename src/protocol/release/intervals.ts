/**
 * Intervals and vector time for lazy release consistency (lrc.ts).
 *
 * A node's execution is split into intervals at every lock acquire, lock release and barrier; an
 * interval in which the node wrote shared pages gets the next index of that node (1, 2, 3, …) and a
 * record: the pages it wrote (its write notices) and the node's vector time at its end. Intervals
 * without writes get no index: nobody needs to hear about them.
 *
 * A node's vector time vt says which intervals it has seen: every interval i <= vt[q] of every
 * node q. Records travel so that a node that learns an interval has learnt everything that interval
 * knew: a grant or barrier release carries all records the receiver lacks, so each node's records
 * of q stay a contiguous run up to vt[q].
 *
 * Happens-before between intervals: (q, j) → (p, i) iff vt(q, j) <= vt(p, i) componentwise, with
 * vt(q, j)[p] < i. Then the sum of vt(q, j) is smaller than the sum of vt(p, i), so sorting by
 * (sum, node) is a linear extension of happens-before: {@link hbOrder}.
 *
 * Garbage collection (at a barrier, once every writer of a page validated it and every other node
 * with notices of it dropped them, see lrc.ts) drops all records: `base` remembers vt at that point,
 * and nobody will ask for an older interval again.
 */
import { forEachPage, type IntervalRecord, type LrcArrival, type LrcRelease } from "./wire.js";

/** Records known about one node: indices base+1 … base+records.length. */
interface NodeRecords {
  base: number;
  records: IntervalRecord[];
}

/** A record received out of order or from a node that cannot have produced it. */
export class IntervalOrderError extends Error {
  override name = "IntervalOrderError";
}

export class IntervalStore {
  readonly vt: number[];
  private readonly nodes: NodeRecords[];
  /** Approximate bytes the records hold, for the GC bound. */
  private held = 0;

  constructor(
    readonly self: number,
    readonly nodeCount: number,
  ) {
    this.vt = new Array<number>(nodeCount).fill(0);
    this.nodes = Array.from({ length: nodeCount }, () => ({ base: 0, records: [] }));
  }

  get bytes(): number {
    return this.held;
  }

  /** Records held over all nodes. */
  get count(): number {
    let n = 0;
    for (const r of this.nodes) n += r.records.length;
    return n;
  }

  /** Closes this node's current interval with the pages it wrote; returns the new record. */
  create(pages: number[]): IntervalRecord {
    const index = this.vt[this.self] + 1;
    this.vt[this.self] = index;
    const record: IntervalRecord = { n: this.self, i: index, vt: this.vt.slice(), p: pages };
    this.keep(record);
    return record;
  }

  /**
   * Adds the records of `list` that are new here, in index order per node; returns the new ones.
   * Throws IntervalOrderError when a record would leave a gap (the sender skipped one).
   */
  learn(list: readonly IntervalRecord[]): IntervalRecord[] {
    const fresh = list.filter((r) => r.i > this.vt[r.n]).sort((a, b) => a.n - b.n || a.i - b.i);
    const added: IntervalRecord[] = [];
    for (const r of fresh) {
      if (r.i <= this.vt[r.n]) continue; // a duplicate within the list
      if (r.n === this.self) throw new IntervalOrderError(`interval ${r.n}.${r.i}: node ${this.self} was told of an interval of its own it never created`);
      if (r.i !== this.vt[r.n] + 1) throw new IntervalOrderError(`interval ${r.n}.${r.i}: node ${this.self} knows only up to ${r.n}.${this.vt[r.n]}; records must arrive without gaps`);
      this.vt[r.n] = r.i;
      this.keep(r);
      added.push(r);
    }
    return added;
  }

  /** Every record this node holds that a node at vector time `other` lacks. */
  missing(other: readonly number[]): IntervalRecord[] {
    const out: IntervalRecord[] = [];
    for (let q = 0; q < this.nodeCount; q++) {
      const { base, records } = this.nodes[q];
      const from = other[q] ?? 0;
      if (from >= this.vt[q]) continue;
      if (from < base) throw new IntervalOrderError(`intervals of node ${q} after ${from} were collected here (kept from ${base + 1}); a node missed a garbage collection`);
      for (let k = from - base; k < records.length; k++) out.push(records[k]);
    }
    return out;
  }

  /** Every record held of every node q with index above `after[q]`. */
  since(after: readonly number[]): IntervalRecord[] {
    const out: IntervalRecord[] = [];
    for (let q = 0; q < this.nodeCount; q++) {
      const { base, records } = this.nodes[q];
      out.push(...records.slice(Math.max(0, (after[q] ?? 0) - base)));
    }
    return out;
  }

  /** This node's own records with index above `after`. */
  ownSince(after: number): IntervalRecord[] {
    const { base, records } = this.nodes[this.self];
    return records.slice(Math.max(0, after - base));
  }

  /**
   * For every page written in an interval held here (since the last collection): the highest node
   * that wrote it, and whether this node did. Right after a barrier every node holds the same
   * records, so every node gets the same answer.
   */
  writers(): Map<number, { last: number; self: boolean }> {
    const out = new Map<number, { last: number; self: boolean }>();
    for (let q = 0; q < this.nodeCount; q++) {
      for (const record of this.nodes[q].records) {
        forEachPage(record.p, (page) => {
          const w = out.get(page);
          if (!w) out.set(page, { last: q, self: q === this.self });
          else {
            w.last = Math.max(w.last, q);
            w.self ||= q === this.self;
          }
        });
      }
    }
    return out;
  }

  /** Drops every record: all nodes have applied them all (garbage collection). */
  collect(): void {
    for (let q = 0; q < this.nodeCount; q++) this.nodes[q] = { base: this.vt[q], records: [] };
    this.held = 0;
  }

  /**
   * Drops the records up to `vt` (hlrc, at a barrier: every node has learnt them, and no node
   * will ask for them again, see hlrc.ts).
   */
  collectUpTo(vt: readonly number[]): void {
    this.held = 0;
    for (let q = 0; q < this.nodeCount; q++) {
      const upTo = Math.min(vt[q] ?? 0, this.vt[q]);
      const node = this.nodes[q];
      if (upTo > node.base) node.records = node.records.slice(upTo - node.base);
      node.base = Math.max(node.base, upTo);
      for (const r of node.records) this.held += 32 + 8 * (r.vt.length + r.p.length);
    }
  }

  private keep(record: IntervalRecord): void {
    this.nodes[record.n].records.push(record);
    this.held += 32 + 8 * (record.vt.length + record.p.length);
  }
}

/** A write notice: page written in interval `index` of `node`, whose vector time was `vt`. */
export interface WriteNotice {
  node: number;
  index: number;
  /** Sum of the interval's vector time: its place in happens-before order. */
  order: number;
  /** The interval's vector time (shared with its record: do not modify). */
  vt: readonly number[];
}

export function noticeOf(record: IntervalRecord): WriteNotice {
  let order = 0;
  for (const t of record.vt) order += t;
  return { node: record.n, index: record.i, order, vt: record.vt };
}

/** Sorts notices into an order consistent with happens-before (see the file comment). */
export function hbOrder(a: WriteNotice, b: WriteNotice): number {
  return a.order - b.order || a.node - b.node || a.index - b.index;
}

/**
 * Groups the pending notices of one page, sorted by {@link hbOrder}, into runs of one writer whose
 * diffs can be merged into one and applied at the place of the run's last notice. A notice joins
 * its writer's open run unless some notice of another writer placed after the run's first one
 * happens after it (knows of it): moving the run's earlier diffs past such a notice could put them
 * over its newer words. Notices that do not know of them are concurrent with them, and concurrent
 * race-free writers change disjoint words, so their order does not matter.
 * Returns the runs in the order to apply them (by their last notice).
 */
export function mergeableRuns(sorted: readonly WriteNotice[]): WriteNotice[][] {
  const runs: { notices: WriteNotice[]; end: number }[] = [];
  const open = new Map<number, { notices: WriteNotice[]; end: number }>();
  sorted.forEach((x, at) => {
    for (const [writer, run] of open) if (writer !== x.node && x.vt[writer] >= run.notices[0].index) open.delete(writer);
    const run = open.get(x.node);
    if (run) {
      run.notices.push(x);
      run.end = at;
    } else {
      const fresh = { notices: [x], end: at };
      runs.push(fresh);
      open.set(x.node, fresh);
    }
  });
  return runs.sort((a, b) => a.end - b.end).map((r) => r.notices);
}

/** Componentwise maximum of vector times. */
export function maxVt(a: readonly number[], b: readonly number[]): number[] {
  return a.map((t, q) => Math.max(t, b[q] ?? 0));
}

/**
 * The barrier manager's part: every node's new intervals, merged; each node gets those it lacks.
 * Each node sends its own intervals since the previous barrier, and every node had all intervals
 * up to that barrier, so the merge holds every interval some node lacks.
 */
export function releaseParts(arrivals: readonly LrcArrival[]): LrcRelease[] {
  const nodes = arrivals.length;
  let vt = new Array<number>(nodes).fill(0);
  const records = new Map<string, IntervalRecord>();
  let gc = false;
  for (const a of arrivals) {
    if (!a) continue;
    vt = maxVt(vt, a.vt);
    gc ||= a.gc;
    for (const r of a.intervals) records.set(`${r.n}.${r.i}`, r);
  }
  const all = [...records.values()].sort((a, b) => a.n - b.n || a.i - b.i);
  return arrivals.map((a) => {
    const known = a?.vt ?? new Array<number>(nodes).fill(0);
    return { vt, intervals: all.filter((r) => r.i > (known[r.n] ?? 0)), gc };
  });
}
