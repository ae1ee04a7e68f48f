/**
 * Every protocol on 2, 4 and 8 nodes without wasm: fake ports over a LocalNetwork that delays
 * messages at random (so they overtake each other) and loses one. Each node runs a simulated
 * kernel that reads and writes i32 words through `access`, which faults like the instrumented
 * shim does, and that is "running" (whenParked work waits) between its operations.
 *
 * JavaScript runs one operation at a time, so the operations of all nodes happen in one real-time
 * order; `truth` follows it. Strong consistency means every read returns truth's value at that
 * instant — checked on every read — and, stronger, that every page a running kernel can read holds
 * truth's values of all watched words, checked before every operation of every node. The final
 * memory equals truth. Counter increments under a lock check mutual exclusion: none may be lost.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Access } from "../src/abi.js";
import type { Coherence } from "../src/protocol/coherence.js";
import { decodeMessage, kindName } from "../src/protocol/codec.js";
import { createDiff } from "../src/protocol/diff_protocol.js";
import { createIvy } from "../src/protocol/ivy.js";
import { createMigrate } from "../src/protocol/migrate.js";
import { allows } from "../src/protocol/page_requester.js";
import type { ProtocolOptions } from "../src/protocol/page_protocol.js";
import { LocalNetwork } from "../src/transport/local_transport.js";
import { NatsTransport } from "../src/transport/nats_transport.js";
import type { Transport } from "../src/transport/transport.js";
import { FakePort } from "./helpers/fake_port.js";
import { natsOrSkip } from "./helpers/nats.js";
import { prng } from "./helpers/random.js";
import { within } from "./helpers/expect.js";


const PAGE = 1024;
const FIRST = 16;
const PAGES = 4;
/** Sixteen words, four per page, so nodes share pages without sharing words (false sharing). */
const WORDS = Array.from({ length: 16 }, (_, k) => (k % PAGES) * PAGE + ((k * 37) % 250) * 4);
/** Incremented under lock 1. */
const COUNTER = 3 * PAGE + 1020;
/** Read together with its neighbour across the page boundary: a two-page fault. */
const STRADDLE = PAGE - 4;

interface Wire {
  transports: Transport[];
  /** Messages lost on purpose, described. */
  lost: string[];
  close(): Promise<void>;
}

interface SimOptions {
  nodes: number;
  seed: number;
  phases?: number;
  opsPerPhase?: number;
  /** @default a LocalNetwork that delays 30 % of the messages by 0-3 ms and loses one */
  wire?: (nodes: number, rng: ReturnType<typeof prng>) => Promise<Wire>;
}

/** A LocalNetwork that delays messages at random, so they overtake each other, and loses one. */
async function lossyLocal(nodes: number, rng: ReturnType<typeof prng>): Promise<Wire> {
  const context = { nodeCount: nodes, pageSize: PAGE, firstPage: FIRST, pageCount: PAGES };
  const dropAt = 20 + rng.int(60);
  let sent = 0;
  const lost: string[] = [];
  const network = new LocalNetwork(nodes, {
    intercept: (_from, _to, bytes) => {
      if (++sent === dropAt) {
        const m = decodeMessage(bytes, context);
        lost.push(`${kindName(m.kind)} ${m.source}→${m.target}`);
        return "drop";
      }
      return rng.next() < 0.3 ? { delayMs: rng.int(4) } : "deliver";
    },
  });
  return { transports: Array.from({ length: nodes }, (_, i) => network.transport(i)), lost, close: () => network.close() };
}

interface SimResult {
  reads: number;
  writes: number;
  /** Whole-memory consistency checks passed. */
  checks: number;
  increments: number;
  lost: string[];
  stats: ReturnType<Coherence["stats"]>[];
}

