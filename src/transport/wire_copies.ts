/**
 * The copies LocalNetwork delivers: each message travels as a fresh copy nobody else holds, at
 * a nonzero offset of a larger buffer (as the NATS parser hands out views), so a receiver may
 * keep it and a decoder that ignores `byteOffset` fails here as it would on NATS.
 */

/**
 * Where a delivered copy starts inside its buffer: not 0, and a multiple
 * of 8, so a receiver that keeps the bytes (handsOverBytes) can view 8-byte aligned fields in place.
 */
const WIRE_OFFSET = 8;

/**
 * Messages of up to this many bytes (with WIRE_OFFSET, rounded up to 8) are copied into a shared
 * slab of SLAB_BYTES rather than an ArrayBuffer each: allocating an ArrayBuffer of any size takes
 * ~1 µs on the 2-vCPU VM, longer than delivering a small message, and a fault's control messages
 * (requests, forwards, confirms) are all small. A receiver that keeps such a message keeps its
 * slab alive; larger messages, such as pages, keep only themselves.
 */
export const SLAB_MESSAGE_BYTES = 256;
const SLAB_BYTES = 64 * 1024;

export class WireCopies {
  /** Where small messages are copied; the first message allocates it. */
  private slab = new ArrayBuffer(0);
  private slabUsed = SLAB_BYTES;

  /**
   * The copy a message travels as: at WIRE_OFFSET in a buffer of its own, or, up to
   * SLAB_MESSAGE_BYTES, in the current slab (slots are never reused, so a receiver may keep one).
   */
  copy(bytes: Uint8Array): Uint8Array {
    const n = bytes.byteLength;
    const slot = (WIRE_OFFSET + n + 7) & ~7;
    if (slot > SLAB_MESSAGE_BYTES) return ownCopy(bytes);
    if (this.slabUsed + slot > SLAB_BYTES) {
      this.slab = new ArrayBuffer(SLAB_BYTES);
      this.slabUsed = 0;
    }
    const copy = new Uint8Array(this.slab, this.slabUsed + WIRE_OFFSET, n);
    copy.set(bytes);
    this.slabUsed += slot;
    return copy;
  }
}

function ownCopy(bytes: Uint8Array): Uint8Array {
  const copy = new Uint8Array(new ArrayBuffer(bytes.byteLength + WIRE_OFFSET), WIRE_OFFSET, bytes.byteLength);
  copy.set(bytes);
  return copy;
}
