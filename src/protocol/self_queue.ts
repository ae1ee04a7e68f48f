/**
 * Messages a node sends itself (Endpoint's loopback): handled after the handler under way
 * returns, or as the scheduler's soon() work when none is, in the order sent. So a handler is never re-entered
 * and never runs inside the `send` or `call` that queued its message, as on a transport.
 *
 *   handling(h1)  h1 sends m1, m2 to this node   →  h1 returns  →  m1, then m2 (and what they send)
 *   push(m3) outside any handler                 →  m3 as soon() work
 */
import type { Message } from "./codec.js";
import { KeptList } from "./kept_list.js";
import type { Scheduler } from "./scheduler.js";

export class SelfQueue {
  private readonly queue = new KeptList<Message>();
  /** Index in `queue` of the next message to handle. */
  private next = 0;
  private scheduled = false;
  /** Handlers under way (nested: a handler may redeliver held messages). */
  private depth = 0;

  /** `handle` must not throw (the Endpoint keeps a handler's error as its failure). */
  constructor(
    private readonly handle: (msg: Message) => void,
    private readonly scheduler: Scheduler,
  ) {}

  /** Runs `fn(arg)` as message handling: messages queued meanwhile are handled when it returns. */
  handling<A>(fn: (arg: A) => void, arg: A): void {
    this.depth++;
    try {
      fn(arg);
    } finally {
      this.depth--;
    }
    if (this.depth === 0 && this.queue.length > 0) this.drain();
  }

  push(msg: Message): void {
    this.queue.push(msg);
    if (this.depth === 0 && !this.scheduled) {
      this.scheduled = true;
      this.scheduler.soon(this.drain);
    }
  }

  /** Whether messages wait to be handled (not counting the one being handled). */
  get waiting(): boolean {
    return this.queue.length > this.next;
  }

  /** Forgets the messages not handled yet. */
  clear(): void {
    this.queue.clear();
    this.next = 0;
  }

  private readonly drain = (): void => {
    this.scheduled = false;
    if (this.depth > 0) return; // the handler under way drains them when it returns
    this.depth++;
    try {
      // Re-read the length each time: handlers append to the queue, and clear() empties it.
      const queue = this.queue;
      while (this.next < queue.length) this.handle(queue.at(this.next++));
    } finally {
      this.queue.clear();
      this.next = 0;
      this.depth--;
    }
  };
}
