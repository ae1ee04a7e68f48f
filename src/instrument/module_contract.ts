/**
 * The module contract: what a WebAssembly module from any compiler (Rust, Zig, hand-written WAT)
 * must be for `dsm build module.wasm` to instrument it and for the runtime to host it. The
 * AssemblyScript and C builds (compile.ts, compile_c.ts) produce such modules; this file checks a
 * module that comes ready-made, and names the rule it breaks and how to fix it.
 *
 * The rules, one ModuleContractError each:
 *  1. memory: one memory, imported as `env.memory`, shared, its declared maximum at least the
 *     layout's (`--max-memory`, 256 MiB by default) and its minimum at most that maximum.
 *  2. layout bounds: every active data segment lies at or above the layout's private base
 *     (`memoryBase`: below it are the control words, the protection table and the shared region),
 *     so static data, like the stack and heap the module places after it, is private to a node.
 *  3. imports: functions only, from module `dsm` (the kernel API, by the names and signatures of
 *     {@link DSM_IMPORTS}), `wasi_snapshot_preview1` (the calls wasi.ts serves; any other
 *     fails when called), or AssemblyScript's `env.abort`, `env.trace` and `env.seed` (which the
 *     runtime's loader provides); `dsm.__fault` and `dsm.__poll` belong to the instrumentation.
 *  4. exports: a function `run` taking and returning only i32, i64, f32 or f64 (one result at
 *     most; `_start`, when exported too, runs once before it), or a function `_start` alone: a
 *     WASI command, whose exit status is the result.
 *
 * Not checked (a module can break them without the checker knowing): where the stack pointer
 * starts (it must lie above `memoryBase` too; a linker's `--stack-first` puts it at 0), and that
 * shared allocations follow the bump allocator's rules (the host checks every allocation).
 */
import binaryen from "binaryen";
import { FAULT_IMPORT, IMPORT_MODULE, POLL_IMPORT, WASM_PAGE, type Layout, type RunSignature, type WasmNumType } from "../abi.js";

const WASI_MODULE = "wasi_snapshot_preview1";
/** What AssemblyScript modules import from `env` besides the memory; the runtime's loader provides them. */
const ENV_FUNCTIONS = ["abort", "trace", "seed"];

/** The module breaks the contract: the message names the rule and the fix. */
export class ModuleContractError extends Error {
  override name = "ModuleContractError";
}

/** What a module may import from `dsm`: name → [params, result]. */
export const DSM_IMPORTS: Readonly<Record<string, readonly [readonly WasmNumType[], WasmNumType | "none"]>> = {
  nodeId: [[], "i32"],
  nodeCount: [[], "i32"],
  barrier: [[], "none"],
  lock: [["i32"], "none"],
  unlock: [["i32"], "none"],
  now: [[], "f64"],
  regionBase: [[], "i32"],
  regionBytes: [[], "i32"],
  pageSize: [[], "i32"],
  allocated: [["i32", "i32"], "none"],
};

/** What the runtime calls, as checked. */
export interface ModuleContract {
  entry: "run" | "main";
  run: RunSignature;
  /** The layout's initial pages, raised to the module's declared minimum. */
  initialPages: number;
}

const TYPE_NAMES = new Map<number, WasmNumType>([
  [binaryen.i32, "i32"],
  [binaryen.i64, "i64"],
  [binaryen.f32, "f32"],
  [binaryen.f64, "f64"],
]);

/** Checks `wasm` against the contract for `layout`; `source` names it in messages. */
export function checkModuleContract(wasm: Uint8Array, layout: Layout, source: string): ModuleContract {
  if (!WebAssembly.validate(wasm as Uint8Array<ArrayBuffer>)) {
    throw new ModuleContractError(`${source}: not a valid WebAssembly module; check that the compiler wrote a .wasm file (threads, bulk memory and sign extension are the features allowed)`);
  }
  const fail = (rule: string, fix: string) => new ModuleContractError(`${source}: ${rule}; ${fix}`);
  const compiled = new WebAssembly.Module(wasm as Uint8Array<ArrayBuffer>);
  for (const i of WebAssembly.Module.imports(compiled)) {
    if (i.kind === "memory") continue;
    if (i.kind !== "function") throw fail(`imports ${i.kind} "${i.module}.${i.name}"`, `import only functions from "${IMPORT_MODULE}" and "${WASI_MODULE}", and the memory "env.memory"`);
    if (i.module === "env" && ENV_FUNCTIONS.includes(i.name)) continue;
    if (i.module !== IMPORT_MODULE && i.module !== WASI_MODULE) {
      throw fail(`imports function "${i.name}" from module "${i.module}"`, `wasm-dsm provides module "${IMPORT_MODULE}" (${Object.keys(DSM_IMPORTS).join(", ")}) and "${WASI_MODULE}"; import from those only`);
    }
  }
  const module = binaryen.readBinary(wasm);
  try {
    const initialPages = checkMemory(module, layout, fail);
    checkData(module, layout, fail);
    checkImports(module, fail);
    return { ...checkExports(module, fail), initialPages };
  } finally {
    module.dispose();
  }
}

type Fail = (rule: string, fix: string) => ModuleContractError;

