/**
 * `dsm node` without a server: rendezvous and heartbeats over an in-memory control bus, rank
 * assignment, and the option checks of `dsm node` and the credential options.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { ControlChannel, ControlTopic } from "../src/cluster/control_channel.js";
import { Heartbeat, NodeLostError, PeerFailedError } from "../src/cluster/heartbeat.js";
import { parseNatsAuth } from "../src/cli/nats_auth.js";
import { nodeCommand } from "../src/cli/node_command.js";
import { UsageError } from "../src/cli/options.js";
import {
  assignRanks,
  JobFullError,
  JoinMismatchError,
  RankConflictError,
  Rendezvous,
  RendezvousTimeoutError,
  type Fingerprint,
  type Joiner,
  type Member,
} from "../src/cluster/rendezvous.js";

/** An in-memory control bus: every message goes to every subscriber of its topic, JSON round-tripped, on a later turn. */
class FakeBus {
  private readonly subscribers = new Map<ControlTopic, ((body: unknown) => void)[]>();
  channel(): ControlChannel & { closed: boolean } {
    const bus = this;
    return {
      closed: false,
      publish(topic, body) {
        if (this.closed) return;
        const text = JSON.stringify(body);
        setImmediate(() => {
          for (const handler of bus.subscribers.get(topic) ?? []) handler(JSON.parse(text));
        });
      },
      subscribe(topic, handler) {
        const list = bus.subscribers.get(topic) ?? [];
        list.push((body) => {
          if (!this.closed) handler(body);
        });
        bus.subscribers.set(topic, list);
      },
      async close() {
        this.closed = true;
      },
    };
  }
}

const FINGERPRINT: Fingerprint = { kernel: "ab".repeat(32), protocol: "diff", pageSize: 4096, format: 1, nodes: 3, args: ["64", "500"] };

function joiner(host: string, pid: number, rank?: number): Joiner {
  return { uid: `${host}-${pid}`, host, pid, rank };
}

