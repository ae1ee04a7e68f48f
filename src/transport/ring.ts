/**
 * A single-producer, single-consumer ring of messages in a SharedArrayBuffer: how the threads of
 * one process hand each other bytes without the event loop (a kernel's worker to another, or to
 * the host thread that relays for it over NATS).
 *
 *   buffer: | HEAD (i32) | … | TAIL (i32) | … | WANT (i32) | … | data: capacity bytes            |
 *            producer's      consumer's        producer asks     records, 8-byte aligned:
 *            cache line      cache line        for space         | length u32 | tag u32 | bytes |
 *                                                                 or WRAP: the rest of the data is unused
 *
 * HEAD and TAIL count bytes since the start, modulo 2^32 (the capacity, a power of two, divides
 * that, so `count & (capacity - 1)` is the offset). A record never wraps: one that does not fit
 * before the end is preceded by a WRAP marker and starts at offset 0.
 *
 * Ordering rule: the producer writes a record's bytes, then publishes it with Atomics.store(HEAD);
 * the consumer reads HEAD with Atomics.load before it reads the bytes, and gives the space back
 * with Atomics.store(TAIL) only after its handler returned. The producer reads TAIL with
 * Atomics.load before reusing space.
 *
 * A full ring refuses the write (`write` returns false) and sets WANT; the consumer, after
 * freeing space, clears WANT and tells the caller (`drain` returns true for "wanted"), so the
 * producer's bell can be rung: a producer never spins or sleeps on a full ring.
 */

const HEAD = 0;
const TAIL = 16;
const WANT = 32;
const HEADER_BYTES = 64;
const RECORD_HEADER = 8;
const WRAP = 0xffffffff;
/** Bytes a record of `length` payload bytes takes in the ring: header and payload, 8-byte aligned. */
function recordSpan(length: number): number {
  return (RECORD_HEADER + length + 7) & ~7;
}
/** Smallest capacity; records and headers are 8-byte aligned. */
export const MIN_RING_BYTES = 1024;

/** The largest payload a ring of `capacity` bytes carries. */
export function ringMaxPayload(capacity: number): number {
  return (capacity >>> 1) - RECORD_HEADER;
}

export class RingError extends Error {
  override name = "RingError";
}

/** Bytes apart of the writes that make the operating system back a ring with memory. */
const OS_PAGE_BYTES = 4096;

/**
 * Creates the shared buffer of a ring with `capacity` bytes of data (a power of two), its first
 * `backed` data bytes (all by default) backed with memory at once.
 *
 * A new buffer's pages get their memory at their first write. On this project's 2-vCPU VM that
 * costs 10-15 µs per 4 KiB page, and a ring's first lap is most of a job: the 400 page replies a
 * node sends in a 2-node Jacobi 1024×100 fill 1.6 laps of a 1 MiB ring. Paid by the sender on
 * every page it served, it made sending a page 15-20 µs instead of 1.3-1.7 µs. Here it is paid
 * before the nodes start.
 */
export function createRingBuffer(capacity: number, backed = capacity): SharedArrayBuffer {
  if (!Number.isInteger(capacity) || capacity < MIN_RING_BYTES || capacity > 1 << 30 || (capacity & (capacity - 1)) !== 0) {
    throw new RingError(`ring capacity ${capacity}: must be a power of two from ${MIN_RING_BYTES} to ${1 << 30} bytes`);
  }
  const buffer = new SharedArrayBuffer(HEADER_BYTES + capacity);
  const bytes = new Uint8Array(buffer, 0, HEADER_BYTES + Math.min(Math.max(backed, 0), capacity));
  for (let at = 0; at < bytes.length; at += OS_PAGE_BYTES) bytes[at] = 0;
  return buffer;
}

/** Shared parts: the header words and views of the data. */
abstract class RingEnd {
  protected readonly header: Int32Array;
  protected readonly bytes: Uint8Array;
  protected readonly words: Uint32Array;
  readonly capacity: number;
  protected readonly mask: number;

  constructor(buffer: SharedArrayBuffer) {
    const capacity = buffer.byteLength - HEADER_BYTES;
    if (capacity < MIN_RING_BYTES || (capacity & (capacity - 1)) !== 0) throw new RingError(`ring buffer of ${buffer.byteLength} bytes: not made by createRingBuffer`);
    this.capacity = capacity;
    this.mask = capacity - 1;
    this.header = new Int32Array(buffer, 0, HEADER_BYTES / 4);
    this.bytes = new Uint8Array(buffer, HEADER_BYTES, capacity);
    this.words = new Uint32Array(buffer, HEADER_BYTES, capacity / 4);
  }

