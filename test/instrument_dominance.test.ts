/**
 * Dominance (the `dominance` optimisation of src/instrument/instrument.ts): an access covered by
 * the last check made, on every path to it, gets no check of its own; a check, call or loop header
 * in between, or a check made in only one arm of an `if`, keeps it.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Access } from "../src/abi.js";
import { instrument, toText } from "../src/instrument/instrument.js";
import { call, FakeHost, LAYOUT, module, pageAddress, regionPage } from "./helpers/instrument_harness.js";

const R = Access.Read;
const page = regionPage(6);

/** `x = a[0]; if (c) x += a[1]` (a[1] lies in a[0]'s checked range only if both are one check). */
const IF_ARM = `(func (export "f") (param $a i32) (param $c i32) (result i32) (local $x i32)
  (local.set $x (i32.load (local.get $a)))
  (if (local.get $c) (then (local.set $x (i32.add (local.get $x) (i32.load (local.get $a))))))
  (local.get $x))`;

/** The same with a call between the two reads. */
const AFTER_CALL = `(func (export "f") (param $a i32) (param $c i32) (result i32) (local $x i32)
  (local.set $x (i32.load (local.get $a)))
  (drop (call $touch (i32.const 1)))
  (if (local.get $c) (then (local.set $x (i32.add (local.get $x) (i32.load (local.get $a))))))
  (local.get $x))`;

/** A check in one arm: the read after the `if` must be checked again. */
const ONE_ARM = `(func (export "f") (param $a i32) (param $b i32) (param $c i32) (result i32) (local $x i32)
  (local.set $x (i32.load (local.get $a)))
  (if (local.get $c) (then (local.set $x (i32.add (local.get $x) (i32.load (local.get $b))))))
  (i32.add (local.get $x) (i32.load (local.get $a))))`;

const tableReads = (wat: string, dominance: boolean) => (toText(instrument(module(wat), LAYOUT, { optimizations: { dominance } })).match(/load8_u offset=/g) ?? []).length;

const Dominance = suite("dominance: checks the last check covers are left out");

Dominance("a read in an if arm after a read of the same bytes is not checked again", () => {
  assert.is(tableReads(IF_ARM, false) - tableReads(IF_ARM, true), 2);
});

Dominance("a call between the two reads keeps the second check", () => {
  assert.is(tableReads(AFTER_CALL, true), tableReads(AFTER_CALL, false));
});

Dominance("a check made in one arm of an if keeps the check after it", () => {
  assert.is(tableReads(ONE_ARM, true), tableReads(ONE_ARM, false));
});

Dominance("a page taken away during the call is faulted back by the kept check", () => {
  const host = new FakeHost();
  host.fill(pageAddress(page), new Uint8Array([5, 0, 0, 0]));
  host.onTouch = (x, h) => (h.takeAway(page), x);
  const f = host.instantiate(module(AFTER_CALL));
  assert.is(call(f, "f", pageAddress(page), 1), 10);
  assert.equal(host.faults, [[page, page, R]]);
});

Dominance.run();
