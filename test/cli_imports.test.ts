/**
 * What a `dsm` process loads before it runs a command (src/cli/main.ts): Binaryen and the
 * AssemblyScript compiler only where something is built. Loading them cost every dsm process
 * about 2 s (dsm --help, dsm run on a built module, every dsm node process of a NATS job). The
 * static import graph of the compiled modules is walked from each entry; a dynamic import() is
 * not an edge, as it loads only when reached.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const DIST = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const HEAVY = ["binaryen", "assemblyscript/dist/asc.js"];

/** The chain of modules from `entry` to the first static import of `target`, or undefined. */
function importChain(entry: string, target: string): string[] | undefined {
  const parent = new Map<string, string | null>([[entry, null]]);
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.shift()!;
    const source = readFileSync(file, "utf8");
    for (const m of source.matchAll(/^\s*(?:import|export)\s[^;]*?\sfrom\s+"([^"]+)"|^\s*import\s+"([^"]+)"/gm)) {
      const spec = (m[1] ?? m[2])!;
      if (spec === target) {
        const chain = [file];
        for (let p = parent.get(file); p; p = parent.get(p)) chain.push(p);
        return chain.reverse().map((f) => relative(DIST, f));
      }
      if (!spec.startsWith(".")) continue;
      const next = resolve(dirname(file), spec);
      if (!parent.has(next)) {
        parent.set(next, file);
        queue.push(next);
      }
    }
  }
  return undefined;
}

const Imports = suite("dsm's static imports");

Imports("the walk finds the compilers where they are: the builder imports Binaryen and asc", () => {
  assert.ok(importChain(join(DIST, "src/instrument/build.js"), "binaryen"));
  assert.ok(importChain(join(DIST, "src/instrument/build.js"), "assemblyscript/dist/asc.js"));
  assert.ok(importChain(join(DIST, "src/cli/bench_command.js"), "binaryen"), "bench builds its suite");
});

for (const entry of ["src/cli/main.js", "src/cli/run_command.js", "src/cli/node_command.js", "src/cluster/node_process.js", "src/runtime/worker.js"]) {
  Imports(`${entry} loads neither Binaryen nor the AssemblyScript compiler`, () => {
    for (const heavy of HEAVY) {
      const chain = importChain(join(DIST, entry), heavy);
      assert.is(chain, undefined, `${heavy} through ${chain?.join(" -> ")}`);
    }
  });
}

Imports.run();
