/**
 * SPLASH-2-style programs with the ANL (PARMACS) macros (issue 17, item 4): dsm build expands
 * them with m4; node 0 runs main, CREATE starts the other nodes with a copy of its private
 * memory, G_MALLOC memory is shared, locks, barriers and pause flags work under every protocol.
 * The programs check themselves and print the result; the tests compare their exact output.
 *
 * Needs Debian's clang 14 toolchain for wasm and GNU m4; without them every test says SKIPPED,
 * and fails under CI=true.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCluster } from "../src/cluster/cluster.js";
import { buildKernelIsolated } from "../src/instrument/build_worker.js";
import { expandParmacs } from "../src/instrument/parmacs_m4.js";
import { CompilerNotFoundError } from "../src/instrument/compile_c.js";
import { loadKernelModule } from "../src/runtime/kernel_module.js";
import { PROTOCOLS } from "../src/protocol/index.js";
import { ROOT } from "./helpers/kernels.js";
import { runAndKill, runToEnd } from "./helpers/kill_resume.js";
import { tempDir } from "./helpers/temp_dir.js";

const INSTALL = "apt-get install clang lld wasi-libc libclang-rt-dev-wasm32 m4";
const PROGRAMS = "test/kernels/c/parmacs";
const DSM = join(ROOT, "bin/dsm.js");
const MATRIX = join(ROOT, "dist/test/helpers/program_matrix.js");
const dir = tempDir("dsm-parmacs-");

function toolchain(test: string): boolean {
  if (spawnSync("clang", ["--version"]).status === 0 && spawnSync("m4", ["--version"]).status === 0) return true;
  if (process.env.CI === "true") assert.unreachable(`the C toolchain and m4 are required in CI (${INSTALL})`);
  process.stderr.write(`SKIPPED (C toolchain or m4 not installed: ${INSTALL}): ${test}\n`);
  return false;
}

/**
 * psum, built by `dsm build` into a copy of its folder: the command expands psum.h.in beside it
 * and names the module after the source by default.
 */
function buildPsum(): string {
  const copy = join(dir, "psum");
  mkdirSync(copy);
  for (const name of ["psum.c.in", "psum.h.in"]) writeFileSync(join(copy, name), readFileSync(join(ROOT, PROGRAMS, name)));
  const r = spawnSync(process.execPath, [DSM, "build", join(copy, "psum.c.in")], { encoding: "utf8", timeout: 120_000 });
  assert.is(r.status, 0, r.stderr);
  assert.ok(r.stdout.startsWith(`wrote ${join(copy, "psum.wasm")} (`), r.stdout);
  return join(copy, "psum.wasm");
}

/** Builds a program once; returns the path of its instrumented module. */
const built = new Map<string, Promise<string>>();
function build(source: string): Promise<string> {
  if (source === "psum") {
    if (!built.has(source)) built.set(source, Promise.resolve().then(buildPsum));
    return built.get(source)!;
  }
  let path = built.get(source);
  if (!path) {
    path = buildKernelIsolated(source.startsWith("/") ? source : join(ROOT, source)).then((out) => {
      const file = join(dir, `${built.size}.wasm`);
      writeFileSync(file, out.instrumented);
      return file;
    });
    built.set(source, path);
  }
  return path;
}

/** Every protocol on 1, 2 and 4 nodes, with -p equal to the nodes. */
const RUNS = PROTOCOLS.flatMap((protocol) => [1, 2, 4].map((nodes) => ({ protocol, nodes })));

/** Runs `wasm` over RUNS in one helper process; returns each run's section of its stdout. */
function matrix(wasm: string, args: string[]): Map<string, string> {
  const r = spawnSync(process.execPath, [MATRIX, wasm, RUNS.map((run) => `${run.protocol}:${run.nodes}`).join(","), "--", ...args], { encoding: "utf8", timeout: 120_000 });
  assert.is(r.status, 0, r.stderr);
  const sections = new Map<string, string>();
  for (const part of r.stdout.split(/^=== run /m).slice(1)) {
    const newline = part.indexOf("\n");
    sections.set(part.slice(0, newline), part.slice(newline + 1));
  }
  return sections;
}

const Programs = suite("PARMACS programs: the fork model under every protocol");

