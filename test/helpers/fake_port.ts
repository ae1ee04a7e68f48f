/**
 * A PagePort over a plain ArrayBuffer, for protocol tests without wasm. Parked by default, so
 * `whenParked` runs at once; `resume()` puts it in "running" mode, where `whenParked` defers until
 * `park()` (a poll point) — and where any protection change is recorded as a violation of the
 * parking invariant, for tests to assert there are none.
 */
import { Protection } from "../../src/abi.js";
import type { PagePort } from "../../src/protocol/coherence.js";

export interface FakePortOptions {
  pageSize?: number;
  firstPage?: number;
  pageCount?: number;
}

export class FakePort implements PagePort {
  readonly pageSize: number;
  readonly firstPage: number;
  readonly pageCount: number;
  readonly memory: Uint8Array;
  readonly protections: Uint8Array;
  /** Protection changes made while the kernel was running: each a bug. */
  readonly violations: string[] = [];
  private parkedNow = true;
  private deferred: (() => void)[] = [];

  constructor(options: FakePortOptions = {}) {
    this.pageSize = options.pageSize ?? 1024;
    this.firstPage = options.firstPage ?? 16;
    this.pageCount = options.pageCount ?? 4;
    this.memory = new Uint8Array(new ArrayBuffer(this.pageSize * this.pageCount));
    this.protections = new Uint8Array(this.pageCount).fill(Protection.None);
  }

  get parked(): boolean {
    return this.parkedNow;
  }

  page(page: number): Uint8Array {
    const i = this.index(page);
    return this.memory.subarray(i * this.pageSize, (i + 1) * this.pageSize);
  }

  protection(page: number): Protection {
    return this.protections[this.index(page)] as Protection;
  }

  setProtection(page: number, protection: Protection): void {
    if (!this.parkedNow) this.violations.push(`page ${page} set to ${protection} while running`);
    this.protections[this.index(page)] = protection;
  }

  whenParked(fn: () => void, failed: (error: unknown) => void): void {
    const run = () => {
      try {
        fn();
      } catch (error) {
        failed(error);
      }
    };
    if (this.parkedNow) run();
    else this.deferred.push(run);
  }

  /** What `busy()` answers: set it to play a kernel waiting for one fault after another. */
  busyNow = false;

  busy(): boolean {
    return this.busyNow;
  }

  /** The kernel runs: `whenParked` work waits for the next `park()`. */
  resume(): void {
    this.parkedNow = false;
  }

  /** The kernel parks (poll point, fault, sync call): deferred work runs now, in order. */
  park(): void {
    this.parkedNow = true;
    const work = this.deferred;
    this.deferred = [];
    for (const fn of work) fn();
  }

  /** Work waiting for the kernel to park. */
  get waiting(): number {
    return this.deferred.length;
  }

  /** The i32 at byte `address` of the region (address 0 = first byte of firstPage). */
  readWord(offset: number): number {
    return new DataView(this.memory.buffer).getInt32(offset, true);
  }

  private index(page: number): number {
    const i = page - this.firstPage;
    if (!Number.isInteger(i) || i < 0 || i >= this.pageCount) {
      throw new RangeError(`page ${page} is outside the fake region (pages ${this.firstPage}..${this.firstPage + this.pageCount - 1})`);
    }
    return i;
  }
}
