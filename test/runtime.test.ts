import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Protection } from "../src/abi.js";
import { KernelNode } from "../src/runtime/kernel_node.js";
import { FaultTimeoutError, KernelTrapError } from "../src/runtime/errors.js";
import { FakeCoherence, pattern } from "./helpers/fake_coherence.js";
import { kernel } from "./helpers/kernels.js";

// Every fault test runs on both ways a Coherence can serve faults (the fault chain in kernel_node.ts).
for (const served of ["fault", "faultNow"] as const) {
  const Faults = suite(`fault path through the worker, served by Coherence.${served}`);

  async function runAccess(mode: number, offset: number) {
    const { instrumented } = await kernel("test/kernels/access.ts");
    const node = new KernelNode(instrumented, 0, 1);
    const fake = new FakeCoherence(node);
    if (served === "faultNow") fake.serveNow();
    const result = await node.run(fake, [4, mode, offset], { faultTimeoutMs: 5000 });
    return { result: result.value, faults: fake.faults, P: node.firstPage, stats: result.stats };
  }

  const le = (page: number, from: number, n: number) => {
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(pattern(page + Math.floor((from + i) / 4096), (from + i) % 4096));
    return v;
  };

  Faults("a byte load faults once for read and sees the installed byte", async () => {
    const r = await runAccess(0, 5);
    assert.equal(r.faults, [[r.P, r.P, "read"]]);
    assert.is(r.result, BigInt(pattern(r.P, 5)));
    assert.is(r.stats.readFaults, 1);
  });

  Faults("a 16-bit load straddling two pages reports both pages", async () => {
    const r = await runAccess(1, 4095);
    assert.equal(r.faults, [[r.P, r.P + 1, "read"]]);
    assert.is(r.result, BigInt.asIntN(16, le(r.P, 4095, 2)));
  });

  Faults("a 64-bit load straddling two pages reads bytes from both", async () => {
    const r = await runAccess(3, 4092);
    assert.equal(r.faults, [[r.P, r.P + 1, "read"]]);
    assert.is(r.result, BigInt.asIntN(64, le(r.P, 4092, 8)));
  });

  Faults("a store faults for write and its value lands", async () => {
    const r = await runAccess(4, 100);
    assert.equal(r.faults, [[r.P, r.P, "write"]]);
    assert.is(r.result, 0xdeadbeefn);
    assert.is(r.stats.writeFaults, 1);
  });

  Faults("memory.fill over three pages faults once for the whole range", async () => {
    const r = await runAccess(5, 0);
    assert.equal(r.faults, [[r.P, r.P + 2, "write"]]);
    assert.is(r.result, 7n);
  });

  Faults("memory.copy faults for read on the source and write on the destination", async () => {
    const r = await runAccess(6, 0);
    assert.equal([...r.faults].sort(), [[r.P, r.P, "read"], [r.P + 2, r.P + 2, "write"]].sort());
    assert.is(r.result, le(r.P, 0, 4));
  });

  Faults("an atomic add faults for write and returns the installed value", async () => {
    const r = await runAccess(7, 16);
    assert.equal(r.faults, [[r.P, r.P, "write"]]);
    assert.is(r.result, le(r.P, 16, 4));
  });

  Faults("a v128 load faults for read and sees the installed bytes", async () => {
    const r = await runAccess(8, 32);
    assert.equal(r.faults, [[r.P, r.P, "read"]]);
    assert.is(r.result, BigInt.asIntN(64, le(r.P, 32, 8)));
  });

  Faults("a fault nobody resolves becomes a typed error naming the page", async () => {
    const { instrumented } = await kernel("test/kernels/access.ts");
    const node = new KernelNode(instrumented, 0, 1);
    const fake = new FakeCoherence(node);
    fake.onFault = () => new Promise(() => {});
    if (served === "faultNow") fake.serveNow().onFaultNow = () => {};
    try {
      await node.run(fake, [4, 0, 0], { faultTimeoutMs: 200 });
      assert.unreachable("run should fail");
    } catch (error) {
      assert.instance(error, FaultTimeoutError);
      assert.is((error as Error).message, `node 0: read fault on page ${node.firstPage} not resolved after 200 ms`);
    }
  });

  Faults.run();
}

const Parking = suite("parking at poll points");

Parking("pages taken away at poll points many times lose no write", async () => {
  const { instrumented } = await kernel("test/kernels/spin.ts");
  const node = new KernelNode(instrumented, 0, 1);
  const fake = new FakeCoherence(node, Protection.ReadWrite);
  const saved = new Map<number, Uint8Array>();
  fake.onFault = (first, last) => {
    for (let p = first; p <= last; p++) {
      const bytes = saved.get(p);
      if (bytes) node.page(p).set(bytes);
      saved.delete(p);
      node.setProtection(p, Protection.ReadWrite);
    }
  };
  let takeaways = 0;
  let running = true;
  const pages = [node.firstPage, node.firstPage + 1];
  const thief = (async () => {
    while (running) {
      const p = pages[takeaways % 2];
      await node.whenParked(() => {
        if (node.protection(p) !== Protection.ReadWrite) return;
        saved.set(p, node.page(p).slice());
        node.page(p).fill(0); // a write that slipped past the check would now be lost
        node.setProtection(p, Protection.None);
      });
      takeaways++;
      await new Promise((r) => setImmediate(r));
    }
  })();
  const n = 30_000_000;
  const result = await node.run(fake, [n], { faultTimeoutMs: 5000 });
  running = false;
  await thief;
  assert.is(result.value, (BigInt(n) << 32n) | BigInt(2 * n));
  assert.ok(takeaways >= 20, `only ${takeaways} take-aways happened`);
  assert.ok(result.stats.polls >= 10, `only ${result.stats.polls} polls`);
  assert.ok(fake.faults.length >= 10, `only ${fake.faults.length} faults`);
});

Parking.run();

const Traps = suite("kernel traps");

async function trap(mode: number): Promise<Error> {
  const { instrumented } = await kernel("test/kernels/trap.ts");
  const node = new KernelNode(instrumented, 0, 1);
  try {
    await node.run(new FakeCoherence(node, Protection.ReadWrite), [mode]);
  } catch (error) {
    return error as Error;
  }
  throw new Error("the kernel did not trap");
}

Traps("an AssemblyScript abort names the node, message and file:line", async () => {
  const e = await trap(0);
  assert.instance(e, KernelTrapError);
  assert.is(e.message, "node 0: kernel trapped: abort: bad input 0 at trap.ts:7:3");
});

Traps("unreachable is reported as such", async () => {
  const e = await trap(1);
  assert.instance(e, KernelTrapError);
  assert.is(e.message, "node 0: kernel trapped: unreachable");
});

Traps("an out-of-bounds load is reported as such", async () => {
  const e = await trap(2);
  assert.instance(e, KernelTrapError);
  assert.is(e.message, "node 0: kernel trapped: memory access out of bounds");
});

Traps.run();
