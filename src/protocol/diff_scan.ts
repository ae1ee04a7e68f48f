/**
 * Scratch memory where encodeDiff compares two versions of a page, and the scan that skips their
 * equal 64-byte blocks with WebAssembly SIMD.
 *
 *   scratch  [0, 64 KiB)          the older version, copied in
 *            [64 KiB, 128 KiB)    the newer version, copied in
 *            [128 KiB, 256 KiB)   changedWords' output
 *   firstChange(from, end)        the first 64-byte block in [from, end) where they differ, or end
 *   changedWords(bytes)           one mask word per 32 words of [0, bytes) (bit k: word k differs),
 *                                 then the newer version's changed words in order, at CHANGED_AT;
 *                                 returns the words written (release consistency's diffs)
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
 (memory (export "memory") 4 4)
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
 (func (export "changedWords") (param $bytes i32) (result i32)
  (local $i i32) (local $k i32) (local $mask i32) (local $x i32)
  (local.set $k (i32.shr_u (local.get $bytes) (i32.const 7)))
  (block $done
   (loop $group
    (br_if $done (i32.ge_u (local.get $i) (local.get $bytes)))
    (local.set $mask
      (i32.or (i32.or (i32.or (i32.or (i32.or (i32.or (i32.or (i32x4.bitmask (i32x4.ne (v128.load offset=0 (local.get $i)) (v128.load offset=65536 (local.get $i))))
       (i32.shl (i32x4.bitmask (i32x4.ne (v128.load offset=16 (local.get $i)) (v128.load offset=65552 (local.get $i)))) (i32.const 4)))
       (i32.shl (i32x4.bitmask (i32x4.ne (v128.load offset=32 (local.get $i)) (v128.load offset=65568 (local.get $i)))) (i32.const 8)))
       (i32.shl (i32x4.bitmask (i32x4.ne (v128.load offset=48 (local.get $i)) (v128.load offset=65584 (local.get $i)))) (i32.const 12)))
       (i32.shl (i32x4.bitmask (i32x4.ne (v128.load offset=64 (local.get $i)) (v128.load offset=65600 (local.get $i)))) (i32.const 16)))
       (i32.shl (i32x4.bitmask (i32x4.ne (v128.load offset=80 (local.get $i)) (v128.load offset=65616 (local.get $i)))) (i32.const 20)))
       (i32.shl (i32x4.bitmask (i32x4.ne (v128.load offset=96 (local.get $i)) (v128.load offset=65632 (local.get $i)))) (i32.const 24)))
       (i32.shl (i32x4.bitmask (i32x4.ne (v128.load offset=112 (local.get $i)) (v128.load offset=65648 (local.get $i)))) (i32.const 28))))
    (i32.store offset=131072 (i32.shr_u (local.get $i) (i32.const 5)) (local.get $mask))
    (local.set $x (local.get $mask))
    (block $words
     (loop $word
      (br_if $words (i32.eqz (local.get $x)))
      (i32.store offset=131072 (i32.shl (local.get $k) (i32.const 2))
       (i32.load offset=65536 (i32.add (local.get $i) (i32.shl (i32.ctz (local.get $x)) (i32.const 2)))))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (local.set $x (i32.and (local.get $x) (i32.sub (local.get $x) (i32.const 1))))
      (br $word)))
    (local.set $i (i32.add (local.get $i) (i32.const 128)))
    (br $group)))
  (local.get $k))
)
`;

/** {@link SCAN_SOURCE}, assembled. */
export const SCAN_WASM_BASE64 =
  "AGFzbQEAAAABDAJgAn9/AX9gAX8BfwMDAgABBQQBAQQEBycDBm1lbW9yeQIAC2ZpcnN0Q2hhbmdlAAAMY2hhbmdlZFdvcmRzAAEKjAMCZgACQANAIAAgAU8NASAA/QAEACAA/QAEgIAE/VEgAP0ABBAgAP0ABJCABP1R/VAgAP0ABCAgAP0ABKCABP1RIAD9AAQwIAD9AASwgAT9Uf1Q/VD9Uw0BIABBwABqIQAMAAsACyAAC6ICAQR/IABBB3YhAgJAA0AgASAATw0BIAH9AAQAIAH9AASAgAT9OP2kASAB/QAEECAB/QAEkIAE/Tj9pAFBBHRyIAH9AAQgIAH9AASggAT9OP2kAUEIdHIgAf0ABDAgAf0ABLCABP04/aQBQQx0ciAB/QAEQCAB/QAEwIAE/Tj9pAFBEHRyIAH9AARQIAH9AATQgAT9OP2kAUEUdHIgAf0ABGAgAf0ABOCABP04/aQBQRh0ciAB/QAEcCAB/QAE8IAE/Tj9pAFBHHRyIQMgAUEFdiADNgKAgAggAyEEAkADQCAERQ0BIAJBAnQgASAEaEECdGooAoCABDYCgIAIIAJBAWohAiAEIARBAWtxIQQMAAsACyABQYABaiEBDAALAAsgAgs=";

/** Byte offset in scratch of changedWords' output. */
export const CHANGED_AT = 2 * SCRATCH_BYTES;
/** Bytes of scratch: both versions and changedWords' output (at most a mask word per 32 words and every word). */
const SCAN_MEMORY_BYTES = 4 * SCRATCH_BYTES;

type FirstChange = (from: number, end: number) => number;
type ChangedWords = (bytes: number) => number;

interface Scan {
  memory: ArrayBuffer;
  firstChange: FirstChange;
  changedWords: ChangedWords;
  simd: boolean;
}

function instantiate(): Scan {
  const bytes = Uint8Array.from(atob(SCAN_WASM_BASE64), (c) => c.charCodeAt(0));
  if (WebAssembly.validate(bytes)) {
    const exports = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports as { memory: WebAssembly.Memory; firstChange: FirstChange; changedWords: ChangedWords };
    return { memory: exports.memory.buffer, firstChange: exports.firstChange, changedWords: exports.changedWords, simd: true };
  }
  const memory = new ArrayBuffer(SCAN_MEMORY_BYTES);
  const words = new Uint32Array(memory);
  return { memory, firstChange: firstChangeJs(words), changedWords: changedWordsJs(words), simd: false };
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

/** changedWords in JavaScript, over the same scratch layout. */
export function changedWordsJs(words: Uint32Array): ChangedWords {
  const newer = NEWER_AT >>> 2;
  const out = CHANGED_AT >>> 2;
  return (bytes) => {
    const n = bytes >>> 2;
    let k = n >>> 5;
    for (let j = 0; j < n >>> 5; j++) {
      let mask = 0;
      for (let b = 0; b < 32; b++) if (words[(j << 5) + b] !== words[newer + (j << 5) + b]) mask |= 1 << b;
      words[out + j] = mask;
      for (let x = mask; x !== 0; x &= x - 1) words[out + k++] = words[newer + (j << 5) + 31 - Math.clz32(x & -x)];
    }
    return k;
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
/**
 * Compares the first `bytes` (a multiple of 128) of the two versions in scratch: writes at
 * {@link CHANGED_AT} one mask word per 32 words (bit b of mask word j: word 32j + b differs),
 * then the newer version's differing words in order; returns the words written.
 */
export const changedWords: ChangedWords = scan.changedWords;

