/**
 * The access-check pass in loops: polls, page caches (which every call, fault and poll must
 * forget), slow paths moved out of call-free loops (which re-run only a prefix that may be
 * re-run), and loops that yield values or branch out.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Access } from "../src/abi.js";
import { call, FakeHost, MODES, module, PAGE, pageAddress, pattern, regionPage } from "./helpers/instrument_harness.js";

const R = Access.Read;
const W = Access.Write;
const base = regionPage(4);

/** sum of i32 elements a[0..n) */
const SUM = `(func (export "sum") (param $a i32) (param $n i32) (result i32) (local $i i32) (local $s i32)
  (block $done (loop $next
    (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
    (local.set $s (i32.add (local.get $s) (i32.load (i32.add (local.get $a) (i32.shl (local.get $i) (i32.const 2))))))
    (local.set $i (i32.add (local.get $i) (i32.const 1)))
    (br $next)))
  (local.get $s))`;

/** sum of a[i] + a[0] over i in [0, n): a[0] is read on every iteration. */
const SUM_WITH_FIRST = `(func (export "sum") (param $a i32) (param $n i32) (result i32) (local $i i32) (local $s i32)
  (block $done (loop $next
    (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
    (local.set $s (i32.add (local.get $s) (i32.add (i32.load (local.get $a)) (i32.load (i32.add (local.get $a) (i32.shl (local.get $i) (i32.const 2)))))))
    (local.set $i (i32.add (local.get $i) (i32.const 1)))
    (br $next)))
  (local.get $s))`;

/** sum of a[i] + b[i] over i in [0, n): two pages per iteration. */
const SUM_TWO = `(func (export "sum") (param $a i32) (param $b i32) (param $n i32) (result i32) (local $i i32) (local $s i32)
  (loop $next
    (local.set $s (i32.add (local.get $s) (i32.add
      (i32.load (i32.add (local.get $a) (i32.shl (local.get $i) (i32.const 2))))
      (i32.load (i32.add (local.get $b) (i32.shl (local.get $i) (i32.const 2)))))))
    (br_if $next (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
  (local.get $s))`;

/** Four pages of i32 elements 1, 2, 3, ... starting at `base`. */
function elements(host: FakeHost): number[] {
  const values = Array.from({ length: PAGE }, (_, i) => i + 1);
  const bytes = new Uint8Array(Int32Array.from(values).buffer);
  host.fill(pageAddress(base), bytes);
  return values;
}

const total = (values: number[], n: number, plusFirst = false) => values.slice(0, n).reduce((s, v) => (s + v + (plusFirst ? values[0] : 0)) | 0, 0);

