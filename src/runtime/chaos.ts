/**
 * Chaos mode, for tests: a host that takes pages away from its kernel and gives them back at
 * random whenever the kernel is parked, so that an access that slipped past its check shows up as
 * a wrong result. Every way a real host may change a page while the kernel is parked is used at
 * every chance: every poll, fault, sync call and allocation (the worker calls `parked`), and
 * polls are provoked all the time: every park raises the poll word again, so the kernel parks at
 * its very next loop header.
 *
 * Taking page p away: its bytes and protection are saved, the bytes are filled with a poison
 * pattern and the protection becomes None. An access that is checked faults, and the fault gives
 * the page back (bytes first, then protection) before the protocol sees it; an access that was
 * not checked reads poison or writes bytes that the restore then overwrites.
 *
 *   kernel                      ChaosMemory (node's host)              protocol
 *   ── poll / fault / sync ──►  take k random pages (save, poison, None)
 *                               give back some taken pages at random
 *   ── fault(first..last) ───►  give back taken pages of the range ──► fault() only if a page
 *                                                                      still forbids the access
 *   ── done ─────────────────►  give back every page                 ─► finish()
 *
 * The protocol sees the pages as they would be without chaos: {@link ChaosMemory} is the PagePort
 * it is given, and reads and writes the saved bytes and protection of a taken page (a protocol
 * may read a page while the kernel runs, so giving the page back there is not allowed). Pages
 * taken are the shared pages allocated so far and the private pages of the AssemblyScript heap
 * and stack (which are read-write for good, so their checks are put to the test too), unless
 * `privatePages` is off: a build that leaves accesses it proves private unchecked
 * (`privateAccesses`) relies on private pages staying read-write, as a real host keeps them.
 *
 * Not covered: accesses to the reserved low part of memory (control words, table), which kernels
 * never make.
 */
import { Access, NO_READ, NO_WRITE, Protection, Request } from "../abi.js";
import type { Coherence, PagePort, ProtocolStats } from "../protocol/coherence.js";
import { DONE, Future } from "../protocol/future.js";
import type { MemoryPort } from "./memory_port.js";

export interface ChaosOptions {
  /** Uniform random numbers in [0, 1); seeded by tests so that a failure reproduces. */
  random: () => number;
  /** Chance, at each park, of taking one more page; up to `maxTakePerPark` pages. @default 0.5 */
  takeChance?: number;
  /** @default 3 */
  maxTakePerPark?: number;
  /** Chance, at each park, that each taken page is given back. @default 0.25 */
  giveBackChance?: number;
  /**
   * Take private pages (heap, shadow stack) too, which a real host never does. Off for builds
   * with the `privateAccesses` optimisation, whose unchecked accesses rely on that rule.
   * @default true
   */
  privatePages?: boolean;
}

const POISON = 0xa5;

interface Saved {
  bytes: Uint8Array;
  protection: Protection;
}

export interface ChaosCounters {
  taken: number;
  givenBack: number;
  /** Faults answered by giving pages back, without the protocol. */
  faultsAbsorbed: number;
  parks: number;
}

export class ChaosMemory implements PagePort {
  readonly pageSize: number;
  readonly firstPage: number;
  readonly pageCount: number;
  readonly counters: ChaosCounters = { taken: 0, givenBack: 0, faultsAbsorbed: 0, parks: 0 };
  private readonly taken = new Map<number, Saved>();
  /** Shared pages allocated so far, [first, end) each. */
  private readonly allocations: [number, number][] = [];
  private readonly privateFirst: number;
  private running = false;

  constructor(
    private readonly node: MemoryPort,
    private readonly options: ChaosOptions,
    /** Raises the kernel's poll word, so it parks at its next loop header. */
    private readonly raisePoll: () => void,
  ) {
    this.pageSize = node.pageSize;
    this.firstPage = node.firstPage;
    this.pageCount = node.pageCount;
    this.privateFirst = node.layout.memoryBase / node.pageSize;
  }

  page(page: number): Uint8Array {
    return this.taken.get(page)?.bytes ?? this.node.page(page);
  }

  protection(page: number): Protection {
    return this.taken.get(page)?.protection ?? this.node.protection(page);
  }

  setProtection(page: number, protection: Protection): void {
    const saved = this.taken.get(page);
    if (saved) saved.protection = protection;
    else this.node.setProtection(page, protection);
  }

  whenParked(fn: () => void, failed: (error: unknown) => void): void {
    this.node.whenParked(fn, failed);
  }

  working(): boolean {
    return this.node.working();
  }

