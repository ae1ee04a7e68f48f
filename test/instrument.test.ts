/**
 * The access-check pass on single accesses: every load and store width and sign, atomics, SIMD,
 * straddling accesses, protection kinds, and the order of checks and operands. Each case runs
 * against the fake host of instrument_harness.ts in both checking modes.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Access, Protection } from "../src/abi.js";
import { call, FakeHost, MODES, module, PAGE, pageAddress, pattern, regionPage } from "./helpers/instrument_harness.js";

const R = Access.Read;
const W = Access.Write;
const page = regionPage(3);
/** The effective address of most cases: inside `page`, 16-byte aligned. */
const EA = pageAddress(page) + 96;

/** A host whose `page` is absent, its real content `pattern(PAGE)`. */
function absentPage(): FakeHost {
  const host = new FakeHost();
  host.fill(pageAddress(page), pattern(PAGE));
  host.takeAway(page);
  return host;
}

const real = new DataView(pattern(PAGE).buffer);
const at = (ea: number) => ea - pageAddress(page);

interface LoadCase {
  instr: string;
  type: string;
  offset: number;
  expected: (ea: number) => number | bigint;
}

const LOADS: LoadCase[] = [
  { instr: "i32.load", type: "i32", offset: 4, expected: (ea) => real.getInt32(at(ea), true) },
  { instr: "i32.load8_s", type: "i32", offset: 1, expected: (ea) => real.getInt8(at(ea)) },
  { instr: "i32.load8_u", type: "i32", offset: 0, expected: (ea) => real.getUint8(at(ea)) },
  { instr: "i32.load16_s", type: "i32", offset: 6, expected: (ea) => real.getInt16(at(ea), true) },
  { instr: "i32.load16_u", type: "i32", offset: 2, expected: (ea) => real.getUint16(at(ea), true) },
  { instr: "i64.load", type: "i64", offset: 8, expected: (ea) => real.getBigInt64(at(ea), true) },
  { instr: "i64.load8_s", type: "i64", offset: 3, expected: (ea) => BigInt(real.getInt8(at(ea))) },
  { instr: "i64.load8_u", type: "i64", offset: 5, expected: (ea) => BigInt(real.getUint8(at(ea))) },
  { instr: "i64.load16_s", type: "i64", offset: 2, expected: (ea) => BigInt(real.getInt16(at(ea), true)) },
  { instr: "i64.load16_u", type: "i64", offset: 4, expected: (ea) => BigInt(real.getUint16(at(ea), true)) },
  { instr: "i64.load32_s", type: "i64", offset: 12, expected: (ea) => BigInt(real.getInt32(at(ea), true)) },
  { instr: "i64.load32_u", type: "i64", offset: 4, expected: (ea) => BigInt(real.getUint32(at(ea), true)) },
  { instr: "f32.load", type: "f32", offset: 8, expected: (ea) => real.getFloat32(at(ea), true) },
  { instr: "f64.load", type: "f64", offset: 16, expected: (ea) => real.getFloat64(at(ea), true) },
  { instr: "i32.atomic.load", type: "i32", offset: 4, expected: (ea) => real.getInt32(at(ea), true) },
  { instr: "i32.atomic.load16_u", type: "i32", offset: 2, expected: (ea) => real.getUint16(at(ea), true) },
  { instr: "i64.atomic.load8_u", type: "i64", offset: 1, expected: (ea) => BigInt(real.getUint8(at(ea))) },
  { instr: "i64.atomic.load32_u", type: "i64", offset: 8, expected: (ea) => BigInt(real.getUint32(at(ea), true)) },
  { instr: "i64.atomic.load", type: "i64", offset: 8, expected: (ea) => real.getBigInt64(at(ea), true) },
];

const STORES = [
  { instr: "i32.store", type: "i32", width: 4, offset: 4, value: -2023406815 },
  { instr: "i32.store8", type: "i32", width: 1, offset: 1, value: 0x1234567f },
  { instr: "i32.store16", type: "i32", width: 2, offset: 2, value: 0x7edcba98 },
  { instr: "i64.store", type: "i64", width: 8, offset: 8, value: -0x1122334455667788n },
  { instr: "i64.store8", type: "i64", width: 1, offset: 0, value: 0x0102030405060708n },
  { instr: "i64.store16", type: "i64", width: 2, offset: 6, value: 0x0102030405060708n },
  { instr: "i64.store32", type: "i64", width: 4, offset: 12, value: 0x0102030405060708n },
  { instr: "f32.store", type: "f32", width: 4, offset: 4, value: 1.5 },
  { instr: "f64.store", type: "f64", width: 8, offset: 8, value: -2.25 },
  { instr: "i32.atomic.store", type: "i32", width: 4, offset: 4, value: 77 },
  { instr: "i32.atomic.store8", type: "i32", width: 1, offset: 3, value: 0x1ff },
  { instr: "i64.atomic.store16", type: "i64", width: 2, offset: 2, value: 0xabcdn },
  { instr: "i64.atomic.store", type: "i64", width: 8, offset: 8, value: 123456789012345n },
];

