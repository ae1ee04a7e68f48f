/**
 * ivy — read replication with invalidation, after Li & Hudak's fixed distributed manager.
 * Manager of page p: (p - firstPage) % N. Initially the manager owns its pages read-write (all
 * zeros) and every other node has no access; the manager's directory entry is
 * {owner: manager, holders: {manager}, version 0, writing}. The manager serializes the requests
 * of each page (directory.ts).
 *
 * Read fault on p by R (owner O, version v):
 *   R ── ReadRequest(p) ──▶ M ── ReadForward(p, v, requester R) ──▶ O
 *   O: read-write → read-only (parked);  O ── PageData(p, v) ──▶ R: install, read-only
 *   R ── Confirm ──▶ M: holders += R;  M ── ConfirmAck ──▶ R
 *
 * Write fault on p by W:
 *   W ── WriteRequest(p) ──▶ M ── Invalidate(p, v) ──▶ each holder except W and O
 *                               ◀── InvalidateAck (each sets None, parked)
 *   W holds v (upgrade):  M also invalidates O, then M ── Grant(p, v) ──▶ W
 *   otherwise:            M ── WriteForward(p, v, W) ──▶ O: None (parked); O ── PageData(p, v) ──▶ W
 *   W: read-write at version v+1;  W ── Confirm ──▶ M: owner W, holders {W}, v+1
 *
 * Sequentially consistent (every write is preceded by invalidation of all other copies; reads
 * copy the owner's current page). Not covered: a manager or owner that crashes; contention
 * hot-spots (a page written by two nodes in turn moves on every write).
 */
import { Protection } from "../abi.js";
import type { Coherence } from "./coherence.js";
import { MessageKind } from "./codec.js";
import { OwnershipProtocol } from "./ownership.js";
import type { ProtocolOptions } from "./page_protocol.js";

export class IvyProtocol extends OwnershipProtocol {
  constructor(options: ProtocolOptions) {
    const nodes = options.transport.nodeCount;
    const first = options.port.firstPage;
    const managerOf = (page: number) => (page - first) % nodes;
    super(options, {
      managerOf,
      initialEntry: (_page, manager) => ({ owner: manager, holders: new Set([manager]), version: 0, writing: true }),
      installBorrows: true,
      readsMove: false,
      dataKinds: [MessageKind.PageData, MessageKind.Grant],
    });
  }

  protected initialProtection(page: number): Protection {
    return this.managerOf(page) === this.node ? Protection.ReadWrite : Protection.None;
  }
}

export function createIvy(options: ProtocolOptions): Coherence {
  return new IvyProtocol(options);
}
