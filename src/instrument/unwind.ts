/**
 * Makes a kernel's stack something the runtime can save at a barrier and build again later, in
 * the same instance or a fresh one (checkpoints, src/checkpoint/).
 *
 * Binaryen's Asyncify pass, told that only the import `dsm.barrier` may unwind, rewrites just the
 * functions that can reach a barrier (and those that call through a table, which might); loops
 * that make no such call stay as they were. The pass adds the exports
 * `asyncify_start_unwind(data)`, `asyncify_stop_unwind()`, `asyncify_start_rewind(data)`,
 * `asyncify_stop_rewind()` and `asyncify_get_state()`; `data` points at a
 * `{ i32 current, i32 end }` header followed by the saved locals and call indices, which the
 * runtime keeps in the layout's unwind area (abi.ts unwindArea).
 *
 * Asyncify saves no globals, and compilers keep state in them (the C stack pointer, AssemblyScript's
 * allocator and shadow stack): {@link exportGlobals} exports every mutable global as
 * `__dsm_global_<index>` so the runtime can read and restore them. It runs after the access
 * checks are placed and proven (build.ts): the host changes them only when the kernel is fully
 * unwound, where nothing the checks assumed about them is live.
 *
 * The order in build.ts: compile, {@link addUnwinding}, instrument (which checks the accesses
 * Asyncify added too), prove, {@link exportGlobals}. The uninstrumented reference build stays
 * without either, so bench:overhead compares against the plain kernel.
 */
import binaryen from "binaryen";
import { BARRIER_IMPORT, GLOBAL_EXPORT_PREFIX, IMPORT_MODULE } from "../abi.js";
import { KERNEL_FEATURES } from "./instrument.js";

/** The exports Asyncify adds, which the runtime needs to checkpoint a kernel. */
export const UNWIND_EXPORTS = ["asyncify_start_unwind", "asyncify_stop_unwind", "asyncify_start_rewind", "asyncify_stop_rewind", "asyncify_get_state"] as const;

/** Runs Asyncify with `dsm.barrier` as the only import that unwinds. */
export function addUnwinding(wasm: Uint8Array): Uint8Array {
  const m = binaryen.readBinary(wasm);
  try {
    m.setFeatures(KERNEL_FEATURES);
    const level = binaryen.getOptimizeLevel();
    binaryen.setPassArgument("asyncify-imports", `${IMPORT_MODULE}.${BARRIER_IMPORT}`);
    // Asyncify optimises what it rewrote only at a non-zero optimisation level.
    binaryen.setOptimizeLevel(2);
    try {
      m.runPasses(["asyncify"]);
    } finally {
      binaryen.setOptimizeLevel(level);
      binaryen.setPassArgument("asyncify-imports", null);
    }
    return m.emitBinary();
  } finally {
    m.dispose();
  }
}

/** Exports each mutable global of the module's own as `__dsm_global_<index>` (one exported already gets a second name). */
export function exportGlobals(wasm: Uint8Array): Uint8Array {
  const m = binaryen.readBinary(wasm);
  try {
    m.setFeatures(KERNEL_FEATURES);
    for (let i = 0; i < m.getNumGlobals(); i++) {
      const info = binaryen.getGlobalInfo(m.getGlobalByIndex(i));
      if (!info.mutable || info.module) continue;
      m.addGlobalExport(info.name, `${GLOBAL_EXPORT_PREFIX}${i}`);
    }
    return m.emitBinary();
  } finally {
    m.dispose();
  }
}

/** Whether a module has what checkpoints need (a build of this version has). */
export function canUnwind(module: WebAssembly.Module): boolean {
  const names = new Set(WebAssembly.Module.exports(module).map((e) => e.name));
  return UNWIND_EXPORTS.every((name) => names.has(name));
}