  /** The kernel parked on a call of `kind` (a Request). */
  parked(kind: number): void {
    this.counters.parks++;
    if (kind === Request.Done) {
      this.stop();
      return this.giveBackAll();
    }
    if (this.running) this.raisePoll();
    for (const page of [...this.taken.keys()]) if (this.options.random() < (this.options.giveBackChance ?? 0.25)) this.giveBack(page);
    const max = this.options.maxTakePerPark ?? 3;
    for (let i = 0; i < max && this.options.random() < (this.options.takeChance ?? 0.5); i++) this.takeRandom();
  }

  /** Gives back the taken pages of a faulting range; true when then every page allows `access`. */
  fault(first: number, last: number, access: Access): boolean {
    const forbidden = access === Access.Write ? NO_READ | NO_WRITE : NO_READ;
    let allowed = true;
    for (let p = first; p <= last; p++) {
      if (this.taken.has(p)) this.giveBack(p);
      if ((this.node.protection(p) & forbidden) !== 0) allowed = false;
    }
    if (allowed) this.counters.faultsAbsorbed++;
    return allowed;
  }

  allocated(address: number, bytes: number): void {
    const first = Math.floor(address / this.pageSize);
    this.allocations.push([first, Math.ceil((address + bytes) / this.pageSize)]);
  }

  /** Provokes polls from now on, until the kernel is done. */
  start(): void {
    this.running = true;
    this.raisePoll();
  }

  stop(): void {
    this.running = false;
  }

  giveBackAll(): void {
    for (const page of [...this.taken.keys()]) this.giveBack(page);
  }

  /** Pages currently taken, for tests. */
  get takenPages(): number[] {
    return [...this.taken.keys()].sort((a, b) => a - b);
  }

  /** A shared page three times in four (when any is allocated), else a private one; only shared ones without `privatePages`. */
  private takeRandom(): void {
    const random = this.options.random;
    const sharedCount = this.allocations.reduce((n, [first, end]) => n + end - first, 0);
    let page: number;
    const privatePages = this.options.privatePages ?? true;
    if (sharedCount > 0 && (!privatePages || random() < 0.75)) {
      page = this.allocatedPage(Math.floor(random() * sharedCount));
    } else if (!privatePages) {
      return;
    } else {
      const privateEnd = this.node.memory.buffer.byteLength / this.pageSize;
      page = this.privateFirst + Math.floor(random() * (privateEnd - this.privateFirst));
    }
    if (this.taken.has(page) || this.node.protection(page) === Protection.None) return;
    const bytes = this.node.page(page);
    this.taken.set(page, { bytes: bytes.slice(), protection: this.node.protection(page) });
    bytes.fill(POISON);
    this.node.setProtection(page, Protection.None);
    this.counters.taken++;
  }

  /** The n-th allocated shared page. */
  private allocatedPage(n: number): number {
    for (const [first, end] of this.allocations) {
      if (n < end - first) return first + n;
      n -= end - first;
    }
    throw new RangeError(`chaos: no allocated page ${n}`);
  }

  private giveBack(page: number): void {
    const saved = this.taken.get(page)!;
    this.taken.delete(page);
    this.node.page(page).set(saved.bytes);
    this.node.setProtection(page, saved.protection);
    this.counters.givenBack++;
  }
}

/**
 * The protocol as seen through chaos: a fault first gets the range's taken pages back and reaches
 * the protocol only if a page still forbids the access; `finish` starts with every page back.
 */
export function chaosCoherence(inner: Coherence, chaos: ChaosMemory): Coherence {
  return {
    start: () => {
      inner.start();
      chaos.start();
    },
    fault: (first, last, access) => {
      try {
        if (chaos.fault(first, last, access)) return DONE;
      } catch (error) {
        return Future.rejected(error);
      }
      return inner.fault(first, last, access);
    },
    barrier: () => inner.barrier(),
    lock: (id) => inner.lock(id),
    unlock: (id) => inner.unlock(id),
    allocated: (address, bytes) => {
      chaos.allocated(address, bytes);
      inner.allocated(address, bytes);
    },
    finish: () => {
      chaos.stop();
      chaos.giveBackAll();
      return inner.finish();
    },
    stats: (): ProtocolStats => ({
      ...inner.stats(),
      chaosTaken: chaos.counters.taken,
      chaosGivenBack: chaos.counters.givenBack,
      chaosAbsorbed: chaos.counters.faultsAbsorbed,
      chaosParks: chaos.counters.parks,
    }),
    close: () => {
      chaos.stop();
      inner.close();
    },
  };
}

/** Uniform numbers in [0, 1) from a 32-bit seed (mulberry32): chaos runs reproduce from their seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
