/**
 * The access-check pass as a whole: its output for a small module, pinned as golden WAT; the
 * modules it refuses, with their messages; and the example kernels, which must validate and give
 * the uninstrumented result, also when every shared page starts absent.
 *
 * Golden file: test/golden/instrument_small.wat. Regenerate it only on purpose, after checking
 * the difference by eye: DSM_UPDATE_GOLDEN=1 node dist/test/instrument_kernels.test.js
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import binaryen from "binaryen";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { computeLayout, type Layout } from "../src/abi.js";
import { compileKernel } from "../src/instrument/compile.js";
import { instrument, InstrumentError, toText } from "../src/instrument/instrument.js";
import { FakeHost, LAYOUT, module } from "./helpers/instrument_harness.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const GOLDEN = join(ROOT, "test", "golden", "instrument_small.wat");

const SMALL = `
  (func (export "load") (param $p i32) (result i32) (i32.load offset=8 (local.get $p)))
  (func (export "store") (param $p i32) (i32.store (local.get $p) (call $touch (i32.const 1))))
  (func (export "fill") (param $p i32) (param $n i32) (memory.fill (local.get $p) (i32.const 0) (local.get $n)))
  (func (export "sum") (param $a i32) (param $n i32) (result i32) (local $i i32) (local $s i32)
    (loop $next
      (local.set $s (i32.add (local.get $s) (i32.load (i32.add (local.get $a) (i32.shl (local.get $i) (i32.const 2))))))
      (br_if $next (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (local.get $s))
  (func (export "scale") (param $a i32) (param $n i32) (local $i i32)
    (loop $next
      (if (i32.lt_s (local.get $i) (local.get $n))
        (then
          (f64.store (i32.add (local.get $a) (i32.shl (local.get $i) (i32.const 3)))
            (f64.mul (f64.load (i32.add (local.get $a) (i32.shl (local.get $i) (i32.const 3)))) (f64.const 2)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $next)))))
  (func (export "calls") (param $n i32) (local $i i32)
    (loop $next
      (drop (call $touch (local.get $i)))
      (br_if $next (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n)))))`;

const golden = suite("instrument: golden output");
golden("a small module instruments to exactly the pinned text", () => {
  const text = toText(instrument(module(SMALL), LAYOUT));
  if (process.env.DSM_UPDATE_GOLDEN === "1") writeFileSync(GOLDEN, text);
  assert.fixture(text, readFileSync(GOLDEN, "utf8"));
});
golden.run();

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected an error");
}

const refused = suite("instrument: modules it refuses (fail closed)");
refused("an instruction it does not know is refused, naming the function and the instruction", () => {
  const error = errorOf(() => instrument(module(`(table 2 funcref) (func (export "shuffle") (table.copy (i32.const 0) (i32.const 1) (i32.const 1)))`), LAYOUT));
  assert.instance(error, InstrumentError);
  assert.is(error.name, "InstrumentError");
  assert.is(error.message, `function "shuffle": cannot instrument instruction "TableCopy"; kernels may use plain, atomic, SIMD and bulk memory instructions only, so build without that feature`);
});
refused("an unknown instruction nested deep inside a known one is found too", () => {
  const error = errorOf(() =>
    instrument(module(`(table 2 funcref) (func (export "deep") (result i32) (i32.add (i32.const 1) (block (result i32) (table.copy (i32.const 0) (i32.const 1) (i32.const 1)) (i32.load (i32.const 0)))))`), LAYOUT),
  );
  assert.is(error.message, `function "deep": cannot instrument instruction "TableCopy"; kernels may use plain, atomic, SIMD and bulk memory instructions only, so build without that feature`);
});
refused("an instrumented module is not instrumented twice", () => {
  const once = instrument(module(`(func (export "f"))`), LAYOUT);
  assert.is(errorOf(() => instrument(once, LAYOUT)).message, `the module already imports "dsm" "__fault"; instrument the uninstrumented kernel`);
});
refused("bytes that are not a module are refused", () => {
  assert.is(errorOf(() => instrument(new Uint8Array([0, 1, 2, 3]), LAYOUT)).message, "cannot read the module: it is not a valid WebAssembly binary; pass the bytes of a compiled kernel");
});
refused("a memory without a maximum below 4 GiB is refused", () => {
  const m = binaryen.parseText(`(module (memory 1) (func (export "f")))`);
  const bytes = m.emitBinary();
  m.dispose();
  assert.is(errorOf(() => instrument(bytes, LAYOUT)).message, "the module's memory has maximum none (64 KiB pages); declare a maximum of at most 65535 pages (below 4 GiB)");
});
refused("a module without memory is refused", () => {
  const m = binaryen.parseText(`(module (func (export "f")))`);
  const bytes = m.emitBinary();
  m.dispose();
  assert.is(errorOf(() => instrument(bytes, LAYOUT)).message, "the module has no memory; compile the kernel with the imported shared memory");
});
refused.run();

/** 4 KiB pages, 1 MiB shared region, 8 MiB memory: small enough to instantiate many times. */
const KERNEL_LAYOUT = computeLayout({ pageSize: 4096, regionBytes: 1 << 20, maxMemoryBytes: 8 << 20 });
const KERNELS = [
  { name: "matmul", args: [40] },
  { name: "jacobi", args: [40, 4] },
  { name: "wordfreq", args: [3000, 3] },
];

