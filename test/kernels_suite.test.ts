/**
 * The kernel suite at its tiny sizes: the pinned results in test/helpers/suite.ts are reproduced by
 * the plain TypeScript references and by every kernel run uninstrumented on one node. Modules are
 * cached on disk (node_modules/.cache/wasm-dsm-suite), so only changed kernels are recompiled.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { referenceResult, SUITE, SUITE_ROOT } from "./helpers/suite.js";
import { buildUninstrumented, runSolo } from "./helpers/suite_build.js";
import { within } from "./helpers/expect.js";

/** Bound on one tiny single-node run, including its build. */
const RUN_BOUND_MS = 20_000;

const Table = suite("the kernel suite table");

Table("names are unique and every kernel file exists", () => {
  assert.equal(new Set(SUITE.map((k) => k.name)).size, SUITE.length);
  for (const k of SUITE) assert.ok(existsSync(join(SUITE_ROOT, k.file)), `${k.name}: ${k.file} is missing`);
});

Table("every kernel file opens with a comment of at least two lines", () => {
  for (const k of SUITE) {
    const lines = readFileSync(join(SUITE_ROOT, k.file), "utf8").split("\n");
    const header = lines.slice(0, lines.findIndex((line) => !line.startsWith("//")));
    assert.ok(header.length >= 2, `${k.file}: starts with ${header.length} comment line(s); say what it computes and stresses`);
  }
});

Table("the suite holds the original kernels and the new ones", () => {
  assert.equal(
    SUITE.map((k) => k.name),
    ["jacobi", "sor", "matmul", "wordfreq", "intsort", "tsp", "nbody", "fft2d", "lu", "falseshare", "sparse"],
  );
});

Table.run();

const References = suite("TypeScript references reproduce the pinned tiny results");

for (const k of SUITE) {
  References(`${k.name}(${k.tiny.join(", ")}) = ${k.expected}`, () => {
    assert.is(referenceResult(k.name, k.tiny), k.expected);
  });
}

References("a reference tells different arguments apart", () => {
  assert.is.not(referenceResult("intsort", [4096, 20, 8]), referenceResult("intsort", [4096, 20, 7]));
  assert.is.not(referenceResult("sor", [64, 6]), referenceResult("sor", [64, 5]));
});

References.run();

const OneNode = suite("kernels uninstrumented on one node reproduce the pinned tiny results");

for (const k of SUITE) {
  OneNode(`${k.name}(${k.tiny.join(", ")}) returns ${k.expected}`, async () => {
    const module = await within(buildUninstrumented(k.file), RUN_BOUND_MS, `building ${k.file}`);
    const params = module.meta.run.params.length;
    for (const size of ["tiny", "quick", "full"] as const) {
      assert.is(k[size].length, params, `${k.name}: ${size} has ${k[size].length} arguments, run takes ${params}`);
    }
    const job = await within(runSolo(module, k.tiny), RUN_BOUND_MS, `${k.name} on one node`);
    assert.is(job.result, k.expected);
  });
}

OneNode.run();
