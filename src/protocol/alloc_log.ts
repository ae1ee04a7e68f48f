/**
 * The collective-allocation check. Every node logs its kernel's sharedAlloc calls; each barrier
 * arrival carries the count, a running FNV-1a hash of the whole log, and the entries added since
 * the previous barrier. The barrier manager compares every node with node 0: equal count and hash
 * means equal logs (up to hash collisions); otherwise the new entries locate the first difference.
 * A difference older than the previous barrier cannot exist, because that barrier compared it.
 */
import type { AllocationMismatch, ArriveBody } from "./codec.js";

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

function fnv(hash: number, word: number): number {
  for (let i = 0; i < 4; i++) {
    hash ^= (word >>> (i * 8)) & 0xff;
    hash = Math.imul(hash, FNV_PRIME) >>> 0;
  }
  return hash;
}

export class AllocLog {
  private readonly entries: [number, number][] = [];
  private hash = FNV_OFFSET;
  private sent = 0;

  /** Logs one allocation (address and size are u32 in a wasm32 memory). */
  add(address: number, bytes: number): void {
    const a = address >>> 0;
    const b = bytes >>> 0;
    this.entries.push([a, b]);
    this.hash = fnv(fnv(this.hash, a), b);
  }

  get count(): number {
    return this.entries.length;
  }

  /** What the next barrier arrival carries. */
  arrival(): ArriveBody {
    return { count: this.entries.length, hash: this.hash, first: this.sent, entries: this.entries.slice(this.sent) };
  }

  /** The barrier compared the log up to `count`; later arrivals carry only what follows. */
  markSent(count: number): void {
    this.sent = count;
  }
}

function entryAt(body: ArriveBody, index: number): [number, number] | null | undefined {
  if (index < body.first) return undefined; // compared at an earlier barrier
  return body.entries[index - body.first] ?? null;
}

const same = (a: [number, number] | null, b: [number, number] | null) => (a === null ? b === null : b !== null && a[0] === b[0] && a[1] === b[1]);

/** The first node (lowest id) whose log differs from node 0's, and where; undefined when all agree. */
export function compareArrivals(bodies: readonly ArriveBody[]): AllocationMismatch | undefined {
  const reference = bodies[0];
  for (let node = 1; node < bodies.length; node++) {
    const body = bodies[node];
    if (body.count === reference.count && body.hash === reference.hash) continue;
    const from = Math.min(body.first, reference.first);
    const to = Math.max(body.count, reference.count);
    for (let i = from; i < to; i++) {
      const got = entryAt(body, i);
      const expected = entryAt(reference, i);
      if (got === undefined || expected === undefined) continue;
      if (!same(got, expected)) return { node, index: i + 1, got, expected };
    }
    // Equal new entries but different hashes: the difference predates the previous barrier.
    return { node, index: Math.max(1, from), got: null, expected: null };
  }
  return undefined;
}
