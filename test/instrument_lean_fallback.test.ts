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
import { call, COUNTED_SUM, FakeHost, fillElements, LAYOUT, module, PAGE, pageAddress, regionPage, SUM_WHILE, sumOf } from "./helpers/instrument_harness.js";

const R = Access.Read;
const base = regionPage(4);

/** Page-cache window tests of 4-byte accesses: `(i32.gt_u (i32.sub EA SLOT) (i32.const 4092))`. */
const windows = (wat: string, leanFallback: boolean) =>
  (toText(instrument(module(wat), LAYOUT, { optimizations: { leanFallback } })).replace(/\s+/g, " ").match(/\(i32\.gt_u \(i32\.sub .*?\(i32\.const 4092\)/g) ?? []).length;

const N = (3 * PAGE) / 4;

const Shape = suite("lean fallbacks: which loops keep page caches");

Shape("a versioned loop's checked copy has no page cache; with leanFallback off it has one", () => {
  assert.is(windows(COUNTED_SUM, true), 0);
  assert.is(windows(COUNTED_SUM, false), 1);
  assert.equal(verifyChecks(instrument(module(COUNTED_SUM), LAYOUT, {}), LAYOUT), []);
});

Shape("a call-free loop that is not versioned keeps its page cache", () => {
  assert.is(windows(SUM_WHILE, true), 1);
  assert.is(windows(SUM_WHILE, false), 1);
});

const Runs = suite("lean fallbacks: what runs");

Runs("with a page absent the checked copy sums as the plain module does, faulting on that page alone", () => {
  const plain = new FakeHost();
  fillElements(plain, pageAddress(base));
  const expected = call(plain.instantiate(module(COUNTED_SUM), { plain: true }), "sum", pageAddress(base), N);
  const host = new FakeHost();
  const values = fillElements(host, pageAddress(base));
  host.takeAway(base + 1);
  const f = host.instantiate(module(COUNTED_SUM));
  assert.is(call(f, "sum", pageAddress(base), N), expected);
  assert.is(expected, sumOf(values, N));
  assert.equal(host.faults, [[base + 1, base + 1, R]]);
});

Runs("a page taken while the checked copy is parked at its poll is faulted back before it is read", () => {
  const host = new FakeHost();
  const values = fillElements(host, pageAddress(base));
  host.takeAway(base + 1); // the guard fails: the checked copy runs from the start
  host.onPoll = (h) => h.takeAway(base + 2);
  const f = host.instantiate(module(COUNTED_SUM));
  host.setPollFlag(1);
  assert.is(call(f, "sum", pageAddress(base), N), sumOf(values, N));
  assert.equal([host.polls, host.faults], [1, [[base + 1, base + 1, R], [base + 2, base + 2, R]]]);
});

Shape.run();
Runs.run();
