/**
 * Liveness of the nodes of a running job, on `dsm.<job>.hb`:
 *
 *   every node     hb {rank, uid}                   every intervalMs, from the moment it knows
 *                                                   its rank until its run finished
 *                  done {rank, uid, report}         once, when its run (final barrier included)
 *                                                   finished; it is no longer watched
 *                  abort {rank, uid, reason}        when it failed by itself (a trap, a timeout),
 *                                                   so the others stop now rather than time out
 *   every node     watches every other rank not done; silent for more than lostAfterMs means
 *                  lost: onFailure(NodeLostError "rank 2 lost: no heartbeat for 3000 ms")
 *
 * A node whose own event loop stalled (a long pause, a suspended process) cannot tell silence
 * from its own deafness: after a tick that came more than lostAfterMs / 2 late, every rank gets a
 * fresh allowance instead of being declared lost.
 *
 * Not covered: a node that keeps heartbeating while its kernel is stuck (the protocol's fault and
 * sync timeouts catch that), and asymmetric partitions resolve to whatever each side sees.
 */
import type { ControlChannel } from "./control_channel.js";
import type { Member } from "./rendezvous.js";

export class NodeLostError extends Error {
  override name = "NodeLostError";
  constructor(readonly rank: number, readonly silentMs: number, who: string) {
    super(`rank ${rank} lost: no heartbeat for ${silentMs} ms (node ${who}); it died, hangs or is cut off from the nats cluster`);
  }
}

export class PeerFailedError extends Error {
  override name = "PeerFailedError";
  constructor(readonly rank: number, reason: string) {
    super(`rank ${rank} failed: ${reason}`);
  }
}

export interface HeartbeatOptions {
  self: Member;
  members: Member[];
  /** @default 500 */
  intervalMs?: number;
  /** @default 3000 */
  lostAfterMs?: number;
  /** The first lost or failed peer; called once. */
  onFailure(error: Error): void;
}

export class Heartbeat {
  private readonly lastSeen = new Map<number, number>();
  private readonly done = new Map<number, unknown>();
  private readonly intervalMs: number;
  private readonly lostAfterMs: number;
  private beating: NodeJS.Timeout | undefined;
  private watching: NodeJS.Timeout | undefined;
  private lastTick = 0;
  private failed = false;
  private closed = false;
  private onReport: (() => void) | undefined;

  constructor(
    private readonly channel: ControlChannel,
    private readonly options: HeartbeatOptions,
  ) {
    this.intervalMs = options.intervalMs ?? 500;
    this.lostAfterMs = options.lostAfterMs ?? 3000;
    channel.subscribe(
      "hb",
      (body) => this.onMessage(body),
      (error) => this.fail(error),
    );
  }

  /** Starts sending heartbeats (as soon as the rank is known). */
  beat(): void {
    if (this.beating || this.closed) return;
    this.send();
    this.beating = setInterval(() => this.send(), this.intervalMs);
  }

  /** Starts watching the other ranks; each gets a full allowance from now. */
  watch(): void {
    if (this.watching || this.closed) return;
    const now = Date.now();
    this.lastTick = now;
    for (const m of this.options.members) if (m.rank !== this.options.self.rank && !this.done.has(m.rank)) this.lastSeen.set(m.rank, now);
    this.watching = setInterval(() => this.check(), Math.max(10, Math.floor(this.intervalMs / 2)));
  }

  /** This node's run finished: announce it (with its report) and stop beating and watching. */
  finish(report: unknown): void {
    this.stopTimers();
    this.channel.publish("hb", { type: "done", rank: this.options.self.rank, uid: this.options.self.uid, report });
  }

  /** This node failed by itself: tell the others, and stop. */
  abort(reason: string): void {
    this.stopTimers();
    this.channel.publish("hb", { type: "abort", rank: this.options.self.rank, uid: this.options.self.uid, reason });
  }

  /** Reports of `ranks` announced with `done`; resolves when all arrived or after `timeoutMs` with what there is. */
  async reports(ranks: number[], timeoutMs: number): Promise<{ reports: Map<number, unknown>; missing: number[] }> {
    const missing = () => ranks.filter((r) => !this.done.has(r));
    if (missing().length > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(finish, timeoutMs);
        function finish() {
          clearTimeout(timer);
          resolve();
        }
        this.onReport = () => {
          if (missing().length === 0) finish();
        };
      });
      this.onReport = undefined;
    }
    return { reports: new Map(ranks.filter((r) => this.done.has(r)).map((r) => [r, this.done.get(r)])), missing: missing() };
  }

  close(): void {
    this.closed = true;
    this.stopTimers();
  }

  private send(): void {
    this.channel.publish("hb", { type: "hb", rank: this.options.self.rank, uid: this.options.self.uid });
  }

  private check(): void {
    const now = Date.now();
    const late = now - this.lastTick > this.lostAfterMs / 2;
    this.lastTick = now;
    for (const [rank, seen] of this.lastSeen) {
      if (late) this.lastSeen.set(rank, now);
      else if (now - seen > this.lostAfterMs) return this.fail(new NodeLostError(rank, this.lostAfterMs, this.describe(rank)));
    }
  }

  private onMessage(body: unknown): void {
    if (this.closed || typeof body !== "object" || body === null) return;
    const { type, rank, uid } = body as Record<string, unknown>;
    const member = this.options.members.find((m) => m.rank === rank && m.uid === uid);
    if (!member || member.rank === this.options.self.rank) return; // another job's or a stale process's message
    if (type === "hb") {
      if (this.lastSeen.has(member.rank)) this.lastSeen.set(member.rank, Date.now());
    } else if (type === "done") {
      this.lastSeen.delete(member.rank);
      this.done.set(member.rank, (body as Record<string, unknown>).report);
      this.onReport?.();
    } else if (type === "abort") {
      const reason = (body as Record<string, unknown>).reason;
      this.fail(new PeerFailedError(member.rank, typeof reason === "string" ? reason : "no reason given"));
    }
  }

  private fail(error: Error): void {
    if (this.failed || this.closed) return;
    this.failed = true;
    this.stopTimers();
    this.options.onFailure(error);
  }

  private describe(rank: number): string {
    const m = this.options.members.find((x) => x.rank === rank);
    return m ? `${m.host}/${m.pid}` : "unknown";
  }

  private stopTimers(): void {
    clearInterval(this.beating);
    clearInterval(this.watching);
    this.beating = undefined;
    this.watching = undefined;
  }
}
