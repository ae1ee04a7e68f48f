/**
 * The access-check pass on atomic read-modify-write, cmpxchg, wait and notify, and on every SIMD
 * load and store form, each checked with its real width and access kind.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Access } from "../src/abi.js";
import { call, FakeHost, MODES, module, PAGE, pageAddress, pattern, regionPage } from "./helpers/instrument_harness.js";

const R = Access.Read;
const W = Access.Write;
const page = regionPage(5);
const EA = pageAddress(page) + 64;
/** Private scratch memory (protection byte 0) where SIMD results are stored for inspection. */
const OUT = 0x3f0000;

function absentPage(): FakeHost {
  const host = new FakeHost();
  host.fill(pageAddress(page), pattern(PAGE));
  host.takeAway(page);
  return host;
}

const real = pattern(PAGE);
const realView = new DataView(real.buffer);
const at = (ea: number) => ea - pageAddress(page);

const RMW = [
  { instr: "i32.atomic.rmw.add", type: "i32", width: 4, arg: 5, next: (old: bigint) => old + 5n },
  { instr: "i32.atomic.rmw8.sub_u", type: "i32", width: 1, arg: 1, next: (old: bigint) => old - 1n },
  { instr: "i32.atomic.rmw16.and_u", type: "i32", width: 2, arg: 0x0ff0, next: (old: bigint) => old & 0x0ff0n },
  { instr: "i64.atomic.rmw.or", type: "i64", width: 8, arg: 0x100n, next: (old: bigint) => old | 0x100n },
  { instr: "i64.atomic.rmw32.xor_u", type: "i64", width: 4, arg: 0xffn, next: (old: bigint) => old ^ 0xffn },
  { instr: "i64.atomic.rmw16.xchg_u", type: "i64", width: 2, arg: 0x1234n, next: () => 0x1234n },
];

const readUnsigned = (bytes: Uint8Array, offset: number, width: number) => {
  let v = 0n;
  for (let i = width - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[offset + i]);
  return v;
};

/** What each SIMD load leaves in the 16 output bytes, from the real bytes at the address. */
function simdExpected(kind: string, ea: number): number[] {
  const b = (i: number) => real[at(ea) + i];
  const lanes = (n: number, f: (i: number) => number[]) => Array.from({ length: n }, (_, i) => f(i)).flat();
  const ext = (w: number, signed: boolean, count: number) =>
    lanes(count, (i) => {
      let v = readUnsigned(real, at(ea) + i * w, w);
      if (signed && v >> BigInt(8 * w - 1)) v -= 1n << BigInt(8 * w);
      const out = BigInt.asUintN(16 * w, v);
      return Array.from({ length: 2 * w }, (_, k) => Number((out >> BigInt(8 * k)) & 0xffn));
    });
  switch (kind) {
    case "v128.load": return lanes(16, (i) => [b(i)]);
    case "v128.load8_splat": return lanes(16, () => [b(0)]);
    case "v128.load16_splat": return lanes(8, () => [b(0), b(1)]);
    case "v128.load32_splat": return lanes(4, () => [0, 1, 2, 3].map(b));
    case "v128.load64_splat": return lanes(2, () => [0, 1, 2, 3, 4, 5, 6, 7].map(b));
    case "v128.load8x8_s": return ext(1, true, 8);
    case "v128.load16x4_u": return ext(2, false, 4);
    case "v128.load32x2_s": return ext(4, true, 2);
    case "v128.load32_zero": return [...[0, 1, 2, 3].map(b), ...new Array(12).fill(0)];
    case "v128.load64_zero": return [...[0, 1, 2, 3, 4, 5, 6, 7].map(b), ...new Array(8).fill(0)];
    default: throw new Error(kind);
  }
}

const SIMD_LOADS = [
  ["v128.load", 16], ["v128.load8_splat", 1], ["v128.load16_splat", 2], ["v128.load32_splat", 4], ["v128.load64_splat", 8],
  ["v128.load8x8_s", 8], ["v128.load16x4_u", 8], ["v128.load32x2_s", 8], ["v128.load32_zero", 4], ["v128.load64_zero", 8],
] as const;

