/**
 * KeptList (src/protocol/kept_list.ts) and the queues built on it: emptied lists keep their
 * storage and hold no references, and reusing them changes no order.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { ConfirmQueue } from "../src/protocol/confirm_queue.js";
import type { ConfirmEntry } from "../src/protocol/codec.js";
import { KeptList } from "../src/protocol/kept_list.js";
import { TimerQueue } from "../src/protocol/scheduler.js";

const List = suite("KeptList");

List("push, at, pop and clear; the storage stays and lets go of its items", () => {
  const l = new KeptList<{ n: number }>();
  for (let n = 0; n < 5; n++) l.push({ n });
  assert.is(l.length, 5);
  assert.equal([0, 1, 2, 3, 4].map((i) => l.at(i).n), [0, 1, 2, 3, 4]);
  assert.equal(l.pop(), { n: 4 });
  assert.is(l.items[4], undefined);
  assert.equal(l.toArray(), [{ n: 0 }, { n: 1 }, { n: 2 }, { n: 3 }]);
  l.clear();
  assert.is(l.length, 0);
  assert.is(l.items.length, 5);
  assert.ok(l.items.every((x) => x === undefined));
  l.push({ n: 7 });
  assert.equal(l.toArray(), [{ n: 7 }]);
});

List("the scheduler's reused lists keep soon() and later() order across rounds, and work queued during runLater waits for the next", () => {
  const q = new TimerQueue(() => 0);
  const log: string[] = [];
  for (let round = 0; round < 3; round++) {
    q.later(() => {
      log.push(`later ${round}a`);
      q.soon(() => log.push(`soon ${round}`));
      q.later(() => log.push(`later ${round}c (next run)`));
    });
    q.later(() => log.push(`later ${round}b`));
    assert.ok(q.runLater());
  }
  assert.ok(q.runLater());
  assert.not.ok(q.runLater());
  assert.equal(log, [
    "later 0a", "soon 0", "later 0b",
    "later 0c (next run)", "later 1a", "soon 1", "later 1b",
    "later 1c (next run)", "later 2a", "soon 2", "later 2b",
    "later 2c (next run)",
  ]);
});

List("ConfirmQueue: one send per manager in first-queued order, at most 64 entries each, then nothing held", () => {
  const later: (() => void)[] = [];
  const sent: [number, number[]][] = [];
  const queue = new ConfirmQueue(
    { now: () => 0, at: () => ({}), cancel: () => undefined, soon: (fn) => fn(), later: (fn) => later.push(fn) },
    () => false,
    (manager, entries, count) => sent.push([manager, entries.slice(0, count).map((e) => (e as ConfirmEntry).page)]),
  );
  const confirm = (manager: number, page: number) => queue.add({ manager, page, version: 0, request: page, access: 0 });
  for (let round = 0; round < 2; round++) {
    sent.length = 0;
    confirm(2, 100);
    for (let p = 0; p < 70; p++) confirm(1, p);
    confirm(2, 101);
    assert.ok(queue.has(69));
    assert.not.ok(queue.has(102));
    assert.is(later.length, 1);
    later.pop()!();
    assert.equal(sent, [
      [1, Array.from({ length: 64 }, (_, p) => p)],
      [2, [100, 101]],
      [1, [64, 65, 66, 67, 68, 69]],
    ]);
    assert.not.ok(queue.has(69));
  }
});

List.run();
