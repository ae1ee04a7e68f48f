/**
 * One buffer reused for bytes that are sent at once and not kept: a transport copies what it is
 * given at the call (Link.send), so the next message can be written over the last. It grows to the
 * largest size asked for (at least doubling, so a run of growing requests allocates a few times),
 * up to `maxBytes`; a larger request gets a fresh buffer of its own, so one huge message does not
 * pin that much memory for the node's lifetime. A fresh buffer for every 128 KiB reply (a batch
 * of diffs or pages) cost ~140 µs, twenty times the copy.
 *
 * The bytes a call returns are valid until the next call on the same Scratch.
 */
export class Scratch {
  private buffer: Uint8Array;

  constructor(
    initialBytes = 0,
    /** Largest buffer kept. @default Infinity */
    private readonly maxBytes = Infinity,
  ) {
    this.buffer = new Uint8Array(initialBytes);
  }

  /** Exactly `size` bytes. */
  bytes(size: number): Uint8Array {
    return this.room(size).subarray(0, size);
  }

  /**
   * The whole buffer, grown to `size` bytes or more when that is within maxBytes; for a writer
   * that learns the exact size only while it writes (JSON). Beyond maxBytes, a fresh buffer of
   * `size` bytes.
   */
  room(size: number): Uint8Array {
    if (size <= this.buffer.byteLength) return this.buffer;
    if (size > this.maxBytes) return new Uint8Array(size);
    this.buffer = new Uint8Array(Math.min(this.maxBytes, Math.max(size, 2 * this.buffer.byteLength)));
    return this.buffer;
  }
}