/** Settles with the value or the error, or rejects after `ms` (every wait has a bound). */
function within<T>(promise: Promise<T>, ms: number): Promise<{ value?: T; error?: Error }> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.then((value) => ({ value }), (error: Error) => ({ error })),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`still waiting after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function join3(bus: FakeBus, joiners: Joiner[], fingerprints: Fingerprint[] = joiners.map(() => FINGERPRINT), timeoutMs = 2000) {
  const prepared: number[] = [];
  const parties = joiners.map((j, i) => {
    const channel = bus.channel();
    const r = new Rendezvous(channel, "job1", j, fingerprints[i], {
      timeoutMs,
      intervalMs: 20,
      lostAfterMs: 300,
      prepare: async (rank) => {
        prepared.push(rank);
      },
    });
    return { r, channel, done: within(r.join(), timeoutMs + 1000) };
  });
  return { parties, prepared, close: () => parties.forEach((p) => (p.r.close(), (p.channel.closed = true))) };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const Ranks = suite("rank assignment");

Ranks("nodes without a rank take ranks in the order of host and pid", () => {
  const members = assignRanks([joiner("c", 1), joiner("a", 20), joiner("a", 3)], 3);
  assert.equal(members.map((m) => `${m.rank}:${m.host}/${m.pid}`), ["0:a/3", "1:a/20", "2:c/1"]);
});

Ranks("given ranks are kept and the others fill the free ranks in order", () => {
  const members = assignRanks([joiner("a", 1), joiner("b", 2, 0), joiner("c", 3)], 3);
  assert.equal(members.map((m) => `${m.rank}:${m.host}`), ["0:b", "1:a", "2:c"]);
});

Ranks("two nodes claiming one rank are refused naming both", () => {
  assert.throws(
    () => assignRanks([joiner("a", 1, 1), joiner("b", 2, 1), joiner("c", 3)], 3),
    (e: Error) => e instanceof RankConflictError && e.message === "rank 1 is claimed by node a/1 (rank 1) and node b/2 (rank 1); give each node its own --rank, or omit --rank",
  );
});

Ranks.run();

const Join = suite("rendezvous");

Join("three nodes agree on ranks and start only after every node prepared", async () => {
  const bus = new FakeBus();
  const { parties, prepared, close } = join3(bus, [joiner("b", 7), joiner("a", 9), joiner("b", 2, 0)]);
  try {
    const outcomes = await Promise.all(parties.map((p) => p.done));
    assert.equal(prepared.sort(), [0, 1, 2]);
    assert.equal(outcomes.map((o) => o.value!.self.rank), [2, 1, 0]);
    for (const o of outcomes) assert.equal(o.value!.members.map((m: Member) => `${m.rank}:${m.host}/${m.pid}`), ["0:b/2", "1:a/9", "2:b/7"]);
  } finally {
    close();
  }
});

Join("a node with other arguments stops every node with a message naming the node and the field", async () => {
  const bus = new FakeBus();
  const other = { ...FINGERPRINT, args: ["64", "400"] };
  const { parties, close } = join3(bus, [joiner("a", 1), joiner("b", 2), joiner("c", 3)], [FINGERPRINT, FINGERPRINT, other]);
  try {
    const [a, , c] = await Promise.all(parties.map((p) => p.done));
    assert.ok(a.error instanceof JoinMismatchError);
    assert.is(a.error!.message, 'node c/3 differs in arguments: "64 400" there, "64 500" here; start every node of job job1 with the same kernel, protocol, page size and arguments');
    assert.ok(c.error instanceof JoinMismatchError);
    assert.match(c.error!.message, /^node [ab]\/[12] differs in arguments: "64 500" there, "64 400" here/);
  } finally {
    close();
  }
});

Join("another kernel, protocol or page size is named as such", async () => {
  for (const [change, field] of [
    [{ kernel: "cd".repeat(32) }, 'kernel (sha256): cdcdcdcdcdcdcdcd there, abababababababab here'],
    [{ protocol: "ivy" }, "protocol: ivy there, diff here"],
    [{ pageSize: 8192 }, "page size: 8192 there, 4096 here"],
  ] as const) {
    const bus = new FakeBus();
    const { parties, close } = join3(bus, [joiner("a", 1), joiner("b", 2)], [FINGERPRINT, { ...FINGERPRINT, ...change }]);
    try {
      const [a] = await Promise.all(parties.map((p) => p.done));
      assert.is(a.error!.message.split("; ")[0], `node b/2 differs in ${field}`);
    } finally {
      close();
    }
  }
});

Join("a missing node ends the rendezvous after its bound, naming the nodes that came", async () => {
  const bus = new FakeBus();
  const { parties, close } = join3(bus, [joiner("a", 1, 0), joiner("b", 2)], undefined, 300);
  try {
    const [a] = await Promise.all(parties.map((p) => p.done));
    assert.ok(a.error instanceof RendezvousTimeoutError);
    assert.is(
      a.error!.message,
      "job job1: 2 of 3 nodes joined within 300 ms (a/1 (rank 0), b/2); start the missing node(s) with --job job1 --nodes 3 on the same nats cluster, or raise --join-timeout",
    );
  } finally {
    close();
  }
});

Join("a fourth node for three ranks is refused and the three others start", async () => {
  const bus = new FakeBus();
  const { parties, close } = join3(bus, [joiner("a", 1), joiner("b", 2), joiner("c", 3), joiner("d", 4)]);
  try {
    const outcomes = await Promise.all(parties.map((p) => p.done));
    assert.equal(outcomes.slice(0, 3).map((o) => o.value?.self.rank), [0, 1, 2]);
    // d heard a and b before c, so it formed the job from a, b and itself.
    assert.is(
      outcomes[3].error!.message,
      "node a/1 (rank 0) formed job job1 from a/1, b/2, c/3, this node from a/1, b/2, d/4: more nodes joined than --nodes 3; stop the extra node(s) and restart the job",
    );
  } finally {
    close();
  }
});

Join("two nodes asking for one rank fail every node, naming both", async () => {
  const bus = new FakeBus();
  const { parties, close } = join3(bus, [joiner("a", 1), joiner("b", 2), joiner("c", 3, 2), joiner("d", 4, 2)]);
  try {
    const outcomes = await Promise.all(parties.map((p) => p.done));
    assert.ok(outcomes.every((o) => o.error instanceof RankConflictError), String(outcomes.map((o) => o.error)));
    assert.is(outcomes[0].error!.message, "rank 2 is claimed by node c/3 (rank 2) and node d/4 (rank 2); give each node its own --rank, or omit --rank");
  } finally {
    close();
  }
});

Join("a node arriving after the job started is told it is running already", async () => {
  const bus = new FakeBus();
  const first = join3(bus, [joiner("a", 1), joiner("b", 2), joiner("c", 3)]);
  const started = await Promise.all(first.parties.map((p) => p.done));
  assert.ok(started.every((o) => o.value));
  const late = join3(bus, [joiner("d", 4)]);
  try {
    const [d] = await Promise.all(late.parties.map((p) => p.done));
    assert.ok(d.error instanceof JobFullError);
    assert.is(d.error!.message, "job job1 has more than 3 nodes (it is running already; this node came late); stop the extra node(s), raise --nodes on every node, or use another --job");
  } finally {
    first.close();
    late.close();
  }
});

Join("a joiner that died while joining is forgotten and gets no rank", async () => {
  const bus = new FakeBus();
  const early = join3(bus, [joiner("a", 2), joiner("g", 1)]);
  await sleep(10);
  const ghost = early.parties[1];
  ghost.r.close(); // g was heard by a, then died
  ghost.channel.closed = true;
  await sleep(100);
  const rest = join3(bus, [joiner("b", 3), joiner("c", 4)]);
  try {
    const outcomes = await Promise.all([early.parties[0].done, ...rest.parties.map((p) => p.done)]);
    assert.equal(outcomes.map((o) => `${o.value?.self.rank}:${o.value?.self.host}`), ["0:a", "1:b", "2:c"]);
  } finally {
    early.close();
    rest.close();
  }
});

Join.run();

const Beats = suite("heartbeats");

function members3(): Member[] {
  return [0, 1, 2].map((rank) => ({ uid: `u${rank}`, host: "h", pid: 100 + rank, rank }));
}

function beat3(bus: FakeBus, lostAfterMs = 200) {
  const members = members3();
  const failures: (Error | undefined)[] = [undefined, undefined, undefined];
  const beats = members.map((self, i) => {
    const hb = new Heartbeat(bus.channel(), { self, members, intervalMs: 20, lostAfterMs, onFailure: (e) => (failures[i] = e) });
    hb.beat();
    hb.watch();
    return hb;
  });
  return { beats, failures, close: () => beats.forEach((b) => b.close()) };
}


Beats("a rank that stops beating is declared lost by every other rank, naming it", async () => {
  const { beats, failures, close } = beat3(new FakeBus());
  try {
    await sleep(100);
    beats[2].close();
    const t0 = Date.now();
    while ((!failures[0] || !failures[1]) && Date.now() - t0 < 2000) await sleep(10);
    for (const f of failures.slice(0, 2)) {
      assert.ok(f instanceof NodeLostError);
      assert.is(f!.message, "rank 2 lost: no heartbeat for 200 ms (node h/102); it died, hangs or is cut off from the nats cluster");
    }
    assert.ok(Date.now() - t0 < 400, `detected after ${Date.now() - t0} ms`);
  } finally {
    close();
  }
});

Beats("a rank that finished is no longer watched and its report reaches rank 0", async () => {
  const { beats, failures, close } = beat3(new FakeBus());
  try {
    beats[1].finish({ node: 1, value: 5 });
    beats[2].finish({ node: 2, value: 0 });
    const { reports, missing } = await beats[0].reports([1, 2], 1000);
    assert.equal([...reports], [[1, { node: 1, value: 5 }], [2, { node: 2, value: 0 }]]);
    assert.equal(missing, []);
    await sleep(400);
    assert.equal(failures, [undefined, undefined, undefined]);
  } finally {
    close();
  }
});

Beats("a rank that failed by itself stops the others with its reason", async () => {
  const { beats, failures, close } = beat3(new FakeBus(), 5000);
  try {
    beats[1].abort("KernelTrapError: node 1: kernel trapped: unreachable");
    await sleep(50);
    assert.ok(failures[0] instanceof PeerFailedError);
    assert.is(failures[0]!.message, "rank 1 failed: KernelTrapError: node 1: kernel trapped: unreachable");
    assert.is(failures[2]!.message, failures[0]!.message);
  } finally {
    close();
  }
});

Beats("heartbeats of a process that is not the member do not keep its rank alive", async () => {
  const bus = new FakeBus();
  const members = members3().slice(0, 2);
  let failure: Error | undefined;
  const hb = new Heartbeat(bus.channel(), { self: members[0], members, intervalMs: 20, lostAfterMs: 150, onFailure: (e) => (failure = e) });
  hb.watch();
  const impostor = bus.channel();
  const timer = setInterval(() => impostor.publish("hb", { type: "hb", rank: 1, uid: "someone-else" }), 20);
  try {
    await sleep(400);
    assert.ok(failure instanceof NodeLostError);
    assert.is((failure as NodeLostError).rank, 1);
  } finally {
    clearInterval(timer);
    hb.close();
  }
});

Beats("a stalled event loop does not blame the other ranks", async () => {
  const { failures, close } = beat3(new FakeBus());
  try {
    await sleep(60);
    const until = Date.now() + 500;
    while (Date.now() < until); // every timer of this process is late, as in a paused process
    await sleep(100);
    assert.equal(failures, [undefined, undefined, undefined]);
  } finally {
    close();
  }
});

Beats.run();

const Options = suite("dsm node options");

async function usage(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  try {
    await nodeCommand(argv, env);
  } catch (error) {
    if (error instanceof UsageError) return error.message;
    throw error;
  }
  throw new Error("expected a usage error");
}

Options("--nats, --job and --nodes are required, with their environment variables named", async () => {
  assert.is(await usage(["k.wasm", "--job", "j", "--nodes", "2"]), "--nats is required (or NATS_URL): the nats server(s) every node of the job reaches, e.g. --nats nats://10.0.0.1:4222");
  assert.is(await usage(["k.wasm", "--nats", "nats://h:4222", "--nodes", "2"]), "--job is required (or DSM_JOB): a name shared by every node of the job, e.g. --job jacobi1");
  assert.is(await usage(["k.wasm", "--nats", "nats://h:4222", "--job", "j"]), "--nodes is required (or DSM_NODES): the number of nodes in the job");
});

Options("environment variables stand in for the options", async () => {
  const env = { NATS_URL: "nats://h:4222", DSM_JOB: "j", DSM_NODES: "3", DSM_RANK: "3" };
  assert.is(await usage(["k.wasm"], env), '--rank "3": expected a whole number from 0 to 2');
  assert.is(await usage(["k.wasm"], { ...env, DSM_RANK: "1", DSM_JOB: "a.b" }), '--job "a.b": use 1 to 64 letters, digits, "-" and "_"');
  assert.is(await usage(["k.wasm"], { ...env, DSM_RANK: "1" }), 'kernel "k.wasm": no such file');
});

Options("a wrong protocol or a second kernel is refused", async () => {
  const base = ["--nats", "nats://h:4222", "--job", "j", "--nodes", "2"];
  assert.is(await usage(["k.wasm", ...base, "--protocol", "mesi"]), '--protocol "mesi": unknown; use one of migrate, ivy, diff, lrc, hlrc');
  assert.is(await usage(["a.wasm", "b.wasm", ...base]), "node takes one kernel (.ts, .c/.cc/.cpp or .wasm), got 2; put the kernel's own arguments after --");
});

Options.run();

const Auth = suite("nats credential options");

Auth("user and password go together, from options or the environment", () => {
  assert.equal(parseNatsAuth({ user: "job1", pass: "s3cret" }, {}), { user: "job1", pass: "s3cret" });
  assert.equal(parseNatsAuth({}, { DSM_NATS_USER: "job1", DSM_NATS_PASS: "s3cret" }), { user: "job1", pass: "s3cret" });
  assert.throws(() => parseNatsAuth({ user: "job1" }, {}), (e: Error) => e.message === '--user "job1" needs --pass (or DSM_NATS_PASS); give both');
  assert.throws(() => parseNatsAuth({ pass: "x" }, {}), (e: Error) => e.message === "--pass needs --user (or DSM_NATS_USER); give both");
});

Auth("one way to authenticate at a time", () => {
  assert.throws(() => parseNatsAuth({ user: "a", pass: "b", token: "t" }, {}), (e: Error) => e.message === "--user and --token: give one way to authenticate, not 2");
});

Auth("files must be readable, and a client certificate needs its key", () => {
  const dir = mkdtempSync(join(tmpdir(), "dsm-auth-"));
  try {
    const cert = join(dir, "client.pem");
    writeFileSync(cert, "x");
    assert.throws(
      () => parseNatsAuth({ nkey: join(dir, "missing.nk") }, {}),
      (e: Error) => e instanceof UsageError && e.message === `--nkey "${join(dir, "missing.nk")}": cannot read it (ENOENT); give the path of an existing file`,
    );
    assert.throws(() => parseNatsAuth({ "tls-cert": cert }, {}), (e: Error) => e.message === "--tls-cert needs --tls-key (the certificate's private key)");
    assert.equal(parseNatsAuth({ "tls-ca": cert, "tls-cert": cert, "tls-key": cert, creds: cert }, {}), {
      credsFile: cert,
      tls: { caFile: cert, certFile: cert, keyFile: cert },
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

Auth.run();
