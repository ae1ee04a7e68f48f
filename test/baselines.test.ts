/**
 * The hand-written Jacobi baselines (bench/baselines/) against the TypeScript reference Jacobi and
 * the kernel's pinned result: message passing over the local transport and over NATS, and
 * worker threads over one SharedArrayBuffer.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { BaselineOptionError } from "../bench/baselines/jacobi_rows.js";
import { MpTimeoutError, runMpJacobi } from "../bench/baselines/mp_jacobi.js";
import { runSabJacobi } from "../bench/baselines/sab_jacobi.js";
import { LocalNetwork } from "../src/transport/local_transport.js";
import { NatsTransport } from "../src/transport/nats_transport.js";
import type { Transport } from "../src/transport/transport.js";
import { natsOrSkip } from "./helpers/nats.js";
import { jacobi } from "./helpers/reference_dense.js";
import { suiteKernel } from "./helpers/suite.js";
import { within } from "./helpers/expect.js";

/** Bound on one baseline run in these tests. */
const BOUND_MS = 15_000;

async function onLocalNetwork<T>(nodes: number, work: (transports: Transport[], network: LocalNetwork) => Promise<T>): Promise<T> {
  const network = new LocalNetwork(nodes);
  try {
    return await work(Array.from({ length: nodes }, (_, id) => network.transport(id)), network);
  } finally {
    await network.close();
  }
}

/** Messages of one run: HELLO and its reply per neighbour pair and direction, 2 ROWs per boundary and sweep, one GATHER of row sums and its ack per other node. */
function expectedMessages(nodes: number, iters: number): number {
  return (nodes - 1) * (4 + 2 * iters + 2);
}

const Mp = suite("message-passing Jacobi");

for (const nodes of [1, 2, 3, 4]) {
  Mp(`on ${nodes} local node(s) it equals the reference Jacobi and sends exactly the expected messages`, async () => {
    const run = await onLocalNetwork(nodes, (transports) => within(runMpJacobi(transports, 24, 7), BOUND_MS, "mp jacobi"));
    assert.is(run.result, jacobi(24, 7));
    assert.is(run.messages, expectedMessages(nodes, 7));
  });
}

Mp("at the suite's tiny size on 3 nodes it returns the kernel's pinned result", async () => {
  const { tiny, expected } = suiteKernel("jacobi");
  const run = await onLocalNetwork(3, (transports) => within(runMpJacobi(transports, tiny[0], tiny[1]), BOUND_MS, "mp jacobi"));
  assert.is(run.result, expected);
});

Mp("a lost row fails the receiving node with MpTimeoutError naming row and sweep", async () => {
  const error = await onLocalNetwork(2, async (transports, network) => {
    // Drop node 0's ROW (kind 2, first header word) for sweep 1 (second header word).
    network.intercept = (from, _to, bytes) => (from === 0 && bytes[0] === 2 && bytes[4] === 1 ? "drop" : "deliver");
    return within(runMpJacobi(transports, 16, 4, { timeoutMs: 300 }), BOUND_MS, "mp jacobi").then(
      () => undefined,
      (e: Error) => e,
    );
  });
  assert.instance(error, MpTimeoutError);
  assert.match(error!.message, /^node 1: no row 7 of sweep 1 after 300 ms/);
});

Mp("a grid with fewer rows than nodes is refused with the range of node counts", async () => {
  const error = await onLocalNetwork(4, async (transports) => runMpJacobi(transports, 3, 1).then(() => undefined, (e: Error) => e));
  assert.instance(error, BaselineOptionError);
  assert.is(error!.message, "4 nodes for a 3-row grid: every node needs a row; use from 1 to 3 nodes");
});

Mp.run();

const MpNats = suite("message-passing Jacobi over NATS");
let server: Awaited<ReturnType<typeof natsOrSkip>> = null;
MpNats.before(async () => {
  server = await natsOrSkip("message-passing Jacobi over NATS");
});
MpNats.after(async () => {
  await server?.stop();
});

MpNats("on 3 nodes, one connection each, it equals the reference Jacobi", async () => {
  if (!server) return;
  const job = `mpjacobi${process.pid}`;
  const transports = await Promise.all([0, 1, 2].map((nodeId) => NatsTransport.connect({ servers: server!.url, job, nodeId, nodeCount: 3 })));
  try {
    const run = await within(runMpJacobi(transports, 40, 6), BOUND_MS, "mp jacobi over nats");
    assert.is(run.result, jacobi(40, 6));
    assert.is(run.messages, expectedMessages(3, 6));
  } finally {
    await Promise.all(transports.map((t) => t.close()));
  }
});

MpNats.run();

const Sab = suite("SharedArrayBuffer Jacobi on worker threads");

for (const workers of [1, 2, 3, 4]) {
  Sab(`on ${workers} worker(s) it equals the reference Jacobi`, async () => {
    const run = await within(runSabJacobi(workers, 24, 7), BOUND_MS, "sab jacobi");
    assert.is(run.result, jacobi(24, 7));
    assert.ok(run.ms >= 0);
  });
}

Sab("with an even number of sweeps and at the suite's tiny size it returns the kernel's pinned result", async () => {
  const { tiny, expected } = suiteKernel("jacobi");
  assert.is((await within(runSabJacobi(2, tiny[0], tiny[1] + 1), BOUND_MS, "sab jacobi")).result, jacobi(tiny[0], tiny[1] + 1));
  assert.is((await within(runSabJacobi(3, tiny[0], tiny[1]), BOUND_MS, "sab jacobi")).result, expected);
});

Sab("zero workers are refused with the range of worker counts", async () => {
  const error = await runSabJacobi(0, 16, 1).then(() => undefined, (e: Error) => e);
  assert.instance(error, BaselineOptionError);
  assert.is(error!.message, "0 nodes for a 16-row grid: every node needs a row; use from 1 to 16 nodes");
});

Sab.run();
