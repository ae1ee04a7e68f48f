/**
 * Where the nats-server runs, as the core gauge sees it: a server on this machine keeps a core,
 * so nodes of this process spin at their waits only while the threads that run fit the rest.
 */
import { availableParallelism, networkInterfaces } from "node:os";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { LOCAL_SERVER_CORES } from "../src/runtime/core_gauge.js";
import { processGauge } from "../src/runtime/node_thread.js";
import { serverOnThisMachine } from "../src/transport/nats_server.js";

const Locality = suite("nats-server locality");

Locality("loopback names and addresses, with or without a scheme, are this machine", () => {
  for (const url of ["nats://127.0.0.1:4222", "127.0.0.1:4222", "localhost:4222", "nats://localhost", "tls://[::1]:4222", "nats://127.0.0.2:5000"]) {
    assert.ok(serverOnThisMachine(url), url);
  }
});

Locality("an address of one of this machine's interfaces is this machine; others are not", () => {
  const own = Object.values(networkInterfaces()).flatMap((list) => list ?? []).map((a) => (a.family === "IPv6" ? `[${a.address}]` : a.address));
  assert.ok(own.length > 0, "this machine has an interface");
  for (const address of own) assert.ok(serverOnThisMachine(`nats://${address}:4222`), address);
  assert.not.ok(serverOnThisMachine("nats://192.0.2.7:4222"), "TEST-NET-1 is nobody's");
  assert.not.ok(serverOnThisMachine(["tls://nats.example.com:4222", "nats://198.51.100.1:4222"]));
});

Locality("one local server in a list makes the list local; a URL that does not parse counts as remote", () => {
  assert.ok(serverOnThisMachine(["nats://192.0.2.7:4222", "nats://127.0.0.1:4223"]));
  assert.ok(serverOnThisMachine("nats://192.0.2.7:4222,nats://127.0.0.1:4223"));
  assert.not.ok(serverOnThisMachine("nats://[:4222"));
  assert.not.ok(serverOnThisMachine([]));
});

Locality("a gauge keeps the local server's core out of those its nodes may spin on", () => {
  assert.is(processGauge().cores, availableParallelism());
  assert.is(processGauge(LOCAL_SERVER_CORES).cores, Math.max(0, availableParallelism() - LOCAL_SERVER_CORES));
});

Locality.run();
