import { suite } from "uvu";
import * as assert from "uvu/assert";
import { fileURLToPath } from "node:url";
import { computeLayout } from "../src/abi.js";
import { compileKernel } from "../src/instrument/compile.js";
import {
  checkLinearizable,
  CheckBudgetError,
  decodeHistoryLog,
  HISTORY_MAGIC,
  HistoryError,
  HistoryLogError,
  historyLogBytes,
  type CheckResult,
  type Operation,
} from "../src/verify/index.js";
import { prng } from "./helpers/random.js";


const w = (node: number, value: number, start: number, end: number, address = 0): Operation => ({ node, kind: "write", address, value, start, end });
const r = (node: number, value: number, start: number, end: number, address = 0): Operation => ({ node, kind: "read", address, value, start, end });

function catchError(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected an error, none was thrown");
}

function refused(history: Operation[]) {
  const result = checkLinearizable(history);
  if (result.ok) assert.unreachable("the history was accepted but is not linearizable");
  return result as Extract<CheckResult, { ok: false }>;
}

const Accepts = suite("checkLinearizable: linearizable histories");

Accepts("an empty history is linearizable", () => {
  assert.equal(checkLinearizable([]), { ok: true, operations: 0 });
});

Accepts("sequential writes and reads are linearizable", () => {
  assert.equal(checkLinearizable([w(0, 1, 0, 1), r(1, 1, 2, 3), w(1, 2, 4, 5), r(0, 2, 6, 7)]), { ok: true, operations: 4 });
});

Accepts("a read concurrent with a write may return either value", () => {
  assert.equal(checkLinearizable([w(0, 1, 0, 10), r(1, 0, 2, 4), r(2, 1, 3, 5)]), { ok: true, operations: 3 });
});

Accepts("intervals that touch count as concurrent", () => {
  assert.equal(checkLinearizable([w(0, 1, 0, 10), r(1, 0, 10, 20)]), { ok: true, operations: 2 });
});

Accepts("reads agreeing on the order of concurrent writes are linearizable", () => {
  const history = [w(0, 1, 0, 100), w(1, 2, 0, 100), r(2, 1, 10, 20), r(2, 2, 30, 40), r(3, 1, 10, 20), r(3, 2, 30, 40)];
  assert.equal(checkLinearizable(history), { ok: true, operations: 6 });
});

Accepts("the initial value is what reads see before any write", () => {
  assert.equal(checkLinearizable([r(0, 7, 0, 1), w(0, 1, 2, 3)], 7), { ok: true, operations: 2 });
  assert.is(checkLinearizable([r(0, 7, 0, 1)]).ok, false);
});

Accepts("addresses are checked separately", () => {
  // As one register this would be a stale read; as two it is fine.
  assert.equal(checkLinearizable([w(0, 5, 0, 10, 8), r(1, 0, 20, 30, 12)]), { ok: true, operations: 2 });
});

/**
 * A linearizable history by construction: operations take effect one by one on real registers at
 * increasing instants, and each gets a random interval around its instant.
 */
function realExecution(seed: number, ops: number, addresses: number, width: number): Operation[] {
  const rng = prng(seed);
  const registers = new Array<number>(addresses).fill(0);
  const history: Operation[] = [];
  for (let i = 0; i < ops; i++) {
    const at = i * 10 + rng.int(10);
    const address = 4 * rng.int(addresses);
    const kind = rng.next() < 0.5 ? "write" : "read";
    let value = registers[address / 4];
    if (kind === "write") registers[address / 4] = value = i + 1;
    const start = at - rng.int(width);
    history.push({ node: rng.int(4), kind, address, value, start, end: at + rng.int(width) });
  }
  return history;
}

Accepts("large random histories of a real sequential execution pass", () => {
  for (let seed = 1; seed <= 20; seed++) {
    const history = realExecution(seed, 400, 1 + (seed % 4), 10 + 5 * (seed % 8));
    assert.equal(checkLinearizable(history), { ok: true, operations: 400 }, `seed ${seed}`);
  }
});

const Rejects = suite("checkLinearizable: histories that are not linearizable");

Rejects("a stale read after a completed write is flagged", () => {
  const result = refused([w(0, 1, 0, 10), r(1, 0, 20, 30)]);
  assert.is(result.address, 0);
  assert.is(result.operations.length, 2);
  assert.is(
    result.reason,
    "no linearization of the 2 operations on address 0: at most 1 can be ordered, after which the register holds 1 and read of 0 by node 1 at [20, 30] µs cannot take effect",
  );
});

Rejects("two reads seeing the new value and then the old one are flagged", () => {
  const result = refused([w(0, 1, 0, 100), r(1, 1, 10, 20), r(2, 0, 30, 40)]);
  assert.is(result.reason.startsWith("no linearization of the 3 operations on address 0"), true);
});

