/**
 * Faults served through Coherence.faultNow (kernel_node.ts serveFaults): each fault is answered
 * inside the handling of what resolved it and the kernel's next fault starts there. Pinned here:
 * results and counts over long runs of faults, the re-ask when a page is gone again, every way a
 * fault can fail (error, throw, bound, abort), and, for ivy on the local transport, that a fault
 * started from `done` joins the delivery under way instead of waiting for the next turn.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Access, Protection, Slot } from "../src/abi.js";
import { createIvy } from "../src/protocol/ivy.js";
import { FaultTimeoutError } from "../src/runtime/errors.js";
import { KernelNode, type NodeResult } from "../src/runtime/kernel_node.js";
import { LocalNetwork } from "../src/transport/local_transport.js";
import { rejection, within } from "./helpers/expect.js";
import { FakeCoherence, pattern } from "./helpers/fake_coherence.js";
import { FakePort } from "./helpers/fake_port.js";
import { kernel } from "./helpers/kernels.js";

const Chain = suite("faults served by faultNow");

/** What `read_pages.ts` returns when page p holds `pattern(p, ·)`. */
function expectedSum(first: number, pages: number, offset: number): bigint {
  let sum = 0n;
  for (let p = first; p < first + pages; p++) {
    let word = 0;
    for (let i = 3; i >= 0; i--) word = word * 256 + pattern(p, offset + i);
    sum += BigInt(word);
  }
  return sum;
}

/** Awaits a run of read_pages and checks that it read every page as granted. */
async function readAll(run: Promise<NodeResult>, node: KernelNode, pages: number): Promise<NodeResult> {
  const result = await within(run, 60_000);
  assert.is(result.value, expectedSum(node.firstPage, pages, 12));
  return result;
}

async function readPages(setup: (fake: FakeCoherence, node: KernelNode) => void, pages = 8, timeoutMs = 5000) {
  const { instrumented } = await kernel("test/kernels/read_pages.ts");
  const node = new KernelNode(instrumented, 0, 1);
  const fake = new FakeCoherence(node).serveNow();
  setup(fake, node);
  return { node, fake, run: node.run(fake, [pages, 12], { faultTimeoutMs: timeoutMs }) };
}

Chain("3,000 faults in a row, each answered before faultNow returns, all see their page", async () => {
  const pages = 3000;
  const { node, fake, run } = await readPages(() => {}, pages);
  const result = await readAll(run, node, pages);
  assert.is(result.stats.readFaults, pages);
  assert.is(fake.faults.length, pages);
  assert.equal(fake.faults[pages - 1], [node.firstPage + pages - 1, node.firstPage + pages - 1, "read"]);
});

Chain("faults answered later, from a timer, also see their pages", async () => {
  const { node, run } = await readPages((fake) => {
    fake.onFaultNow = (first, last, access, done) =>
      void setTimeout(() => {
        fake.grant(first, last, access);
        done();
      }, 1);
  });
  const result = await readAll(run, node, 8);
  assert.is(result.stats.readFaults, 8);
});

Chain("a fault whose page is still forbidden when done is called is asked again", async () => {
  let asked = 0;
  const { node, run } = await readPages((fake) => {
    fake.onFaultNow = (first, last, access, done) => {
      if (++asked === 1) return done(); // gone again before the reply: nothing granted
      fake.grant(first, last, access);
      done();
    };
  }, 1);
  const result = await readAll(run, node, 1);
  assert.is(result.stats.refaults, 1);
  assert.is(asked, 2);
});

Chain("a fault that fails with an error ends the run with that error", async () => {
  const failure = new Error("page 5 is on fire");
  const { run } = await readPages((fake) => {
    fake.onFaultNow = (first, last, access, done) => {
      if (fake.faults.length === 3) return done(failure);
      fake.grant(first, last, access);
      done();
    };
  });
  const outcome = await within(rejection(run), 10_000);
  assert.is(outcome, failure);
});

Chain("a faultNow that throws ends the run with what it threw", async () => {
  const failure = new Error("broken protocol");
  const { run } = await readPages((fake) => {
    fake.onFaultNow = () => {
      throw failure;
    };
  });
  const outcome = await within(rejection(run), 10_000);
  assert.is(outcome, failure);
});

Chain("a fault never answered ends at its bound, and a late done changes nothing", async () => {
  let late: (() => void) | undefined;
  const { node, run } = await readPages((fake) => {
    fake.onFaultNow = (_first, _last, _access, done) => {
      late = done;
    };
  }, 8, 150);
  const outcome = await within(rejection(run), 10_000);
  assert.instance(outcome, FaultTimeoutError);
  assert.is(outcome.message, `node 0: read fault on page ${node.firstPage} not resolved after 150 ms`);
  late!();
  assert.is(node.stats.readFaults, 1);
});

