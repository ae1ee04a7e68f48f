/**
 * One end of the raw ring round trip (raw_rtt.ts measureRingRtt): a worker thread with a ring link
 * (src/transport/ring_link.ts), as a node's worker has. The pinger sends `count` messages to node
 * 1 and waits, spinning on its link, for each echo; the echoer sends every message back. No
 * protocol, codec or reactor: the floor under a fault on the embedded transport.
 */
import { parentPort, workerData } from "node:worker_threads";
import { RingLink, type RingLinkSpec } from "../src/transport/ring_link.js";

interface Job {
  spec: RingLinkSpec;
  role: "ping" | "echo";
  payloadBytes: number;
  count: number;
}

const { spec, role, payloadBytes, count } = workerData as Job;
const link = new RingLink(spec);
let received = 0;
let last = 0;
link.listen((bytes) => {
  received++;
  last = bytes.byteLength;
  if (role === "echo") link.send(0, bytes);
});

function waitFor(n: number): void {
  const deadline = performance.now() + 10_000;
  while (received < n) {
    link.pump();
    if (performance.now() > deadline) throw new Error(`ring rtt: no message ${n} within 10 s`);
  }
}

if (role === "echo") {
  waitFor(count);
  parentPort!.postMessage({ done: true });
} else {
  const payload = new Uint8Array(payloadBytes).fill(7);
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    link.send(1, payload);
    waitFor(i + 1);
    samples.push((performance.now() - t0) * 1000);
    if (last !== payloadBytes) throw new Error(`echo of ${payloadBytes} bytes came back as ${last}`);
  }
  parentPort!.postMessage({ samples });
}
