/**
 * The nodes of one process start their kernels together. Each node's worker gets its spec when
 * the host posts it, and a fresh worker first loads the runtime's modules: measured on 2 vCPUs,
 * `dsm run` started node 1's kernel 27–40 ms after node 0's, and node 0 spent that time waiting
 * at the first barrier, inside its `run` time. A job's time should not count its start-up, as
 * MPI programs time from a barrier after MPI_Init. So every node arrives here once its kernel is
 * instantiated, and none goes on before all have arrived; `run`'s clock starts after the gate.
 *
 *   node k: Atomics.add(ARRIVED, 1) ── the last arrival notifies ──▶ every node proceeds
 *
 * One gate serves one job. Nothing waits for a message here (no kernel runs yet, so none asks
 * for a page), and the wait has a bound: the job's sync timeout, and the host's abort word,
 * looked at between slices of sleep.
 */
import { SyncWaitError } from "./errors.js";

/** Int32 slot of the gate: nodes arrived so far. */
const ARRIVED = 0;
export const START_GATE_BYTES = 4;
/** Longest single sleep at the gate, in ms: the abort word is looked at between them. */
const SLICE_MS = 50;

export class StartGate {
  private readonly words: Int32Array;

  constructor(
    buffer: SharedArrayBuffer,
    /** Nodes that pass this gate. */
    readonly parties: number,
  ) {
    this.words = new Int32Array(buffer, 0, 1);
  }

  /**
   * Arrives and waits until all parties have. Throws SyncWaitError naming the node once
   * `timeoutMs` pass first, and what `checkAbort` throws (the host stopped the job).
   */
  pass(node: number, timeoutMs: number, checkAbort: () => void): void {
    const w = this.words;
    if (Atomics.add(w, ARRIVED, 1) + 1 >= this.parties) {
      Atomics.notify(w, ARRIVED);
      return;
    }
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const arrived = Atomics.load(w, ARRIVED);
      if (arrived >= this.parties) return;
      checkAbort();
      const left = deadline - performance.now();
      if (left <= 0) throw new SyncWaitError(node, `the start of the job (${arrived} of ${this.parties} nodes ready)`, timeoutMs);
      Atomics.wait(w, ARRIVED, arrived, Math.min(SLICE_MS, left));
    }
  }
}