Programs("psum (CREATE P - 1 times, then SlaveStart) prints its own check on 1, 2 and 4 nodes under every protocol", async () => {
  if (!toolchain("psum matrix")) return;
  const wasm = await build("psum");
  assert.is(loadKernelModule(readFileSync(wasm), wasm).meta.entry, "main");
  const sections = matrix(wasm, ["-p", "{nodes}"]);
  for (const { protocol, nodes } of RUNS) {
    const expected = `psum: P=${nodes} N=4096 total=1279720.000 bins=4096 agree=${nodes}\nself-check: ok\n=== status 0\n`;
    assert.is(sections.get(`${protocol} ${nodes}`), expected, `${protocol} on ${nodes} node(s)`);
  }
});

Programs("relax (CREATE(fn, P), WAIT_FOR_END(P), fences, a pause flag) gives the serial checksum on 1, 2 and 4 nodes under every protocol", async () => {
  if (!toolchain("relax matrix")) return;
  const sections = matrix(await build(`${PROGRAMS}/relax.c.in`), ["-p", "{nodes}", "-n", "1024", "-i", "12"]);
  for (const { protocol, nodes } of RUNS) {
    // The checksum of the serial relaxation, which the program also compares cell by cell.
    const expected = `relax: P=${nodes} N=1024 iterations=12 checksum=16991.116874\nself-check: ok\n=== status 0\n`;
    assert.is(sections.get(`${protocol} ${nodes}`), expected, `${protocol} on ${nodes} node(s)`);
  }
});

Programs("dsm run prog.c.in builds in memory; node 0's stdout is the command's and its status the exit code", () => {
  if (!toolchain("dsm run psum.c.in")) return;
  const r = spawnSync(process.execPath, [DSM, "run", join(ROOT, PROGRAMS, "psum.c.in"), "--nodes", "2", "--protocol", "lrc", "--", "-p", "2", "-n", "64"], { encoding: "utf8", timeout: 60_000 });
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout, "psum: P=2 N=64 total=20820.000 bins=64 agree=2\nself-check: ok\n");
  assert.is(r.stderr, "");
});

Programs("relax killed with SIGKILL after checkpoint 2 (its started nodes hold their JOIN locks across it) goes on with --resume to the serial checksum", async () => {
  if (!toolchain("relax killed and resumed")) return;
  const wasm = await build(`${PROGRAMS}/relax.c.in`);
  const options = [wasm, "--nodes", "3", "--protocol", "lrc", "--checkpoint-store", join(dir, "checkpoints"), "--job", "relax"];
  const args = ["-p", "3", "-n", "4096", "-i", "800"];
  await runAndKill([...options, "--checkpoint-every", "0.05"], args, 2);
  const run = runToEnd([...options, "--resume"], args);
  assert.is(run.status, 0, run.stderr);
  // The checksum of the serial relaxation (the program checks every cell against it too).
  assert.is(run.stdout, "relax: P=3 N=4096 iterations=800 checksum=72671.049474\nself-check: ok\n");
});

const Errors = suite("PARMACS programs: what the fork model refuses");

async function refused(wasm: string, args: string[], nodes: number): Promise<Error> {
  try {
    await runCluster(loadKernelModule(readFileSync(wasm), wasm), args, { nodes, protocol: "ivy", faultTimeoutMs: 10_000, syncTimeoutMs: 20_000 });
  } catch (error) {
    return error as Error;
  }
  return assert.unreachable("the job should fail") as never;
}

Errors("more processes than nodes stops the job at CREATE, naming the process and the node count", async () => {
  if (!toolchain("CREATE past the nodes")) return;
  const error = await refused(await build("psum"), ["-p", "4", "-n", "64"], 2);
  assert.is(error.name, "ParmacsProcessCountError");
  assert.is(error.message, "node 0: CREATE would start process 3 of a job with 2 node(s); a PARMACS program runs one process per node: give the job as many nodes (--nodes) as the program starts processes");
});

Errors("a barrier over fewer processes than nodes is refused, naming P and the fix", async () => {
  if (!toolchain("BARRIER over fewer nodes")) return;
  const error = await refused(await build("psum"), ["-p", "1", "-n", "64"], 2);
  assert.is(error.name, "ParmacsProcessCountError");
  assert.is(error.message, "node 0: BARRIER over 1 process(es) in a job with 2 node(s); wasm-dsm barriers span every node: run with --nodes 1");
});

