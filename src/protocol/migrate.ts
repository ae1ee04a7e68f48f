/**
 * migrate — the seed's draft (Definition 1.2): the region is divided evenly among the nodes in
 * contiguous blocks (node k is home to pages first + k·B … first + (k+1)·B - 1, B = ⌈pages / N⌉)
 * and each page has exactly one copy, read-write at its owner, None everywhere else. Initially
 * every page is owned by its home. Any fault, read or write, moves the whole page.
 *
 * Fault (read or write) on p by R; H = home of p, which knows the current owner O at version v:
 *   R ── WriteRequest(p) ──▶ H ── WriteForward(p, v, requester R) ──▶ O
 *   O: None (parked), gives the page up;  O ── PageData(p, v) ──▶ R: install, read-write, v+1
 *   R ── Confirm ──▶ H: owner R;  H ── ConfirmAck ──▶ R
 *
 * H serializes the requests of each page, so two faulting nodes get the page in turn. Consistent
 * because there is only one copy. Not covered: read sharing (every reader steals the page: a
 * page read by all nodes ping-pongs — that is the point of comparing it with ivy and diff); a home
 * or owner that crashes.
 */
import { Protection } from "../abi.js";
import type { Coherence } from "./coherence.js";
import { MessageKind } from "./codec.js";
import { OwnershipProtocol } from "./ownership.js";
import type { ProtocolOptions } from "./page_protocol.js";

/** The home node of `page`: contiguous blocks of ⌈pageCount / nodeCount⌉ pages. */
export function homeOf(page: number, firstPage: number, pageCount: number, nodeCount: number): number {
  return Math.floor((page - firstPage) / Math.ceil(pageCount / nodeCount));
}

/**
 * Every access moves the page, so nodes that touch one page in turn would pass it back at every
 * poll, the receiver's kernel doing almost nothing with it in between (matmul's shared matrix on
 * 8 nodes: 23,000 moves for 24×24 doubles). Mirage's remedy: a page just moved here stays while
 * the kernel works with it, for a window at most (PageProtocol.holdForward); 3 ms gave the fewest
 * moves of 0.5, 1 and 3 over NATS.
 */
export const MIGRATE_HOLD_MS = 3;

export class MigrateProtocol extends OwnershipProtocol {
  constructor(options: ProtocolOptions) {
    const { firstPage, pageCount } = options.port;
    const nodes = options.transport.nodeCount;
    const managerOf = (page: number) => homeOf(page, firstPage, pageCount, nodes);
    super(options, {
      managerOf,
      initialEntry: (_page, manager) => ({ owner: manager, holders: new Set([manager]), version: 0, writing: true }),
      installBorrows: true,
      holdMs: MIGRATE_HOLD_MS,
      readsMove: true,
      dataKinds: [MessageKind.PageData, MessageKind.Grant],
    });
  }

  protected initialProtection(page: number): Protection {
    return this.managerOf(page) === this.node ? Protection.ReadWrite : Protection.None;
  }
}

export function createMigrate(options: ProtocolOptions): Coherence {
  return new MigrateProtocol(options);
}
