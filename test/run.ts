/**
 * Runs every compiled test file (dist/test/*.test.js) in its own process, in order, and ends with
 * the line CI reads: `N passed, N failed[, N skipped]`. uvu prints no such line itself.
 *
 * A test that skips because something is missing prints a line starting `SKIPPED (` to stderr; it
 * is counted as skipped, not passed. `node dist/test/run.js name…` runs only files whose name
 * contains one of the words. Kernels are built once per run (DSM_TEST_BUILD_CACHE, below).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith(".test.js"))
  .filter((f) => filters.length === 0 || filters.some((w) => f.includes(w)))
  .sort();

/**
 * Kernels the test files build through test/helpers/kernels.ts are built once per run of this
 * runner, not once per file: the sources cannot change while it runs.
 */
const buildCache = process.env.DSM_TEST_BUILD_CACHE ? undefined : mkdtempSync(join(tmpdir(), "dsm-test-builds-"));
if (buildCache) process.env.DSM_TEST_BUILD_CACHE = buildCache;

/** Per-file bound: a hung test file fails instead of hanging CI. */
const FILE_TIMEOUT_MS = Number(process.env.DSM_TEST_FILE_TIMEOUT_MS ?? 300_000);

interface Tally {
  passed: number;
  failed: number;
  skipped: number;
}

function runFile(file: string): Promise<Tally> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, [join(here, file)], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => {
      out += d;
      process.stdout.write(d);
    });
    child.stderr.on("data", (d) => {
      err += d;
      process.stderr.write(d);
    });
    const timer = setTimeout(() => {
      err += `\n${file}: killed after ${FILE_TIMEOUT_MS} ms\n`;
      process.stderr.write(`${file}: killed after ${FILE_TIMEOUT_MS} ms\n`);
      child.kill("SIGKILL");
    }, FILE_TIMEOUT_MS);
    child.on("close", (code) => {
      clearTimeout(timer);
      const plain = out.replace(/\x1b\[[0-9;]*m/g, "");
      const total = sum(plain, /Total:\s+(\d+)/g);
      const passedRaw = sum(plain, /Passed:\s+(\d+)/g);
      const skippedRaw = sum(plain, /Skipped:\s+(\d+)/g);
      const loudSkips = (err.match(/^SKIPPED \(/gm) ?? []).length;
      const passed = Math.max(0, passedRaw - loudSkips);
      let failed = Math.max(0, total - passedRaw - skippedRaw);
      if (code !== 0 && failed === 0) failed = 1;
      const tally = { passed, failed, skipped: skippedRaw + loudSkips };
      console.log(`# ${file}: ${tally.passed} passed, ${tally.failed} failed, ${tally.skipped} skipped (${Date.now() - started} ms)`);
      resolve(tally);
    });
  });
}

function sum(text: string, re: RegExp): number {
  let n = 0;
  for (const m of text.matchAll(re)) n += Number(m[1]);
  return n;
}

const total: Tally = { passed: 0, failed: 0, skipped: 0 };
for (const file of files) {
  const t = await runFile(file);
  total.passed += t.passed;
  total.failed += t.failed;
  total.skipped += t.skipped;
}
if (files.length === 0) total.failed++;
if (buildCache) rmSync(buildCache, { recursive: true, force: true });
console.log(`${total.passed} passed, ${total.failed} failed${total.skipped ? `, ${total.skipped} skipped` : ""}`);
process.exit(total.failed === 0 ? 0 : 1);
