import { suite } from "uvu";
import * as assert from "uvu/assert";
import { ByteArena, SLAB_BYTES } from "../src/protocol/release/arena.js";

const Arena = suite("release: byte arena");

/** Whether two views share any byte of one buffer. */
function overlap(a: Uint8Array, b: Uint8Array): boolean {
  return a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

Arena("views are 8-byte aligned, of the length asked, and disjoint while live", () => {
  const arena = new ByteArena();
  const views: Uint8Array[] = [];
  for (let k = 0; k < 400; k++) views.push(arena.take(1 + ((k * 977) % 3000)));
  views.forEach((v, k) => {
    assert.is(v.byteLength, 1 + ((k * 977) % 3000));
    assert.is(v.byteOffset % 8, 0, `view ${k} at ${v.byteOffset}`);
  });
  for (let a = 0; a < views.length; a++) for (let b = a + 1; b < views.length; b++) assert.not.ok(overlap(views[a], views[b]), `views ${a} and ${b} overlap`);
  assert.ok(arena.slabs > 1, "400 views of up to 3000 bytes fill more than one slab");
});

Arena("a slab is handed out again only once every view of it is freed", () => {
  const arena = new ByteArena();
  const first = Array.from({ length: SLAB_BYTES / 4096 }, () => arena.take(4096));
  const next = arena.take(4096);
  assert.is.not(next.buffer, first[0].buffer, "a full slab gives way to a new one");
  for (const v of first.slice(1)) arena.free(v);
  const later = Array.from({ length: SLAB_BYTES / 4096 }, () => arena.take(4096));
  for (const v of later) assert.not.ok(overlap(v, first[0]), "a live view's bytes were handed out again");
  arena.free(first[0]);
  const reused = Array.from({ length: 2 * (SLAB_BYTES / 4096) }, () => arena.take(4096));
  assert.ok(reused.some((v) => v.buffer === first[0].buffer), "the freed slab is used again");
});

Arena("reset frees every view; views longer than a slab are plain arrays; free ignores them and strangers", () => {
  const arena = new ByteArena();
  const a = arena.take(100);
  arena.take(200);
  arena.reset();
  assert.is(arena.slabs, 0);
  const b = arena.take(100);
  assert.is(b.buffer, a.buffer, "after a reset the current slab starts again");
  assert.is(b.byteOffset, 0);
  const big = arena.take(SLAB_BYTES + 1);
  assert.is(big.byteLength, SLAB_BYTES + 1);
  assert.is(big.byteOffset, 0);
  const slabs = arena.slabs;
  arena.free(big);
  arena.free(new Uint8Array(8));
  assert.is(arena.slabs, slabs);
  arena.free(b);
  assert.is(arena.slabs, 0);
});

Arena.run();
