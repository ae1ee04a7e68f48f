/**
 * The errors of the PARMACS runtime (c/wasm_dsm_parmacs.c): it calls the host import
 * `parmacsError(code, value, limit)`, which throws the error built here, so a misuse of the
 * macros stops the job with a typed error naming the value and the fix. The codes are the
 * `ERROR_*` constants of that file.
 */
import { ParmacsProcessCountError, ParmacsUsageError, SharedRegionExhaustedError } from "./errors.js";

export const ParmacsErrorCode = {
  CreateCount: 1,
  BarrierCount: 2,
  BarrierEarly: 3,
  NotInitialised: 4,
  NotNode0: 5,
  Collective: 6,
  Exhausted: 7,
  NullFunction: 8,
  Memory: 9,
  Image: 10,
} as const;

const KINDS: Record<number, [string, string]> = { 1: ["LOCK", "LOCKINIT or ALOCKINIT"], 2: ["BARRIER", "BARINIT"], 3: ["PAUSE", "PAUSEINIT"] };
const CALLS: Record<number, string> = { 1: "CREATE", 2: "WAIT_FOR_END" };

const hex = (n: number) => `0x${(n >>> 0).toString(16)}`;

export function parmacsError(node: number, code: number, value: number, limit: number): Error {
  value >>>= 0;
  limit >>>= 0;
  switch (code) {
    case ParmacsErrorCode.CreateCount:
      return new ParmacsProcessCountError(node, value, limit, `CREATE would start process ${value} of a job with ${limit} node(s); a PARMACS program runs one process per node: give the job as many nodes (--nodes) as the program starts processes`);
    case ParmacsErrorCode.BarrierCount:
      return new ParmacsProcessCountError(node, value, limit, `BARRIER over ${value} process(es) in a job with ${limit} node(s); wasm-dsm barriers span every node: run with --nodes ${value}`);
    case ParmacsErrorCode.BarrierEarly:
      return new ParmacsProcessCountError(node, value, limit, `BARRIER with ${value} of ${limit} processes started; CREATE every process before node 0's first BARRIER`);
    case ParmacsErrorCode.NotInitialised: {
      const [kind, init] = KINDS[value] ?? ["sync object", "its INIT macro"];
      return new ParmacsUsageError(node, `${kind} on the object at ${hex(limit)}, which was never initialised; call ${init} on it first`);
    }
    case ParmacsErrorCode.NotNode0:
      return new ParmacsUsageError(node, `${CALLS[value] ?? "this macro"} called on node ${limit}; only main, on node 0, starts and waits for processes`);
    case ParmacsErrorCode.Collective:
      return new ParmacsUsageError(node, `dsm_shared_alloc(${value}) in a PARMACS program: only node 0 runs main, so no other node makes the same collective call; use G_MALLOC`);
    case ParmacsErrorCode.Exhausted:
      return new SharedRegionExhaustedError(node, value, limit, "G_MALLOC");
    case ParmacsErrorCode.NullFunction:
      return new ParmacsUsageError(node, "CREATE of a null function pointer; pass the function each process runs");
    case ParmacsErrorCode.Memory:
      return new ParmacsUsageError(node, `CREATE: cannot grow this node's memory to node 0's ${value} pages of 64 KiB (it has ${limit}); rebuild with a larger --max-memory`);
    case ParmacsErrorCode.Image:
      return new ParmacsUsageError(node, `CREATE: node 0's private memory changed while it was copied (${value} chunks counted, ${limit} found); this is a bug in wasm-dsm's PARMACS runtime`);
    default:
      return new ParmacsUsageError(node, `the PARMACS runtime reported error code ${code}, which this host does not know; rebuild the program with this version's dsm build`);
  }
}