/** The kernel API on one node, as the runtime provides it. */
function kernelImports(layout: Layout) {
  return {
    env: {
      abort: (_msg: number, _file: number, line: number, column: number) => {
        throw new Error(`kernel aborted at ${line}:${column}`);
      },
    },
    dsm: {
      nodeId: () => 0,
      nodeCount: () => 1,
      barrier: (): void => {},
      lock: (_id: number): void => {},
      unlock: () => {},
      now: () => 0,
      regionBase: () => layout.regionBase,
      regionBytes: () => layout.regionBytes,
      pageSize: () => layout.pageSize,
      allocated: () => {},
    },
  };
}

/** Seeded PRNG (mulberry32), so that a failure reproduces. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t ^= t + Math.imul(t ^ (t >>> 7), 61 | t);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Makes `host` hostile: after every fault it takes away two pages the kernel used before (not
 * the ones just brought in) and now and then raises the poll flag; every poll and every barrier
 * or lock takes away three more. A check that trusts a page across any of these reads garbage.
 */
function hostile(host: FakeHost, imports: ReturnType<typeof kernelImports>): void {
  const random = prng(42);
  const used = new Set<number>();
  const takeSome = (count: number, spare: (p: number) => boolean) => {
    const pages = [...used].filter((p) => !spare(p));
    for (let i = 0; i < count && pages.length > 0; i++) host.takeAway(pages[Math.floor(random() * pages.length)]);
    if (random() < 0.3) host.setPollFlag(1);
  };
  host.maxFaults = 100_000;
  host.afterFault = ([first, last]) => {
    for (let p = first; p <= last; p++) used.add(p);
    takeSome(2, (p) => p >= first && p <= last);
  };
  host.onPoll = () => takeSome(3, () => false);
  imports.dsm.barrier = () => takeSome(3, () => false);
  imports.dsm.lock = () => takeSome(3, () => false);
}

function runKernel(wasm: Uint8Array, args: number[], options: { plain?: boolean; absent?: boolean; hostile?: boolean }) {
  const host = new FakeHost(KERNEL_LAYOUT);
  const first = KERNEL_LAYOUT.regionBase / KERNEL_LAYOUT.pageSize;
  const end = first + KERNEL_LAYOUT.regionBytes / KERNEL_LAYOUT.pageSize;
  if (options.absent) for (let p = first; p < end; p++) host.takeAway(p);
  const imports = kernelImports(KERNEL_LAYOUT);
  if (options.hostile) hostile(host, imports);
  const exports = host.instantiate(wasm, { plain: options.plain }, imports) as unknown as { _start(): void; run(...a: number[]): unknown };
  exports._start();
  return { result: exports.run(...args), host, first, end };
}

const kernels = suite("instrument: example kernels");
const compiled = new Map<string, Uint8Array>();
kernels.before(async () => {
  for (const k of KERNELS) compiled.set(k.name, await compileKernel(join(ROOT, "assembly", "kernels", `${k.name}.ts`), KERNEL_LAYOUT));
});
for (const k of KERNELS) {
  kernels(`${k.name} instrumented gives the plain result with every page read-write, without faults or polls`, () => {
    const plain = runKernel(compiled.get(k.name)!, k.args, { plain: true });
    const checked = runKernel(compiled.get(k.name)!, k.args, {});
    assert.is(checked.result, plain.result);
    assert.equal(checked.host.faults, []);
    assert.is(checked.host.polls, 0);
  });
  kernels(`${k.name} instrumented gives the plain result when every shared page starts absent, faulting each page at most once`, () => {
    const plain = runKernel(compiled.get(k.name)!, k.args, { plain: true });
    const checked = runKernel(compiled.get(k.name)!, k.args, { absent: true });
    assert.is(checked.result, plain.result);
    const pages = checked.host.faults.flatMap(([a, b]) => Array.from({ length: b - a + 1 }, (_, i) => a + i));
    assert.ok(pages.length > 0, "expected faults on shared pages");
    assert.is(new Set(pages).size, pages.length, `a page faulted twice: ${JSON.stringify(checked.host.faults)}`);
    assert.ok(pages.every((p) => p >= checked.first && p < checked.end), `a fault outside the shared region: ${JSON.stringify(checked.host.faults)}`);
  });
}
for (const k of KERNELS) {
  kernels(`${k.name} instrumented gives the plain result while a hostile host keeps taking its pages away`, () => {
    const plain = runKernel(compiled.get(k.name)!, k.args, { plain: true });
    const checked = runKernel(compiled.get(k.name)!, k.args, { absent: true, hostile: true });
    assert.is(checked.result, plain.result);
    assert.ok(checked.host.polls > 0, "expected polls");
  });
}
kernels("every kernel in assembly/kernels instruments to a module V8 accepts", async () => {
  const dir = join(ROOT, "assembly", "kernels");
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".ts"))) {
    const wasm = compiled.get(file.replace(/\.ts$/, "")) ?? (await compileKernel(join(dir, file), KERNEL_LAYOUT));
    assert.ok(WebAssembly.validate(instrument(wasm, KERNEL_LAYOUT) as Uint8Array<ArrayBuffer>), `${file} does not validate`);
  }
});
kernels.run();
