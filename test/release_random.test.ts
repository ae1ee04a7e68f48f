/**
 * Random race-free programs under lrc and hlrc, checked against a sequential execution of the same
 * schedule. A generator draws a program: phases separated by barriers; in each phase every shared
 * word is owned by one node (only it reads or writes the word) or by none (everyone may read it);
 * words of lock l are read and written only inside critical sections of lock l. The steps of a
 * phase (critical sections and private reads and writes of random nodes) run one after another,
 * so the schedule of critical sections is the one drawn, and every read must return what the
 * sequential execution of that schedule gives. Words are spread over a few pages, so pages are
 * written by several nodes at once (false sharing) and through several locks.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Access, Protection } from "../src/abi.js";
import type { Coherence } from "../src/protocol/coherence.js";
import type { ProtocolOptions } from "../src/protocol/page_protocol.js";
import { createHlrc } from "../src/protocol/hlrc/hlrc.js";
import { createLrc } from "../src/protocol/lrc/lrc.js";
import { seededRandom } from "../src/runtime/chaos.js";
import { recordedCluster } from "./helpers/recording_transport.js";
import { within } from "./helpers/expect.js";

const PAGES = 6;
const WORDS_PER_PAGE = 256;
const POOL = 48;
const LOCKS = 3;
const WORDS_PER_LOCK = 4;
const PHASES = 4;
const STEPS = 24;

type Op = { read: number } | { write: number; value: number };
type Step = { node: number; lock?: number; ops: Op[] };
interface Program {
  nodes: number;
  /** Word addresses as [page, word]. */
  words: [number, number][];
  lockWords: number[][];
  phases: Step[][];
}

function generate(seed: number, nodes: number): Program {
  const rnd = seededRandom(seed);
  const pick = (n: number) => Math.floor(rnd() * n);
  const used = new Set<number>();
  const words: [number, number][] = [];
  while (words.length < POOL) {
    const flat = pick(PAGES * WORDS_PER_PAGE);
    if (used.has(flat)) continue;
    used.add(flat);
    words.push([16 + Math.floor(flat / WORDS_PER_PAGE), flat % WORDS_PER_PAGE]);
  }
  const lockWords = Array.from({ length: LOCKS }, (_, l) => Array.from({ length: WORDS_PER_LOCK }, (_, k) => l * WORDS_PER_LOCK + k));
  const dataWords = Array.from({ length: POOL - LOCKS * WORDS_PER_LOCK }, (_, k) => LOCKS * WORDS_PER_LOCK + k);
  let next = 1;
  const phases: Step[][] = [];
  for (let phase = 0; phase < PHASES; phase++) {
    const owner = new Map(dataWords.map((w) => [w, pick(nodes + 1) - 1] as const)); // -1: read-only this phase
    const steps: Step[] = [];
    for (let s = 0; s < STEPS; s++) {
      const node = pick(nodes);
      const ops: Op[] = [];
      if (rnd() < 0.4) {
        const lock = pick(LOCKS);
        for (let k = 1 + pick(3); k > 0; k--) {
          const w = lockWords[lock][pick(WORDS_PER_LOCK)];
          ops.push(rnd() < 0.5 ? { read: w } : { write: w, value: next++ });
        }
        steps.push({ node, lock, ops });
        continue;
      }
      const mine = dataWords.filter((w) => owner.get(w) === node);
      const readable = dataWords.filter((w) => owner.get(w) === node || owner.get(w) === -1);
      for (let k = 1 + pick(4); k > 0; k--) {
        if (mine.length > 0 && rnd() < 0.5) ops.push({ write: mine[pick(mine.length)], value: next++ });
        else if (readable.length > 0) ops.push({ read: readable[pick(readable.length)] });
      }
      steps.push({ node, ops });
    }
    phases.push(steps);
  }
  return { nodes, words, lockWords, phases };
}

/**
 * `drop`: share of all messages lost; `delay`: share held back and delivered a few ms later,
 * after messages sent after them.
 */
async function execute(program: Program, create: (o: ProtocolOptions) => Coherence, tuning: { drop?: number; delay?: number; seed: number } & Record<string, unknown>): Promise<void> {
  const { drop, delay, seed, ...rest } = tuning;
  const cluster = recordedCluster(program.nodes, create, { pageCount: PAGES, ...rest });
  const chance = seededRandom(seed ^ 0x5bd1e995);
  if (drop) cluster.net.drop = () => chance() < drop;
  if (delay) cluster.net.hold = () => chance() < delay;
  const releaser = delay ? setInterval(() => cluster.net.releaseHeld(), 3) : undefined;
  try {
    await executeOn(program, cluster, seed);
  } finally {
    clearInterval(releaser);
  }
}

