/**
 * An in-process network that records every message, for transcript tests. Delivery is
 * asynchronous (a setImmediate drain, one global FIFO, like LocalNetwork) and deterministic:
 * the transcript is the order of sends. `drop` decides, per decoded message, whether it is lost.
 *
 *   const net = new RecordingNetwork(2, context);
 *   ... run a fault ...
 *   net.transcript()  →  ["ReadRequest 1→0 p16 v0", "ReadForward 0→0 p16 v0", ...]
 *
 * `hold` keeps a message back (recorded, not delivered) until `releaseHeld()`: a late duplicate.
 * `recordedCluster` builds N protocol nodes over fake ports on one such network.
 */
import { Access, Protection } from "../../src/abi.js";
import type { Coherence } from "../../src/protocol/coherence.js";
import { confirmEntries, decodeMessage, kindName, MessageKind, type DecodeContext, type Message } from "../../src/protocol/codec.js";
import type { ProtocolOptions, ProtocolTuning } from "../../src/protocol/page_protocol.js";
import type { MessageHandler, Transport } from "../../src/transport/transport.js";
import { within } from "./expect.js";
import { FakePort } from "./fake_port.js";

export interface Sent {
  from: number;
  to: number;
  bytes: Uint8Array;
  message: Message;
  dropped: boolean;
  held: boolean;
}

export class RecordingNetwork {
  readonly log: Sent[] = [];
  /** Decides whether a message is lost in flight; sees it decoded and its index in the log. */
  drop: ((message: Message, index: number) => boolean) | undefined;
  /** Decides whether a message is held back until {@link releaseHeld}. */
  hold: ((message: Message, index: number) => boolean) | undefined;
  private held: Sent[] = [];
  private readonly handlers: (MessageHandler | undefined)[];
  private queue: Sent[] = [];
  private scheduled = false;
  readonly transports: Transport[];

  constructor(
    readonly nodeCount: number,
    private readonly context: DecodeContext,
  ) {
    this.handlers = new Array(nodeCount).fill(undefined);
    this.transports = Array.from({ length: nodeCount }, (_, id) => this.makeTransport(id));
  }

  transport(id: number): Transport {
    return this.transports[id];
  }

  /** One line per message: `Kind from→to p<page> v<version>`, with ` (dropped)` when lost. */
  transcript(filter: (m: Message) => boolean = () => true): string[] {
    return this.log.filter((s) => filter(s.message)).map((s) => describe(s.message) + (s.dropped ? " (dropped)" : s.held ? " (held)" : ""));
  }

  /** Delivers the held messages now, in the order they were sent. */
  releaseHeld(): void {
    const held = this.held;
    this.held = [];
    for (const s of held) this.enqueue(s);
  }

  /** Forgets the log so far (e.g. after setting up a state). */
  clear(): void {
    this.log.length = 0;
  }

