/**
 * Rendezvous: how the nodes of one job, started separately (on several machines), find each
 * other on `dsm.<job>.hello`, agree on ranks, check they run the same thing, and start only once
 * every node listens on its protocol subject.
 *
 *   every node           hello {uid, host, pid, rank?, fingerprint}   every intervalMs, and at
 *                        once on meeting a new node
 *   when N live nodes    ranks: given ranks stay; the others take the free ranks in the order
 *   have been heard      of (host, pid, uid) — every node computes the same assignment
 *   then                 prepare(rank): connect the transport, subscribe, flush
 *                        ready {uid, members: uids by rank}
 *   when all N ready     start (the job runs); keep answering: a member still waiting gets our
 *   with the same list   ready again, a stranger gets `full`
 *
 * Fails (and tells the others with `fail`) when a node runs another kernel (sha256 of the module
 * bytes), protocol, page size, wire format, node count or arguments; when two nodes claim one
 * rank; when more than N nodes join (for longer than lostAfterMs, or when nodes formed the job
 * from different sets); when a member goes silent after ranks were assigned; and
 * after `timeoutMs` in any case. Before assignment a silent joiner is forgotten (a node that
 * crashed while joining must not hold a rank).
 *
 * Not covered: two jobs started with the same job name at the same time (use distinct names).
 */
import type { ControlChannel } from "./control_channel.js";
import { assignRanks, describeNode, fingerprintDifference, RankConflictError, type Fingerprint, type Joiner, type Member } from "./membership.js";

export { assignRanks, describeNode, fingerprintDifference, RankConflictError, type Fingerprint, type Joiner, type Member } from "./membership.js";

export interface RendezvousOptions {
  /** Bound on the whole rendezvous. @default 60000 */
  timeoutMs?: number;
  /** Hello repeat interval. @default 250 */
  intervalMs?: number;
  /** A joiner silent this long is forgotten (before ranks) or lost (after). @default 3000 */
  lostAfterMs?: number;
  /** Runs once ranks are known, before this node says ready: subscribe the node's transport here. */
  prepare(rank: number, members: Member[]): Promise<void>;
}

export class JoinMismatchError extends Error {
  override name = "JoinMismatchError";
  constructor(readonly node: string, readonly field: string, theirs: string, ours: string, job: string) {
    super(`node ${node} differs in ${field}: ${theirs} there, ${ours} here; start every node of job ${job} with the same kernel, protocol, page size and arguments`);
  }
}

export class JobFullError extends Error {
  override name = "JobFullError";
  constructor(job: string, nodes: number, who: string) {
    super(`job ${job} has more than ${nodes} nodes (${who}); stop the extra node(s), raise --nodes on every node, or use another --job`);
  }
}

export class RendezvousTimeoutError extends Error {
  override name = "RendezvousTimeoutError";
  constructor(job: string, nodes: number, timeoutMs: number, seen: string[]) {
    super(
      `job ${job}: ${seen.length} of ${nodes} nodes joined within ${timeoutMs} ms (${seen.join(", ") || "none"}); ` +
        `start the missing node(s) with --job ${job} --nodes ${nodes} on the same nats cluster, or raise --join-timeout`,
    );
  }
}

export class RendezvousLostError extends Error {
  override name = "RendezvousLostError";
  constructor(readonly rank: number, who: string, silentMs: number) {
    super(`rank ${rank} lost: node ${who} sent nothing for ${silentMs} ms while joining; restart the job`);
  }
}

/** Two nodes formed the job from different sets of nodes: more joined than the job has ranks. */
export class RendezvousSplitError extends Error {
  override name = "RendezvousSplitError";
  constructor(job: string, nodes: number, other: string, theirs: string, ours: string) {
    super(
      `node ${other} formed job ${job} from ${theirs}, this node from ${ours}: more nodes joined than --nodes ${nodes}; ` +
        `stop the extra node(s) and restart the job`,
    );
  }
}

export class RendezvousClosedError extends Error {
  override name = "RendezvousClosedError";
  constructor(job: string) {
    super(`job ${job}: this node stopped joining before the job started`);
  }
}

/** Another node gave up joining; its reason travels along. */
export class PeerJoinError extends Error {
  override name = "PeerJoinError";
  constructor(who: string, reason: string) {
    super(`node ${who} could not join: ${reason}`);
  }
}

/** A joiner heard within this many hello intervals counts as alive when ranks are assigned. */
const FRESH_INTERVALS = 4;

interface Hello extends Joiner {
  type: "hello";
  fingerprint: Fingerprint;
}

interface Heard {
  joiner: Joiner;
  lastSeen: number;
}

