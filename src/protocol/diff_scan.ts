/**
 * Scratch memory where encodeDiff compares two versions of a page, and the scan that skips their
 * equal 64-byte blocks with WebAssembly SIMD.
 *
 *   scratch  [0, 64 KiB)          the older version, copied in
 *            [64 KiB, 128 KiB)    the newer version, copied in
 *   firstChange(from, end)        the first 64-byte block in [from, end) where they differ, or end
 *
 * Why: a page that changed in a few words is mostly compared, not encoded. Compared word by word in
 * JavaScript, through views of the node's memory and the twin made for each call, encoding a 4 KiB
 * page took ~0.9 µs inside a fault (V8 compiles loops over views created in the same call poorly).
 * Copied here and compared 16 bytes per instruction it takes ~0.4 µs, copies included. The scratch
 * memory never grows, so the views below live as long as the process.
 *
 * The module is {@link SCAN_SOURCE} assembled (test/diff_scan.test.ts checks the bytes). Where
 * WebAssembly SIMD is missing, the same scan runs in JavaScript.
 */

/** Bytes of scratch for each version: the largest page a diff can describe. */
export const SCRATCH_BYTES = 65536;
/** Byte offset of the newer version in scratch (the older one is at 0). */
export const NEWER_AT = SCRATCH_BYTES;
/** firstChange compares blocks of this many bytes. */
export const SCAN_BLOCK_BYTES = 64;

/** The scan in WebAssembly text; `offset=65536` and up read the newer version. */
export const SCAN_SOURCE = `(module
 (memory (export "memory") 2 2)
 (func (export "firstChange") (param $i i32) (param $end i32) (result i32)
  (block $done
   (loop $next
    (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
    (br_if $done
     (v128.any_true
      (v128.or
       (v128.or
        (v128.xor (v128.load offset=0 (local.get $i)) (v128.load offset=65536 (local.get $i)))
        (v128.xor (v128.load offset=16 (local.get $i)) (v128.load offset=65552 (local.get $i))))
       (v128.or
        (v128.xor (v128.load offset=32 (local.get $i)) (v128.load offset=65568 (local.get $i)))
        (v128.xor (v128.load offset=48 (local.get $i)) (v128.load offset=65584 (local.get $i)))))))
    (local.set $i (i32.add (local.get $i) (i32.const 64)))
    (br $next)))
  (local.get $i))
)
`;

/** {@link SCAN_SOURCE}, assembled. */
export const SCAN_WASM_BASE64 =
  "AGFzbQEAAAABBwFgAn9/AX8DAgEABQQBAQICBxgCBm1lbW9yeQIAC2ZpcnN0Q2hhbmdlAAAKaAFmAAJAA0AgACABTw0BIAD9AAQAIAD9AASAgAT9USAA/QAEECAA/QAEkIAE/VH9UCAA/QAEICAA/QAEoIAE/VEgAP0ABDAgAP0ABLCABP1R/VD9UP1TDQEgAEHAAGohAAwACwALIAAL";

type FirstChange = (from: number, end: number) => number;

interface Scan {
  memory: ArrayBuffer;
  firstChange: FirstChange;
  simd: boolean;
}

function instantiate(): Scan {
  const bytes = Uint8Array.from(atob(SCAN_WASM_BASE64), (c) => c.charCodeAt(0));
  if (WebAssembly.validate(bytes)) {
    const exports = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports as { memory: WebAssembly.Memory; firstChange: FirstChange };
    return { memory: exports.memory.buffer, firstChange: exports.firstChange, simd: true };
  }
  const memory = new ArrayBuffer(2 * SCRATCH_BYTES);
  return { memory, firstChange: firstChangeJs(new Uint32Array(memory)), simd: false };
}

/** firstChange in JavaScript, over the same scratch layout. */
export function firstChangeJs(words: Uint32Array): FirstChange {
  const newer = NEWER_AT >>> 2;
  return (from, end) => {
    for (let i = from; i < end; i += SCAN_BLOCK_BYTES) {
      const w = i >>> 2;
      for (let k = w; k < w + SCAN_BLOCK_BYTES / 4; k++) if (words[k] !== words[newer + k]) return i;
    }
    return Math.max(from, end);
  };
}

const scan = instantiate();

/** Whether firstChange runs as WebAssembly SIMD (else in JavaScript). */
export const scanIsSimd = scan.simd;
/** The scratch memory as bytes (copy pages in with `set`). */
export const scratch = new Uint8Array(scan.memory);
/** The scratch memory as words in host order. */
export const scratchWords = new Uint32Array(scan.memory);
/**
 * The byte offset of the first 64-byte block in [from, end) where the older and newer versions in
 * scratch differ, or `end` when none does. `from` and `end` are multiples of 64, `end` ≤ 64 KiB.
 */
export const firstChange: FirstChange = scan.firstChange;
