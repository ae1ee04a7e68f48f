/**
 * Messages larger than the transport carries (NATS' max_payload, 1 MiB by default) travel in
 * fragments: an lrc barrier release naming tens of thousands of intervals, a grant to a node that
 * kept away from a lock for long.
 *
 *   sender   B = encodeMessage(msg), n bytes > max payload
 *            Fragment{request: set, payload: [index, count] ++ B[index·c, (index+1)·c)}  index < count
 *   receiver collects the fragments of (source, set); with all `count` of them, B is decoded and
 *            routed as if it had arrived whole
 *
 * A lost fragment leaves its set incomplete. A call's retry (endpoint.ts) sends the whole message
 * again, as a new set; incomplete sets beyond {@link MAX_PARTIAL} per source are dropped oldest
 * first, so loss costs bounded memory. A fragment never carries a fragment.
 */
/** Most fragments of one message: with NATS' 1 MiB payloads, messages of up to 256 MiB. */
export const MAX_FRAGMENTS = 256;
/** Bytes before a fragment's slice of the message: its index and the set's fragment count. */
export const FRAGMENT_HEADER = 8;
/** Incomplete sets kept per source. */
export const MAX_PARTIAL = 4;

/**
 * The fragment payloads of `bytes` for a transport carrying at most `maxPayload` bytes per
 * message, each to travel after a message header of `headerBytes`.
 */
export function splitMessage(bytes: Uint8Array, maxPayload: number, headerBytes: number): Uint8Array[] {
  const chunk = maxPayload - headerBytes - FRAGMENT_HEADER;
  const count = Math.ceil(bytes.byteLength / Math.max(1, chunk));
  if (chunk < 1 || count > MAX_FRAGMENTS) {
    throw new FragmentError(`a message of ${bytes.byteLength} bytes needs more than ${MAX_FRAGMENTS} fragments of ${maxPayload} bytes; raise the transport's max payload`);
  }
  const out: Uint8Array[] = [];
  for (let index = 0; index < count; index++) {
    const slice = bytes.subarray(index * chunk, Math.min(bytes.byteLength, (index + 1) * chunk));
    const payload = new Uint8Array(FRAGMENT_HEADER + slice.byteLength);
    const view = new DataView(payload.buffer);
    view.setUint32(0, index, true);
    view.setUint32(4, count, true);
    payload.set(slice, FRAGMENT_HEADER);
    out.push(payload);
  }
  return out;
}

/** Why a fragment payload is malformed, or undefined (the codec's check of the "fragment" payload). */
export function badFragment(payload: Uint8Array): string | undefined {
  if (payload.byteLength <= FRAGMENT_HEADER) return `fragment of ${payload.byteLength} bytes carries no slice`;
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const index = view.getUint32(0, true);
  const count = view.getUint32(4, true);
  if (count < 2 || count > MAX_FRAGMENTS) return `fragment count ${count} is outside 2..${MAX_FRAGMENTS}`;
  if (index >= count) return `fragment ${index} of a ${count}-fragment message`;
  return undefined;
}

/** A message too large even for {@link MAX_FRAGMENTS} fragments, or a fragment that contradicts its set. */
export class FragmentError extends Error {
  override name = "FragmentError";
}

interface PartialSet {
  count: number;
  parts: (Uint8Array | undefined)[];
  received: number;
  bytes: number;
}

/** One node's reassembly of the fragments it receives. */
export class Reassembly {
  /** Per source, incomplete sets by set id, oldest first (Map order). */
  private readonly partial = new Map<number, Map<number, PartialSet>>();

  /**
   * Adds a fragment (validated by the codec) of set `set` from `source`; returns the whole
   * message once its last fragment arrived, else undefined. Throws FragmentError when the
   * fragment contradicts the others of its set (which is then dropped).
   */
  add(source: number, set: number, payload: Uint8Array): Uint8Array | undefined {
    const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
    const index = view.getUint32(0, true);
    const count = view.getUint32(4, true);
    let sets = this.partial.get(source);
    if (!sets) this.partial.set(source, (sets = new Map()));
    let entry = sets.get(set);
    if (!entry) {
      entry = { count, parts: new Array(count), received: 0, bytes: 0 };
      sets.set(set, entry);
      for (const old of sets.keys()) {
        if (sets.size <= MAX_PARTIAL) break;
        sets.delete(old);
      }
    }
    if (entry.count !== count) {
      sets.delete(set);
      throw new FragmentError(`fragment ${index} of set ${set} from node ${source} says ${count} fragments, its set ${entry.count}`);
    }
    if (entry.parts[index]) return undefined; // a duplicate
    entry.parts[index] = payload.subarray(FRAGMENT_HEADER);
    entry.received++;
    entry.bytes += payload.byteLength - FRAGMENT_HEADER;
    if (entry.received < count) return undefined;
    sets.delete(set);
    const whole = new Uint8Array(entry.bytes);
    let at = 0;
    for (const part of entry.parts) {
      whole.set(part!, at);
      at += part!.byteLength;
    }
    return whole;
  }

  /** Incomplete sets held, over all sources. */
  get pending(): number {
    let n = 0;
    for (const sets of this.partial.values()) n += sets.size;
    return n;
  }
}