  /**
   * Resolves once nothing was sent or delivered for `calmMs` (longer than the protocols' retry
   * interval in these tests, so a pending retransmission shows up first).
   */
  async quiet(calmMs = 60, maxMs = 3000): Promise<void> {
    const deadline = Date.now() + maxMs;
    let seen = -1;
    let since = Date.now();
    for (;;) {
      if (Date.now() > deadline) throw new Error(`network still busy after ${maxMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (this.log.length !== seen || this.queue.length > 0) {
        seen = this.log.length;
        since = Date.now();
      } else if (Date.now() - since >= calmMs) {
        return;
      }
    }
  }

  /** Resolves once `count` messages matching `predicate` have been sent; rejects after `maxMs`. */
  async waitFor(predicate: (m: Message) => boolean, count = 1, maxMs = 3000): Promise<void> {
    const deadline = Date.now() + maxMs;
    while (this.log.filter((s) => predicate(s.message)).length < count) {
      if (Date.now() > deadline) throw new Error(`no matching message within ${maxMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  private post(from: number, to: number, bytes: Uint8Array): void {
    const copy = bytes.slice();
    const message = decodeMessage(copy, this.context);
    const sent: Sent = { from, to, bytes: copy, message, dropped: false, held: false };
    sent.dropped = this.drop?.(message, this.log.length) ?? false;
    sent.held = !sent.dropped && (this.hold?.(message, this.log.length) ?? false);
    this.log.push(sent);
    if (sent.dropped) return;
    if (sent.held) {
      this.held.push(sent);
      return;
    }
    this.enqueue(sent);
  }

  private enqueue(sent: Sent): void {
    this.queue.push(sent);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        const batch = this.queue;
        this.queue = [];
        for (const s of batch) this.handlers[s.to]?.(s.bytes);
      });
    }
  }

  private makeTransport(id: number): Transport {
    const counters = { messages: 0, bytes: 0 };
    return {
      nodeId: id,
      nodeCount: this.nodeCount,
      counters,
      send: (to, bytes) => {
        counters.messages++;
        counters.bytes += bytes.byteLength;
        this.post(id, to, bytes);
      },
      request: () => Promise.reject(new Error("RecordingNetwork does not implement request; protocols use send")),
      listen: (handler) => {
        this.handlers[id] = handler;
      },
      close: async () => {
        this.handlers[id] = undefined;
      },
    };
  }
}

export function describe(m: Message): string {
  const line = `${kindName(m.kind)} ${m.source}→${m.target} p${m.page} v${m.version}`;
  // A Confirm that confirms further pages names them: "Confirm 2→0 p16 v0 +p19".
  if (m.kind !== MessageKind.Confirm || m.payload.byteLength === 0) return line;
  return [line, ...confirmEntries(m).slice(1).map((c) => `+p${c.page}`)].join(" ");
}

export interface RecordedCluster {
  net: RecordingNetwork;
  ports: FakePort[];
  nodes: Coherence[];
}

/**
 * N nodes of one protocol over fake ports (1 KiB pages 16..19) on one recording network. The retry
 * interval defaults to 300 ms, far above delivery time even on a loaded machine, so a transcript
 * shows a repeat only where a test lost a message on purpose.
 */
export function recordedCluster(
  n: number,
  create: (options: ProtocolOptions) => Coherence,
  tuning: ProtocolTuning & { timeoutMs?: number; pageCount?: number } = {},
): RecordedCluster {
  const ports = Array.from({ length: n }, () => new FakePort({ pageSize: 1024, firstPage: 16, pageCount: tuning.pageCount ?? 4 }));
  const { pageSize, firstPage, pageCount } = ports[0];
  const net = new RecordingNetwork(n, { nodeCount: n, pageSize, firstPage, pageCount });
  const nodes = ports.map((port, i) => create({ transport: net.transport(i), port, job: 9, timeoutMs: 3000, retryMs: 300, ...tuning }));
  return { net, ports, nodes };
}

/**
 * A started {@link recordedCluster} with word access as a kernel has it: `write` and `read` fault
 * first where the page's protection asks for it (as the instrumentation would), `all` runs a call
 * on every node, `stat` reads one node's counter.
 */
export async function startedCluster(n: number, create: (options: ProtocolOptions) => Coherence, tuning: ProtocolTuning & { timeoutMs?: number; pageCount?: number } = {}) {
  const cluster = recordedCluster(n, create, tuning);
  await Promise.all(cluster.nodes.map((c) => c.start()));
  const words = (node: number, page: number) => new Uint32Array(cluster.ports[node].page(page).buffer, cluster.ports[node].page(page).byteOffset, cluster.ports[node].pageSize >>> 2);
  /** Node `node` stores `value` in word `word` of `page`, faulting first as the shim would. */
  const write = async (node: number, page: number, word: number, value: number) => {
    if (cluster.ports[node].protection(page) !== Protection.ReadWrite) await within(cluster.nodes[node].fault(page, page, Access.Write));
    words(node, page)[word] = value;
  };
  const read = async (node: number, page: number, word: number) => {
    if (cluster.ports[node].protection(page) === Protection.None) await within(cluster.nodes[node].fault(page, page, Access.Read));
    return words(node, page)[word];
  };
  const all = (fn: (c: Coherence, i: number) => PromiseLike<void> | void) => within(Promise.all(cluster.nodes.map(fn)));
  const stat = (node: number, name: string) => cluster.nodes[node].stats()[name];
  return { ...cluster, write, read, words, all, stat };
}
