/**
 * C kernels over the NATS transport: each C kernel as node processes over a private nats-server
 * gives, bit for bit, what its AssemblyScript twin gives on one node (the checksums pinned in
 * test/c_kernels.test.ts, which checks them against the twins on the embedded transport). The
 * protocols rotate over the kernels so that every protocol carries a C kernel over NATS;
 * DSM_TEST_NATS_MATRIX=all runs the whole matrix (below).
 *
 * Needs nats-server and Debian's clang 14 toolchain for wasm; without either the test says
 * SKIPPED, and fails under CI=true.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PROTOCOLS } from "../src/protocol/index.js";
import { findNatsServer } from "../src/transport/nats_server.js";
import { ROOT } from "./helpers/kernels.js";

const DSM = join(ROOT, "bin/dsm.js");
const INSTALL = "apt-get install clang lld wasi-libc libclang-rt-dev-wasm32";
/** fft2d.ts's result at logn 6 (test/c_kernels.test.ts). */
const FFT_LOGN6 = -13976.33009141655;

function dsm(...args: string[]) {
  const r = spawnSync(process.execPath, [DSM, ...args], { encoding: "utf8", timeout: 120_000 });
  return { code: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
}

/** Each kernel built once per run (`dsm build`), so that each case pays for its job only. */
const builds = new Map<string, string>();
let buildDir: string | undefined;
function built(file: string): string {
  let out = builds.get(file);
  if (out) return out;
  buildDir ??= mkdtempSync(join(tmpdir(), "dsm-c-nats-"));
  out = join(buildDir, file.replace(/\.c$/, ".wasm"));
  const r = dsm("build", join(ROOT, "assembly/kernels/c", file), "-o", out);
  assert.is(r.code, 0, r.err);
  builds.set(file, out);
  return out;
}

function missing(): string | undefined {
  if (!findNatsServer()) return "nats-server not installed: apt-get install nats-server";
  if (spawnSync("clang", ["--version"]).status !== 0) return `C toolchain not installed: ${INSTALL}`;
  return undefined;
}

const Nats = suite("C kernels over NATS");

Nats("the C FFT on 2 node processes over a private nats-server, with lrc, equals the AssemblyScript FFT", () => {
  const why = missing();
  if (why) {
    if (process.env.CI === "true") assert.unreachable(`required in CI: ${why}`);
    console.error(`SKIPPED (${why}): C kernel over NATS`);
    return;
  }
  const r = dsm("run", join(ROOT, "assembly/kernels/c/fft2d.c"), "--nodes", "2", "--protocol", "lrc", "--transport", "nats", "--json", "--", "6");
  assert.is(r.code, 0, r.err);
  const job = JSON.parse(r.out);
  assert.equal([job.result, job.kernel, job.transport, job.perNode.length], [FFT_LOGN6, "fft2d.c", "nats", 2]);
  assert.ok(job.perNode.every((n: { stats: { messages: number } }) => n.stats.messages > 0));
});

/** Each C kernel, its arguments and checksum (test/c_kernels.test.ts TWINS). */
const KERNELS = {
  "jacobi.c": { args: ["40", "6"], checksum: 14742.4443359375 },
  "matmul.c": { args: ["37"], checksum: 2564.5 },
  "intsort.c": { args: ["4096", "20", "7"], checksum: "1558523018044967986" },
  "fft2d.c": { args: ["6"], checksum: FFT_LOGN6 },
};
type Kernel = keyof typeof KERNELS;

/**
 * The cases run: by default each kernel once, the protocols rotating (a run here costs about 3 s,
 * a nats-server and node processes); `DSM_TEST_NATS_MATRIX=all` runs every kernel under every
 * protocol on 1, 2 and 4 nodes (60 runs, about 4 minutes here).
 */
const CASES: { file: Kernel; protocol: string; nodes: number }[] =
  process.env.DSM_TEST_NATS_MATRIX === "all"
    ? (Object.keys(KERNELS) as Kernel[]).flatMap((file) => PROTOCOLS.flatMap((protocol) => [1, 2, 4].map((nodes) => ({ file, protocol, nodes }))))
    : [
        { file: "jacobi.c", protocol: "hlrc", nodes: 3 },
        { file: "matmul.c", protocol: "ivy", nodes: 2 },
        { file: "intsort.c", protocol: "diff", nodes: 2 },
        { file: "jacobi.c", protocol: "migrate", nodes: 2 },
      ];

for (const c of CASES) {
  Nats(`${c.file} on ${c.nodes} node processes over NATS, with ${c.protocol}, equals its AssemblyScript twin`, () => {
    const why = missing();
    if (why) {
      if (process.env.CI === "true") assert.unreachable(`required in CI: ${why}`);
      console.error(`SKIPPED (${why}): C kernel over NATS`);
      return;
    }
    const { args, checksum } = KERNELS[c.file];
    const r = dsm("run", built(c.file), "--nodes", String(c.nodes), "--protocol", c.protocol, "--transport", "nats", "--json", "--", ...args);
    assert.is(r.code, 0, r.err);
    const job = JSON.parse(r.out);
    assert.equal([job.result, job.protocol, job.transport, job.perNode.length], [checksum, c.protocol, "nats", c.nodes]);
  });
}

Nats.after(() => {
  if (buildDir) rmSync(buildDir, { recursive: true, force: true });
});

Nats.run();
