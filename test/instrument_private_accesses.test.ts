/**
 * Private accesses (src/instrument/private_bounds.ts): an access the code's own test proves to lie
 * in private memory (at or above memoryBase), such as AssemblyScript's shadow-stack stores after
 * the overflow test, gets no check; an access the bound does not prove, one after a call that may
 * move the stack pointer, and every shared access keep theirs, and faults still happen.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Access } from "../src/abi.js";
import { instrument, toText } from "../src/instrument/instrument.js";
import { verifyChecks } from "../src/instrument/verify_checks.js";
import { call, FakeHost, LAYOUT, module, pageAddress, regionPage } from "./helpers/instrument_harness.js";

const R = Access.Read;
const base = regionPage(4);
const STACK_TOP = LAYOUT.memoryBase + 65536;

/**
 * A shadow-stack frame as AssemblyScript emits it: push two words (after the overflow test), read
 * a shared word at $p, pop. `between` runs after the overflow test, before the pushes.
 */
const frame = (between = "") => `
  (global $sp (mut i32) (i32.const ${STACK_TOP}))
  (func (export "f") (param $p i32) (result i32) (local $r i32)
    (global.set $sp (i32.sub (global.get $sp) (i32.const 8)))
    (if (i32.lt_s (global.get $sp) (i32.const ${LAYOUT.memoryBase})) (then (unreachable)))
    ${between}
    (i32.store (global.get $sp) (local.get $p))
    (i32.store offset=4 (global.get $sp) (i32.const 7))
    (local.set $r (i32.add (i32.load (local.get $p)) (i32.load offset=4 (global.get $sp))))
    (global.set $sp (i32.add (global.get $sp) (i32.const 8)))
    (i32.add (local.get $r) (i32.load (i32.sub (global.get $sp) (i32.const 4)))))`;

/** Table reads of the pass's checks (one- and two-byte loads at the table's offset). */
const tableReads = (wat: string, privateAccesses: boolean) =>
  (toText(instrument(module(wat), LAYOUT, { optimizations: { privateAccesses } })).match(/load(8|16)_u offset=4096/g) ?? []).length;

const Shape = suite("private accesses: which accesses go unchecked");

Shape("stack accesses after the overflow test and after the pop get no check; the shared read keeps its own", () => {
  const off = tableReads(frame(), false);
  const on = tableReads(frame(), true);
  assert.is(on, 3); // the shared read at $p: its pair test (one load) and its exact test (two)
  assert.ok(off > on, `${off} table reads without the optimisation`);
  assert.equal(verifyChecks(instrument(module(frame()), LAYOUT, {}), LAYOUT), []);
});

Shape("a call after the overflow test may move the stack pointer: the stack accesses are checked again", () => {
  const wat = frame(`(drop (call $touch (i32.const 1)))`);
  assert.ok(tableReads(wat, true) > 3);
  assert.equal(verifyChecks(instrument(module(wat), LAYOUT, {}), LAYOUT), []);
});

Shape("a bound below memoryBase proves nothing", () => {
  const wat = frame().replace(`(i32.const ${LAYOUT.memoryBase})`, `(i32.const ${LAYOUT.memoryBase - 8})`);
  assert.is(tableReads(wat, true), tableReads(wat, false));
});

const Runs = suite("private accesses: what runs");

Runs("the frame returns what the plain module returns, and the shared read faults its page back", () => {
  const plain = new FakeHost();
  plain.fill(pageAddress(base), new Uint8Array([5, 0, 0, 0]));
  const expected = call(plain.instantiate(module(frame()), { plain: true }), "f", pageAddress(base));
  assert.is(expected, 5 + 7 + 7);
  const host = new FakeHost();
  host.fill(pageAddress(base), new Uint8Array([5, 0, 0, 0]));
  host.takeAway(base);
  const f = host.instantiate(module(frame()));
  assert.is(call(f, "f", pageAddress(base)), expected);
  assert.equal(host.faults, [[base, base, R]]);
});

Runs("a page taken while parked in a call between the test and the pushes is still checked before the shared read", () => {
  const host = new FakeHost();
  host.fill(pageAddress(base), new Uint8Array([5, 0, 0, 0]));
  host.onTouch = (x, h) => (h.takeAway(base), x);
  const f = host.instantiate(module(frame(`(drop (call $touch (i32.const 1)))`)));
  assert.is(call(f, "f", pageAddress(base)), 5 + 7 + 7);
  assert.equal(host.faults, [[base, base, R]]);
});

Shape.run();
Runs.run();