/** Lane loads replace lane `lane` of a zero vector; lane stores write lane `lane` of 0, 1, 2, ... 15. */
const LANES = [
  { width: 1, lane: 3 },
  { width: 2, lane: 2 },
  { width: 4, lane: 1 },
  { width: 8, lane: 1 },
];

const out = (host: FakeHost) => [...host.bytes.slice(OUT, OUT + 16)];

for (const mode of MODES) {
  const atomics = suite(`instrument: atomics (${mode.name})`);
  for (const c of RMW) {
    atomics(`${c.instr} faults with the write of its page and returns the real old value`, () => {
      const host = absentPage();
      const arg = c.type === "i64" ? `(i64.const ${c.arg})` : `(i32.const ${c.arg})`;
      const f = host.instantiate(module(`(func (export "f") (param $p i32) (result ${c.type}) (${c.instr} offset=8 (local.get $p) ${arg}))`), mode.options);
      const old = readUnsigned(real, at(EA), c.width);
      const result = call(f, "f", EA - 8);
      assert.equal(BigInt(result as number | bigint), old);
      assert.equal(host.faults, [[page, page, W]]);
      assert.equal(readUnsigned(host.bytes, EA, c.width), BigInt.asUintN(8 * c.width, c.next(old)));
    });
  }
  atomics("i32.atomic.rmw.cmpxchg faults with the write and swaps when the real value matches", () => {
    const host = absentPage();
    const f = host.instantiate(module(`(func (export "f") (param $p i32) (param $e i32) (result i32) (i32.atomic.rmw.cmpxchg (local.get $p) (local.get $e) (i32.const 99)))`), mode.options);
    const old = realView.getInt32(at(EA), true);
    assert.equal(call(f, "f", EA, old), old);
    assert.equal(host.faults, [[page, page, W]]);
    assert.equal(new DataView(host.bytes.buffer).getInt32(EA, true), 99);
  });
  atomics("i64.atomic.rmw8.cmpxchg_u straddles nothing and faults with the write", () => {
    const host = absentPage();
    const f = host.instantiate(module(`(func (export "f") (param $p i32) (result i64) (i64.atomic.rmw8.cmpxchg_u offset=3 (local.get $p) (i64.const 0) (i64.const 1)))`), mode.options);
    assert.equal(call(f, "f", EA), BigInt(real[at(EA + 3)]));
    assert.equal(host.faults, [[page, page, W]]);
  });
  atomics("memory.atomic.wait32 with offset faults with the read and sees the real value", () => {
    const host = absentPage();
    const f = host.instantiate(module(`(func (export "f") (param $p i32) (param $e i32) (result i32) (memory.atomic.wait32 offset=4 (local.get $p) (local.get $e) (i64.const 0)))`), mode.options);
    // 1 = "not-equal": the real value differs from the garbage the absent page held.
    assert.equal(call(f, "f", EA - 4, 0xeeeeeeee | 0), 1);
    assert.equal(host.faults, [[page, page, R]]);
  });
  atomics("memory.atomic.wait64 checks 8 bytes: it faults only when they reach into an absent page", () => {
    const host = new FakeHost();
    host.takeAway(page + 1);
    const f = host.instantiate(module(`(func (export "f") (param $p i32) (result i32) (memory.atomic.wait64 (local.get $p) (i64.const 1) (i64.const 0)))`), mode.options);
    assert.equal(call(f, "f", pageAddress(page + 1) - 8), 1);
    assert.equal(host.faults, []);
    assert.equal(call(f, "f", pageAddress(page + 1)), 1);
    assert.equal(host.faults, [[page + 1, page + 1, R]]);
  });
  atomics("memory.atomic.notify with offset faults with the read", () => {
    const host = absentPage();
    const f = host.instantiate(module(`(func (export "f") (param $p i32) (result i32) (memory.atomic.notify offset=12 (local.get $p) (i32.const 1)))`), mode.options);
    assert.equal(call(f, "f", EA - 12), 0);
    assert.equal(host.faults, [[page, page, R]]);
  });
  atomics.run();

  const simd = suite(`instrument: SIMD (${mode.name})`);
  for (const [kind, width] of SIMD_LOADS) {
    simd(`${kind} faults with the read of ${width} bytes and loads the real bytes`, () => {
      const host = absentPage();
      const f = host.instantiate(module(`(func (export "f") (param $p i32) (v128.store (i32.const ${OUT}) (${kind} offset=16 (local.get $p))))`), mode.options);
      call(f, "f", EA - 16);
      assert.equal(host.faults, [[page, page, Access.Read]]);
      assert.equal(out(host), simdExpected(kind, EA));
    });
    simd(`${kind} straddles into the next page only when its ${width} bytes do`, () => {
      const host = new FakeHost();
      host.takeAway(page + 1);
      const f = host.instantiate(module(`(func (export "f") (param $p i32) (v128.store (i32.const ${OUT}) (${kind} (local.get $p))))`), mode.options);
      call(f, "f", pageAddress(page + 1) - width);
      assert.equal(host.faults, []);
      call(f, "f", pageAddress(page + 1) - width + 1);
      assert.equal(host.faults, width === 1 ? [[page + 1, page + 1, R]] : [[page, page + 1, R]]);
    });
  }
  for (const { width, lane } of LANES) {
    const bits = width * 8;
    simd(`v128.load${bits}_lane ${lane} faults with the read of ${width} bytes and fills only its lane`, () => {
      const host = absentPage();
      const f = host.instantiate(module(`(func (export "f") (param $p i32) (v128.store (i32.const ${OUT}) (v128.load${bits}_lane offset=2 ${lane} (local.get $p) (v128.const i64x2 0 0))))`), mode.options);
      call(f, "f", EA - 2);
      assert.equal(host.faults, [[page, page, R]]);
      const expected = new Array(16).fill(0);
      for (let i = 0; i < width; i++) expected[lane * width + i] = real[at(EA) + i];
      assert.equal(out(host), expected);
    });
    simd(`v128.store${bits}_lane ${lane} faults with the write of ${width} bytes and writes only its lane`, () => {
      const host = absentPage();
      const f = host.instantiate(module(`(func (export "f") (param $p i32) (v128.store${bits}_lane offset=4 ${lane} (local.get $p) (v128.const i8x16 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15)))`), mode.options);
      call(f, "f", EA - 4);
      assert.equal(host.faults, [[page, page, W]]);
      const expected = [...real];
      for (let i = 0; i < width; i++) expected[at(EA) + i] = lane * width + i;
      assert.equal([...host.bytes.slice(pageAddress(page), pageAddress(page) + PAGE)], expected);
    });
  }
  simd("v128.store of a computed vector faults with the write and stores the vector", () => {
    const host = absentPage();
    const f = host.instantiate(module(`(func (export "f") (param $p i32) (param $x i32) (v128.store offset=32 (local.get $p) (i8x16.splat (local.get $x))))`), mode.options);
    call(f, "f", EA - 32, 0x5a);
    assert.equal(host.faults, [[page, page, W]]);
    assert.equal([...host.bytes.slice(EA, EA + 16)], new Array(16).fill(0x5a));
  });
  simd("v128.store straddling two absent pages faults with both and writes 16 bytes", () => {
    const host = new FakeHost();
    host.takeAway(page);
    host.takeAway(page + 1);
    const f = host.instantiate(module(`(func (export "f") (param $p i32) (v128.store offset=1 (local.get $p) (v128.const i8x16 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16)))`), mode.options);
    call(f, "f", pageAddress(page + 1) - 9);
    assert.equal(host.faults, [[page, page + 1, W]]);
    assert.equal([...host.bytes.slice(pageAddress(page + 1) - 8, pageAddress(page + 1) + 8)], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
  });
  simd.run();
}
