/**
 * Leaf caches (src/instrument/leaf_caches.ts): in a call-free loop nest only the innermost loop's
 * accesses get page caches; the outer loop's accesses keep their plain checks, still fault on an
 * absent page, and the nest computes what the plain module computes.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Access } from "../src/abi.js";
import { instrument, toText } from "../src/instrument/instrument.js";
import { verifyChecks } from "../src/instrument/verify_checks.js";
import { call, FakeHost, LAYOUT, module, PAGE, pageAddress, regionPage } from "./helpers/instrument_harness.js";

const R = Access.Read;
const base = regionPage(4);

/**
 * `for (r = 0; r < rows; r++) { s += load(a + r * 4096); for (p = a + r * 4096 + 4; p < a + r * 4096 + 64; p += 4) s += load(p) }`,
 * as do-while loops (not counted, so not versioned: p advances in two steps of 2, so it is no
 * induction variable, and the outer loop nests one): the outer read starts each row, the inner
 * loop reads the rest of the row's first 64 bytes.
 */
const NEST = `(func (export "nest") (param $a i32) (param $rows i32) (result i32) (local $r i32) (local $p i32) (local $row i32) (local $s i32)
  (loop $rowsLoop
    (local.set $row (i32.add (local.get $a) (i32.shl (local.get $r) (i32.const 12))))
    (local.set $s (i32.add (local.get $s) (i32.load (local.get $row))))
    (local.set $p (i32.add (local.get $row) (i32.const 4)))
    (loop $cols
      (local.set $s (i32.add (local.get $s) (i32.load (local.get $p))))
      (local.set $p (i32.add (local.get $p) (i32.const 2)))
      (br_if $cols (i32.lt_u (local.tee $p (i32.add (local.get $p) (i32.const 2))) (i32.add (local.get $row) (i32.const 64)))))
    (br_if $rowsLoop (i32.lt_u (local.tee $r (i32.add (local.get $r) (i32.const 1))) (local.get $rows))))
  (local.get $s))`;

/** Page-cache window tests of 4-byte accesses: `(i32.gt_u (i32.sub EA SLOT) (i32.const 4092))`. */
const windows = (leafCaches: boolean) => (toText(instrument(module(NEST), LAYOUT, { optimizations: { leafCaches } })).match(/\(i32\.const 4092\)/g) ?? []).length;

/** Three pages whose words are 1, 2, 3, ... */
function fill(host: FakeHost): void {
  host.fill(pageAddress(base), new Uint8Array(Int32Array.from({ length: (3 * PAGE) / 4 }, (_, i) => i + 1).buffer));
}

const Shape = suite("leaf caches: which loops keep page caches");

Shape("only the inner loop's read has a page cache; with leafCaches off the outer read has one too", () => {
  assert.is(windows(true), 1);
  assert.is(windows(false), 2);
  assert.equal(verifyChecks(instrument(module(NEST), LAYOUT, {}), LAYOUT), []);
});

const Runs = suite("leaf caches: what runs");

Runs("the nest sums as the plain module does, and the outer read of an absent row faults that page alone", () => {
  const plain = new FakeHost();
  fill(plain);
  const expected = call(plain.instantiate(module(NEST), { plain: true }), "nest", pageAddress(base), 3);
  const rowSum = (r: number) => Array.from({ length: 16 }, (_, i) => r * (PAGE / 4) + i + 1).reduce((s, v) => s + v, 0);
  assert.is(expected, rowSum(0) + rowSum(1) + rowSum(2));
  const host = new FakeHost();
  fill(host);
  host.takeAway(base + 2);
  const f = host.instantiate(module(NEST));
  assert.is(call(f, "nest", pageAddress(base), 3), expected);
  assert.equal(host.faults, [[base + 2, base + 2, R]]);
});

Runs("a row taken while the kernel is parked at the first poll is faulted back by the outer read", () => {
  const plain = new FakeHost();
  fill(plain);
  const expected = call(plain.instantiate(module(NEST), { plain: true }), "nest", pageAddress(base), 3);
  const host = new FakeHost();
  fill(host);
  host.onPoll = (h) => h.takeAway(base + 1);
  const f = host.instantiate(module(NEST));
  host.setPollFlag(1);
  assert.is(call(f, "nest", pageAddress(base), 3), expected);
  assert.equal([host.polls, host.faults], [1, [[base + 1, base + 1, R]]]);
});

Shape.run();
Runs.run();
