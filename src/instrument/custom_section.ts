/** Custom sections: how the metadata travels inside a module. */

/** Appends a custom section (id 0) to a module binary. */
export function withCustomSection(wasm: Uint8Array, name: string, payload: Uint8Array): Uint8Array {
  const nameBytes = new TextEncoder().encode(name);
  const body = [...leb128(nameBytes.length), ...nameBytes];
  const size = leb128(body.length + payload.length);
  const out = new Uint8Array(wasm.length + 1 + size.length + body.length + payload.length);
  let at = 0;
  out.set(wasm, at);
  at += wasm.length;
  out[at++] = 0;
  out.set(size, at);
  at += size.length;
  out.set(body, at);
  at += body.length;
  out.set(payload, at);
  return out;
}

function leb128(n: number): number[] {
  const bytes: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    bytes.push(b);
  } while (n !== 0);
  return bytes;
}
