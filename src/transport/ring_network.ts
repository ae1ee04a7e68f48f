/**
 * Builds the shared buffers of ring links (ring_link.ts): every node's bell and a ring from each
 * node to each other (the embedded transport), or a node's pair of rings to and from the host
 * thread that relays it over NATS (ring_relay.ts).
 */
import { Bell } from "./bell.js";
import { createRingBuffer } from "./ring.js";
import { InvalidTransportOptionError } from "./errors.js";
import { checkNodeCount } from "./checks.js";
import type { RingLinkSpec, WakeWord } from "./ring_link.js";

/** Ring capacity when none is given: 1 MiB each up to 16 nodes, less beyond (n² rings in all). */
export function defaultRingBytes(nodes: number): number {
  let bytes = 1 << 20;
  while (bytes > 64 << 10 && nodes * nodes * bytes > 256 << 20) bytes >>>= 1;
  return bytes;
}

export interface RingNetworkOptions {
  /** Data bytes of each ring, a power of two. @default defaultRingBytes(nodes) */
  ringBytes?: number;
  /** The word raised at node n when a message is published for it (its kernel's poll word). */
  wake?: (node: number) => WakeWord | undefined;
  /** Every link keeps a transcript of what it sends (tests). @default false */
  transcript?: boolean;
  /** The nodes' shared count of running threads (runtime/core_gauge.ts), if they keep one. */
  running?: SharedArrayBuffer;
}

/**
 * Bytes of a network's rings backed with memory when they are made (ring.ts createRingBuffer):
 * all of them up to 8 nodes at the default size, an equal share of each ring beyond, so that many
 * emulated nodes do not commit hundreds of MiB of rings they may never fill.
 */
export const BACKED_RING_BYTES = 64 << 20;

/** The specs of `nodes` directly connected ring links, one per node. */
export function ringNetwork(nodes: number, options: RingNetworkOptions = {}): RingLinkSpec[] {
  checkNodeCount(nodes);
  const ringBytes = checkedRingBytes(options.ringBytes ?? defaultRingBytes(nodes));
  const backed = Math.floor(BACKED_RING_BYTES / Math.max(1, nodes * (nodes - 1)));
  const bells = Array.from({ length: nodes }, () => new Bell().buffer);
  // rings[from][to]
  const rings = Array.from({ length: nodes }, (_, from) => Array.from({ length: nodes }, (_, to) => (from === to ? null : createRingBuffer(ringBytes, backed))));
  return Array.from({ length: nodes }, (_, n) => ({
    nodeId: n,
    nodeCount: nodes,
    bell: bells[n]!,
    route: "direct" as const,
    out: rings[n]!.map((ring, to) => (ring ? { ring, bell: bells[to]!, wake: options.wake?.(to), running: options.running } : null)),
    inlets: rings.flatMap((row, from) => (from === n ? [] : [{ ring: row[n]!, bell: bells[from]! }])),
    transcript: options.transcript,
  }));
}

/** The host side of a relayed link: the rings it reads and writes, and the bells. */
export interface RelayRings {
  /** Worker → host. */
  up: SharedArrayBuffer;
  /** Host → worker. */
  down: SharedArrayBuffer;
  /** The worker's bell, rung by the host after it writes `down`. */
  workerBell: SharedArrayBuffer;
  /** The host's bell, rung by the worker after it writes `up` (may be shared by several workers). */
  hostBell: SharedArrayBuffer;
  /** Raised when the host writes `down`: the worker's poll word. */
  wake?: WakeWord;
  /** The process's count of running threads (runtime/core_gauge.ts), if it keeps one: waking the worker adds to it. */
  running?: SharedArrayBuffer;
}

/** A relayed link for node `nodeId`: its spec for the worker and the rings for the host. */
export function relayedLink(
  nodeId: number,
  nodeCount: number,
  options: { hostBell: SharedArrayBuffer; ringBytes?: number; maxPayload?: number; wake?: WakeWord; running?: SharedArrayBuffer },
): { spec: RingLinkSpec; rings: RelayRings } {
  const ringBytes = checkedRingBytes(options.ringBytes ?? 1 << 20);
  const up = createRingBuffer(ringBytes);
  const down = createRingBuffer(ringBytes);
  const workerBell = new Bell().buffer;
  return {
    spec: {
      nodeId,
      nodeCount,
      bell: workerBell,
      route: "relayed",
      out: [{ ring: up, bell: options.hostBell, running: options.running }],
      inlets: [{ ring: down, bell: options.hostBell }],
      maxPayload: options.maxPayload,
    },
    rings: { up, down, workerBell, hostBell: options.hostBell, wake: options.wake, running: options.running },
  };
}

function checkedRingBytes(bytes: number): number {
  if (!Number.isInteger(bytes) || bytes < 1024 || (bytes & (bytes - 1)) !== 0) throw new InvalidTransportOptionError("ringBytes", bytes, "a power of two of at least 1024");
  return bytes;
}
