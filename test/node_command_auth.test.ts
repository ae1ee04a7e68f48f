/**
 * Access control: the documented nats-server configuration (test/fixtures/nats-jobs.conf)
 * confines each job to `dsm.<job>.>`; nodes authenticate with a user and password (options or
 * environment) or an nkey seed file; a client of another job is refused.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, ErrorCode, type NatsError } from "nats";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { NatsServer } from "../src/transport/nats_server.js";
import type { KernelModule } from "../src/runtime/kernel_module.js";
import { DsmProcess, dsmSync, oneNodeResult, settleAll } from "./helpers/dsm_node.js";
import { kernel, ROOT } from "./helpers/kernels.js";
import { natsOrSkip } from "./helpers/nats.js";

const CONFIG = join(ROOT, "test/fixtures/nats-jobs.conf");
const JOB3_SEED = join(ROOT, "test/fixtures/job3.nk");
const JOB1 = { DSM_NATS_USER: "job1", DSM_NATS_PASS: "job1-secret" };

const Auth = suite("nats access control");
let server: NatsServer | null = null;
let dir = "";
let jacobi = "";
let jacobiModule: KernelModule;

Auth.before(async () => {
  server = await natsOrSkip("nats access control", { config: readFileSync(CONFIG, "utf8") });
  dir = mkdtempSync(join(tmpdir(), "dsm-auth-test-"));
  jacobi = join(dir, "jacobi.wasm");
  jacobiModule = (await kernel("assembly/kernels/jacobi.ts")).instrumented;
  writeFileSync(jacobi, jacobiModule.bytes);
});

Auth.after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const reference = (args: string[]) => oneNodeResult(jacobiModule, args);

function job(name: string, count: number, args: string[], auth: string[], env: NodeJS.ProcessEnv = {}): DsmProcess[] {
  return Array.from({ length: count }, () => new DsmProcess(["node", jacobi, "--nats", server!.url, "--job", name, "--nodes", String(count), "--json", ...auth, "--", ...args], { env }));
}

function resultOf(procs: DsmProcess[]): number {
  return JSON.parse(procs.find((p) => p.rank === 0)!.out).result;
}

Auth("a job's nodes run with its user from the environment, or with an nkey seed file", async () => {
  if (!server) return;
  const job1 = job("job1", 2, ["48", "4"], [], JOB1);
  const job3 = job("job3", 2, ["48", "4"], ["--nkey", JOB3_SEED]);
  const exits = await settleAll([...job1, ...job3], 30_000);
  assert.equal(exits.map((e) => e.code), [0, 0, 0, 0], [...job1, ...job3].map((p) => p.err).join("\n"));
  assert.is(resultOf(job1), await reference(["48", "4"]));
  assert.is(resultOf(job3), await reference(["48", "4"]));
});

Auth("a client of another job can neither read the job's pages nor inject messages into it", async () => {
  if (!server) return;
  const args = ["48", "150"];
  const expected = await reference(args);
  const victims = job("job1", 2, args, [], JOB1);
  const intruder = await connect({ servers: server.url, user: "job2", pass: "job2-secret" });
  try {
    await Promise.all(victims.map((p) => p.waitFor((x) => x.rank !== undefined, 20_000, "joined line")));
    const refused: string[] = [];
    const statusErrors: string[] = [];
    void (async () => {
      for await (const s of intruder.status()) if (s.type === "error") statusErrors.push(String(s.data));
    })();
    for (const subject of ["dsm.job1.n.0", "dsm.job1.>", "dsm.>"]) {
      intruder.subscribe(subject, { callback: (error: NatsError | null) => error && refused.push(`${error.code}: ${error.message}`) });
    }
    intruder.publish("dsm.job1.n.1", new Uint8Array(64));
    intruder.publish("dsm.job1.hb", new TextEncoder().encode(JSON.stringify({ type: "abort", rank: 1, uid: "x", reason: "injected" })));
    await intruder.flush();
    const deadline = Date.now() + 3000;
    while ((refused.length < 3 || statusErrors.length < 5) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(refused.sort(), [
      `${ErrorCode.PermissionsViolation}: 'Permissions Violation for Subscription to "dsm.>"'`,
      `${ErrorCode.PermissionsViolation}: 'Permissions Violation for Subscription to "dsm.job1.>"'`,
      `${ErrorCode.PermissionsViolation}: 'Permissions Violation for Subscription to "dsm.job1.n.0"'`,
    ]);
    // Three refused subscriptions and two refused publications.
    assert.equal(statusErrors, Array(5).fill(ErrorCode.PermissionsViolation));
    // A node with job2's credentials cannot join job1 either.
    const outsider = new DsmProcess(["node", jacobi, "--nats", server.url, "--job", "job1", "--nodes", "2", "--user", "job2", "--pass", "job2-secret", "--", ...args]);
    const [exit] = await settleAll([outsider], 15_000);
    assert.is(exit.code, 1);
    assert.match(outsider.err, `dsm: NatsPermissionError: nats refused subscription to "dsm.job1.hello"; these credentials do not cover job job1`);
    const exits = await settleAll(victims, 30_000);
    assert.equal(exits.map((e) => e.code), [0, 0], victims.map((p) => p.err).join("\n"));
    assert.is(resultOf(victims), expected);
  } finally {
    await intruder.close();
    await settleAll(victims, 5000).catch(() => undefined);
  }
});

Auth("a wrong password or no credentials at all is refused with a clear error", async () => {
  if (!server) return;
  const wrong = new DsmProcess(["node", jacobi, "--nats", server.url, "--job", "job1", "--nodes", "1", "--user", "job1", "--pass", "nope", "--", "48", "4"]);
  const none = new DsmProcess(["node", jacobi, "--nats", server.url, "--job", "job1", "--nodes", "1", "--", "48", "4"]);
  const exits = await settleAll([wrong, none], 15_000);
  assert.equal(exits.map((e) => e.code), [1, 1]);
  const refusal = `dsm: NatsAuthError: nats at ${server.url} refused the credentials (${ErrorCode.AuthorizationViolation}); check user and pass, token or nkey seed`;
  assert.is(wrong.err.trim(), refusal);
  assert.is(none.err.trim(), refusal);
});

Auth("dsm run --transport nats hands its credentials to every node process", async () => {
  if (!server) return;
  const r = dsmSync(["run", jacobi, "--nodes", "2", "--transport", "nats", "--nats", server.url, "--user", "runner", "--pass", "runner-secret", "--json", "--", "48", "4"]);
  assert.is(r.code, 0, r.err);
  assert.is(JSON.parse(r.out).result, await reference(["48", "4"]));
  const local = dsmSync(["run", jacobi, "--nodes", "2", "--user", "runner", "--pass", "x", "--", "48", "4"]);
  assert.is(local.code, 2);
  assert.is(local.err, "dsm: UsageError: credentials and TLS options apply to servers given with --transport nats --nats URL; add them or drop the credentials");
});

Auth.run();
