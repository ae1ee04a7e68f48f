/**
 * Loop versioning of bottom-tested loops (src/instrument/affine_loop.ts), the shape clang emits:
 * pointers that step and a counter tested at the end of the body. Each loop gets an unchecked
 * copy that the check verifier proves; with every page present it runs with no fault; with a
 * page absent the guard fails and the checked loop faults on that page alone; a counter that
 * would wrap fails the guard, and the checked loop then does what the plain module does.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Access } from "../src/abi.js";
import { instrument, toText } from "../src/instrument/instrument.js";
import { verifyChecks } from "../src/instrument/verify_checks.js";
import { call, FakeHost, fillElements, LAYOUT, module, PAGE, pageAddress, regionPage } from "./helpers/instrument_harness.js";

const R = Access.Read;
const W = Access.Write;
const base = regionPage(4);
const dst = regionPage(12);

/** `do { *b = *a * 2; a += 4; b += 4 } while (--n)`: clang's `for` after strength reduction. */
const DOUBLE = `(func (export "double") (param $a i32) (param $b i32) (param $n i32)
  (loop $l
    (i32.store (local.get $b) (i32.shl (i32.load (local.get $a)) (i32.const 1)))
    (local.set $a (i32.add (local.get $a) (i32.const 4)))
    (local.set $b (i32.add (local.get $b) (i32.const 4)))
    (br_if $l (local.tee $n (i32.add (local.get $n) (i32.const -1))))))`;

/**
 * Unrolled by two, as clang does: `do { s += p[0] + p[1]; p += 2 } while ((k -= 2) != end)`,
 * the second read through a local written once per iteration.
 */
const PAIRS = `(func (export "pairs") (param $p i32) (param $k i32) (param $end i32) (result i32) (local $s i32) (local $q i32)
  (loop $l
    (local.set $s (i32.add (local.get $s) (i32.load (local.get $p))))
    (local.set $s (i32.add (local.get $s) (i32.load (local.tee $q (i32.add (local.get $p) (i32.const 4))))))
    (local.set $p (i32.add (local.get $p) (i32.const 8)))
    (br_if $l (i32.ne (local.get $end) (local.tee $k (i32.add (local.get $k) (i32.const -2))))))
  (local.get $s))`;

/** `i = 0; do { s += a[i] } while (++i < n)` (signed), then a branch out after the back edge. */
const UPTO = `(func (export "upto") (param $a i32) (param $n i32) (result i32) (local $i i32) (local $s i32)
  (block $out
    (loop $l
      (local.set $s (i32.add (local.get $s) (i32.load (i32.add (local.get $a) (i32.shl (local.get $i) (i32.const 2))))))
      (br_if $l (i32.lt_s (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n)))
      (br $out)))
  (local.get $s))`;

/** `do { p += 4; *p = *p + 1 } while (--n)`: the store's address is the increment itself. */
const BUMP = `(func (export "bump") (param $p i32) (param $n i32)
  (loop $l
    (i32.store (local.tee $p (i32.add (local.get $p) (i32.const 4))) (i32.add (i32.load (local.get $p)) (i32.const 1)))
    (br_if $l (local.tee $n (i32.add (local.get $n) (i32.const -1))))))`;

/** `do { p += 4; *p = *p + 1 } while (--n)`, the increment a statement of its own, read after it. */
const BUMP_AFTER = `(func (export "bumpAfter") (param $p i32) (param $n i32)
  (loop $l
    (local.set $p (i32.add (local.get $p) (i32.const 4)))
    (i32.store (local.get $p) (i32.add (i32.load (local.get $p)) (i32.const 1)))
    (br_if $l (local.tee $n (i32.add (local.get $n) (i32.const -1))))))`;

/** A radix sort's count: `do { hist[(*p >> shift) & 255]++; p += 4 } while (--n)`, a bounded index. */
const COUNT = `(func (export "count") (param $p i32) (param $hist i32) (param $shift i32) (param $n i32) (local $c i32)
  (loop $l
    (i32.store (local.tee $c (i32.add (local.get $hist) (i32.shl (i32.and (i32.shr_u (i32.load (local.get $p)) (local.get $shift)) (i32.const 255)) (i32.const 2))))
      (i32.add (i32.load (local.get $c)) (i32.const 1)))
    (local.set $p (i32.add (local.get $p) (i32.const 4)))
    (br_if $l (local.tee $n (i32.add (local.get $n) (i32.const -1))))))`;

/** DOUBLE with a second branch back to the top: an iteration may skip the increments. */
const CONTINUED = `(func (export "continued") (param $a i32) (param $n i32)
  (loop $l
    (br_if $l (i32.eqz (i32.load (local.get $a))))
    (local.set $a (i32.add (local.get $a) (i32.const 4)))
    (br_if $l (local.tee $n (i32.add (local.get $n) (i32.const -1))))))`;

