/**
 * Lean fallbacks (src/instrument/lean_fallback.ts): the checked loop behind a versioned loop's
 * guard gets no page caches, while loops that are not versioned keep theirs; the checked loop
 * still faults on exactly the pages it needs, also pages the host took while it was parked.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Access } from "../src/abi.js";
import { instrument, toText } from "../src/instrument/instrument.js";
import { verifyChecks } from "../src/instrument/verify_checks.js";
import { call, FakeHost, LAYOUT, module, PAGE, pageAddress, regionPage } from "./helpers/instrument_harness.js";

const R = Access.Read;
const base = regionPage(4);

/** `for (let i = 0; i < n; i++) s += a[i]`: versioned. */
const SUM = `(func (export "sum") (param $a i32) (param $n i32) (result i32) (local $i i32) (local $s i32)
  (loop $next
    (if (i32.lt_s (local.get $i) (local.get $n))
      (then
        (local.set $s (i32.add (local.get $s) (i32.load (i32.add (local.get $a) (i32.shl (local.get $i) (i32.const 2))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next))))
  (local.get $s))`;

/** `do { s += load(p); p += 4 } while (p < end)`: call-free but not counted, so not versioned. */
const SUM_WHILE = `(func (export "sumWhile") (param $p i32) (param $end i32) (result i32) (local $s i32)
  (loop $next
    (local.set $s (i32.add (local.get $s) (i32.load (local.get $p))))
    (br_if $next (i32.lt_u (local.tee $p (i32.add (local.get $p) (i32.const 4))) (local.get $end))))
  (local.get $s))`;

/** Page-cache window tests of 4-byte accesses: `(i32.gt_u (i32.sub EA SLOT) (i32.const 4092))`. */
const windows = (wat: string, leanFallback: boolean) =>
  (toText(instrument(module(wat), LAYOUT, { optimizations: { leanFallback } })).replace(/\s+/g, " ").match(/\(i32\.gt_u \(i32\.sub .*?\(i32\.const 4092\)/g) ?? []).length;

function elements(host: FakeHost): number[] {
  const values = Array.from({ length: (3 * PAGE) / 4 }, (_, i) => i + 1);
  host.fill(pageAddress(base), new Uint8Array(Int32Array.from(values).buffer));
  return values;
}
const sum = (values: number[], n: number) => values.slice(0, n).reduce((s, v) => (s + v) | 0, 0);
const N = (3 * PAGE) / 4;

const Shape = suite("lean fallbacks: which loops keep page caches");

Shape("a versioned loop's checked copy has no page cache; with leanFallback off it has one", () => {
  assert.is(windows(SUM, true), 0);
  assert.is(windows(SUM, false), 1);
  assert.equal(verifyChecks(instrument(module(SUM), LAYOUT, {}), LAYOUT), []);
});

Shape("a call-free loop that is not versioned keeps its page cache", () => {
  assert.is(windows(SUM_WHILE, true), 1);
  assert.is(windows(SUM_WHILE, false), 1);
});

const Runs = suite("lean fallbacks: what runs");

Runs("with a page absent the checked copy sums as the plain module does, faulting on that page alone", () => {
  const plain = new FakeHost();
  elements(plain);
  const expected = call(plain.instantiate(module(SUM), { plain: true }), "sum", pageAddress(base), N);
  const host = new FakeHost();
  const values = elements(host);
  host.takeAway(base + 1);
  const f = host.instantiate(module(SUM));
  assert.is(call(f, "sum", pageAddress(base), N), expected);
  assert.is(expected, sum(values, N));
  assert.equal(host.faults, [[base + 1, base + 1, R]]);
});

Runs("a page taken while the checked copy is parked at its poll is faulted back before it is read", () => {
  const host = new FakeHost();
  const values = elements(host);
  host.takeAway(base + 1); // the guard fails: the checked copy runs from the start
  host.onPoll = (h) => h.takeAway(base + 2);
  const f = host.instantiate(module(SUM));
  host.setPollFlag(1);
  assert.is(call(f, "sum", pageAddress(base), N), sum(values, N));
  assert.equal([host.polls, host.faults], [1, [[base + 1, base + 1, R], [base + 2, base + 2, R]]]);
});

Shape.run();
Runs.run();