Rejects("a read of a value never written is flagged", () => {
  const result = refused([w(0, 1, 0, 10), r(1, 9, 20, 30)]);
  assert.is(result.reason, "read of 9 by node 1 at [20, 30] µs returns a value never written (initial value 0)");
});

Rejects("a read of a value written only after the read returned is flagged", () => {
  const result = refused([r(1, 3, 0, 10), w(0, 3, 20, 30)]);
  assert.is(result.reason, "read of 3 by node 1 at [0, 10] µs returns a value first written at 20 µs, after the read returned");
});

Rejects("reads disagreeing on the order of concurrent writes are flagged", () => {
  const history = [w(0, 1, 0, 100), w(1, 2, 0, 100), r(2, 1, 10, 20), r(2, 2, 30, 40), r(3, 2, 10, 20), r(3, 1, 30, 40)];
  assert.is(refused(history).reason.startsWith("no linearization of the 6 operations on address 0"), true);
});

Rejects("a value changing after every write completed is flagged", () => {
  const history = [w(0, 1, 0, 10), w(1, 2, 0, 10), r(2, 1, 20, 30), r(2, 2, 40, 50)];
  assert.is(refused(history).ok, false);
});

Rejects("the failing address is reported and the others are not blamed", () => {
  const result = refused([w(0, 1, 0, 10, 4), r(1, 1, 20, 30, 4), w(0, 2, 0, 10, 8), r(1, 0, 20, 30, 8)]);
  assert.is(result.address, 8);
  assert.equal(result.operations, [w(0, 2, 0, 10, 8), r(1, 0, 20, 30, 8)]);
});

Rejects("a large real execution with one stale read appended is flagged", () => {
  const history = realExecution(99, 400, 2, 40);
  const lastWrite = history.filter((op) => op.kind === "write" && op.address === 0).at(-1)!;
  const earlier = history.find((op) => op.kind === "write" && op.address === 0 && op.value !== lastWrite.value)!;
  const late = 400 * 10 + 1000;
  // After every operation returned the register cannot change, so two different reads are stale.
  history.push(r(5, lastWrite.value, late, late + 1), r(5, earlier.value, late + 2, late + 3));
  assert.is(refused(history).address, 0);
});

/** Tries every order of a small one-register history that respects real time. */
function bruteForce(history: Operation[], initial: number): boolean {
  const n = history.length;
  const used = new Array<boolean>(n).fill(false);
  const extend = (placed: number, state: number): boolean => {
    if (placed === n) return true;
    for (let i = 0; i < n; i++) {
      if (used[i]) continue;
      // i may go next only if no other unplaced operation returned before i was called.
      if (history.some((o, j) => !used[j] && j !== i && o.end < history[i].start)) continue;
      const op = history[i];
      if (op.kind === "read" && op.value !== state) continue;
      used[i] = true;
      const ok = extend(placed + 1, op.kind === "write" ? op.value : state);
      used[i] = false;
      if (ok) return true;
    }
    return false;
  };
  return extend(0, initial);
}

Rejects("verdicts agree with trying every order on hundreds of small random histories", () => {
  const rng = prng(77);
  const verdicts = { ok: 0, not: 0 };
  for (let trial = 0; trial < 600; trial++) {
    const history: Operation[] = [];
    for (let i = 0, n = 1 + rng.int(7); i < n; i++) {
      const start = rng.int(40);
      const op = { node: rng.int(3), address: 0, value: rng.int(3), start, end: start + rng.int(25) };
      history.push(rng.next() < 0.5 ? { ...op, kind: "write" } : { ...op, kind: "read" });
    }
    const expected = bruteForce(history, 0);
    assert.is(checkLinearizable(history).ok, expected, `trial ${trial}: ${JSON.stringify(history)}`);
    verdicts[expected ? "ok" : "not"]++;
  }
  assert.ok(verdicts.ok > 100 && verdicts.not > 100, `${verdicts.ok} linearizable, ${verdicts.not} not: both verdicts must be reached`);
});

const Limits = suite("checkLinearizable: limits and input checks");

Limits("a search past its state budget is an error, not a verdict", () => {
  const history: Operation[] = [];
  for (let i = 1; i <= 14; i++) history.push(w(i, i, 0, 100));
  history.push(r(0, 0, 200, 210));
  const error = catchError(() => checkLinearizable(history, 0, { maxStates: 1000 }));
  assert.ok(error instanceof CheckBudgetError);
  assert.is(error.message, "address 0: gave up after 1000 search states (15 operations on it); check a shorter history or raise maxStates");
  assert.is((error as CheckBudgetError).address, 0);
});

