/**
 * The coherence of a single node with no peers: every region page is read-write from the start,
 * so the kernel never faults; sync calls return at once (a barrier may name a checkpoint). Used by `--baseline` and by one-node runs
 * of any protocol, where there is nobody to be coherent with.
 */
import { Protection } from "../abi.js";
import type { Coherence, PagePort, ProtocolStats } from "./coherence.js";
import { DONE, Future } from "./future.js";
import type { CheckpointSignal } from "./sync.js";

export class SoloFaultError extends Error {
  override name = "SoloFaultError";
}

export function createSolo(port: PagePort, checkpoints?: CheckpointSignal): Coherence {
  const stats: ProtocolStats = { invalidations: 0, pagesSent: 0, diffsSent: 0, diffBytes: 0, dropped: 0 };
  return {
    start() {
      for (let p = port.firstPage; p < port.firstPage + port.pageCount; p++) port.setProtection(p, Protection.ReadWrite);
    },
    fault(first, last) {
      return Future.rejected(new SoloFaultError(`page ${first}..${last}: fault on a single node whose pages are all read-write; the protection table was changed behind the runtime`));
    },
    barrier() {
      const checkpoint = checkpoints?.due();
      if (checkpoint !== undefined) checkpoints!.released(checkpoint);
      return DONE;
    },
    lock: () => DONE,
    unlock: () => DONE,
    allocated() {},
    finish: () => DONE,
    stats: () => ({ ...stats }),
    close() {},
  };
}