/** Runs the simulated kernels; throws on the first read that saw a stale value. */
async function simulate(create: (o: ProtocolOptions) => Coherence, options: SimOptions): Promise<SimResult> {
  const { nodes, seed, phases = 3, opsPerPhase = 12 } = options;
  const rng = prng(seed);
  const ports = Array.from({ length: nodes }, () => new FakePort({ pageSize: PAGE, firstPage: FIRST, pageCount: PAGES }));
  const wire = await (options.wire ?? lossyLocal)(nodes, rng);
  const lost = wire.lost;
  const coherence = ports.map((port, i) => create({ transport: wire.transports[i], port, job: 3, timeoutMs: 4000, retryMs: 5 }));
  const truth = new Map<number, number>();
  const result: SimResult = { reads: 0, writes: 0, checks: 0, increments: 0, lost, stats: [] };

  const kernel = async (node: number) => {
    const port = ports[node];
    const coh = coherence[node];
    const view = new DataView(port.memory.buffer);
    const local = prng(seed * 31 + node);
    // An access the protection allows happens while the kernel runs; a miss parks it for the fault.
    const access = async (address: number, kind: Access, bytes = 4) => {
      const first = FIRST + Math.floor(address / PAGE);
      const last = FIRST + Math.floor((address + bytes - 1) / PAGE);
      let ok = true;
      for (let p = first; p <= last; p++) ok &&= allows(port.protection(p), kind);
      if (ok) return;
      port.park();
      // As the runtime does: the fault settles inside the handling of a message, and messages
      // handled after it (the kernel still parked) may take a page of the range away again, so
      // it asks again until the range allows the access when the kernel resumes.
      for (let attempt = 0; ; attempt++) {
        await coh.fault(first, last, kind);
        let all = true;
        for (let p = first; p <= last; p++) all &&= allows(port.protection(p), kind);
        if (all) break;
        if (attempt === 20) throw new Error(`node ${node}: fault on ${first}..${last} returned without access ${attempt} times`);
      }
      port.resume();
    };
    const watched = [...WORDS, COUNTER, STRADDLE, STRADDLE + 4];
    // Any page this node can read now must be current in every watched word.
    const checkReadable = () => {
      for (const address of watched) {
        if (!allows(port.protection(FIRST + Math.floor(address / PAGE)), Access.Read)) continue;
        const value = view.getInt32(address, true);
        const expected = truth.get(address) ?? 0;
        if (value !== expected) throw new Error(`node ${node}: readable copy holds ${value} at ${address}, but the latest write there was ${expected}`);
      }
      result.checks++;
    };
    const read = async (address: number) => {
      await access(address, Access.Read);
      const value = view.getInt32(address, true);
      const expected = truth.get(address) ?? 0;
      if (value !== expected) throw new Error(`node ${node}: read ${value} at ${address}, but the latest write there was ${expected}`);
      result.reads++;
      return value;
    };
    const write = async (address: number, value: number) => {
      await access(address, Access.Write);
      view.setInt32(address, value, true);
      truth.set(address, value);
      result.writes++;
    };
    // Time passes while the kernel runs (whenParked work waits); now and then it reaches a poll point.
    const compute = async () => {
      await new Promise((resolve) => (local.next() < 0.5 ? setImmediate(resolve) : setTimeout(resolve, local.int(2))));
      if (local.next() < 0.3) {
        port.park();
        port.resume();
      }
    };
    /** A sync call parks the kernel. */
    const parked = async (call: () => PromiseLike<void>) => {
      port.park();
      await call();
      port.resume();
    };

    await coh.start();
    port.resume();
    for (let phase = 0; phase < phases; phase++) {
      for (let op = 0; op < opsPerPhase; op++) {
        await compute();
        checkReadable();
        const r = local.next();
        if (r < 0.1) {
          await parked(() => coh.lock(1));
          await write(COUNTER, (await read(COUNTER)) + 1);
          result.increments++;
          await parked(() => coh.unlock(1));
        } else if (r < 0.15) {
          await access(STRADDLE, Access.Read, 8);
          await read(STRADDLE);
          await read(STRADDLE + 4);
        } else if (r < 0.55) {
          await write(WORDS[local.int(WORDS.length)], node * 1_000_000 + phase * 1000 + op + 1);
        } else {
          await read(WORDS[local.int(WORDS.length)]);
        }
      }
      await parked(() => coh.barrier());
    }
    for (const address of [...WORDS, COUNTER]) await read(address);
    port.park();
    await coh.finish();
  };

  try {
    await within(Promise.all(ports.map((_, node) => kernel(node))), 15_000);
    assert.is(truth.get(COUNTER) ?? 0, result.increments, "increments under the lock were lost");
    for (const port of ports) assert.equal(port.violations, []);
    result.stats = coherence.map((c) => c.stats());
    return result;
  } finally {
    await Promise.all(coherence.map((c) => c.close()));
    await wire.close();
  }
}

const FACTORIES = [
  ["migrate", createMigrate],
  ["ivy", createIvy],
  ["diff", createDiff],
] as const;

for (const [name, create] of FACTORIES) {
  const Sim = suite(`${name} simulation`);
  for (const nodes of [2, 4, 8]) {
    Sim(`${nodes} nodes with delayed and one lost message: every read sees the latest write`, async () => {
      const r = await simulate(create, { nodes, seed: 1000 * nodes + name.length });
      assert.is(r.lost.length, 1);
      assert.ok(r.reads > nodes * 20, `only ${r.reads} reads`);
      assert.ok(r.writes > nodes * 10, `only ${r.writes} writes`);
      const retries = r.stats.reduce((n, s) => n + s.retries, 0);
      assert.ok(retries > 0, "the lost message was never retried");
    });
  }
  Sim("another seed with 4 nodes and longer phases", async () => {
    const r = await simulate(create, { nodes: 4, seed: 77, phases: 4, opsPerPhase: 20 });
    assert.is(r.lost.length, 1);
  });
  Sim.run();
}

const Nats = suite("simulation over nats-server");

Nats("every protocol keeps 4 nodes consistent over a real nats-server", async () => {
  const server = await natsOrSkip("protocol simulation over nats");
  if (!server) return;
  try {
    for (const [name, create] of FACTORIES) {
      const wire = async (nodes: number): Promise<Wire> => {
        const job = `sim-${name}-${process.pid}`;
        const transports = await Promise.all(
          Array.from({ length: nodes }, (_, nodeId) => NatsTransport.connect({ servers: server.url, job, nodeId, nodeCount: nodes })),
        );
        return { transports, lost: [], close: async () => void (await Promise.all(transports.map((t) => t.close()))) };
      };
      const r = await simulate(create, { nodes: 4, seed: 5, wire });
      assert.ok(r.reads > 80, `${name}: only ${r.reads} reads`);
    }
  } finally {
    await server.stop();
  }
});

Nats.run();
