/**
 * TimerQueue (src/protocol/scheduler.ts) over a clock the test sets: what runs when depends on
 * that clock only, never on how busy the machine is.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { LoopScheduler, TimerQueue } from "../src/protocol/scheduler.js";

function manual() {
  let now = 0;
  const queue = new TimerQueue(() => now);
  return {
    queue,
    set(ms: number) {
      now = ms;
    },
  };
}

const Timers = suite("TimerQueue");

Timers("timers run at their due time in due order, ties in the order armed", () => {
  const { queue, set } = manual();
  const log: string[] = [];
  queue.at(30, () => log.push("c"));
  queue.at(10, () => log.push("a"));
  queue.at(20, () => log.push("b1"));
  queue.at(20, () => log.push("b2"));
  assert.is(queue.nextDue(), 10);
  assert.not.ok(queue.runDue(9));
  set(20);
  assert.ok(queue.runDue());
  assert.equal(log, ["a", "b1", "b2"]);
  assert.is(queue.nextDue(), 30);
  set(100);
  queue.runDue();
  assert.equal(log, ["a", "b1", "b2", "c"]);
  assert.is(queue.nextDue(), Infinity);
});

Timers("a cancelled timer never runs and no longer counts as the next due", () => {
  const { queue, set } = manual();
  const log: string[] = [];
  const h = queue.at(5, () => log.push("cancelled"));
  queue.at(8, () => log.push("kept"));
  queue.cancel(h);
  assert.is(queue.nextDue(), 8);
  assert.is(queue.pending, 1);
  set(10);
  queue.runDue();
  assert.equal(log, ["kept"]);
});

Timers("a timer armed by a running timer for a due time already passed runs in the same pass", () => {
  const { queue, set } = manual();
  const log: string[] = [];
  queue.at(1, () => {
    log.push("first");
    queue.at(2, () => log.push("second"));
  });
  set(5);
  queue.runDue();
  assert.equal(log, ["first", "second"]);
});

Timers("soon() work runs after each timer and includes what it queues; later() work waits for runLater", () => {
  const { queue, set } = manual();
  const log: string[] = [];
  queue.at(1, () => {
    log.push("timer");
    queue.soon(() => {
      log.push("soon 1");
      queue.soon(() => log.push("soon 2"));
    });
    queue.later(() => log.push("later"));
  });
  set(1);
  queue.runDue();
  assert.equal(log, ["timer", "soon 1", "soon 2"]);
  assert.ok(queue.hasLater);
  assert.ok(queue.runLater());
  assert.equal(log, ["timer", "soon 1", "soon 2", "later"]);
  assert.not.ok(queue.runLater());
});

Timers("10,000 timers in random order come out sorted", () => {
  const { queue, set } = manual();
  const out: number[] = [];
  let seed = 7;
  for (let i = 0; i < 10_000; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    const due = seed % 5000;
    queue.at(due, () => out.push(due));
  }
  set(5000);
  queue.runDue();
  assert.is(out.length, 10_000);
  for (let i = 1; i < out.length; i++) assert.ok(out[i - 1]! <= out[i]!);
});

const Loop = suite("LoopScheduler");

Loop("drives timers, soon() and later() work from the event loop", async () => {
  const s = new LoopScheduler();
  const log: string[] = [];
  const fired = new Promise<void>((resolve) =>
    s.at(s.now() + 5, () => {
      log.push("timer");
      resolve();
    }),
  );
  s.later(() => log.push("later"));
  s.soon(() => log.push("soon"));
  assert.equal(log, []);
  await fired;
  assert.equal(log, ["soon", "later", "timer"]);
});

Timers.run();
Loop.run();
