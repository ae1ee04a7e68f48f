/**
 * Decodes the operation log that assembly/kernels/history.ts keeps in each node's private memory.
 *
 * Layout (f64, little-endian, starting at the pointer the kernel's run returns):
 *
 *   [0] magic 0x48495354 ("HIST")  [1] nodeId  [2] ops  [3] words
 *   then ops records of 5 f64:  kind (0 read, 1 write), byte address, value, start µs, end µs
 *
 * The header is checked against what the caller expects, so reading the wrong node's memory or a
 * stale pointer fails loudly instead of producing a plausible history.
 */
import type { Operation } from "./operation.js";

export const HISTORY_MAGIC = 0x48495354;
export const HISTORY_HEADER_WORDS = 4;
export const HISTORY_RECORD_WORDS = 5;

/** A history log that is out of range, has a bad header, or holds an impossible record. */
export class HistoryLogError extends Error {
  override name = "HistoryLogError";
}

/** Bytes of the log of `ops` operations. */
export function historyLogBytes(ops: number): number {
  return (HISTORY_HEADER_WORDS + ops * HISTORY_RECORD_WORDS) * 8;
}

/**
 * Reads node `node`'s log of `ops` operations at `pointer` in its memory. `pointer` may be the
 * kernel's i32 return value (read as unsigned).
 */
export function decodeHistoryLog(memory: Uint8Array | ArrayBufferLike, pointer: number, node: number, ops: number): Operation[] {
  const bytes = memory instanceof Uint8Array ? memory : new Uint8Array(memory);
  const at = pointer >>> 0;
  if (!Number.isInteger(ops) || ops < 0) throw new HistoryLogError(`node ${node}: ops ${ops} must be a non-negative integer`);
  const length = historyLogBytes(ops);
  if (at + length > bytes.byteLength) {
    throw new HistoryLogError(`node ${node}: log of ${length} bytes at ${at} runs past the end of its ${bytes.byteLength}-byte memory; pass the pointer run returned`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + at, length);
  const word = (i: number) => view.getFloat64(i * 8, true);
  if (word(0) !== HISTORY_MAGIC) {
    throw new HistoryLogError(`node ${node}: no history log at ${at} (magic ${word(0)}, expected ${HISTORY_MAGIC}); pass the pointer run returned`);
  }
  if (word(1) !== node) throw new HistoryLogError(`node ${node}: the log at ${at} belongs to node ${word(1)}; read each node's log from its own memory`);
  if (word(2) !== ops) throw new HistoryLogError(`node ${node}: the log at ${at} holds ${word(2)} operations, not ${ops}; pass the ops given to run`);
  const history: Operation[] = [];
  for (let i = 0; i < ops; i++) {
    const r = HISTORY_HEADER_WORDS + i * HISTORY_RECORD_WORDS;
    const kind = word(r);
    const op: Operation = { node, kind: kind === 1 ? "write" : "read", address: word(r + 1), value: word(r + 2), start: word(r + 3), end: word(r + 4) };
    if ((kind !== 0 && kind !== 1) || !(op.start <= op.end)) {
      throw new HistoryLogError(`node ${node}: record ${i} is impossible (kind ${kind}, start ${op.start}, end ${op.end}); the log was overwritten`);
    }
    history.push(op);
  }
  return history;
}