const loops = (wasm: Uint8Array, versioning: boolean) => (toText(instrument(wasm, LAYOUT, { optimizations: { versioning } })).match(/\(loop /g) ?? []).length;
const versioned = (wat: string) => loops(module(wat), true) - loops(module(wat), false);
const ints = (host: FakeHost, address: number, n: number) => Array.from(new Int32Array(host.memory.buffer, address, n));

const Shape = suite("bottom-tested loops: which get an unchecked copy");

Shape("counter loops of every exit test clang emits get one copy each, which the verifier proves", () => {
  for (const wat of [DOUBLE, PAIRS, UPTO, BUMP, BUMP_AFTER, COUNT]) {
    assert.is(versioned(wat), 3, wat.slice(0, 40)); // the copy, and the guard helper's two scans
    assert.equal(verifyChecks(instrument(module(wat), LAYOUT, {}), LAYOUT), []);
  }
});

Shape("a loop with a second branch back to its top is not copied", () => {
  assert.is(versioned(CONTINUED), 0);
});

const Runs = suite("bottom-tested loops: what runs");

Runs("with every page present each loop computes what the plain module does, with no fault and no poll", () => {
  const n = (3 * PAGE) / 4;
  const plain = new FakeHost();
  const values = fillElements(plain, pageAddress(base));
  call(plain.instantiate(module(DOUBLE), { plain: true }), "double", pageAddress(base), pageAddress(dst), n);
  const host = new FakeHost();
  fillElements(host, pageAddress(base));
  const f = host.instantiate(module(DOUBLE + PAIRS + UPTO));
  call(f, "double", pageAddress(base), pageAddress(dst), n);
  assert.equal(ints(host, pageAddress(dst), n), ints(plain, pageAddress(dst), n));
  const sum = values.slice(0, n).reduce((s, v) => (s + v) | 0, 0);
  assert.is(call(f, "pairs", pageAddress(base), n + 6, 6), sum);
  assert.is(call(f, "upto", pageAddress(base), n), sum);
  assert.equal([host.faults, host.polls], [[], 0]);
});

Runs("with a page absent the guard fails and the checked loop faults on that page alone", () => {
  const host = new FakeHost();
  const values = fillElements(host, pageAddress(base));
  host.takeAway(dst + 1);
  const f = host.instantiate(module(DOUBLE));
  call(f, "double", pageAddress(base), pageAddress(dst), (3 * PAGE) / 4);
  assert.equal(ints(host, pageAddress(dst), (3 * PAGE) / 4), values.slice(0, (3 * PAGE) / 4).map((v) => (v * 2) | 0));
  assert.equal(host.faults, [[dst + 1, dst + 1, W]]);
});

Runs("an access after the increment (through it, or after it) is in the guard's range: its last write, alone on an absent page, faults", () => {
  for (const [wat, name] of [[BUMP, "bump"], [BUMP_AFTER, "bumpAfter"]]) {
    const host = new FakeHost();
    const values = fillElements(host, pageAddress(base));
    const n = PAGE / 4; // writes words 1..n: word n is the first of the second page
    host.takeAway(base + 1);
    call(host.instantiate(module(wat)), name, pageAddress(base), n);
    assert.equal(ints(host, pageAddress(base), n + 1), values.slice(0, n + 1).map((v, i) => (i === 0 ? v : v + 1)));
    assert.equal(host.faults, [[base + 1, base + 1, W]], name);
  }
});

Runs("a bounded index covers the whole histogram: a count page absent fails the guard and is faulted back", () => {
  const host = new FakeHost();
  const keys = Int32Array.from({ length: 2048 }, (_, i) => (i * 2654435761) >>> 8);
  host.fill(pageAddress(base), new Uint8Array(keys.buffer));
  const hist = pageAddress(dst) + PAGE - 512; // 256 counts straddling two pages
  host.takeAway(dst + 1);
  call(host.instantiate(module(COUNT)), "count", pageAddress(base), hist, 8, keys.length);
  const expected = new Array(256).fill(0);
  for (const k of keys) expected[(k >>> 8) & 255]++;
  assert.equal(ints(host, hist, 256), expected);
  assert.equal(host.faults, [[dst + 1, dst + 1, W]]);
});

Runs("a counter that would wrap (an odd count stepped by 2, a count of 0) fails the guard; the checked loop faults on its way and traps as the plain module does", () => {
  const cases = [
    { wat: PAIRS, name: "pairs", args: [pageAddress(base), 33, 0], absent: [base + 3, R] }, // 16.5 iterations: not a short run
    { wat: DOUBLE, name: "double", args: [pageAddress(base), pageAddress(dst), 0], absent: [dst + 3, W] },
  ] as const;
  for (const { wat, name, args, absent } of cases) {
    const plain = new FakeHost().instantiate(module(wat), { plain: true });
    assert.throws(() => call(plain, name, ...args), (error: Error) => error instanceof WebAssembly.RuntimeError);
    const host = new FakeHost();
    host.takeAway(absent[0]);
    assert.throws(() => call(host.instantiate(module(wat)), name, ...args), (error: Error) => error instanceof WebAssembly.RuntimeError);
    assert.equal(host.faults, [[absent[0], absent[0], absent[1]]], name);
  }
});

Runs("a poll in the unchecked copy hands over to the checked loop, which faults back a page taken while parked", () => {
  const host = new FakeHost();
  const values = fillElements(host, pageAddress(base));
  host.onPoll = (h) => h.takeAway(dst + 2);
  const f = host.instantiate(module(DOUBLE));
  host.setPollFlag(1);
  call(f, "double", pageAddress(base), pageAddress(dst), (3 * PAGE) / 4);
  assert.equal(ints(host, pageAddress(dst), (3 * PAGE) / 4), values.slice(0, (3 * PAGE) / 4).map((v) => (v * 2) | 0));
  assert.equal([host.polls, host.faults], [1, [[dst + 2, dst + 2, W]]]);
});

Shape.run();
Runs.run();