/** One node's side of the rendezvous; `join()` resolves with this node's member entry and all members. */
export class Rendezvous {
  private readonly heard = new Map<string, Heard>();
  private readonly ready = new Map<string, string>();
  private members: Member[] | undefined;
  private self: Member | undefined;
  private prepared = false;
  private crowdedSince: number | undefined;
  private started = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private deadline: NodeJS.Timeout | undefined;
  private settle: { resolve(m: { self: Member; members: Member[] }): void; reject(e: Error): void } | undefined;
  private readonly intervalMs: number;
  private readonly lostAfterMs: number;
  private readonly timeoutMs: number;

  constructor(
    private readonly channel: ControlChannel,
    private readonly job: string,
    private readonly me: Joiner,
    private readonly fingerprint: Fingerprint,
    private readonly options: RendezvousOptions,
  ) {
    this.intervalMs = options.intervalMs ?? 250;
    this.lostAfterMs = options.lostAfterMs ?? 3000;
    this.timeoutMs = options.timeoutMs ?? 60_000;
    channel.subscribe(
      "hello",
      (body) => this.onMessage(body),
      (error) => this.fail(error, false),
    );
  }

  join(): Promise<{ self: Member; members: Member[] }> {
    return new Promise((resolve, reject) => {
      this.settle = { resolve, reject };
      this.heard.set(this.me.uid, { joiner: this.me, lastSeen: Date.now() });
      this.sayHello();
      this.timer = setInterval(() => this.tick(), this.intervalMs);
      this.deadline = setTimeout(() => this.fail(new RendezvousTimeoutError(this.job, this.fingerprint.nodes, this.timeoutMs, this.seen())), this.timeoutMs);
      this.progress();
    });
  }

  /** Stops answering late members and strangers; a join still pending rejects. */
  close(): void {
    if (!this.started && !this.stopped) this.settle?.reject(new RendezvousClosedError(this.job));
    this.stopped = true;
    this.clearTimers();
  }

  private sayHello(): void {
    this.channel.publish("hello", { type: "hello", ...this.me, fingerprint: this.fingerprint } satisfies Hello);
  }

  private sayReady(): void {
    if (this.members) this.channel.publish("hello", { type: "ready", uid: this.me.uid, members: this.members.map((m) => m.uid) });
  }

  private tick(): void {
    if (this.started || this.stopped) return;
    this.sayHello();
    if (this.prepared) this.sayReady();
    const now = Date.now();
    let forgot = false;
    for (const [uid, h] of this.heard) {
      if (uid === this.me.uid || now - h.lastSeen <= this.lostAfterMs) continue;
      const member = this.members?.find((m) => m.uid === uid);
      if (member) return this.fail(new RendezvousLostError(member.rank, describeNode(member), now - h.lastSeen));
      this.heard.delete(uid);
      forgot = true;
    }
    if (forgot) this.progress();
    if (this.crowdedSince !== undefined && now - this.crowdedSince > this.lostAfterMs) {
      this.fail(new JobFullError(this.job, this.fingerprint.nodes, this.seen().join(", ")));
    }
  }

  private onMessage(body: unknown): void {
    if (this.stopped || !isObject(body) || typeof body.uid !== "string" || body.uid === this.me.uid) return;
    if (body.type === "hello" && isHello(body)) return this.onHello(body);
    if (body.type === "ready" && Array.isArray(body.members) && body.members.every((u) => typeof u === "string")) return this.onReady(body.uid, body.members as string[]);
    if (body.type === "fail" && typeof body.reason === "string") return this.onFail(body as Record<string, unknown> & { uid: string; reason: string });
    if (body.type === "full" && body.to === this.me.uid) return this.fail(new JobFullError(this.job, this.fingerprint.nodes, "it is running already; this node came late"), false);
  }

  private onHello(hello: Hello): void {
    const joiner: Joiner = { uid: hello.uid, host: hello.host, pid: hello.pid, rank: hello.rank ?? undefined };
    if (this.started) {
      const member = this.members!.find((m) => m.uid === hello.uid);
      if (member) return this.sayReady();
      return this.channel.publish("hello", { type: "full", uid: this.me.uid, to: hello.uid });
    }
    const known = this.heard.get(hello.uid);
    this.heard.set(hello.uid, { joiner, lastSeen: Date.now() });
    if (known) return this.progress(); // it may have been the one not heard lately
    this.sayHello(); // a newcomer learns about this node at once (and sees a mismatch itself)
    if (this.checkFingerprint(joiner, hello.fingerprint)) return;
    if (joiner.rank !== undefined && joiner.rank >= this.fingerprint.nodes) {
      this.heard.delete(hello.uid); // not a rank of this job (its own --rank check would refuse it)
      return;
    }
    const rival = joiner.rank === undefined ? undefined : [...this.heard.values()].find((h) => h.joiner.uid !== joiner.uid && h.joiner.rank === joiner.rank);
    if (rival) return this.fail(new RankConflictError(joiner.rank!, describeNode(rival.joiner), describeNode(joiner)));
    this.progress();
  }

