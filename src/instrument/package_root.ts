/** Where this package lives on disk, for the files kernels build against (assembly/, c/). */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    try {
      if (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).name === "wasm-dsm") return dir;
    } catch {
      /* keep climbing */
    }
    if (dirname(dir) === dir) throw new Error(`cannot find the wasm-dsm package above ${from}`);
  }
}

export const PACKAGE_ROOT = findPackageRoot(dirname(fileURLToPath(import.meta.url)));