  /** Bytes published and not yet consumed. */
  get used(): number {
    return (Atomics.load(this.header, HEAD / 4) - Atomics.load(this.header, TAIL / 4)) >>> 0;
  }
}

export class RingWriter extends RingEnd {
  /** HEAD as this side last stored it (only this side writes it). */
  private head: number;

  constructor(buffer: SharedArrayBuffer) {
    super(buffer);
    this.head = Atomics.load(this.header, HEAD / 4) >>> 0;
  }

  /** The largest payload this ring carries. */
  get maxPayload(): number {
    return ringMaxPayload(this.capacity);
  }

  /**
   * Publishes `payload` (copied) with `tag`, or returns false when the ring has no room now
   * (and asks the consumer to say when it has). Throws RingError for a payload larger than
   * {@link maxPayload}.
   */
  write(tag: number, payload: Uint8Array): boolean {
    const length = payload.byteLength;
    if (length > this.maxPayload) throw new RingError(`message of ${length} bytes: larger than the ring carries (${this.maxPayload})`);
    const need = recordSpan(length);
    let head = this.head;
    const offset = head & this.mask;
    const room = this.capacity - offset;
    const total = need <= room ? need : room + need;
    const tail = Atomics.load(this.header, TAIL / 4) >>> 0;
    if (((head - tail) >>> 0) + total > this.capacity) {
      Atomics.store(this.header, WANT / 4, 1);
      // The consumer may have freed space between the load above and the store: look again.
      const again = Atomics.load(this.header, TAIL / 4) >>> 0;
      if (((head - again) >>> 0) + total > this.capacity) return false;
      Atomics.store(this.header, WANT / 4, 0);
    }
    let at = offset;
    if (need > room) {
      this.words[at >>> 2] = WRAP;
      head = (head + room) >>> 0;
      at = 0;
    }
    this.words[at >>> 2] = length;
    this.words[(at >>> 2) + 1] = tag >>> 0;
    this.bytes.set(payload, at + RECORD_HEADER);
    this.head = (head + need) >>> 0;
    Atomics.store(this.header, HEAD / 4, this.head | 0);
    return true;
  }
}

export class RingReader extends RingEnd {
  /** TAIL as this side last stored it (only this side writes it). */
  private tail: number;

  constructor(buffer: SharedArrayBuffer) {
    super(buffer);
    this.tail = Atomics.load(this.header, TAIL / 4) >>> 0;
  }

  /**
   * Whether a record waits whose tag has none of the bits of `flags`: a look at the tags of what
   * waits, nothing drained.
   */
  hasTagWithout(flags: number): boolean {
    const head = Atomics.load(this.header, HEAD / 4) >>> 0;
    let tail = this.tail;
    while (tail !== head) {
      const at = tail & this.mask;
      const length = this.words[at >>> 2]!;
      if (length === WRAP) {
        tail = (tail + this.capacity - at) >>> 0;
        continue;
      }
      if ((this.words[(at >>> 2) + 1]! & flags) === 0) return true;
      tail = (tail + recordSpan(length)) >>> 0;
    }
    return false;
  }

  /** Whether a record waits. */
  get ready(): boolean {
    return Atomics.load(this.header, HEAD / 4) >>> 0 !== this.tail;
  }

  /**
   * Hands each published record to `handle` (a view valid only until it returns), in order,
   * until the ring is empty or `handle` returns true (stop after this one). Returns whether the
   * producer had asked for space, which this call has now freed: ring its bell.
   */
  drain(handle: (tag: number, bytes: Uint8Array) => boolean | void): boolean {
    const head = Atomics.load(this.header, HEAD / 4) >>> 0;
    let tail = this.tail;
    let stop = false;
    while (tail !== head && !stop) {
      const at = tail & this.mask;
      const length = this.words[at >>> 2]!;
      if (length === WRAP) {
        tail = (tail + this.capacity - at) >>> 0;
        continue;
      }
      const tag = this.words[(at >>> 2) + 1]!;
      try {
        stop = handle(tag, this.bytes.subarray(at + RECORD_HEADER, at + RECORD_HEADER + length)) === true;
      } finally {
        tail = (tail + recordSpan(length)) >>> 0;
        this.tail = tail;
        Atomics.store(this.header, TAIL / 4, tail | 0);
      }
    }
    if (Atomics.load(this.header, WANT / 4) === 0) return false;
    Atomics.store(this.header, WANT / 4, 0);
    return true;
  }
}
