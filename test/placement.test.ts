/**
 * Data placement (src/protocol/placement.ts): the block split of each collective allocation, and
 * the protocols under it — a node's own block starts local, and a request that reaches a manager
 * before that manager's kernel allocated the page waits for the allocation instead of being lost
 * or served under the region mapping. Recording network: 1 KiB pages 16..23 (addresses 16 KiB..).
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Access, Protection } from "../src/abi.js";
import { createDiff } from "../src/protocol/diff_protocol.js";
import { InvalidProtocolOptionError, UnallocatedPageError } from "../src/protocol/errors.js";
import { createIvy } from "../src/protocol/ivy.js";
import { createMigrate } from "../src/protocol/migrate.js";
import { AllocationPlacement, createPlacement } from "../src/protocol/placement.js";
import { runCluster } from "../src/cluster/cluster.js";
import { recordedCluster } from "./helpers/recording_transport.js";
import { within } from "./helpers/expect.js";
import { kernel } from "./helpers/kernels.js";

const { ReadWrite: RW, ReadOnly: RO, None } = Protection;
const KIB = 1024;

const Blocks = suite("allocation placement");

Blocks("each allocation is cut into one contiguous block per node in rank order", () => {
  const p = new AllocationPlacement(16, 16, 3, 10, (page) => (page - 16) % 3);
  assert.equal(p.allocate(16 * KIB, 6 * KIB), { first: 16, last: 21 });
  assert.equal([16, 17, 18, 19, 20, 21].map((page) => p.managerOf(page)), [0, 0, 1, 1, 2, 2]);
  // 1.5 pages: two pages, split ⌊i·3/2⌋ = 0, 1.
  assert.equal(p.allocate(22 * KIB, 1536), { first: 22, last: 23 });
  assert.equal([p.managerOf(22), p.managerOf(23)], [0, 1]);
});

Blocks("pages beyond the last allocation are pending; allocated ones and zero-byte allocations are not", () => {
  const p = new AllocationPlacement(16, 16, 2, 10, () => 1);
  assert.is(p.pending(16), true);
  assert.is(p.allocate(16 * KIB, 0), null);
  assert.is(p.pending(16), true);
  p.allocate(16 * KIB, 2 * KIB);
  assert.equal([p.pending(16), p.pending(17), p.pending(18)], [false, false, true]);
  assert.is(p.managerOf(18), 1, "the region mapping answers for a page no allocation covers");
});

Blocks("a page an earlier allocation placed keeps its manager; the region's end clamps an allocation", () => {
  const p = new AllocationPlacement(16, 4, 2, 10, () => 0);
  p.allocate(16 * KIB, 2 * KIB);
  assert.equal(p.allocate(16 * KIB, 4 * KIB), { first: 18, last: 19 });
  assert.equal([16, 17, 18, 19].map((page) => p.managerOf(page)), [0, 1, 1, 1]);
  assert.is(p.allocate(40 * KIB, KIB), null);
});

Blocks("an unknown placement name is refused naming the choices", () => {
  const region = { firstPage: 16, pageCount: 4, pageSize: KIB, nodeCount: 2 };
  assert.throws(
    () => createPlacement("striped" as "region", region, () => 0),
    (e: Error) => e instanceof InvalidProtocolOptionError && e.message === 'placement "striped" is invalid; use one of region, allocation',
  );
});

Blocks.run();

const Protocols = suite("protocols under allocation placement");

Protocols("ivy: after an allocation each node owns its own block read-write and has no access to the others", async () => {
  const { nodes, ports } = recordedCluster(2, createIvy, { placement: "allocation", pageCount: 8 });
  await Promise.all(nodes.map((c) => c.start()));
  for (const node of nodes) node.allocated(16 * KIB, 4 * KIB);
  const protections = (page: number) => ports.map((p) => p.protection(page));
  assert.equal([16, 17, 18, 19].map(protections), [
    [RW, None],
    [RW, None],
    [None, RW],
    [None, RW],
  ]);
});

Protocols("migrate: the same block split replaces the region's homes", async () => {
  const { nodes, ports } = recordedCluster(2, createMigrate, { placement: "allocation", pageCount: 8 });
  await Promise.all(nodes.map((c) => c.start()));
  for (const node of nodes) node.allocated(20 * KIB, 2 * KIB);
  assert.equal([20, 21].map((page) => ports.map((p) => p.protection(page))), [
    [RW, None],
    [None, RW],
  ]);
});

Protocols("a request reaching a manager that has not allocated the page waits for the allocation, then is served", async () => {
  const { net, nodes, ports } = recordedCluster(2, createIvy, { placement: "allocation", pageCount: 8 });
  await Promise.all(nodes.map((c) => c.start()));
  nodes[1].allocated(16 * KIB, 2 * KIB); // node 1 is ahead: page 16 is node 0's
  const fault = nodes[1].fault(16, 16, Access.Write);
  await net.quiet();
  assert.equal(net.transcript(), ["WriteRequest 1→0 p16 v0"], "held, not answered under the region mapping");
  ports[0].page(16).fill(5); // node 0 allocates, then its kernel had written the page before the forward is served
  nodes[0].allocated(16 * KIB, 2 * KIB);
  await within(fault);
  await net.quiet();
  assert.equal(net.transcript(), [
    "WriteRequest 1→0 p16 v0",
    "PageData 0→1 p16 v0",
    "Confirm 1→0 p16 v1",
    "ConfirmAck 0→1 p16 v0",
  ]);
  assert.equal(ports.map((p) => p.protection(16)), [None, RW]);
  assert.is(ports[1].page(16)[7], 5);
  assert.is(nodes[0].stats().misdelivered, 0);
});

Protocols("diff: a page's first write epoch is at the manager its allocation names; a later allocation elsewhere leaves it alone", async () => {
  const { net, nodes, ports } = recordedCluster(2, createDiff, { placement: "allocation", pageCount: 8 });
  await Promise.all(nodes.map((c) => c.start()));
  nodes[0].allocated(16 * KIB, 2 * KIB); // page 16 is node 0's, 17 node 1's
  assert.equal([16, 17].map((page) => ports[0].protection(page)), [RW, None]);
  ports[0].page(16).fill(5, 0, 8); // node 0's kernel writes its page: no fault, no message
  nodes[1].allocated(16 * KIB, 2 * KIB);
  assert.equal([16, 17].map((page) => ports[1].protection(page)), [None, RW]);
  assert.equal(ports[0].protection(16), RW);
  await within(nodes[1].fault(16, 16, Access.Read));
  await net.quiet();
  assert.equal(net.transcript(), [
    "ReadRequest 1→0 p16 v0",
    "DiffData 0→1 p16 v1",
    "Confirm 1→0 p16 v1",
    "ConfirmAck 0→1 p16 v0",
  ]);
  assert.equal(ports.map((p) => p.protection(16)), [RO, RO]);
  assert.equal(Array.from(ports[1].page(16).subarray(0, 9)), [5, 5, 5, 5, 5, 5, 5, 5, 0]);
});

Protocols("a fault beyond every allocation the faulting node made is refused at once, naming the page, with no message sent", async () => {
  for (const create of [createIvy, createDiff, createMigrate]) {
    const { net, nodes } = recordedCluster(2, create, { placement: "allocation", pageCount: 8 });
    await Promise.all(nodes.map((c) => c.start()));
    for (const node of nodes) node.allocated(16 * KIB, 2 * KIB);
    const error = await within(nodes[1].fault(19, 19, Access.Read).then(() => undefined, (e: unknown) => e as Error));
    assert.instance(error, UnallocatedPageError);
    assert.is(error!.message, "node 1: page 19 (address 0x4c00) lies in the shared region but outside every sharedAlloc allocation made so far; kernels reach shared memory only through the addresses sharedAlloc returns");
    assert.equal(net.transcript(), []);
  }
});

const Runs = suite("a kernel under allocation placement");

Runs("a kernel reading past its allocation fails with UnallocatedPageError, and the node waiting in its final barrier is stopped at once", async () => {
  const { instrumented } = await kernel("test/kernels/outside_alloc.ts");
  // The bound is far below both the fault timeout and the 120 s barrier timeout.
  const error = await within(runCluster(instrumented, [], { nodes: 2, protocol: "ivy" }).then(() => undefined, (e: Error) => e), 8000);
  assert.instance(error, UnallocatedPageError);
  assert.match(error!.message, /^node 1: page \d+ \(address 0x[0-9a-f]+\) lies in the shared region but outside every sharedAlloc allocation/);
});

Protocols.run();
Runs.run();
