import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Scratch } from "../src/protocol/scratch.js";

const Buffer = suite("protocol: scratch buffer");

Buffer("bytes gives exactly the size asked, from one buffer reused while it is large enough", () => {
  const scratch = new Scratch(64);
  const a = scratch.bytes(10);
  const b = scratch.bytes(64);
  assert.is(a.byteLength, 10);
  assert.is(b.byteLength, 64);
  assert.is(a.buffer, b.buffer);
  assert.is(b.byteOffset, 0);
});

Buffer("it grows to the size asked, at least doubling, and keeps the larger buffer", () => {
  const scratch = new Scratch(64);
  const first = scratch.bytes(64).buffer;
  const grown = scratch.bytes(65);
  assert.is.not(grown.buffer, first);
  assert.is(grown.buffer.byteLength, 128, "doubled: 64 → 128");
  assert.is(scratch.bytes(100).buffer, grown.buffer);
  assert.is(scratch.bytes(1000).buffer.byteLength, 1000, "a jump past double takes the size asked");
});

Buffer("room gives the whole buffer, grown to the size asked", () => {
  const scratch = new Scratch(256);
  assert.is(scratch.room(10).byteLength, 256);
  assert.is(scratch.room(300).byteLength, 512);
});

Buffer("beyond maxBytes each call gets a fresh buffer and the kept one stays as it was", () => {
  const scratch = new Scratch(16, 64);
  const kept = scratch.bytes(64).buffer;
  assert.is(kept.byteLength, 64, "grown up to maxBytes");
  const big = scratch.bytes(65);
  const again = scratch.room(100);
  assert.is(big.byteLength, 65);
  assert.is(again.byteLength, 100);
  assert.is.not(big.buffer, kept);
  assert.is.not(again.buffer, big.buffer);
  assert.is(scratch.bytes(8).buffer, kept);
});

Buffer.run();