async function executeOn(program: Program, cluster: ReturnType<typeof recordedCluster>, seed: number): Promise<void> {
  const { nodes, ports } = cluster;
  await Promise.all(nodes.map((c) => c.start()));
  const view = (node: number, page: number) => new Uint32Array(ports[node].page(page).buffer, ports[node].page(page).byteOffset, WORDS_PER_PAGE);
  const model = new Array<number>(POOL).fill(0);
  const where = (step: string) => `seed ${seed}, ${program.nodes} nodes: ${step}`;
  const run = async (node: number, op: Op, step: string) => {
    const w = "read" in op ? op.read : op.write;
    const [page, word] = program.words[w];
    if ("read" in op) {
      if (ports[node].protection(page) === Protection.None) await within(nodes[node].fault(page, page, Access.Read), 10_000, where(step));
      assert.is(view(node, page)[word], model[w], where(`${step}: node ${node} read word ${w} (page ${page}, word ${word})`));
    } else {
      if (ports[node].protection(page) !== Protection.ReadWrite) await within(nodes[node].fault(page, page, Access.Write), 10_000, where(step));
      view(node, page)[word] = op.value;
      model[w] = op.value;
    }
  };
  for (const [phase, steps] of program.phases.entries()) {
    for (const [s, step] of steps.entries()) {
      const name = `phase ${phase} step ${s}`;
      if (step.lock !== undefined) await within(nodes[step.node].lock(step.lock), 10_000, where(`${name} lock`));
      for (const op of step.ops) await run(step.node, op, name);
      if (step.lock !== undefined) await within(nodes[step.node].unlock(step.lock), 10_000, where(`${name} unlock`));
    }
    await within(Promise.all(nodes.map((c) => c.barrier())), 10_000, where(`barrier after phase ${phase}`));
  }
  // After the last barrier every word is readable everywhere and must hold its last value.
  for (let node = 0; node < program.nodes; node++) for (let w = 0; w < POOL; w++) await run(node, { read: w }, "final check");
  await within(Promise.all(nodes.map((c) => c.finish())), 10_000, where("finish"));
  for (const c of nodes) c.close();
}

const Random = suite("random race-free programs under lrc and hlrc equal their sequential execution");

const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8];

Random("lrc: 8 programs on 2, 3 and 4 nodes", async () => {
  for (const seed of SEEDS) await execute(generate(seed, 2 + (seed % 3)), (o) => createLrc(o), { seed });
});

Random("lrc collecting garbage at every barrier: the same 8 programs", async () => {
  for (const seed of SEEDS) await execute(generate(seed, 2 + (seed % 3)), (o) => createLrc({ ...o, gcBytes: 0 }), { seed });
});

Random("hlrc: 8 programs on 2, 3 and 4 nodes", async () => {
  for (const seed of SEEDS) await execute(generate(seed, 2 + (seed % 3)), (o) => createHlrc(o), { seed });
});

Random("hlrc with the allocation's placement: the same 8 programs", async () => {
  for (const seed of SEEDS) {
    await execute(
      generate(seed, 2 + (seed % 3)),
      (o) => {
        const c = createHlrc({ ...o, placement: "allocation" });
        c.allocated(16 * 1024, PAGES * 1024);
        return c;
      },
      { seed },
    );
  }
});

Random("hlrc losing 3 % of all messages: 4 programs", async () => {
  for (const seed of SEEDS.slice(0, 4)) await execute(generate(seed, 2 + (seed % 3)), (o) => createHlrc(o), { seed, drop: 0.03, retryMs: 15 });
});

Random("hlrc with 15 % of all messages overtaken by later ones: 8 programs", async () => {
  for (const seed of SEEDS) await execute(generate(seed, 2 + (seed % 3)), (o) => createHlrc(o), { seed, delay: 0.15 });
});

Random("lrc with 15 % of all messages overtaken by later ones: 8 programs", async () => {
  for (const seed of SEEDS) await execute(generate(seed, 2 + (seed % 3)), (o) => createLrc(o), { seed, delay: 0.15 });
});

Random("lrc losing 3 % of all messages: 4 programs", async () => {
  for (const seed of SEEDS.slice(0, 4)) await execute(generate(seed, 2 + (seed % 3)), (o) => createLrc(o), { seed, drop: 0.03, retryMs: 15 });
});

Random.run();
