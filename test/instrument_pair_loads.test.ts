/**
 * Pair loads (src/instrument/pair_loads.ts): an access that may straddle two pages is first tested
 * with one 16-bit load of its page's protection byte and the next one; the exact test runs only
 * when that fails and alone decides whether to fault, so a protected neighbour page costs a
 * second test, never a fault or a restart, and a page the host took while the kernel was parked
 * is still faulted back before the access.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Access, Protection } from "../src/abi.js";
import { instrument, toText } from "../src/instrument/instrument.js";
import { verifyChecks } from "../src/instrument/verify_checks.js";
import { call, FakeHost, LAYOUT, module, PAGE, pageAddress, regionPage, SUM_WHILE } from "./helpers/instrument_harness.js";

const R = Access.Read;
const W = Access.Write;
const base = regionPage(4);

const LOAD = `(func (export "load") (param $p i32) (result i32) (i32.load offset=8 (local.get $p)))`;
const STORE = `(func (export "store") (param $p i32) (param $v i32) (i32.store (local.get $p) (local.get $v)))`;

/** `s += a[i]; touch(i)` for i < n: a loop that calls, so every access is checked in it. */
const SUM_CALLING = `(func (export "sum") (param $a i32) (param $n i32) (result i32) (local $i i32) (local $s i32)
  (loop $next
    (if (i32.lt_s (local.get $i) (local.get $n))
      (then
        (local.set $s (i32.add (local.get $s) (i32.load (i32.add (local.get $a) (i32.shl (local.get $i) (i32.const 2))))))
        (drop (call $touch (local.get $i)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next))))
  (local.get $s))`;

const text = (wat: string, pairLoads: boolean) => toText(instrument(module(wat), LAYOUT, { optimizations: { pairLoads } }));
const count = (wat: string, pairLoads: boolean, pattern: RegExp) => (text(wat, pairLoads).match(pattern) ?? []).length;

/** Three pages of i32 elements 1, 2, 3, ... starting at `base`. */
function elements(host: FakeHost): number[] {
  const values = Array.from({ length: (3 * PAGE) / 4 }, (_, i) => i + 1);
  host.fill(pageAddress(base), new Uint8Array(Int32Array.from(values).buffer));
  return values;
}
const sum = (values: number[], n: number) => values.slice(0, n).reduce((s, v) => (s + v) | 0, 0);

const Shape = suite("pair loads: what the check reads");

/** Text on one line, without spaces inside parentheses. */
const flat = (wat: string) => wat.replace(/\s+/g, " ").replace(/ \)/g, ")");

Shape("a 4-byte read tests one 16-bit load masked with 0x0202, then the exact test, then faults", () => {
  const page = (off: number) => `(i32.shr_u (i32.add (local.get $0) (i32.const ${off})) (i32.const 12))`;
  const exact = `(i32.and (i32.or (i32.load8_u offset=4096 ${page(8)}) (i32.load8_u offset=4096 ${page(11)})) (i32.const 2))`;
  const check = `(if (i32.and (i32.load16_u offset=4096 align=1 ${page(8)}) (i32.const 514)) (then (if ${exact} (then (call $fimport$2 ${page(8)} ${page(11)} (i32.const 0))))))`;
  const body = `(func $0 (param $0 i32) (result i32) ${check} (i32.load offset=8 (local.get $0)))`;
  assert.ok(flat(text(LOAD, true)).includes(body), flat(text(LOAD, true)));
});

Shape("with pairLoads off no 16-bit table load is emitted; one-byte accesses never get one", () => {
  assert.is(count(LOAD, false, /load16_u offset=4096/g), 0);
  assert.is(count(LOAD, true, /load16_u offset=4096/g), 1);
  assert.is(count(`(func (export "b") (param $p i32) (result i32) (i32.load8_u (local.get $p)))`, true, /load16_u offset=4096/g), 0);
});

Shape("a loop whose slow paths moved out leaves it on the exact test only", () => {
  const body = flat(text(SUM_WHILE, true));
  assert.is((body.match(/\(i32\.and \(i32\.load16_u offset=4096/g) ?? []).length > 0, true, "the loop has a pair test");
  assert.is(/\(br_if \$\S+ \(i32\.and \(i32\.load16_u/.test(body), false, "no branch out of the loop on a pair test");
  assert.equal(verifyChecks(instrument(module(SUM_WHILE), LAYOUT, {}), LAYOUT), []);
});

const Runs = suite("pair loads: what runs");

Runs("a read next to an absent page and a write next to a read-only page run without a fault", () => {
  const host = new FakeHost();
  host.fill(pageAddress(base) + 8, new Uint8Array([7, 0, 0, 0]));
  host.takeAway(base + 1);
  host.protect(base + 3, Protection.ReadOnly);
  const f = host.instantiate(module(`${LOAD} ${STORE}`));
  assert.is(call(f, "load", pageAddress(base)), 7);
  call(f, "store", pageAddress(base + 2) + 16, 99);
  assert.equal([host.faults, new Int32Array(host.memory.buffer, pageAddress(base + 2) + 16, 1)[0]], [[], 99]);
});

Runs("an access straddling into an absent page faults on both pages and reads the real bytes", () => {
  const host = new FakeHost();
  host.fill(pageAddress(base + 1) - 2, new Uint8Array([1, 2, 3, 4]));
  host.takeAway(base + 1);
  const f = host.instantiate(module(LOAD));
  assert.is(call(f, "load", pageAddress(base + 1) - 10), 0x04030201);
  assert.equal(host.faults, [[base, base + 1, R]]);
});

Runs("a calling loop sums as the plain module does, and a page taken while parked is faulted back", () => {
  const plain = new FakeHost();
  const values = elements(plain);
  const n = (3 * PAGE) / 4;
  const expected = call(plain.instantiate(module(SUM_CALLING), { plain: true }), "sum", pageAddress(base), n);
  assert.is(expected, sum(values, n));
  const host = new FakeHost();
  elements(host);
  host.onTouch = (i, h) => (i === 10 && h.takeAway(base + 1), i); // parked in the call
  const f = host.instantiate(module(SUM_CALLING));
  assert.is(call(f, "sum", pageAddress(base), n), expected);
  assert.equal(host.faults, [[base + 1, base + 1, R]]);
});

Runs("a call-free loop next to a protected page sums without a fault, and faults once when its own page is absent", () => {
  const host = new FakeHost();
  const values = elements(host);
  host.protect(base + 3, Protection.None);
  const f = host.instantiate(module(SUM_WHILE));
  const n = (3 * PAGE) / 4;
  assert.is(call(f, "sumWhile", pageAddress(base), pageAddress(base) + 4 * n), sum(values, n));
  assert.equal(host.faults, []);
  host.takeAway(base + 2);
  assert.is(call(f, "sumWhile", pageAddress(base), pageAddress(base) + 4 * n), sum(values, n));
  assert.equal(host.faults, [[base + 2, base + 2, R]]);
});

Runs("a write faults when the page written is read-only, whatever its neighbour", () => {
  const host = new FakeHost();
  host.protect(base, Protection.ReadOnly);
  const f = host.instantiate(module(STORE));
  call(f, "store", pageAddress(base) + 4, 5);
  assert.equal([host.faults, new Int32Array(host.memory.buffer, pageAddress(base) + 4, 1)[0]], [[[base, base, W]], 5]);
});

Shape.run();
Runs.run();
