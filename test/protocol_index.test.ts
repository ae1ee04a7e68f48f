import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Access, Protection } from "../src/abi.js";
import { createProtocol, InvalidProtocolOptionError, PROTOCOLS, UnknownProtocolError } from "../src/protocol/index.js";
import { LocalNetwork } from "../src/transport/local_transport.js";
import { FakePort } from "./helpers/fake_port.js";

const Index = suite("createProtocol");

Index("knows migrate, ivy, diff, lrc and hlrc", () => {
  assert.equal([...PROTOCOLS], ["migrate", "ivy", "diff", "lrc", "hlrc"]);
});

Index("an unknown name is refused with the names it knows", () => {
  const network = new LocalNetwork(1);
  try {
    createProtocol("foo", { transport: network.transport(0), port: new FakePort(), job: 1, timeoutMs: 1000 });
    assert.unreachable();
  } catch (error) {
    assert.instance(error, UnknownProtocolError);
    assert.is((error as Error).message, 'protocol "foo": unknown; use one of migrate, ivy, diff, lrc, hlrc');
  }
});

Index("bad options are refused naming the option", () => {
  const network = new LocalNetwork(1);
  const make = (extra: object) => () => createProtocol("ivy", { transport: network.transport(0), port: new FakePort(), job: 1, timeoutMs: 1000, ...extra });
  assert.throws(make({ timeoutMs: 0 }), (e: Error) => e instanceof InvalidProtocolOptionError && e.message === "timeoutMs 0 is invalid; use a positive number of milliseconds");
  assert.throws(make({ job: -1 }), (e: Error) => e.message === "job -1 is invalid; use an integer from 0 to 4294967295");
  assert.throws(() => createProtocol("diff", { transport: network.transport(0), port: new FakePort(), job: 1, timeoutMs: 1000, historyLength: 1.5 }), (e: Error) =>
    e.message === "historyLength 1.5 is invalid; use an integer of at least 0 (diffs kept per page)",
  );
});

Index("every protocol runs a write, a barrier and a read on two nodes over the local transport", async () => {
  for (const name of PROTOCOLS) {
    const network = new LocalNetwork(2);
    const ports = [new FakePort(), new FakePort()];
    const nodes = ports.map((port, i) => createProtocol(name, { transport: network.transport(i), port, job: 2, timeoutMs: 2000 }));
    await Promise.all(nodes.map((n) => n.start()));
    // Node 1 writes a word on page 16, then both meet at a barrier, then node 0 reads it.
    if (ports[1].protection(16) !== Protection.ReadWrite) await nodes[1].fault(16, 16, Access.Write);
    ports[1].page(16)[0] = 77;
    await Promise.all(nodes.map((n) => n.barrier()));
    if (ports[0].protection(16) === Protection.None) await nodes[0].fault(16, 16, Access.Read);
    assert.is(ports[0].page(16)[0], 77, name);
    await Promise.all(nodes.map((n) => n.finish()));
    await Promise.all(nodes.map((n) => n.close()));
    await network.close();
  }
});

const Layers = suite("protocol layer imports");

Layers("src/protocol imports only itself, the ABI and the transport seam", () => {
  const here = dirname(fileURLToPath(import.meta.url));
  const dir = join(here, "../../src/protocol");
  const bad: string[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".ts"))) {
    for (const [, target] of readFileSync(join(dir, file), "utf8").matchAll(/from "([^"]+)"/g)) {
      if (!(target.startsWith("./") || target === "../abi.js" || target.startsWith("../transport/"))) bad.push(`${file} → ${target}`);
    }
  }
  assert.equal(bad, []);
});

Index.run();
Layers.run();
