/**
 * The access-check pass on bulk memory operations (byte ranges over several pages), and on where
 * checks sit: after every operand, so that a call among the operands that takes a page away is
 * seen; and, for checks combined over several accesses, re-checked after each fault.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Access, Protection } from "../src/abi.js";
import { call, FakeHost, MODES, module, PAGE, pageAddress, pattern, regionPage } from "./helpers/instrument_harness.js";

const R = Access.Read;
const W = Access.Write;
const src = regionPage(2);
const dst = regionPage(10);
const region = (host: FakeHost, address: number, length: number) => [...host.bytes.slice(address, address + length)];

for (const mode of MODES) {
  const bulk = suite(`instrument: bulk memory (${mode.name})`);
  bulk("memory.copy over three absent source pages and three read-only destination pages faults with each whole range", () => {
    const host = new FakeHost();
    const data = pattern(3 * PAGE);
    host.fill(pageAddress(src), data);
    for (const p of [src, src + 1, src + 2]) host.takeAway(p);
    for (const p of [dst, dst + 1, dst + 2]) host.protect(p, Protection.ReadOnly);
    const f = host.instantiate(module(`(func (export "f") (param $d i32) (param $s i32) (param $n i32) (memory.copy (local.get $d) (local.get $s) (local.get $n)))`), mode.options);
    call(f, "f", pageAddress(dst) + 10, pageAddress(src) + 10, 3 * PAGE - 20);
    assert.equal(host.faults, [[src, src + 2, R], [dst, dst + 2, W]]);
    assert.equal(region(host, pageAddress(dst) + 10, 3 * PAGE - 20), [...data.slice(10, 3 * PAGE - 10)]);
  });
  bulk("memory.copy re-checks its source after the destination's fault took a source page away", () => {
    const host = new FakeHost();
    const data = pattern(2 * PAGE);
    host.fill(pageAddress(src), data);
    host.takeAway(dst + 1);
    host.afterFault = ([first], h) => {
      if (first === dst) h.takeAway(src + 1);
    };
    const f = host.instantiate(module(`(func (export "f") (param $d i32) (param $s i32) (param $n i32) (memory.copy (local.get $d) (local.get $s) (local.get $n)))`), mode.options);
    call(f, "f", pageAddress(dst), pageAddress(src), 2 * PAGE);
    assert.equal(host.faults, [[dst, dst + 1, W], [src, src + 1, R]]);
    assert.equal(region(host, pageAddress(dst), 2 * PAGE), [...data]);
  });
  bulk("memory.copy and memory.fill of zero bytes check nothing", () => {
    const host = new FakeHost();
    host.takeAway(src);
    host.takeAway(dst);
    const f = host.instantiate(
      module(`(func (export "f") (param $d i32) (param $s i32) (memory.copy (local.get $d) (local.get $s) (i32.const 0)) (memory.fill (local.get $d) (i32.const 1) (i32.const 0)))`),
      mode.options,
    );
    call(f, "f", pageAddress(dst), pageAddress(src));
    assert.equal(host.faults, []);
  });
  bulk("memory.fill over an absent page and a read-only page faults once with the write of both", () => {
    const host = new FakeHost();
    host.fill(pageAddress(dst), pattern(2 * PAGE));
    host.takeAway(dst);
    host.protect(dst + 1, Protection.ReadOnly);
    const f = host.instantiate(module(`(func (export "f") (param $d i32) (param $n i32) (memory.fill (local.get $d) (i32.const 7) (local.get $n)))`), mode.options);
    call(f, "f", pageAddress(dst) + PAGE - 5, 10);
    assert.equal(host.faults, [[dst, dst + 1, W]]);
    assert.equal(region(host, pageAddress(dst) + PAGE - 6, 12), [pattern(2 * PAGE)[PAGE - 6], 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, pattern(2 * PAGE)[PAGE + 5]]);
  });
  bulk("memory.init into two pages faults with the write of both and copies the segment", () => {
    const host = new FakeHost();
    host.takeAway(dst + 3);
    const f = host.instantiate(
      module(`(data $seg "\\01\\02\\03\\04\\05\\06\\07\\08") (func (export "f") (param $d i32) (memory.init $seg (local.get $d) (i32.const 1) (i32.const 6)))`),
      mode.options,
    );
    call(f, "f", pageAddress(dst + 3) - 2);
    assert.equal(host.faults, [[dst + 2, dst + 3, W]]);
    assert.equal(region(host, pageAddress(dst + 3) - 2, 6), [2, 3, 4, 5, 6, 7]);
  });
  bulk("memory.copy whose length comes from a call that takes the source away checks after the call", () => {
    const host = new FakeHost();
    host.fill(pageAddress(src), pattern(64));
    host.onTouch = (x, h) => (h.takeAway(src), x);
    const f = host.instantiate(module(`(func (export "f") (param $d i32) (param $s i32) (memory.copy (local.get $d) (local.get $s) (call $touch (i32.const 64))))`), mode.options);
    call(f, "f", pageAddress(dst), pageAddress(src));
    assert.equal(host.touches, [64]);
    assert.equal(host.faults, [[src, src, R]]);
    assert.equal(region(host, pageAddress(dst), 64), [...pattern(64)]);
  });
  bulk.run();

  const order = suite(`instrument: checks after the operands (${mode.name})`);
  order("a store whose value is a call that takes its page away faults after the call", () => {
    const host = new FakeHost();
    host.onTouch = (x, h) => (h.takeAway(src), x);
    const f = host.instantiate(module(`(func (export "f") (param $p i32) (i32.store (local.get $p) (call $touch (i32.const 42))))`), mode.options);
    call(f, "f", pageAddress(src) + 8);
    assert.equal(host.faults, [[src, src, W]]);
    assert.equal(new DataView(host.bytes.buffer).getInt32(pageAddress(src) + 8, true), 42);
  });
  order("a load whose address is a call that takes the page away faults after the call and reads the real bytes", () => {
    const host = new FakeHost();
    host.fill(pageAddress(src), pattern(16));
    host.onTouch = (x, h) => (h.takeAway(src), x);
    const f = host.instantiate(module(`(func (export "f") (param $p i32) (result i32) (i32.load8_u offset=3 (call $touch (local.get $p))))`), mode.options);
    assert.equal(call(f, "f", pageAddress(src)), pattern(16)[3]);
    assert.equal(host.faults, [[src, src, R]]);
  });
  order("a cmpxchg whose replacement is a call that takes the page away faults after the call", () => {
    const host = new FakeHost();
    host.onTouch = (x, h) => (h.takeAway(src), x);
    const f = host.instantiate(module(`(func (export "f") (param $p i32) (result i32) (i32.atomic.rmw.cmpxchg (local.get $p) (i32.const 0) (call $touch (i32.const 5))))`), mode.options);
    assert.equal(call(f, "f", pageAddress(src)), 0);
    assert.equal(host.faults, [[src, src, W]]);
    assert.equal(host.bytes[pageAddress(src)], 5);
  });
  order("a local written by a later operand is read for the check as the access reads it", () => {
    const host = new FakeHost();
    host.takeAway(dst);
    const f = host.instantiate(
      module(`(func (export "f") (param $p i32) (param $q i32) (i32.store (local.get $p) (block (result i32) (local.set $p (local.get $q)) (i32.const 9))))`),
      mode.options,
    );
    call(f, "f", pageAddress(dst), pageAddress(src));
    assert.equal(host.faults, [[dst, dst, W]]);
    assert.equal(host.bytes[pageAddress(dst)], 9);
  });
  order.run();

  const groups = suite(`instrument: accesses checked together (${mode.name})`);
  groups("two loads of absent pages fault once each, in order, and read the real bytes", () => {
    const host = new FakeHost();
    host.fill(pageAddress(src), pattern(8, 1));
    host.fill(pageAddress(dst), pattern(8, 50));
    host.takeAway(src);
    host.takeAway(dst);
    const f = host.instantiate(module(`(func (export "f") (param $a i32) (param $b i32) (result i32) (i32.add (i32.load8_u (local.get $a)) (i32.load8_u (local.get $b))))`), mode.options);
    assert.equal(call(f, "f", pageAddress(src), pageAddress(dst)), pattern(8, 1)[0] + pattern(8, 50)[0]);
    assert.equal(host.faults, [[src, src, R], [dst, dst, R]]);
  });
  groups("outside loops each check covers one byte range: a fault for the second load does not re-check the first, already done", () => {
    const host = new FakeHost();
    host.fill(pageAddress(src), pattern(8, 1));
    host.fill(pageAddress(dst), pattern(8, 50));
    host.takeAway(dst);
    host.afterFault = ([first], h) => {
      if (first === dst) h.takeAway(src);
    };
    const f = host.instantiate(module(`(func (export "f") (param $a i32) (param $b i32) (result i32) (i32.add (i32.load8_u (local.get $a)) (i32.load8_u (local.get $b))))`), mode.options);
    assert.equal(call(f, "f", pageAddress(src), pageAddress(dst)), pattern(8, 1)[0] + pattern(8, 50)[0]);
    assert.equal(host.faults, [[dst, dst, R]]);
  });
  groups("a load and a store of the same address fault once; checked together, with the write", () => {
    const host = new FakeHost();
    host.fill(pageAddress(src), pattern(8));
    host.takeAway(src);
    const f = host.instantiate(module(`(func (export "f") (param $p i32) (i64.store (local.get $p) (i64.add (i64.load (local.get $p)) (i64.const 1))))`), mode.options);
    call(f, "f", pageAddress(src));
    // The fake host makes a faulted page read-write, so the store after a read fault needs no fault.
    const expected = mode.options.optimizeChecks === false ? [[src, src, R]] : [[src, src, W]];
    assert.equal(host.faults, expected);
    assert.equal(new DataView(host.bytes.buffer).getBigInt64(pageAddress(src), true), new DataView(pattern(8).buffer).getBigInt64(0, true) + 1n);
  });
  groups("loads at x-8 and x+8 around a page boundary fault with both pages", () => {
    const host = new FakeHost();
    host.takeAway(src + 1);
    const f = host.instantiate(
      module(`(func (export "f") (param $x i32) (result f64) (f64.add (f64.load (i32.sub (local.get $x) (i32.const 8))) (f64.load (i32.add (local.get $x) (i32.const 8)))))`),
      mode.options,
    );
    call(f, "f", pageAddress(src + 1) - 8);
    const expected = mode.options.optimizeChecks === false ? [[src + 1, src + 1, R]] : [[src, src + 1, R]];
    assert.equal(host.faults, expected);
  });
  groups.run();
}