function checkMemory(module: binaryen.Module, layout: Layout, fail: Fail): number {
  const maxBytes = layout.maximumPages * WASM_PAGE;
  const link = `(wasm-ld: --import-memory --shared-memory --max-memory=${maxBytes})`;
  if (!module.hasMemory()) throw fail("has no memory", `import a shared memory as "env.memory" ${link}`);
  const memory = module.getMemoryInfo() as binaryen.MemoryInfo & { module: string; base: string; shared: boolean; max?: number; is64?: boolean };
  if (!memory.module) throw fail("defines its own memory", `import it instead, as "env.memory" ${link}`);
  if (memory.module !== "env" || memory.base !== "memory") throw fail(`imports its memory as "${memory.module}.${memory.base}"`, `import it as "env.memory"`);
  if (memory.is64) throw fail("imports a 64-bit memory", "use a 32-bit memory (target wasm32)");
  if (!memory.shared) throw fail("imports a memory that is not shared", `declare it shared (wasm-ld: --shared-memory, with the atomics and bulk-memory features)`);
  if (memory.max === undefined || memory.max < layout.maximumPages) {
    throw fail(
      `declares a memory maximum of ${memory.max ?? "none"} pages, below the layout's ${layout.maximumPages} (${maxBytes} bytes)`,
      `link with --max-memory=${maxBytes}, or build with a smaller --max-memory`,
    );
  }
  if (memory.initial > layout.maximumPages) {
    throw fail(`declares a memory minimum of ${memory.initial} pages, above the layout's maximum of ${layout.maximumPages}`, `build with a larger --max-memory`);
  }
  return Math.max(layout.initialPages, memory.initial);
}

function checkData(module: binaryen.Module, layout: Layout, fail: Fail): void {
  const m = module as binaryen.Module & { getNumDataSegments(): number; getDataSegmentByIndex(i: number): number; getDataSegmentInfo(s: number): { offset: number; data: ArrayBuffer; passive: boolean } };
  for (let i = 0; i < m.getNumDataSegments(); i++) {
    const info = m.getDataSegmentInfo(m.getDataSegmentByIndex(i));
    if (info.passive) continue;
    if (info.offset >>> 0 < layout.memoryBase) {
      throw fail(
        `data segment ${i} starts at ${info.offset >>> 0}, below the private base ${layout.memoryBase} (control words, protection table and shared region lie below it)`,
        `place static data, stack and heap at or above it (wasm-ld: --global-base=${layout.memoryBase}, without --stack-first)`,
      );
    }
  }
}

function checkImports(module: binaryen.Module, fail: Fail): void {
  for (let i = 0; i < module.getNumFunctions(); i++) {
    const fn = binaryen.getFunctionInfo(module.getFunctionByIndex(i));
    if (fn.module !== IMPORT_MODULE) continue;
    if (fn.base === FAULT_IMPORT || fn.base === POLL_IMPORT) {
      throw fail(`imports "${IMPORT_MODULE}.${fn.base}", which the instrumentation adds`, `give dsm build the uninstrumented module`);
    }
    const expected = Object.hasOwn(DSM_IMPORTS, fn.base ?? "") ? DSM_IMPORTS[fn.base!] : undefined;
    if (!expected) throw fail(`imports "${IMPORT_MODULE}.${fn.base}", which wasm-dsm does not provide`, `import only ${Object.keys(DSM_IMPORTS).join(", ")} from "${IMPORT_MODULE}"`);
    const got = signature(fn);
    const want = `(${expected[0].join(", ")}) -> ${expected[1]}`;
    if (got !== want) throw fail(`imports "${IMPORT_MODULE}.${fn.base}" as ${got}`, `declare it ${want}`);
  }
}

function checkExports(module: binaryen.Module, fail: Fail): Omit<ModuleContract, "initialPages"> {
  const functionExport = (name: string) => {
    const exp = module.getExport(name);
    if (!exp) return undefined;
    const info = binaryen.getExportInfo(exp);
    if (info.kind !== binaryen.ExternalFunction) throw fail(`export "${name}" is not a function`, `export a function under that name`);
    return binaryen.getFunctionInfo(module.getFunction(info.value));
  };
  const run = functionExport("run");
  const start = functionExport("_start");
  if (!run && !start) {
    throw fail(`exports no function "run" or "_start"`, `export run with numeric parameters and result (e.g. run(i32, i32) -> f64), or _start for a program with main`);
  }
  if (start && (binaryen.expandType(start.params).length > 0 || binaryen.expandType(start.results).length > 0)) {
    throw fail(`exports _start as ${signature(start)}`, `_start takes and returns nothing`);
  }
  if (!run) return { entry: "main", run: { params: [], result: "i32" } };
  const params = binaryen.expandType(run.params).map((t) => TYPE_NAMES.get(t));
  const results = binaryen.expandType(run.results).map((t) => TYPE_NAMES.get(t));
  if (params.includes(undefined) || results.includes(undefined) || results.length > 1) {
    throw fail(`exports run as ${signature(run)}`, `run may take only i32, i64, f32 and f64 and return one of them or nothing`);
  }
  return { entry: "run", run: { params: params as WasmNumType[], result: (results[0] as WasmNumType | undefined) ?? "none" } };
}

/** `(i32, f64) -> none`, as messages show signatures. */
function signature(fn: binaryen.FunctionInfo): string {
  const name = (t: number) => TYPE_NAMES.get(t) ?? "non-numeric";
  const results = binaryen.expandType(fn.results).map(name);
  return `(${binaryen.expandType(fn.params).map(name).join(", ")}) -> ${results.length === 0 ? "none" : results.join(", ")}`;
}