Chain("abort ends a fault under way at once", async () => {
  const { node, run } = await readPages((fake) => {
    fake.onFaultNow = () => {};
  }, 8, 60_000);
  const reason = new Error("another node failed");
  setTimeout(() => void node.abort(reason), 50);
  const started = performance.now();
  const outcome = await within(rejection(run), 10_000);
  // The reason, or the worker's exit when the termination overtakes the Abort reply.
  assert.ok(outcome === reason || outcome.name === "WorkerExitError", String(outcome));
  assert.ok(performance.now() - started < 5000, "ended long before the fault's 60 s bound");
});

/**
 * Answers each fault as a reply does: done() inside the handling of a later delivery (which
 * `after` plays the rest of), recording whether the kernel was answered inside done.
 */
function answerLater(fake: FakeCoherence, host: KernelNode, answeredInDone: boolean[], after = () => {}): void {
  const control = new Int32Array(host.memory.buffer, 0, 64);
  fake.onFaultNow = (first, last, access, done) =>
    void setImmediate(() => {
      const seq = Atomics.load(control, Slot.REQ_SEQ);
      fake.grant(first, last, access);
      done();
      answeredInDone.push(Atomics.load(control, Slot.ACK_SEQ) === seq);
      after();
    });
}

Chain("with messages waiting behind the reply (backlog), the fault is answered after them, the kernel still parked", async () => {
  for (const waiting of [true, false]) {
    const answeredInDone: boolean[] = [];
    const parkedWorkRan: boolean[] = [];
    const { node, run } = await readPages((fake, host) => {
      fake.backlog = () => waiting;
      answerLater(fake, host, answeredInDone, () => {
        // What a message after the reply in the same delivery would do: work that needs the kernel parked.
        let ran = false;
        void host.whenParked(() => (ran = true));
        parkedWorkRan.push(ran);
      });
    }, 4);
    await readAll(run, node, 4);
    assert.equal(answeredInDone, Array(4).fill(!waiting), `backlog ${waiting}: answered inside done`);
    if (waiting) assert.equal(parkedWorkRan, Array(4).fill(true), "parked work after the reply ran at once");
  }
});

Chain("a run of faults gives way to another node of the process whose request waits for its host", async () => {
  const { instrumented } = await kernel("test/kernels/read_pages.ts");
  // Another node of this process with a request its host has not taken (white box: the registry
  // of running nodes is private, and a real one takes its requests too soon to catch).
  const other = new KernelNode(instrumented, 1, 2);
  const running = (KernelNode as unknown as { running: Set<KernelNode> }).running;
  for (const waiting of [true, false]) {
    Atomics.store(new Int32Array(other.memory.buffer, 0, 64), Slot.REQ_SEQ, waiting ? 1 : 0);
    running.add(other);
    const answeredInDone: boolean[] = [];
    const { node, run } = await readPages((fake, host) => answerLater(fake, host, answeredInDone), 4);
    try {
      await readAll(run, node, 4);
    } finally {
      running.delete(other);
    }
    assert.equal(answeredInDone, Array(4).fill(!waiting), `another node waiting: ${waiting}`);
  }
});

const Joined = suite("ivy's faultNow on the local transport");

Joined("a fault started from done is answered in the same turn as the one before", async () => {
  const net = new LocalNetwork(2);
  const ports = [0, 1].map(() => new FakePort({ pageSize: 1024, firstPage: 16, pageCount: 4 }));
  const nodes = ports.map((port, i) => createIvy({ transport: net.transport(i), port, job: 3, timeoutMs: 3000 }));
  await Promise.all(nodes.map((node) => node.start()));
  ports[0]!.page(16)[0] = 11;
  ports[0]!.page(18)[0] = 22;
  const order: string[] = [];
  const both = new Promise<void>((resolve, reject) => {
    nodes[1]!.faultNow!(16, 16, Access.Read, (error) => {
      if (error) return reject(error);
      order.push(`page 16: ${ports[1]!.page(16)[0]}`);
      nodes[1]!.faultNow!(18, 18, Access.Read, (again) => {
        if (again) return reject(again);
        order.push(`page 18: ${ports[1]!.page(18)[0]}`);
        resolve();
      });
    });
  });
  setImmediate(() => order.push("next turn"));
  await within(both);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(order, ["page 16: 11", "page 18: 22", "next turn"]);
  assert.is(ports[1]!.protection(16), Protection.ReadOnly);
  assert.is(ports[1]!.protection(18), Protection.ReadOnly);
  await Promise.all(nodes.map((node) => node.finish()));
  await Promise.all(nodes.map((node) => node.close()));
  await net.close();
});

Chain.run();
Joined.run();
