/**
 * The check verifier (src/instrument/verify_checks.ts): it flags every access of a hand-made
 * module that no check covers, accepts hand-made checks that cover, and proves every suite
 * kernel and every fixture the pass instruments, with every combination of optimisations.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import binaryen from "binaryen";
import { instrument } from "../src/instrument/instrument.js";
import { assertChecked, UncheckedAccessError, verifyChecks } from "../src/instrument/verify_checks.js";
import { COUNTED_SUM, LAYOUT, module, rewriteFunctions } from "./helpers/instrument_harness.js";
import { SUITE } from "./helpers/suite.js";
import { buildSuiteVariant } from "./helpers/suite_build.js";

const FAULT = `(import "dsm" "__fault" (func $fault (param i32 i32 i32)))`;
const page = (addr: string) => `(i32.shr_u ${addr} (i32.const 12))`;
const byte = (addr: string) => `(i32.load8_u offset=4096 ${page(addr)})`;
/** The unoptimised read check of the 4 bytes at $p + off. */
const readCheck = (off: number) =>
  `(if (i32.and (i32.or ${byte(`(i32.add (local.get $p) (i32.const ${off}))`)} ${byte(`(i32.add (local.get $p) (i32.const ${off + 3}))`)}) (i32.const 2))
     (then (call $fault ${page(`(i32.add (local.get $p) (i32.const ${off}))`)} ${page(`(i32.add (local.get $p) (i32.const ${off + 3}))`)} (i32.const 0))))`;

const verify = (body: string) => verifyChecks(module(`${FAULT} ${body}`), LAYOUT);

const Flags = suite("the check verifier flags unchecked accesses");

Flags("a load with no check is reported with its function, kind and bytes", () => {
  assert.equal(verify(`(func (export "f") (param $p i32) (result i32) (i32.load offset=8 (local.get $p)))`), [
    { func: "f", instruction: "Load", detail: "of 4 byte(s) at l0 + 8 (read) is not covered by a check" },
  ]);
});

Flags("a check followed by a call no longer covers the access", () => {
  const found = verify(`(func (export "f") (param $p i32) (result i32) ${readCheck(0)} (drop (call $touch (i32.const 1))) (i32.load (local.get $p)))`);
  assert.equal(found.map((f) => f.instruction), ["Load"]);
});

Flags("a check of other bytes, or a read check before a write, does not cover the access", () => {
  const other = verify(`(func (export "f") (param $p i32) (result i32) ${readCheck(0)} (i32.load offset=4096 (local.get $p)))`);
  assert.equal(other.map((f) => f.detail), ["of 4 byte(s) at l0 + 4096 (read) is not covered by a check"]);
  const write = verify(`(func (export "f") (param $p i32) ${readCheck(0)} (i32.store (local.get $p) (i32.const 1)))`);
  assert.equal(write.map((f) => f.detail), ["of 4 byte(s) at l0 + 0 (write) is not covered by a check"]);
});

Flags("a check on one arm of an if does not cover an access after it", () => {
  const found = verify(`(func (export "f") (param $p i32) (param $c i32) (result i32) (if (local.get $c) (then ${readCheck(0)})) (i32.load (local.get $p)))`);
  assert.equal(found.length, 1);
});

Flags("a write of the address variable between check and access voids the check", () => {
  const found = verify(`(func (export "f") (param $p i32) (result i32) ${readCheck(0)} (local.set $p (i32.add (local.get $p) (i32.const 4))) (i32.load (local.get $p)))`);
  assert.equal(found.length, 1);
});

Flags("a cached page slot set without a check does not cover an access", () => {
  const found = verify(`(func (export "f") (param $p i32) (result i32) (local $s i32)
    (local.set $s (i32.and (local.get $p) (i32.const -4096)))
    (if (i32.gt_u (i32.sub (local.get $p) (local.get $s)) (i32.const 4092)) (then ${readCheck(0)}))
    (i32.load (local.get $p)))`);
  assert.equal(found.length, 1);
});

Flags("a memory.fill with no range check is reported", () => {
  assert.equal(verify(`(func (export "f") (param $p i32) (param $n i32) (memory.fill (local.get $p) (i32.const 0) (local.get $n)))`), [
    { func: "f", instruction: "MemoryFill", detail: "range write of operand 0 is not covered by a range check" },
  ]);
});

