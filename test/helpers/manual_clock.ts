/**
 * A clock a test moves by hand, for protocol nodes on the main thread. Their soon() and later()
 * work runs from the event loop as under LoopScheduler, but a timer (a retransmission, a
 * deadline) runs only when the test moves the clock past it: a transcript then shows a repeat
 * exactly where the test let time pass, however busy the machine is.
 *
 *   const clock = new ManualClock();
 *   recordedCluster(3, (o) => createIvy({ ...o, scheduler: clock.scheduler() }));
 *   ... lose a message ...
 *   clock.advance(300);   // every call's first retransmission (retryMs 300) goes out now
 */
import { TimerQueue } from "../../src/protocol/scheduler.js";

export class ManualClock {
  private time = 0;
  private readonly queues: TimerQueue[] = [];

  /** A scheduler for one node, on this clock. */
  scheduler(): TimerQueue {
    const queue: TimerQueue = new TimerQueue(
      () => this.time,
      (due) => {
        // Timers wait for advance(); only queued work is run from the event loop.
        if (due !== -Infinity) return;
        if (queue.hasSoon) queueMicrotask(() => queue.runSoon());
        if (queue.hasLater)
          setImmediate(() => {
            queue.runLater();
            queue.runSoon();
          });
      },
    );
    this.queues.push(queue);
    return queue;
  }

  /** Moves the clock on by `ms` and runs every timer due by then, node by node. */
  advance(ms: number): void {
    this.time += ms;
    for (const queue of this.queues) queue.runDue();
  }
}