/** Little-endian bytes of the low `width` bytes of `value` as stored by a store of `type`. */
function storedBytes(type: string, width: number, value: number | bigint): number[] {
  const view = new DataView(new ArrayBuffer(8));
  if (type === "f32") view.setFloat32(0, value as number, true);
  else if (type === "f64") view.setFloat64(0, value as number, true);
  else view.setBigInt64(0, BigInt.asIntN(64, BigInt(value)), true);
  return [...new Uint8Array(view.buffer, 0, width)];
}

for (const mode of MODES) {
  const loads = suite(`instrument: loads (${mode.name})`);
  for (const c of LOADS) {
    loads(`${c.instr} offset=${c.offset} faults once with the read of its page, then returns the page's real bytes`, () => {
      const host = absentPage();
      const f = host.instantiate(module(`(func (export "f") (param $p i32) (result ${c.type}) (${c.instr} offset=${c.offset} (local.get $p)))`), mode.options);
      assert.equal(call(f, "f", EA - c.offset), c.expected(EA));
      assert.equal(host.faults, [[page, page, R]]);
    });
  }
  loads("a load from a read-only page does not fault", () => {
    const host = new FakeHost();
    host.fill(EA, pattern(8));
    host.protect(page, Protection.ReadOnly);
    const f = host.instantiate(module(`(func (export "f") (param $p i32) (result i64) (i64.load (local.get $p)))`), mode.options);
    assert.equal(call(f, "f", EA), new DataView(pattern(8).buffer).getBigInt64(0, true));
    assert.equal(host.faults, []);
  });
  loads("nothing faults when the whole table is zero", () => {
    const host = new FakeHost();
    host.fill(EA, pattern(16));
    const f = host.instantiate(module(`(func (export "f") (param $p i32) (result i32) (i32.add (i32.load (local.get $p)) (i32.load8_u offset=9 (local.get $p))))`), mode.options);
    assert.equal(call(f, "f", EA), (new DataView(pattern(16).buffer).getInt32(0, true) + pattern(16)[9]) | 0);
    assert.equal(host.faults, []);
  });
  loads("an i32 load straddling two absent pages faults with both pages", () => {
    const host = absentPage();
    host.fill(pageAddress(page + 1), pattern(PAGE, 7));
    host.takeAway(page + 1);
    const f = host.instantiate(module(`(func (export "f") (param $p i32) (result i32) (i32.load offset=1 (local.get $p)))`), mode.options);
    const ea = pageAddress(page + 1) - 2;
    const bytes = [...pattern(PAGE).slice(PAGE - 2), ...pattern(PAGE, 7).slice(0, 2)];
    assert.equal(call(f, "f", ea - 1), new DataView(Uint8Array.from(bytes).buffer).getInt32(0, true));
    assert.equal(host.faults, [[page, page + 1, R]]);
  });
  loads("an f64 load straddling into an absent page faults with both pages", () => {
    const host = new FakeHost();
    host.fill(pageAddress(page + 1), pattern(PAGE, 7));
    host.takeAway(page + 1);
    const f = host.instantiate(module(`(func (export "f") (param $p i32) (result f64) (f64.load (local.get $p)))`), mode.options);
    call(f, "f", pageAddress(page + 1) - 4);
    assert.equal(host.faults, [[page, page + 1, R]]);
  });
  loads.run();

  const stores = suite(`instrument: stores (${mode.name})`);
  for (const c of STORES) {
    stores(`${c.instr} offset=${c.offset} faults with the write of its page, then its value lands in the page's real bytes`, () => {
      const host = absentPage();
      const f = host.instantiate(module(`(func (export "f") (param $p i32) (param $v ${c.type}) (${c.instr} offset=${c.offset} (local.get $p) (local.get $v)))`), mode.options);
      call(f, "f", EA - c.offset, c.value);
      assert.equal(host.faults, [[page, page, W]]);
      const expected = pattern(PAGE);
      expected.set(storedBytes(c.type, c.width, c.value), at(EA));
      assert.equal([...host.bytes.slice(pageAddress(page), pageAddress(page) + PAGE)], [...expected]);
    });
  }
  stores("a store to a read-only page faults with the write", () => {
    const host = new FakeHost();
    host.protect(page, Protection.ReadOnly);
    const f = host.instantiate(module(`(func (export "f") (param $p i32) (i32.store16 (local.get $p) (i32.const 0x4142)))`), mode.options);
    call(f, "f", EA);
    assert.equal(host.faults, [[page, page, W]]);
    assert.equal([...host.bytes.slice(EA, EA + 2)], [0x42, 0x41]);
  });
  stores("an i64 store straddling a read-only and an absent page faults with both", () => {
    const host = new FakeHost();
    host.protect(page, Protection.ReadOnly);
    host.takeAway(page + 1);
    const f = host.instantiate(module(`(func (export "f") (param $p i32) (i64.store (local.get $p) (i64.const -1)))`), mode.options);
    call(f, "f", pageAddress(page + 1) - 3);
    assert.equal(host.faults, [[page, page + 1, W]]);
    assert.equal([...host.bytes.slice(pageAddress(page + 1) - 3, pageAddress(page + 1) + 5)], [255, 255, 255, 255, 255, 255, 255, 255]);
  });
  stores.run();
}