Limits("an operation that ends before it starts is a HistoryError", () => {
  const error = catchError(() => checkLinearizable([w(0, 1, 0, 10), r(0, 1, 30, 20)]));
  assert.ok(error instanceof HistoryError);
  assert.is(error.message, "operation 1: starts at 30 µs after it ends at 20 µs; record start before end");
});

Limits("an operation of unknown kind is a HistoryError", () => {
  const bad = { ...w(0, 1, 0, 1), kind: "swap" } as unknown as Operation;
  assert.is(catchError(() => checkLinearizable([bad])).message, 'operation 0: kind "swap" is not "read" or "write"');
});

const Decode = suite("decodeHistoryLog");

/** A node's memory holding a log at `pointer`, written as the history kernel writes it. */
function syntheticMemory(pointer: number, node: number, records: number[][]): ArrayBuffer {
  const buffer = new ArrayBuffer(pointer + historyLogBytes(records.length) + 64);
  const view = new DataView(buffer);
  const words = [HISTORY_MAGIC, node, records.length, 4, ...records.flat()];
  words.forEach((x, i) => view.setFloat64(pointer + i * 8, x, true));
  return buffer;
}

Decode("a log decodes into the operations it records", () => {
  const memory = syntheticMemory(1024, 2, [
    [1, 131072, 3145728, 10.5, 12.25],
    [0, 135168, 0, 13, 13],
  ]);
  assert.equal(decodeHistoryLog(memory, 1024, 2, 2), [
    { node: 2, kind: "write", address: 131072, value: 3145728, start: 10.5, end: 12.25 },
    { node: 2, kind: "read", address: 135168, value: 0, start: 13, end: 13 },
  ]);
  assert.equal(decodeHistoryLog(new Uint8Array(memory), 1024, 2, 2).length, 2);
});

Decode("a log of another node, a wrong count or no log at all is refused", () => {
  const memory = syntheticMemory(64, 1, [[0, 0, 0, 1, 2]]);
  assert.is(catchError(() => decodeHistoryLog(memory, 64, 0, 1)).message, "node 0: the log at 64 belongs to node 1; read each node's log from its own memory");
  assert.is(catchError(() => decodeHistoryLog(memory, 64, 1, 2)).message, "node 1: the log at 64 holds 1 operations, not 2; pass the ops given to run");
  assert.is(
    catchError(() => decodeHistoryLog(memory, 72, 1, 1)).message,
    "node 1: no history log at 72 (magic 1, expected 1212765012); pass the pointer run returned",
  );
  const error = catchError(() => decodeHistoryLog(memory, 150, 1, 1));
  assert.ok(error instanceof HistoryLogError);
  assert.is(error.message, "node 1: log of 72 bytes at 150 runs past the end of its 200-byte memory; pass the pointer run returned");
});

Decode("an impossible record is refused", () => {
  const memory = syntheticMemory(0, 0, [[2, 0, 0, 1, 2]]);
  assert.is(catchError(() => decodeHistoryLog(memory, 0, 0, 1)).message, "node 0: record 0 is impossible (kind 2, start 1, end 2); the log was overwritten");
});

Decode("the history kernel, run alone on one node, logs a linearizable history over two pages", async () => {
  const layout = computeLayout({ pageSize: 4096 });
  const source = fileURLToPath(new URL("../../assembly/kernels/history.ts", import.meta.url));
  const module = new WebAssembly.Module(new Uint8Array(await compileKernel(source, layout)));
  const memory = new WebAssembly.Memory({ initial: layout.initialPages, maximum: layout.maximumPages, shared: true });
  const host = {
    nodeId: () => 0,
    nodeCount: () => 1,
    barrier() {},
    lock() {},
    unlock() {},
    now: () => performance.now() * 1000,
    regionBase: () => layout.regionBase,
    regionBytes: () => layout.regionBytes,
    pageSize: () => layout.pageSize,
    allocated() {},
  };
  const abort = () => {
    throw new Error("the history kernel aborted");
  };
  const instance = new WebAssembly.Instance(module, { dsm: host, env: { memory, abort } });
  const exports = instance.exports as { _start(): void; run(ops: number, words: number, seed: number, phase: number): number };
  exports._start();
  const pointer = exports.run(500, 6, 42, 0);
  const history = decodeHistoryLog(memory.buffer, pointer, 0, 500);
  const expected = [0, 4, 8, 4096, 4100, 4104].map((o) => layout.regionBase + o);
  assert.equal([...new Set(history.map((op) => op.address))].sort((a, b) => a - b), expected);
  const writes = history.filter((op) => op.kind === "write");
  assert.ok(writes.length > 150 && writes.length < 350, `${writes.length} writes of 500`);
  assert.is(new Set(writes.map((op) => op.value)).size, writes.length);
  assert.equal(checkLinearizable(history), { ok: true, operations: 500 });
});

Accepts.run();
Rejects.run();
Limits.run();
Decode.run();
