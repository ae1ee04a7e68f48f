/**
 * Loop versioning (src/instrument/loop_version.ts): a counted loop with affine addresses runs an
 * unchecked copy when one guard finds all its pages allowed, falls back to the checked loop
 * otherwise, and leaves the copy for the checked loop at a poll, so that pages the host took
 * while the kernel was parked are checked again. Loops that wait on a flag keep their checks.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Access } from "../src/abi.js";
import { instrument, toText } from "../src/instrument/instrument.js";
import { verifyChecks } from "../src/instrument/verify_checks.js";
import { call, COUNTED_SUM, FakeHost, fillElements, LAYOUT, module, PAGE, pageAddress, regionPage, sumOf } from "./helpers/instrument_harness.js";

const R = Access.Read;
const W = Access.Write;
const base = regionPage(4);

/** `for (let i = 0; i < n; i++) b[i] = a[i + 1]`, reading after the increment. */
const COPY = `(func (export "copy") (param $a i32) (param $b i32) (param $n i32) (local $i i32)
  (loop $next
    (if (i32.gt_s (local.get $n) (local.get $i))
      (then
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (i32.store (i32.sub (i32.add (local.get $b) (i32.shl (local.get $i) (i32.const 2))) (i32.const 4))
          (i32.load (i32.add (local.get $a) (i32.shl (local.get $i) (i32.const 2)))))
        (br $next)))))`;

/** `while (load(flag) == 0) {}` */
const SPIN = `(func (export "spin") (param $flag i32) (result i32)
  (loop $wait (br_if $wait (i32.eqz (i32.load (local.get $flag)))))
  (i32.load (local.get $flag)))`;

const loops = (wasm: Uint8Array, versioning: boolean) => (toText(instrumented(wasm, versioning)).match(/\(loop /g) ?? []).length;
const instrumented = (wasm: Uint8Array, versioning: boolean) => instrument(wasm, LAYOUT, { optimizations: { versioning } });

const N = (3 * PAGE) / 4;

const Shape = suite("loop versioning: which loops get an unchecked copy");

Shape("a counted loop gets one unchecked copy, and the verifier proves the result", () => {
  const wasm = module(COUNTED_SUM);
  assert.is(loops(wasm, false), 1 + 2); // the loop, and the range helper's two scans
  assert.is(loops(wasm, true), 2 + 2 + 2); // the checked loop and its copy, the range helper's and the guard helper's scans
  assert.equal(verifyChecks(instrumented(wasm, true), LAYOUT), []);
});

Shape("a loop waiting on a flag is not copied and keeps its checks", () => {
  const wasm = module(SPIN);
  assert.is(loops(wasm, true), loops(wasm, false));
  const host = new FakeHost();
  host.fill(pageAddress(base), new Uint8Array([1, 0, 0, 0]));
  host.takeAway(base);
  const f = host.instantiate(wasm);
  assert.is(call(f, "spin", pageAddress(base)), 1);
  assert.equal(host.faults, [[base, base, R]]);
});

const Runs = suite("loop versioning: what runs");

Runs("with every page present the loop sums without a fault or a poll", () => {
  const host = new FakeHost();
  const values = fillElements(host, pageAddress(base));
  const f = host.instantiate(module(COUNTED_SUM));
  assert.is(call(f, "sum", pageAddress(base), N), sumOf(values, N));
  assert.equal([host.faults, host.polls], [[], 0]);
});

Runs("with a page absent the guard fails and the checked loop faults on that page alone", () => {
  const host = new FakeHost();
  const values = fillElements(host, pageAddress(base));
  host.takeAway(base + 1);
  const f = host.instantiate(module(COUNTED_SUM));
  assert.is(call(f, "sum", pageAddress(base), N), sumOf(values, N));
  assert.equal(host.faults, [[base + 1, base + 1, R]]);
});

Runs("a page taken away during a poll in the unchecked copy is faulted back by the checked loop", () => {
  const host = new FakeHost();
  const values = fillElements(host, pageAddress(base));
  host.onPoll = (h) => h.takeAway(base + 2);
  const f = host.instantiate(module(COUNTED_SUM));
  host.setPollFlag(1);
  assert.is(call(f, "sum", pageAddress(base), N), sumOf(values, N));
  assert.equal([host.polls, host.faults], [1, [[base + 2, base + 2, R]]]);
});

Runs("an access after the increment is in the guard's range: its last read, alone on an absent page, faults", () => {
  const host = new FakeHost();
  const values = fillElements(host, pageAddress(base));
  const n = PAGE / 4; // reads a[1..n]: a[n] is the first element of the second page
  const dst = base + 3;
  host.takeAway(base + 1);
  const f = host.instantiate(module(COPY));
  call(f, "copy", pageAddress(base), pageAddress(dst), n);
  assert.equal(Array.from(new Int32Array(host.memory.buffer, pageAddress(dst), n)), values.slice(1, n + 1));
  assert.equal(host.faults, [[base + 1, base + 1, R]]);
});

Runs("a write whose page is absent faults from the checked loop, and the copy lands", () => {
  const host = new FakeHost();
  const values = fillElements(host, pageAddress(base));
  const dst = base + 3;
  host.takeAway(dst);
  const f = host.instantiate(module(COPY));
  call(f, "copy", pageAddress(base), pageAddress(dst), PAGE / 4 - 1);
  assert.equal(Array.from(new Int32Array(host.memory.buffer, pageAddress(dst), PAGE / 4 - 1)), values.slice(1, PAGE / 4));
  assert.equal(host.faults, [[dst, dst, W]]);
});

Runs("a loop whose range ends past 4 GiB falls back to the checked loop, which traps like the plain module", () => {
  const host = new FakeHost();
  const f = host.instantiate(module(COUNTED_SUM));
  assert.throws(() => call(f, "sum", -8, 4), (error: Error) => error instanceof WebAssembly.RuntimeError);
});

Shape.run();
Runs.run();
