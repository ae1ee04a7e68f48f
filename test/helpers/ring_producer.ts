/**
 * Worker for the ring tests: writes `count` messages into a ring, message i being `size(i)` bytes
 * of the pattern (i + k) & 0xff and tagged i, ringing the consumer's bell after each; on a full ring
 * it sleeps on its own bell until the consumer frees space.
 */
import { workerData } from "node:worker_threads";
import { Bell } from "../../src/transport/bell.js";
import { RingWriter } from "../../src/transport/ring.js";

const { ring, consumerBell, producerBell, count } = workerData as { ring: SharedArrayBuffer; consumerBell: SharedArrayBuffer; producerBell: SharedArrayBuffer; count: number };
const writer = new RingWriter(ring);
const consumer = new Bell(consumerBell);
const self = new Bell(producerBell);

export function messageSize(i: number): number {
  return (i * 7919) % 3001;
}

for (let i = 0; i < count; i++) {
  const bytes = new Uint8Array(messageSize(i));
  for (let k = 0; k < bytes.length; k++) bytes[k] = (i + k) & 0xff;
  for (;;) {
    const seen = self.seq;
    if (writer.write(i, bytes)) break;
    self.sleep(seen, 1000);
  }
  consumer.ring();
}
