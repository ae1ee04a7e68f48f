/**
 * How the check verifier (verify_checks.ts) recognises the helper functions the pass adds: by
 * being identical to the ones range_helper.ts and loop_helpers.ts emit, after the same trip
 * through the binary format (which renames labels, globals and functions).
 */
import binaryen from "binaryen";
import { FAULT_IMPORT, IMPORT_MODULE, type Layout } from "../abi.js";
import { KERNEL_FEATURES } from "./instrument.js";
import { addLoopHelpers, type LoopHelperNames } from "./loop_helpers.js";
import { addRangeHelper } from "./range_helper.js";

/**
 * Functions whose body is exactly the range helper's (range_helper.ts) and whose one call is of a
 * fault import. The reference goes through the binary format like the module did, so that its
 * labels get the same names.
 */
export function rangeHelpers(functions: binaryen.FunctionInfo[], faults: Set<string>, layout: Layout): Set<string> {
  const found = new Set<string>();
  const reference = referenceHelperText(layout);
  const i32 = binaryen.i32;
  const signature = binaryen.createType([i32, i32, i32]);
  for (const f of functions) {
    if (f.body === 0 || f.params !== signature || f.results !== i32) continue;
    const text = binaryen.emitText(f.body);
    const calls = [...text.matchAll(/\(call \$(\S+)/g)].map((c) => c[1]);
    if (calls.length === 1 && faults.has(calls[0]) && normalCalls(text) === reference) found.add(f.name);
  }
  return found;
}

function referenceHelperText(layout: Layout): string {
  const m = new binaryen.Module();
  try {
    m.setFeatures(KERNEL_FEATURES);
    const i32 = binaryen.i32;
    m.setMemory(1, 1);
    m.addFunctionImport("fault", IMPORT_MODULE, FAULT_IMPORT, binaryen.createType([i32, i32, i32]), binaryen.none);
    addRangeHelper(m, layout, "range", "fault");
    m.addFunctionExport("range", "range");
    const again = binaryen.readBinary(m.emitBinary());
    try {
      again.setFeatures(KERNEL_FEATURES);
      const info = binaryen.getExportInfo(again.getExport("range"));
      return normalCalls(binaryen.emitText(binaryen.getFunctionInfo(again.getFunction(info.value)).body));
    } finally {
      again.dispose();
    }
  } finally {
    m.dispose();
  }
}

/** The text with call targets and memory names made equal (the module's names are not the reference's). */
/**
 * The versioned loops' helpers (loop_helpers.ts), when the module has both, identical to the
 * reference and sharing one flag global.
 */
export function loopHelpers(functions: binaryen.FunctionInfo[], layout: Layout): LoopHelperNames | undefined {
  const reference = referenceLoopHelpers(layout);
  const { f64, i32 } = binaryen;
  const find = (text: string, params: number, results: number) =>
    functions.find((f) => f.body !== 0 && f.params === params && f.results === results && normalGlobals(binaryen.emitText(f.body)) === text);
  const exact = find(reference.exact, f64, f64);
  const pages = find(reference.pages, binaryen.createType([f64, f64, i32, i32]), i32);
  if (!exact || !pages) return undefined;
  const set = binaryen.emitText(exact.body).match(/\(global\.set \$([^\s)]+)/)?.[1];
  const get = binaryen.emitText(pages.body).match(/\(global\.get \$([^\s)]+)/)?.[1];
  if (set === undefined || set !== get) return undefined;
  return { exact: exact.name, pages: pages.name, inexact: set };
}

function referenceLoopHelpers(layout: Layout): { exact: string; pages: string } {
  const m = new binaryen.Module();
  try {
    m.setFeatures(KERNEL_FEATURES);
    m.setMemory(1, 1);
    addLoopHelpers(m, layout, { inexact: "flag", exact: "exact", pages: "pages" });
    m.addFunctionExport("exact", "exact");
    m.addFunctionExport("pages", "pages");
    const again = binaryen.readBinary(m.emitBinary());
    try {
      again.setFeatures(KERNEL_FEATURES);
      const text = (name: string) => normalGlobals(binaryen.emitText(binaryen.getFunctionInfo(again.getFunction(binaryen.getExportInfo(again.getExport(name)).value)).body));
      return { exact: text("exact"), pages: text("pages") };
    } finally {
      again.dispose();
    }
  } finally {
    m.dispose();
  }
}

const normalGlobals = (text: string) => text.replace(/\(global\.(get|set) \$\S+/g, "(global.$1 $flag").replace(/\((i32\.load8_u|i32\.load) \$\S+ /g, "($1 ");

const normalCalls = (text: string) => text.replace(/\(call \$\S+/g, "(call $fault").replace(/\(i32\.load8_u \$\S+ /g, "(i32.load8_u ");