  private onReady(uid: string, members: string[]): void {
    const heard = this.heard.get(uid);
    if (heard) heard.lastSeen = Date.now();
    this.ready.set(uid, members.join(","));
    this.progress();
  }

  /** Fails with JoinMismatchError when `theirs` differs from this node's fingerprint; returns whether it did. */
  private checkFingerprint(joiner: Joiner, theirs: Fingerprint): boolean {
    const diff = fingerprintDifference(this.fingerprint, theirs);
    if (diff) this.fail(new JoinMismatchError(describeNode(joiner), diff.field, diff.theirs, diff.ours, this.job));
    return diff !== undefined;
  }

  private onFail(body: Record<string, unknown> & { uid: string; reason: string }): void {
    if (this.started) return;
    // A node that failed on seeing this node's hello may be the only one that heard it.
    if (isHello(body) && this.checkFingerprint({ uid: body.uid, host: body.host, pid: body.pid, rank: body.rank ?? undefined }, body.fingerprint)) return;
    const uid = body.uid;
    const member = this.members?.find((m) => m.uid === uid);
    if (member) return this.fail(new PeerJoinError(describeNode(member), body.reason), false);
    // A joiner that is not one of our members gave up: it is gone, forget it now.
    if (this.heard.delete(uid)) this.progress();
  }

  private progress(): void {
    if (this.started || this.stopped) return;
    const nodes = this.fingerprint.nodes;
    // More joiners than ranks may be a crashed joiner not yet forgotten: tick() fails the
    // rendezvous only when the crowd outlasts lostAfterMs.
    if (this.heard.size > nodes) this.crowdedSince ??= Date.now();
    else this.crowdedSince = undefined;
    // Every joiner must have been heard lately, so one that died while joining gets no rank.
    const fresh = [...this.heard.values()].every((h) => h.joiner.uid === this.me.uid || Date.now() - h.lastSeen <= FRESH_INTERVALS * this.intervalMs);
    if (!this.members && this.heard.size === nodes && fresh) {
      try {
        this.members = assignRanks([...this.heard.values()].map((h) => h.joiner), nodes);
      } catch (error) {
        return this.fail(error as Error);
      }
      this.self = this.members.find((m) => m.uid === this.me.uid)!;
      this.options.prepare(this.self.rank, this.members).then(
        () => {
          this.prepared = true;
          this.ready.set(this.me.uid, this.members!.map((m) => m.uid).join(","));
          this.sayReady();
          this.progress();
        },
        (error: Error) => this.fail(error),
      );
      return;
    }
    if (!this.prepared || !this.members) return;
    const ours = this.ready.get(this.me.uid)!;
    const agreed = this.members.every((m) => this.ready.get(m.uid) === ours);
    if (!agreed) {
      const other = this.members.find((m) => this.ready.has(m.uid) && this.ready.get(m.uid) !== ours);
      if (other) this.fail(new RendezvousSplitError(this.job, this.fingerprint.nodes, describeNode(other), this.describeUids(this.ready.get(other.uid)!), this.describeUids(ours)));
      return;
    }
    this.started = true;
    this.clearTimers();
    this.settle?.resolve({ self: this.self!, members: this.members });
  }

  private fail(error: Error, tell = true): void {
    if (this.started || this.stopped) return;
    this.stopped = true;
    this.clearTimers();
    if (tell) this.channel.publish("hello", { type: "fail", ...this.me, fingerprint: this.fingerprint, reason: error.message });
    this.settle?.reject(error);
  }

  private describeUids(list: string): string {
    return list
      .split(",")
      .map((uid) => {
        const h = this.heard.get(uid);
        return h ? `${h.joiner.host}/${h.joiner.pid}` : `an unknown node`;
      })
      .join(", ");
  }

  private seen(): string[] {
    const members = this.members;
    return [...this.heard.values()].map((h) => describeNode(members?.find((m) => m.uid === h.joiner.uid) ?? h.joiner));
  }

  private clearTimers(): void {
    clearInterval(this.timer);
    clearTimeout(this.deadline);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isHello(v: Record<string, unknown>): v is Hello & Record<string, unknown> {
  const fp = v.fingerprint;
  const rankOk = v.rank === undefined || v.rank === null || (Number.isInteger(v.rank) && (v.rank as number) >= 0);
  return (
    typeof v.host === "string" &&
    Number.isInteger(v.pid) &&
    rankOk &&
    isObject(fp) &&
    typeof fp.kernel === "string" &&
    typeof fp.protocol === "string" &&
    Number.isInteger(fp.pageSize) &&
    Number.isInteger(fp.format) &&
    Number.isInteger(fp.nodes) &&
    Array.isArray(fp.args) &&
    fp.args.every((a) => typeof a === "string")
  );
}
