/**
 * Futures and flows (src/protocol/future.ts): callbacks run inside the settlement, flows resume
 * synchronously, and nothing waits for a promise job.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { all, flow, Future, wait, type Flow } from "../src/protocol/future.js";

const Futures = suite("Future");

Futures("callbacks run inside resolve, in the order added, and a second settlement changes nothing", () => {
  const f = new Future<number>();
  const seen: string[] = [];
  f.onSettle((e, v) => seen.push(`a ${e?.message ?? v}`));
  f.onSettle((e, v) => seen.push(`b ${e?.message ?? v}`));
  assert.equal(seen, []);
  f.resolve(7);
  assert.equal(seen, ["a 7", "b 7"]);
  f.resolve(8);
  f.reject(new Error("late"));
  assert.is(f.result, 7);
  f.onSettle((e, v) => seen.push(`c ${e?.message ?? v}`));
  assert.equal(seen, ["a 7", "b 7", "c 7"]);
});

Futures("a rejection carries an Error; result throws it; a non-Error reason is wrapped", () => {
  const f = Future.rejected<number>("plain");
  assert.ok(f.failed);
  assert.instance(f.reason, Error);
  assert.is(f.reason!.message, "plain");
  assert.throws(() => f.result, /plain/);
  assert.throws(() => new Future().result, /before it settled/);
});

Futures("try turns a throw into a rejection and passes a future through", () => {
  assert.is(Future.try(() => 3).result, 3);
  assert.is(Future.try(() => { throw new RangeError("x"); }).reason!.name, "RangeError");
  const inner = new Future<number>();
  assert.is(Future.try(() => inner), inner);
});

Futures("await works on a future from main-thread code", async () => {
  const f = new Future<string>();
  setImmediate(() => f.resolve("ok"));
  assert.is(await f, "ok");
  const g = Future.rejected(new TypeError("bad"));
  try {
    await g;
    assert.unreachable();
  } catch (error) {
    assert.is((error as Error).name, "TypeError");
  }
});

const Flows = suite("flow");

Flows("a flow runs to its first pending wait at once and resumes inside the settlement", () => {
  const a = new Future<number>();
  const b = new Future<number>();
  const log: string[] = [];
  const steps = function* (): Flow<number> {
    log.push("start");
    const x = yield* wait(a);
    log.push(`a=${x}`);
    const y = yield* wait(b);
    log.push(`b=${y}`);
    return x + y;
  };
  const out = flow(steps());
  assert.equal(log, ["start"]);
  a.resolve(2);
  assert.equal(log, ["start", "a=2"]);
  assert.not.ok(out.settled);
  b.resolve(5);
  assert.equal(log, ["start", "a=2", "b=5"]);
  assert.is(out.result, 7);
});

Flows("settled futures do not suspend the flow, and 100,000 of them do not grow the stack", () => {
  const steps = function* (): Flow<number> {
    let sum = 0;
    for (let i = 0; i < 100_000; i++) sum += yield* wait(Future.resolved(1));
    return sum;
  };
  assert.is(flow(steps()).result, 100_000);
  // Pending ones resolved in order from outside also resume without recursion depth growing.
  const pending = Array.from({ length: 10_000 }, () => new Future<number>());
  const chain = function* (): Flow<number> {
    let n = 0;
    for (const f of pending) n += yield* wait(f);
    return n;
  };
  const out = flow(chain());
  for (const f of pending) f.resolve(2);
  assert.is(out.result, 20_000);
});

Flows("an error of a waited future is thrown at the wait and can be caught there", () => {
  const f = new Future<number>();
  const steps = function* (): Flow<string> {
    try {
      yield* wait(f);
      return "no";
    } catch (error) {
      return `caught ${(error as Error).message}`;
    }
  };
  const out = flow(steps());
  f.reject(new Error("lost"));
  assert.is(out.result, "caught lost");
});

Flows("a throw inside a flow rejects its future, and finally blocks run", () => {
  const log: string[] = [];
  const steps = function* (): Flow<void> {
    try {
      yield* wait(Future.resolved());
      throw new Error("broke");
    } finally {
      log.push("finally");
    }
  };
  const out = flow(steps());
  assert.ok(out.failed);
  assert.is(out.reason!.message, "broke");
  assert.equal(log, ["finally"]);
});

Flows("all resolves after every future, rejects at the first error, and resolves at once when empty", () => {
  const a = new Future<number>();
  const b = new Future<string>();
  const both = all([a, b]);
  a.resolve(1);
  assert.not.ok(both.settled);
  b.resolve("x");
  assert.ok(both.settled && !both.failed);
  assert.ok(all([]).settled);
  const c = new Future<void>();
  const d = new Future<void>();
  const failing = all([c, d]);
  d.reject(new Error("d failed"));
  assert.is(failing.reason!.message, "d failed");
  c.resolve();
  assert.is(failing.reason!.message, "d failed");
});

Futures.run();
Flows.run();