/** `wasm` with the last term of every versioned loop's guard dropped (the guard checks less). */
function withWeakerGuard(wasm: Uint8Array): Uint8Array {
  return rewriteFunctions(wasm, (e, id) => {
    const info = (id === binaryen.BreakId ? binaryen.getExpressionInfo(e) : {}) as unknown as { condition?: number };
    if (info.condition && binaryen.getExpressionId(info.condition) === binaryen.UnaryId) {
      const guard = (binaryen.getExpressionInfo(info.condition) as unknown as { value: number }).value;
      if (binaryen.getExpressionId(guard) === binaryen.BinaryId && (binaryen.getExpressionInfo(guard) as unknown as { op: number }).op === binaryen.AndInt32) {
        (binaryen as unknown as { Unary: { setValue(e: number, v: number): void } }).Unary.setValue(info.condition, (binaryen.getExpressionInfo(guard) as unknown as { left: number }).left);
      }
    }
  });
}

Flags("an unchecked loop copy whose guard misses a term is reported", () => {
  const versioned = instrument(module(COUNTED_SUM), LAYOUT, {});
  assert.equal(verifyChecks(versioned, LAYOUT), []);
  assert.equal(verifyChecks(withWeakerGuard(versioned), LAYOUT), [
    { func: "sum", instruction: "Load", detail: "has an address the verifier cannot follow" },
  ]);
});

Flags("an unchecked copy of a bottom-tested loop (clang's shape) whose guard misses a term is reported", () => {
  const wasm = module(`(func (export "double") (param $a i32) (param $b i32) (param $n i32)
    (loop $l
      (i32.store (local.get $b) (i32.shl (i32.load (local.get $a)) (i32.const 1)))
      (local.set $a (i32.add (local.get $a) (i32.const 4)))
      (local.set $b (i32.add (local.get $b) (i32.const 4)))
      (br_if $l (local.tee $n (i32.add (local.get $n) (i32.const -1))))))`);
  const versioned = instrument(wasm, LAYOUT, {});
  assert.equal(verifyChecks(versioned, LAYOUT), []);
  assert.equal(verifyChecks(withWeakerGuard(versioned), LAYOUT), [
    { func: "double", instruction: "Load", detail: "of 4 byte(s) at l0 + 0 (read) is not covered by a check" },
    { func: "double", instruction: "Store", detail: "of 4 byte(s) at l1 + 0 (write) is not covered by a check" },
  ]);
});

/** A pair test (src/instrument/pair_loads.ts) of page($p) and the next, masked with `mask`; a miss traps. */
const pairCheck = (mask: number) => `(if (i32.and (i32.load16_u offset=4096 ${page("(local.get $p)")}) (i32.const ${mask})) (then (unreachable)))`;

Flags("a pair test masked with NO_READ alone, or an access past the next page, is reported", () => {
  const low = verify(`(func (export "f") (param $p i32) (result i32) ${pairCheck(2)} (i32.load offset=4093 (local.get $p)))`);
  assert.equal(low.map((f) => f.detail), ["of 4 byte(s) at l0 + 4093 (read) is not covered by a check"]);
  const far = verify(`(func (export "f") (param $p i32) (result i32) ${pairCheck(0x0202)} (i32.load offset=4097 (local.get $p)))`);
  assert.equal(far.map((f) => f.detail), ["of 4 byte(s) at l0 + 4097 (read) is not covered by a check"]);
});

/** `wasm` with every pair test's read mask 0x0202 weakened to NO_READ (the second page untested). */
function withWeakerPairMask(wasm: Uint8Array): Uint8Array {
  return rewriteFunctions(wasm, (e, id) => {
    if (id === binaryen.ConstId && binaryen.getExpressionType(e) === binaryen.i32 && (binaryen.getExpressionInfo(e) as unknown as { value: number }).value === 0x0202) {
      (binaryen as unknown as { Const: { setValueI32(e: number, v: number): void } }).Const.setValueI32(e, 2);
    }
  });
}

Flags("the pass's pair tests weakened to test one page are reported, access by access", () => {
  const wasm = module(`(func (export "f") (param $p i32) (result i32) (i32.add (i32.load offset=8 (local.get $p)) (i32.load offset=64 (local.get $p))))`);
  const checked = instrument(wasm, LAYOUT, {});
  assert.equal(verifyChecks(checked, LAYOUT), []);
  assert.equal(verifyChecks(withWeakerPairMask(checked), LAYOUT).map((f) => f.detail), [
    "of 4 byte(s) at l0 + 8 (read) is not covered by a check",
    "of 4 byte(s) at l0 + 64 (read) is not covered by a check",
  ]);
});

