/**
 * Fixtures for the instrumentation tests: a small layout, WAT modules built against it, and a
 * fake host that plays the runtime's part. The fake keeps each DSM page either present (its
 * protection byte says what is allowed) or absent (the memory holds garbage, the real bytes are
 * "remote"); `__fault` records (first, last, access), brings in each page of the range that
 * forbids the access with its real bytes, and makes it read-write.
 */
import binaryen from "binaryen";
import { Access, computeLayout, type Layout, NO_READ, POLL_FLAG_ADDRESS, Protection } from "../../src/abi.js";
import { instrument, KERNEL_FEATURES, type InstrumentOptions } from "../../src/instrument/instrument.js";
import { childrenOf } from "../../src/instrument/operand_scan.js";
import { assertChecked } from "../../src/instrument/verify_checks.js";

/** 4 KiB pages; the shared region is 32 pages after the table (which covers all 4 GiB); memory is 64 wasm pages. */
export const LAYOUT = computeLayout({ pageSize: 4096, regionBytes: 131072, maxMemoryBytes: 64 * 65536 });
export const PAGE = LAYOUT.pageSize;
/** Start of a page of the shared region, by index in the region. */
export const regionPage = (i: number) => (LAYOUT.regionBase >>> LAYOUT.pageShift) + i;
export const pageAddress = (page: number) => page * PAGE;

const GARBAGE = 0xee;

/** A module around `body`, with the memory and the test imports every fixture may use. */
export function module(body: string): Uint8Array {
  const text = `(module
    (import "env" "memory" (memory 64 64 shared))
    (import "test" "touch" (func $touch (param i32) (result i32)))
    (import "test" "hook" (func $hook))
    ${body})`;
  const m = binaryen.parseText(text);
  try {
    m.setFeatures(KERNEL_FEATURES);
    if (!m.validate()) throw new Error(`fixture does not validate:\n${body}`);
    return m.emitBinary();
  } finally {
    m.dispose();
  }
}

/** The form AssemblyScript emits for `for (let i = 0; i < n; i++) s += a[i]`: a counted loop, versioned. */
export const COUNTED_SUM = `(func (export "sum") (param $a i32) (param $n i32) (result i32) (local $i i32) (local $s i32)
  (loop $next
    (if (i32.lt_s (local.get $i) (local.get $n))
      (then
        (local.set $s (i32.add (local.get $s) (i32.load (i32.add (local.get $a) (i32.shl (local.get $i) (i32.const 2))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next))))
  (local.get $s))`;

/**
 * `do { s += load(p); p += 2; p += 2 } while (p < end)`: a call-free loop that is not counted (p
 * is written twice, so it is no induction variable), so not versioned.
 */
export const SUM_WHILE = `(func (export "sumWhile") (param $p i32) (param $end i32) (result i32) (local $s i32)
  (loop $next
    (local.set $s (i32.add (local.get $s) (i32.load (local.get $p))))
    (local.set $p (i32.add (local.get $p) (i32.const 2)))
    (br_if $next (i32.lt_u (local.tee $p (i32.add (local.get $p) (i32.const 2))) (local.get $end))))
  (local.get $s))`;

/** `wasm` after `visit` saw (and may have changed in place) every expression of every defined function. */
export function rewriteFunctions(wasm: Uint8Array, visit: (e: number, id: number) => void): Uint8Array {
  const m = binaryen.readBinary(wasm);
  try {
    m.setFeatures(KERNEL_FEATURES);
    const walk = (e: number) => {
      const id = binaryen.getExpressionId(e);
      visit(e, id);
      for (const child of childrenOf(e, id)) walk(child);
    };
    for (let i = 0; i < m.getNumFunctions(); i++) {
      const f = binaryen.getFunctionInfo(m.getFunctionByIndex(i));
      if (!f.module) walk(f.body);
    }
    return m.emitBinary();
  } finally {
    m.dispose();
  }
}

/** Three pages of i32 elements 1, 2, 3, ... written at `address`; returns them. */
export function fillElements(host: FakeHost, address: number): number[] {
  const values = Array.from({ length: (3 * PAGE) / 4 }, (_, i) => i + 1);
  host.fill(address, new Uint8Array(Int32Array.from(values).buffer));
  return values;
}

/** The i32 sum (wrapping) of the first `n` values. */
export const sumOf = (values: number[], n: number) => values.slice(0, n).reduce((s, v) => (s + v) | 0, 0);

export type FaultRecord = [first: number, last: number, access: Access];

