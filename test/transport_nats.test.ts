/**
 * What only the NATS transport has: jobs isolated by subject, the server's max_payload, connection
 * and credential errors, the client settings, reconnection; and the private nats-server helper.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import {
  InvalidTransportOptionError,
  NatsAuthError,
  NatsConnectError,
  NatsCredentialsError,
  NatsServerNotFoundError,
  NatsServerStartError,
  NoRespondersError,
  PayloadTooLargeError,
} from "../src/transport/errors.js";
import { startNatsServer } from "../src/transport/nats_server.js";
import { NatsTransport, natsConnectionOptions, type NatsTransportOptions } from "../src/transport/nats_transport.js";
import { natsOrSkip } from "./helpers/nats.js";
import { collectorWithin, rejection } from "./helpers/expect.js";

const WAIT_MS = 3000;

const collector = collectorWithin(WAIT_MS);

/** True while the process exists and is not a zombie (killed, waiting for init to reap it). */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

async function until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}

const server = await natsOrSkip("NatsTransport and nats-server tests");
const transport = suite("NatsTransport");
const natsServer = suite("nats-server");

if (server) {
  const url = server.url;
  const node = (job: string, nodeId: number, extra: Partial<NatsTransportOptions> = {}) =>
    NatsTransport.connect({ servers: url, job, nodeId, nodeCount: 2, ...extra });

  transport("a node of another job does not receive the messages of this job", async () => {
    const [a0, a1, b0, b1] = await Promise.all([node("jobA", 0), node("jobA", 1), node("jobB", 0), node("jobB", 1)]);
    const atA1 = collector<string>(1);
    const atB1 = collector<string>(1);
    a1.listen((bytes) => atA1.push(`A:${bytes[0]}`));
    b1.listen((bytes) => atB1.push(`B:${bytes[0]}`));
    await Promise.all([a1.flush(), b1.flush()]);
    a0.send(1, new Uint8Array([1]));
    assert.equal(await atA1.done, ["A:1"]);
    b0.send(1, new Uint8Array([2])); // routed after a0's message: if B heard that one, it came first
    assert.equal(await atB1.done, ["B:2"]);
    await Promise.all([a0, a1, b0, b1].map((t) => t.close()));
  });

  transport("a request to a node listening only in another job gets NoRespondersError", async () => {
    const [c0, d1] = await Promise.all([node("jobC", 0), node("jobD", 1)]);
    d1.listen((bytes, reply) => reply!(bytes));
    await d1.flush();
    const error = await rejection(c0.request(1, new Uint8Array(1), WAIT_MS));
    assert.instance(error, NoRespondersError);
    assert.is(error.message, "node 1: nobody is listening (request to dsm.jobC.n.1); start node 1 in this job or wait until it listens");
    await Promise.all([c0.close(), d1.close()]);
  });

  transport("the largest message is the server's max_payload", async () => {
    const small = await startNatsServer({ config: "max_payload: 4096\n" });
    const t = await NatsTransport.connect({ servers: small.url, job: "small", nodeId: 0, nodeCount: 1 });
    try {
      assert.is(t.maxPayload, 4096);
      t.send(0, new Uint8Array(4096));
      let error: unknown;
      try {
        t.send(0, new Uint8Array(4097));
      } catch (thrown) {
        error = thrown;
      }
      assert.instance(error, PayloadTooLargeError);
      assert.is((error as Error).message, "message to node 0 of 4097 bytes exceeds max_payload 4096; raise max_payload in the nats-server config or send smaller messages");
    } finally {
      await t.close();
      await small.stop();
    }
  });

  transport("a server that is not there gives NatsConnectError naming the url and the fix", async () => {
    const gone = await startNatsServer();
    await gone.stop();
    const error = await rejection(NatsTransport.connect({ servers: [gone.url], job: "j", nodeId: 0, nodeCount: 1 }));
    assert.instance(error, NatsConnectError);
    assert.is(
      error.message,
      `cannot connect to nats at ${gone.url} (CONNECTION_REFUSED); start nats-server there, pass the right server url, or run with --transport local`,
    );
  });

  transport("wrong credentials give NatsAuthError; right ones connect", async () => {
    const guarded = await startNatsServer({ args: ["--user", "dsm", "--pass", "secret"] });
    try {
      const options = { servers: guarded.url, job: "j", nodeId: 0, nodeCount: 1, user: "dsm" };
      const error = await rejection(NatsTransport.connect({ ...options, pass: "wrong" }));
      assert.instance(error, NatsAuthError);
      assert.is(error.message, `nats at ${guarded.url} refused the credentials (AUTHORIZATION_VIOLATION); check user and pass, token or nkey seed`);
      await (await NatsTransport.connect({ ...options, pass: "secret" })).close();
    } finally {
      await guarded.stop();
    }
  });

  transport("an unreadable nkey seed file gives NatsCredentialsError", async () => {
    const error = await rejection(node("j", 0, { nkeySeedFile: "/nonexistent/seed.nk" }));
    assert.instance(error, NatsCredentialsError);
    assert.is(error.message, 'cannot read nats credentials file "/nonexistent/seed.nk": ENOENT; check the path and its permissions');
  });

  transport("a job that is not one subject token, or a node id outside the job, is rejected", async () => {
    const job = await rejection(node("a.b", 0));
    assert.instance(job, InvalidTransportOptionError);
    assert.is(job.message, 'job "a.b" is invalid; use letters, digits, "-" and "_" only');
    assert.is((await rejection(node("j", 2))).message, "nodeId 2 is invalid; use an integer in 0..1");
  });

  transport("nodes connect with DSM settings, not the client library's defaults", () => {
    const options = natsConnectionOptions({ servers: [], job: "job7", nodeId: 3, nodeCount: 4 }, ["nats://h:4222"]);
    assert.equal(options, {
      servers: ["nats://h:4222"],
      name: "dsm-job7-3",
      user: undefined,
      pass: undefined,
      token: undefined,
      authenticator: undefined,
      tls: undefined,
      timeout: 5000,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      reconnectJitter: 50,
      pingInterval: 2000,
      maxPingOut: 2,
      inboxPrefix: "dsm.job7._INBOX",
      noRandomize: true,
      noAsyncTraces: true,
    });
  });

  transport("a node connects to the first server of its list: 8 nodes given [A, B] all reach a node that is on A alone", async () => {
    // A second server not routed to the first: a node connected to it would not reach node 8.
    const other = await startNatsServer();
    const nodes: NatsTransport[] = [];
    try {
      const listener = await NatsTransport.connect({ servers: [url], job: "first", nodeId: 8, nodeCount: 9 });
      nodes.push(listener);
      const heard = collector<number>(8);
      listener.listen((bytes) => heard.push(bytes[0]!));
      await listener.flush();
      for (let id = 0; id < 8; id++) nodes.push(await NatsTransport.connect({ servers: [url, other.url], job: "first", nodeId: id, nodeCount: 9 }));
      for (const n of nodes.slice(1)) n.send(8, new Uint8Array([n.nodeId]));
      assert.equal((await heard.done).sort(), [0, 1, 2, 3, 4, 5, 6, 7]);
    } finally {
      await Promise.all(nodes.map((n) => n.close()));
      await other.stop();
    }
  });

  transport("a node reconnects after its server restarts and requests succeed again", async () => {
    let restartable = await startNatsServer();
    const events: string[] = [];
    const onStatus = (event: { type: string }) => events.push(event.type);
    const options = { servers: restartable.url, job: "re", nodeCount: 2, onStatus };
    const [a, b] = await Promise.all([NatsTransport.connect({ ...options, nodeId: 0 }), NatsTransport.connect({ ...options, nodeId: 1 })]);
    try {
      b.listen((bytes, reply) => reply!(bytes));
      await b.flush();
      assert.equal(Array.from(await a.request(1, new Uint8Array([1]), WAIT_MS)), [1]);
      await restartable.stop();
      restartable = await startNatsServer({ port: restartable.port });
      let answer: number[] | undefined;
      const deadline = Date.now() + WAIT_MS;
      while (!answer && Date.now() < deadline) {
        answer = await a.request(1, new Uint8Array([2]), 200).then((bytes) => Array.from(bytes), () => undefined);
      }
      assert.equal(answer, [2]);
      assert.ok(events.includes("disconnect") && events.includes("reconnect"), `events: ${events.join(",")}`);
    } finally {
      await Promise.all([a.close(), b.close()]);
      await restartable.stop();
    }
  });

  transport("close is bounded when the server is gone", async () => {
    const doomed = await startNatsServer();
    const t = await NatsTransport.connect({ servers: doomed.url, job: "gone", nodeId: 0, nodeCount: 1, closeTimeoutMs: 200 });
    t.listen(() => undefined);
    await doomed.stop();
    const started = Date.now();
    await t.close();
    assert.ok(Date.now() - started < 1000, `close took ${Date.now() - started} ms`);
  });

  natsServer("a private server listens on loopback and stop() ends its process", async () => {
    const own = await startNatsServer();
    assert.match(own.url, /^nats:\/\/127\.0\.0\.1:\d+$/);
    assert.is(own.url, `nats://127.0.0.1:${own.port}`);
    await (await NatsTransport.connect({ servers: own.url, job: "j", nodeId: 0, nodeCount: 1 })).close();
    assert.ok(isRunning(own.pid));
    await own.stop();
    await own.stop();
    assert.is(isRunning(own.pid), false);
  });

  natsServer("a binary that exits at once gives NatsServerStartError", async () => {
    const error = await rejection(startNatsServer({ binary: "/bin/false", port: 1 }));
    assert.instance(error, NatsServerStartError);
    assert.is(error.message, "/bin/false on 127.0.0.1:1 exited with code 1 before accepting connections");
  });

  natsServer("a server left running is killed when its parent process exits", async () => {
    const module = fileURLToPath(new URL("../src/transport/nats_server.js", import.meta.url));
    const script = `import(${JSON.stringify(module)}).then(async (m) => { const s = await m.startNatsServer(); console.log(s.pid); process.exit(0); });`;
    const child = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (chunk) => (out += chunk));
    assert.ok(await until(() => child.exitCode !== null, WAIT_MS), "parent did not exit");
    const pid = Number(out.trim());
    assert.ok(pid > 0, `parent printed ${JSON.stringify(out)}`);
    assert.ok(await until(() => !isRunning(pid), WAIT_MS), `nats-server ${pid} still running`);
  });
}

natsServer("without nats-server, starting one gives NatsServerNotFoundError", async () => {
  const error = await rejection(startNatsServer({ searchDirs: [] }));
  assert.instance(error, NatsServerNotFoundError);
  assert.is(error.message, "nats-server not found on PATH; install it (apt-get install nats-server) or run with --transport local");
});

natsServer("natsOrSkip skips loudly on a developer machine and fails in CI", async () => {
  const ci = process.env.CI;
  const write = process.stderr.write;
  const lines: string[] = [];
  try {
    delete process.env.CI;
    process.stderr.write = ((chunk: string) => lines.push(chunk) > 0) as typeof process.stderr.write;
    assert.is(await natsOrSkip("some test", { searchDirs: [] }), null);
    process.stderr.write = write;
    assert.equal(lines, ["SKIPPED (nats-server not installed): some test\n"]);
    process.env.CI = "true";
    assert.instance(await rejection(natsOrSkip("some test", { searchDirs: [] })), NatsServerNotFoundError);
  } finally {
    process.stderr.write = write;
    if (ci === undefined) delete process.env.CI;
    else process.env.CI = ci;
  }
});

if (server) natsServer.after(() => server.stop());
transport.run();
natsServer.run();