for (const mode of MODES) {
  const polls = suite(`instrument: polls (${mode.name})`);
  polls("a loop calls __poll once when the flag is set, and the host's clearing it lets the loop finish", () => {
    const host = new FakeHost();
    const values = elements(host);
    const f = host.instantiate(module(SUM), mode.options);
    host.setPollFlag(1);
    assert.equal(call(f, "sum", pageAddress(base), 100), total(values, 100));
    assert.equal(host.polls, 1);
  });
  polls("a loop never calls __poll when the flag is clear", () => {
    const host = new FakeHost();
    const values = elements(host);
    const f = host.instantiate(module(SUM), mode.options);
    assert.equal(call(f, "sum", pageAddress(base), 100), total(values, 100));
    assert.equal(host.polls, 0);
  });
  polls("with polls off a loop ignores the flag", () => {
    const host = new FakeHost();
    elements(host);
    const f = host.instantiate(module(SUM), { ...mode.options, polls: false });
    host.setPollFlag(1);
    call(f, "sum", pageAddress(base), 100);
    assert.equal(host.polls, 0);
  });
  polls("a loop without memory accesses polls too", () => {
    const host = new FakeHost();
    const f = host.instantiate(
      module(`(func (export "count") (param $n i32) (result i32) (local $i i32) (loop $l (local.set $i (i32.add (local.get $i) (i32.const 1))) (br_if $l (i32.lt_u (local.get $i) (local.get $n)))) (local.get $i))`),
      mode.options,
    );
    host.onPoll = () => void host.touches.push(-1);
    host.setPollFlag(1);
    assert.equal(call(f, "count", 1000), 1000);
    assert.equal(host.polls, 1);
  });
  polls.run();

  const caches = suite(`instrument: pages seen in loops (${mode.name})`);
  caches("a loop over four pages faults once on each absent page and sums the real values", () => {
    const host = new FakeHost();
    const values = elements(host);
    host.takeAway(base + 1);
    host.takeAway(base + 3);
    const f = host.instantiate(module(SUM), mode.options);
    assert.equal(call(f, "sum", pageAddress(base), PAGE), total(values, PAGE));
    assert.equal(host.faults, [[base + 1, base + 1, R], [base + 3, base + 3, R]]);
  });
  caches("a loop over unaligned 8-byte elements faults with both pages where an element straddles", () => {
    const host = new FakeHost();
    host.fill(pageAddress(base), pattern(2 * PAGE));
    host.takeAway(base + 1);
    const f = host.instantiate(
      module(`(func (export "sum") (param $a i32) (param $n i32) (result i64) (local $i i32) (local $s i64)
        (loop $next
          (local.set $s (i64.add (local.get $s) (i64.load offset=4 (i32.add (local.get $a) (i32.shl (local.get $i) (i32.const 3))))))
          (br_if $next (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
        (local.get $s))`),
      mode.options,
    );
    const view = new DataView(pattern(2 * PAGE).buffer);
    let expected = 0n;
    for (let i = 0; i < PAGE / 8; i++) expected = BigInt.asIntN(64, expected + view.getBigInt64(4 + 8 * i, true));
    assert.equal(call(f, "sum", pageAddress(base), PAGE / 8), expected);
    assert.equal(host.faults, [[base, base + 1, R]]);
  });
  caches("after a fault took the first page away, the loop fetches it again before reading a[0]", () => {
    const host = new FakeHost();
    const values = elements(host);
    host.takeAway(base + 2);
    host.afterFault = ([first], h) => {
      if (first === base + 2) h.takeAway(base);
    };
    const f = host.instantiate(module(SUM_WITH_FIRST), mode.options);
    const n = 2 * PAGE / 4 + 10;
    assert.equal(call(f, "sum", pageAddress(base), n), total(values, n, true));
    assert.equal(host.faults, [[base + 2, base + 2, R], [base, base, R]]);
  });
  caches("after __poll took the first page away, the loop fetches it again before reading a[0]", () => {
    const host = new FakeHost();
    const values = elements(host);
    host.takeAway(base + 1);
    host.afterFault = ([first], h) => {
      if (first === base + 1) h.setPollFlag(1);
    };
    host.onPoll = (h) => h.takeAway(base);
    const f = host.instantiate(module(SUM_WITH_FIRST), mode.options);
    const n = PAGE / 4 + 10;
    assert.equal(call(f, "sum", pageAddress(base), n), total(values, n, true));
    assert.equal(host.faults, [[base + 1, base + 1, R], [base, base, R]]);
    assert.equal(host.polls, 1);
  });
  caches("after a call in the loop took the page away, the next iteration fetches it again", () => {
    const host = new FakeHost();
    const values = elements(host);
    host.onTouch = (i, h) => {
      if (i === 5) h.takeAway(base);
      return 0;
    };
    const f = host.instantiate(
      module(`(func (export "sum") (param $a i32) (param $n i32) (result i32) (local $i i32) (local $s i32)
        (loop $next
          (local.set $s (i32.add (local.get $s) (i32.load offset=8 (local.get $a))))
          (drop (call $touch (local.get $i)))
          (br_if $next (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
        (local.get $s))`),
      mode.options,
    );
    assert.equal(call(f, "sum", pageAddress(base), 10), 10 * values[2]);
    assert.equal(host.faults, [[base, base, R]]);
    assert.equal(host.touches, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
  caches("after a fault in one check took away the page another check of the loop had seen, that check fetches it again", () => {
    const host = new FakeHost();
    const values = elements(host);
    host.takeAway(base + 2);
    host.afterFault = ([first], h) => {
      if (first === base + 2) h.takeAway(base);
    };
    // The \`if\` between the two loads puts them in separate checks.
    const f = host.instantiate(
      module(`(func (export "sum") (param $a i32) (param $n i32) (result i32) (local $i i32) (local $s i32)
        (loop $next
          (local.set $s (i32.add (local.get $s) (i32.load (local.get $a))))
          (if (i32.eqz (local.get $n)) (then (unreachable)))
          (local.set $s (i32.add (local.get $s) (i32.load (i32.add (local.get $a) (i32.shl (local.get $i) (i32.const 2))))))
          (br_if $next (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
        (local.get $s))`),
      mode.options,
    );
    const n = 2 * PAGE / 4 + 10;
    assert.equal(call(f, "sum", pageAddress(base), n), total(values, n, true));
    assert.equal(host.faults, [[base + 2, base + 2, R], [base, base, R]]);
  });
  caches("after a call between two runs of an inner loop took the page away, the inner loop fetches it again", () => {
    const host = new FakeHost();
    const values = elements(host);
    host.onTouch = (round, h) => {
      if (round === 1) h.takeAway(base);
      return 0;
    };
    const f = host.instantiate(
      module(`(func (export "sum") (param $a i32) (param $rounds i32) (result i32) (local $r i32) (local $i i32) (local $s i32)
        (loop $round
          (local.set $i (i32.const 0))
          (loop $next
            (local.set $s (i32.add (local.get $s) (i32.load (i32.add (local.get $a) (i32.shl (local.get $i) (i32.const 2))))))
            (br_if $next (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 10))))
          (drop (call $touch (local.get $r)))
          (br_if $round (i32.lt_u (local.tee $r (i32.add (local.get $r) (i32.const 1))) (local.get $rounds))))
        (local.get $s))`),
      mode.options,
    );
    assert.equal(call(f, "sum", pageAddress(base), 3), 3 * total(values, 10));
    assert.equal(host.faults, [[base, base, R]]);
    assert.equal(host.touches, [0, 1, 2]);
  });
  caches("a loop writing through one page and reading another checks each with its own access kind", () => {
    const host = new FakeHost();
    const values = elements(host);
    host.takeAway(base + 8);
    const f = host.instantiate(
      module(`(func (export "copy") (param $d i32) (param $s i32) (param $n i32) (local $i i32)
        (loop $next
          (i32.store (i32.add (local.get $d) (i32.shl (local.get $i) (i32.const 2))) (i32.load (i32.add (local.get $s) (i32.shl (local.get $i) (i32.const 2)))))
          (br_if $next (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n)))))`),
      mode.options,
    );
    call(f, "copy", pageAddress(base + 8), pageAddress(base), 300);
    assert.equal(host.faults, [[base + 8, base + 8, W]]);
    assert.equal([...new Int32Array(host.memory.buffer, pageAddress(base + 8), 300)], values.slice(0, 300));
  });
  caches("a loop whose body defines its own label (as clang's do) is rewritten with unique labels and sums right through faults", () => {
    // The one-access-at-a-time copy of the body (loop_restart.ts) once kept $skip's name too, and
    // the module did not validate (dlmalloc compiled by clang).
    const host = new FakeHost();
    const values = elements(host).map((v) => (v % 3 === 0 ? -v : v));
    host.fill(pageAddress(base), new Uint8Array(Int32Array.from(values).buffer));
    for (const page of [1, 2, 3]) host.takeAway(base + page);
    const f = host.instantiate(
      module(`(func (export "sumPositive") (param $p i32) (param $end i32) (result i32) (local $s i32) (local $v i32)
        (loop $next
          (block $skip
            (br_if $skip (i32.lt_s (local.tee $v (i32.load (local.get $p))) (i32.const 0)))
            (local.set $s (i32.add (local.get $s) (local.get $v))))
          (br_if $next (i32.lt_u (local.tee $p (i32.add (local.get $p) (i32.const 4))) (local.get $end))))
        (local.get $s))`),
      mode.options,
    );
    const expected = values.filter((v) => v >= 0).reduce((s, v) => (s + v) | 0, 0);
    assert.equal(call(f, "sumPositive", pageAddress(base), pageAddress(base + 4)), expected);
    assert.equal(host.faults, [[base + 1, base + 1, R], [base + 2, base + 2, R], [base + 3, base + 3, R]]);
  });
  caches.run();

  const restart = suite(`instrument: slow paths out of loops (${mode.name})`);
  restart("an iteration that bumped a counter before its access (checked apart) is not re-run after a fault", () => {
    const host = new FakeHost();
    const values = elements(host);
    host.takeAway(base + 1);
    const counter = pageAddress(regionPage(20));
    const f = host.instantiate(
      module(`(func (export "sum") (param $a i32) (param $n i32) (param $c i32) (result i32) (local $i i32) (local $s i32)
        (loop $next
          (drop (i32.atomic.rmw.add (local.get $c) (i32.const 1)))
          (if (i32.eqz (local.get $n)) (then (unreachable)))
          (local.set $s (i32.add (local.get $s) (i32.load (i32.add (local.get $a) (i32.shl (local.get $i) (i32.const 2))))))
          (br_if $next (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
        (local.get $s))`),
      mode.options,
    );
    const n = PAGE / 4 + 20;
    assert.equal(call(f, "sum", pageAddress(base), n, counter), total(values, n));
    assert.equal(new Int32Array(host.memory.buffer, counter, 1)[0], n);
    assert.equal(host.faults, [[base + 1, base + 1, R]]);
  });
  restart("an iteration that incremented its index before its access is not re-run after a fault", () => {
    const host = new FakeHost();
    const values = elements(host);
    host.takeAway(base + 1);
    const f = host.instantiate(
      module(`(func (export "sum") (param $a i32) (param $n i32) (result i32) (local $i i32) (local $s i32)
        (loop $next
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (local.set $s (i32.add (local.get $s) (i32.load (i32.add (local.get $a) (i32.shl (i32.sub (local.get $i) (i32.const 1)) (i32.const 2))))))
          (br_if $next (i32.lt_u (local.get $i) (local.get $n))))
        (local.get $s))`),
      mode.options,
    );
    const n = PAGE / 4 + 20;
    assert.equal(call(f, "sum", pageAddress(base), n), total(values, n));
    assert.equal(host.faults, [[base + 1, base + 1, R]]);
  });
  restart("an iteration whose prefix reads a local that only a skipped branch target block writes is not re-run", () => {
    const host = new FakeHost();
    const values = elements(host);
    host.takeAway(base);
    // With $c = 1 the block is left before it writes $t, so $x reads the $t of the previous
    // iteration (0 first, then 4); re-running the first iteration would read 4.
    const f = host.instantiate(
      module(`(func (export "f") (param $a i32) (param $c i32) (result i32) (local $t i32) (local $x i32) (local $i i32) (local $s i32)
        (loop $next
          (block $b (br_if $b (local.get $c)) (local.set $t (i32.const 8)))
          (local.set $x (local.get $t))
          (local.set $t (i32.const 4))
          (local.set $s (i32.add (local.get $s) (i32.load (i32.add (local.get $a) (local.get $x)))))
          (br_if $next (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 3))))
        (local.get $s))`),
      mode.options,
    );
    assert.equal(call(f, "f", pageAddress(base), 1), values[0] + 2 * values[1]);
    assert.equal(host.faults, [[base, base, R]]);
  });
  restart("when one page's fault takes the other away, the loop fetches both again before the iteration's loads", () => {
    const host = new FakeHost();
    const values = elements(host);
    const b = base + 8;
    host.fill(pageAddress(b), new Uint8Array(Int32Array.from(values).buffer).slice(0, PAGE));
    host.takeAway(b);
    let taken = false;
    host.afterFault = ([first], h) => {
      if (first === b && !taken) (taken = true), h.takeAway(base);
    };
    const f = host.instantiate(module(SUM_TWO), mode.options);
    assert.equal(call(f, "sum", pageAddress(base), pageAddress(b), 10), 2 * total(values, 10));
    // Optimised, both loads of an iteration share one check before either runs; one by one, the
    // first load has already run when the second faults, and the next iteration re-checks.
    assert.equal(host.faults, [[b, b, R], [base, base, R]]);
  });
  restart("a host that takes the other page away at every fault still lets the loop finish", () => {
    const host = new FakeHost();
    const values = elements(host);
    const b = base + 8;
    host.fill(pageAddress(b), new Uint8Array(Int32Array.from(values).buffer).slice(0, PAGE));
    host.takeAway(base);
    host.takeAway(b);
    host.afterFault = ([first], h) => h.takeAway(first === b ? base : b);
    const f = host.instantiate(module(SUM_TWO), mode.options);
    assert.equal(call(f, "sum", pageAddress(base), pageAddress(b), 50), 2 * total(values, 50));
    // Each iteration needs both pages; optimised, at most K = 2 handler faults go by before one
    // iteration runs checked access by access (2 more faults), one by one every iteration needs 2.
    assert.is(host.faults.length, mode.options.optimizeChecks === false ? 2 * 50 : 4 * 50);
  });
  restart("a loop that yields a value keeps it through faults and polls", () => {
    const host = new FakeHost();
    const values = elements(host);
    host.takeAway(base + 1);
    host.afterFault = (_, h) => h.setPollFlag(1);
    const f = host.instantiate(
      module(`(func (export "find") (param $a i32) (param $x i32) (result i32) (local $i i32)
        (loop $next (result i32)
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $next (i32.ne (i32.load (i32.add (local.get $a) (i32.shl (i32.sub (local.get $i) (i32.const 1)) (i32.const 2)))) (local.get $x)))
          (local.get $i)))`),
      mode.options,
    );
    assert.equal(call(f, "find", pageAddress(base), values[PAGE / 4 + 7]), PAGE / 4 + 8);
    assert.equal(host.faults, [[base + 1, base + 1, R]]);
    assert.equal(host.polls, 1);
  });
  restart("a loop left by a branch to an outer block still leaves it", () => {
    const host = new FakeHost();
    const values = elements(host);
    host.takeAway(base);
    const f = host.instantiate(
      module(`(func (export "first") (param $a i32) (param $x i32) (result i32) (local $i i32)
        (block $found (result i32)
          (loop $next
            (br_if $found (local.get $i) (i32.eq (i32.load (i32.add (local.get $a) (i32.shl (local.get $i) (i32.const 2)))) (local.get $x)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $next))
          (i32.const -1)))`),
      mode.options,
    );
    assert.equal(call(f, "first", pageAddress(base), values[17]), 17);
    assert.equal(host.faults, [[base, base, R]]);
  });
  restart.run();
}