export class FakeHost {
  readonly memory: WebAssembly.Memory;
  readonly bytes: Uint8Array;
  readonly faults: FaultRecord[] = [];
  polls = 0;
  /** Bound on faults (and polls), so that a kernel looping on a fault fails the test. */
  maxFaults = 1000;
  /** Arguments of each `test.touch` call. */
  readonly touches: number[] = [];
  private remote = new Map<number, Uint8Array>();
  /** Runs after a fault has been resolved, e.g. to take another page away. */
  afterFault: (record: FaultRecord, host: FakeHost) => void = () => {};
  /** Runs inside `__poll` before the flag is cleared. */
  onPoll: (host: FakeHost) => void = () => {};
  /** What `test.touch(x)` returns and does besides recording x. */
  onTouch: (x: number, host: FakeHost) => number = (x) => x;
  onHook: (host: FakeHost) => void = () => {};

  /** `layout` must have the 4 KiB pages of {@link LAYOUT}; the memory starts at its maximum size. */
  constructor(private readonly layout: Layout = LAYOUT) {
    if (layout.pageSize !== PAGE) throw new Error(`fake host: page size ${layout.pageSize}, expected ${PAGE}`);
    this.memory = new WebAssembly.Memory({ initial: layout.maximumPages, maximum: layout.maximumPages, shared: true });
    this.bytes = new Uint8Array(this.memory.buffer);
  }

  protection(page: number): number {
    return this.bytes[this.layout.tableBase + page];
  }

  protect(page: number, protection: Protection): void {
    this.bytes[this.layout.tableBase + page] = protection;
  }

  /** Makes `page` absent: its bytes go remote, the memory holds garbage, nothing is allowed. */
  takeAway(page: number): void {
    if (this.remote.has(page)) return;
    const start = pageAddress(page);
    this.remote.set(page, this.bytes.slice(start, start + PAGE));
    this.bytes.fill(GARBAGE, start, start + PAGE);
    this.protect(page, Protection.None);
  }

  /** Writes `data` at `address` as the page's real content (remote when the page is absent). */
  fill(address: number, data: Uint8Array): void {
    for (let i = 0; i < data.length; i++) {
      const a = address + i;
      const page = Math.floor(a / PAGE);
      const remote = this.remote.get(page);
      if (remote) remote[a - pageAddress(page)] = data[i];
      else this.bytes[a] = data[i];
    }
  }

  setPollFlag(value: number): void {
    Atomics.store(new Int32Array(this.memory.buffer), POLL_FLAG_ADDRESS / 4, value);
  }

  private fault(first: number, last: number, access: number): void {
    const record: FaultRecord = [first, last, access as Access];
    this.faults.push(record);
    if (this.faults.length > this.maxFaults) throw new Error(`more than ${this.maxFaults} faults; the kernel is looping on a fault`);
    for (let page = first; page <= last; page++) {
      const p = this.protection(page);
      const forbidden = access === Access.Write ? p !== 0 : (p & NO_READ) !== 0;
      if (!forbidden) continue;
      const remote = this.remote.get(page);
      if (remote) this.bytes.set(remote, pageAddress(page));
      this.remote.delete(page);
      this.protect(page, Protection.ReadWrite);
    }
    this.afterFault(record, this);
  }

  /** Instruments `wasm` (unless `plain`) and instantiates it against this host. */
  instantiate(
    wasm: Uint8Array,
    options: InstrumentOptions & { plain?: boolean } = {},
    more: { env?: Record<string, unknown>; dsm?: Record<string, unknown> } = {},
  ): Record<string, (...args: never[]) => unknown> {
    const bytes = options.plain ? wasm : instrument(wasm, this.layout, options);
    if (!options.plain) assertChecked(bytes, this.layout, "fixture"); // every instrumented fixture is proven checked
    const imports = {
      env: { memory: this.memory, ...more.env },
      dsm: {
        ...more.dsm,
        __fault: (first: number, last: number, access: number) => this.fault(first, last, access),
        __poll: () => {
          this.polls++;
          if (this.polls > this.maxFaults) throw new Error(`more than ${this.maxFaults} polls; the kernel is looping on the poll flag`);
          this.onPoll(this);
          this.setPollFlag(0);
        },
      },
      test: {
        touch: (x: number) => (this.touches.push(x), this.onTouch(x, this)),
        hook: () => this.onHook(this),
      },
    };
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>), imports);
    return instance.exports as Record<string, (...args: never[]) => unknown>;
  }
}

/** Call an export with plain numbers. */
export function call(exports: Record<string, (...args: never[]) => unknown>, name: string, ...args: (number | bigint)[]): unknown {
  return (exports[name] as (...a: (number | bigint)[]) => unknown)(...args);
}

/** Bytes 1, 2, 3, ... (mod 256, skipping 0), `n` long, starting at `seed`. */
export function pattern(n: number, seed = 1): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => ((seed + i) % 255) + 1);
}

/** Both checking modes; every behaviour test runs in each. */
export const MODES: { name: string; options: InstrumentOptions }[] = [
  { name: "optimised checks", options: {} },
  { name: "one check per access", options: { optimizeChecks: false } },
];