const MISUSE = `#include <stdio.h>
#include <stdlib.h>
MAIN_ENV
struct S { LOCKDEC(lock) BARDEC(bar) } *s;
int P = 2;
char mode;
void Worker(void) { if (mode == 'w') WAIT_FOR_END(1) BARRIER(s->bar, P) }
int main(int argc, char **argv) {
  mode = argv[1][0];
  s = G_MALLOC(sizeof *s);
  BARINIT(s->bar)
  if (mode == 'l') LOCK(s->lock)
  if (mode == 'a') dsm_shared_alloc(4096);
  if (mode == 'g') G_MALLOC(1u << 30);
  CREATE(Worker, P)
  WAIT_FOR_END(P)
  MAIN_END
}
`;

Errors("an uninitialised lock, a collective allocation, G_MALLOC past the region and WAIT_FOR_END off node 0 are typed errors", async () => {
  if (!toolchain("PARMACS misuse")) return;
  const source = join(dir, "misuse.c.in");
  writeFileSync(source, MISUSE);
  const wasm = await build(source);
  const lock = await refused(wasm, ["l"], 2);
  assert.is(lock.name, "ParmacsUsageError");
  assert.match(lock.message, /^node 0: LOCK on the object at 0x[0-9a-f]+, which was never initialised; call LOCKINIT or ALOCKINIT on it first$/);
  const alloc = await refused(wasm, ["a"], 2);
  assert.is(alloc.name, "ParmacsUsageError");
  assert.is(alloc.message, "node 0: dsm_shared_alloc(4096) in a PARMACS program: only node 0 runs main, so no other node makes the same collective call; use G_MALLOC");
  const big = await refused(wasm, ["g"], 2);
  assert.is(big.name, "SharedRegionExhaustedError");
  assert.match(big.message, /^node 0: G_MALLOC\(1073741824\) does not fit in what is left of the \d+-byte shared region; rebuild with a larger --shared-size$/);
  const wait = await refused(wasm, ["w"], 2);
  assert.is(wait.name, "ParmacsUsageError");
  assert.is(wait.message, "node 1: WAIT_FOR_END called on node 1; only main, on node 0, starts and waits for processes");
});

Errors("m4 missing from PATH is a CompilerNotFoundError naming the package", () => {
  const empty = tempDir("dsm-nom4-");
  const path = process.env.PATH;
  process.env.PATH = empty;
  try {
    expandParmacs([join(ROOT, PROGRAMS, "psum.c.in")], empty, (what) => new CompilerNotFoundError(`${what}; install it (apt-get install m4)`));
    assert.unreachable("expansion should fail");
  } catch (error) {
    assert.instance(error, CompilerNotFoundError);
    assert.is((error as Error).message, "m4 not found on PATH; install it (apt-get install m4)");
  } finally {
    process.env.PATH = path;
  }
});

Errors("macros expand where they are called; their bare names in comments stay", () => {
  if (!toolchain("m4 expansion")) return;
  const into = tempDir("dsm-m4-");
  const [expanded] = expandParmacs([join(ROOT, PROGRAMS, "psum.c.in")], into, (what) => new Error(what));
  assert.ok(expanded.path.endsWith("/psum.c"));
  assert.equal(expanded.includeDirs, [join(ROOT, PROGRAMS)]);
  const header = readFileSync(join(into, "m4-0", "psum.h"), "utf8");
  assert.ok(header.includes("  dsm_parmacs_lock_t idlock;\n"), header);
  assert.ok(header.includes("  dsm_parmacs_lock_t binlock[BINS];\n"), header);
  assert.ok(header.includes("through WAITPAUSE */"), header);
  const program = readFileSync(expanded.path, "utf8");
  assert.ok(program.startsWith(`#line 1 "${join(ROOT, PROGRAMS, "psum.c.in")}"\n`), program.slice(0, 200));
  assert.ok(program.includes("for (i = 1; i < P; i++) { dsm_parmacs_create((void (*)(void))(SlaveStart)); }"), program);
});

Programs.run();
Errors.run();
