/**
 * A Coherence for runtime tests: every region page starts with no access; a fault records
 * (first, last, access), fills each page of the range with a known pattern the first time, and
 * grants the access. Tests read `faults` and compare the kernel's result with `pattern`.
 */
import { Access, Protection } from "../../src/abi.js";
import type { Coherence, PagePort, ProtocolStats } from "../../src/protocol/coherence.js";

/** The byte the fake installs at offset `i` of page `page`. */
export function pattern(page: number, i: number): number {
  return (page * 31 + i * 7 + 1) & 0xff;
}

export class FakeCoherence implements Coherence {
  readonly faults: [number, number, "read" | "write"][] = [];
  private readonly filled = new Set<number>();
  onFault?: (first: number, last: number, access: Access) => Promise<void> | void;

  constructor(readonly port: PagePort, readonly initial: Protection = Protection.None) {}

  async start() {
    for (let p = this.port.firstPage; p < this.port.firstPage + this.port.pageCount; p++) this.port.setProtection(p, this.initial);
  }

  async fault(first: number, last: number, access: Access) {
    this.faults.push([first, last, access === Access.Write ? "write" : "read"]);
    if (this.onFault) return this.onFault(first, last, access);
    this.grant(first, last, access);
  }

  /** Coherence.backlog, when a test sets it. */
  backlog?: () => boolean;
  /** Set by {@link serveNow}: faults then come through Coherence.faultNow. */
  faultNow?: (first: number, last: number, access: Access, done: (error?: unknown) => void) => void;
  /** With serveNow: replaces the default (install, then `done()` before returning). */
  onFaultNow?: (first: number, last: number, access: Access, done: (error?: unknown) => void) => void;

  /** Serves faults through `faultNow` (recorded in `faults` as well). */
  serveNow(): this {
    this.faultNow = (first, last, access, done) => {
      this.faults.push([first, last, access === Access.Write ? "write" : "read"]);
      if (this.onFaultNow) return this.onFaultNow(first, last, access, done);
      this.grant(first, last, access);
      done();
    };
    return this;
  }

  /** Fills each page of the range with `pattern` the first time and allows the access. */
  grant(first: number, last: number, access: Access): void {
    for (let p = first; p <= last; p++) {
      if (!this.filled.has(p)) {
        const bytes = this.port.page(p);
        for (let i = 0; i < bytes.length; i++) bytes[i] = pattern(p, i);
        this.filled.add(p);
      }
      this.port.setProtection(p, access === Access.Write ? Protection.ReadWrite : Protection.ReadOnly);
    }
  }

  async barrier() {}
  async lock() {}
  async unlock() {}
  allocated() {}
  async finish() {}
  stats(): ProtocolStats {
    return { invalidations: 0, pagesSent: 0, diffsSent: 0, diffBytes: 0, dropped: 0 };
  }
  async close() {}
}