/** A stack frame with no checks: pop-free push after an overflow test at `limit`, then `between`, then a store at $sp + `at`. */
const stackFrame = (limit: number, between = "", at = 0, exported = false) => `
  (global $sp (mut i32) (i32.const ${LAYOUT.memoryBase + 65536})) ${exported ? `(export "sp" (global $sp))` : ""}
  (func $inner (global.set $sp (i32.const 0)))
  (func (export "f")
    (global.set $sp (i32.sub (global.get $sp) (i32.const 8)))
    (if (i32.lt_s (global.get $sp) (i32.const ${limit})) (then (unreachable)))
    ${between}
    (i32.store (i32.add (global.get $sp) (i32.const ${at})) (i32.const 1)))`;
const stackReport = (at: number) => [{ func: "f", instruction: "Store", detail: `of 4 byte(s) at gglobal$0 + ${at} (write) is not covered by a check` }];

Flags("a stack store the bound does not prove private is reported: limit below memoryBase, below the bound, after a call that may write the global", () => {
  const mb = LAYOUT.memoryBase;
  assert.equal(verify(stackFrame(mb - 4)), stackReport(0));
  assert.equal(verify(stackFrame(mb, "", -4)), stackReport(-4));
  assert.equal(verify(stackFrame(mb, "(call $inner)")), stackReport(0));
  assert.equal(verify(stackFrame(mb, "(call $hook)", 0, true)), stackReport(0)); // the host can write an exported global
  assert.equal(verify(stackFrame(mb, "(global.set $sp (i32.mul (global.get $sp) (i32.const 2)))")), stackReport(0));
});

Flags("assertChecked throws UncheckedAccessError naming the source and the first access", () => {
  const wasm = module(`(func (export "f") (param $p i32) (result i32) (i32.load (local.get $p)))`);
  try {
    assertChecked(wasm, LAYOUT, "k.ts");
    assert.unreachable("no error");
  } catch (error) {
    assert.instance(error, UncheckedAccessError);
    assert.is((error as Error).message, 'k.ts: 1 memory access(es) not covered by a check, first in function "f": Load of 4 byte(s) at l0 + 0 (read) is not covered by a check; this is a bug in the instrumentation, report it with the kernel');
  }
});

const Accepts = suite("the check verifier accepts checked accesses");

Accepts("a hand-made check covers the access on both paths", () => {
  assert.equal(verify(`(func (export "f") (param $p i32) (result i32) ${readCheck(0)} (i32.load (local.get $p)))`), []);
});

Accepts("two page checks less than a page apart cover the bytes between them", () => {
  assert.equal(verify(`(func (export "f") (param $p i32) (result i32) ${readCheck(0)} (i32.load16_u offset=1 (local.get $p)))`), []);
});

Accepts("a pair test covers an access straddling its page and the next", () => {
  assert.equal(verify(`(func (export "f") (param $p i32) (result i32) ${pairCheck(0x0202)} (i32.load offset=4093 (local.get $p)))`), []);
  const writeCheck = `(if (i32.load16_u offset=4096 ${page("(local.get $p)")}) (then (unreachable)))`;
  assert.equal(verify(`(func (export "f") (param $p i32) ${writeCheck} (i32.store offset=4092 (local.get $p) (i32.const 1)))`), []);
});

Accepts("a bound from an overflow test proves stack stores private, across pops, pushes and import calls", () => {
  const mb = LAYOUT.memoryBase;
  assert.equal(verify(stackFrame(mb)), []);
  assert.equal(verify(stackFrame(mb, "(global.set $sp (i32.add (global.get $sp) (i32.const 8))) (call $hook)", -8)), []);
});

Accepts("every fixture shape the pass instruments is proven, in both modes", () => {
  const wasm = module(`
    (func (export "f") (param $p i32) (param $n i32) (result i32) (local $i i32) (local $s i32)
      (memory.copy (local.get $p) (i32.add (local.get $p) (i32.const 64)) (local.get $n))
      (drop (i32.atomic.rmw.add (local.get $p) (i32.const 1)))
      (v128.store offset=16 (local.get $p) (v128.load offset=32 (local.get $p)))
      (loop $l
        (local.set $s (i32.add (local.get $s) (i32.load (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 2))))))
        (i64.store offset=4 (local.get $p) (i64.const 1))
        (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
      (local.get $s))`);
  for (const optimizeChecks of [true, false]) assert.equal(verifyChecks(instrument(wasm, LAYOUT, { optimizeChecks }), LAYOUT), [], `optimizeChecks ${optimizeChecks}`);
});

Accepts("every suite kernel is proven with every optimisation on and with none", async () => {
  for (const k of SUITE) {
    for (const optimizeChecks of [true, false]) {
      const kernel = await buildSuiteVariant(k.file, { optimizeChecks }); // asserts the proof
      assert.is(kernel.meta.instrumented, true);
    }
  }
});

Flags.run();
Accepts.run();
