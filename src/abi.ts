/**
 * The ABI shared by the instrumentation (which emits code against it) and the runtime (which
 * hosts that code). It names every shared-memory slot, every import, and the memory layout.
 * It imports nothing.
 *
 * Memory layout of one node (addresses are byte offsets into the shared WebAssembly.Memory):
 *
 *   0                 CONTROL_BYTES      tableBase+tableBytes   regionBase            memoryBase
 *   | control words   | protection table | (pad to 64 KiB)      | shared region ...   | AssemblyScript data,
 *   | (Slot.*, i32)   | 1 byte per page  |                      | (sharedAlloc)       | stack and heap
 *
 * The protection table covers the whole 32-bit address space, one byte per page, so the inline
 * check is: shift, load byte, test, branch, for any address at all (an address past the memory's
 * end finds a zero byte and then traps on the access itself). Zero means read-write, so private memory
 * (and memory the start function touches before the host fills the table) never faults.
 */

export const ABI_VERSION = 1;

/** Name of the custom section holding {@link Metadata} as UTF-8 JSON. */
export const METADATA_SECTION = "wasm-dsm";

/** Import module of the kernel API and of the hooks the instrumentation adds. */
export const IMPORT_MODULE = "dsm";
/** `__fault(firstPage: i32, lastPage: i32, access: i32)`: resolve a miss on every page in the range. */
export const FAULT_IMPORT = "__fault";
/** The kernel API's barrier import: the one call at which a kernel may be unwound for a checkpoint. */
export const BARRIER_IMPORT = "barrier";
/** Export name prefix of the mutable globals a checkpoint saves (instrument/unwind.ts). */
export const GLOBAL_EXPORT_PREFIX = "__dsm_global_";
/** `__poll()`: park at a poll point because the host raised {@link Slot.POLL_FLAG}. */
export const POLL_IMPORT = "__poll";

/** Access kinds passed to `__fault`. */
export const Access = { Read: 0, Write: 1 } as const;
export type Access = (typeof Access)[keyof typeof Access];

/** Protection byte bits: a set bit forbids that access. */
export const NO_WRITE = 1;
export const NO_READ = 2;
/** Protection byte values. */
export const Protection = { ReadWrite: 0, ReadOnly: NO_WRITE, None: NO_READ | NO_WRITE } as const;
export type Protection = (typeof Protection)[keyof typeof Protection];

/** Bytes reserved at address 0 for control words. */
export const CONTROL_BYTES = 4096;
/** The protection table starts right after the control words. */
export const TABLE_BASE = CONTROL_BYTES;

/**
 * Control words, as indices into an Int32Array over the memory (byte address = index * 4).
 * Ordering rule: whoever publishes something for the node (a message into its ring) does so
 * before it raises the poll word with Atomics.store; the node lowers the word with Atomics.store
 * before it looks for what was published, so nothing published after its look goes unnoticed.
 */
export const Slot = {
  /**
   * Raised (1) by anyone who published something for the node — a message, a due timer — to ask
   * the kernel to park at its next poll point; lowered by the node's reactor when it serves.
   */
  POLL_FLAG: 0,
} as const;
export const POLL_FLAG_ADDRESS = Slot.POLL_FLAG * 4;

/** The kernel's calls into the runtime, by kind (what chaos mode and statistics see). */
export const Request = {
  Fault: 1,
  Poll: 2,
  Barrier: 3,
  Lock: 4,
  Unlock: 5,
  Alloc: 6,
  /** `run` returned; the final barrier follows. */
  Done: 7,
} as const;
export type Request = (typeof Request)[keyof typeof Request];

export const WASM_PAGE = 65536;
export const MIN_PAGE_SIZE = 1024;
export const MAX_PAGE_SIZE = 65536;

export interface LayoutOptions {
  /** DSM page size in bytes, a power of two from 1 KiB to 64 KiB. @default 4096 */
  pageSize?: number;
  /** Bytes of shared region (multiple of 64 KiB). @default 64 MiB */
  regionBytes?: number;
  /** Declared maximum of the memory, in bytes (multiple of 64 KiB). @default 256 MiB */
  maxMemoryBytes?: number;
}

export interface Layout {
  pageSize: number;
  pageShift: number;
  tableBase: number;
  tableBytes: number;
  regionBase: number;
  regionBytes: number;
  /** AssemblyScript's `--memoryBase`: where private data, stack and heap start. */
  memoryBase: number;
  /** Initial memory in 64 KiB pages (the reserved part plus 1 MiB of private heap). */
  initialPages: number;
  /** Declared maximum memory in 64 KiB pages. */
  maximumPages: number;
}

/** Signature of the kernel's exported `run`, recorded at build time. */
export type WasmNumType = "i32" | "i64" | "f32" | "f64";
export interface RunSignature {
  params: WasmNumType[];
  result: WasmNumType | "none";
}

export interface Metadata {
  abi: number;
  /**
   * What the runtime calls: `run` (the default, also when absent) calls `_start` once and then
   * `run(...)` with numbers; `main` is a program (a WASI command): `_start` runs main(argc, argv)
   * with the words after `--`, and its exit status is the result. `run` then reads
   * `{ params: [], result: "i32" }`.
   */
  entry?: "run" | "main";
  /** false for the uninstrumented reference build. */
  instrumented: boolean;
  layout: Layout;
  run: RunSignature;
  /** Name of the kernel source file, for messages. */
  kernel: string;
}

export const DEFAULT_PAGE_SIZE = 4096;
export const DEFAULT_REGION_BYTES = 64 << 20;
export const DEFAULT_MAX_MEMORY_BYTES = 256 << 20;

export class LayoutError extends Error {
  override name = "LayoutError";
}

const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;

/** Computes the memory layout; throws {@link LayoutError} naming a bad option. */
export function computeLayout(options: LayoutOptions = {}): Layout {
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  const regionBytes = options.regionBytes ?? DEFAULT_REGION_BYTES;
  const maxMemoryBytes = options.maxMemoryBytes ?? DEFAULT_MAX_MEMORY_BYTES;
  if (!Number.isInteger(pageSize) || pageSize < MIN_PAGE_SIZE || pageSize > MAX_PAGE_SIZE || (pageSize & (pageSize - 1)) !== 0) {
    throw new LayoutError(`page size ${pageSize}: must be a power of two from ${MIN_PAGE_SIZE} to ${MAX_PAGE_SIZE} bytes (e.g. --page-size 4096)`);
  }
  if (!Number.isInteger(regionBytes) || regionBytes <= 0 || regionBytes % WASM_PAGE !== 0) {
    throw new LayoutError(`shared size ${regionBytes}: must be a positive multiple of 64 KiB (e.g. --shared-size 64M)`);
  }
  if (!Number.isInteger(maxMemoryBytes) || maxMemoryBytes % WASM_PAGE !== 0 || maxMemoryBytes > 4096 * 1024 * 1024 - WASM_PAGE) {
    throw new LayoutError(`max memory ${maxMemoryBytes}: must be a multiple of 64 KiB below 4 GiB (e.g. --max-memory 256M)`);
  }
  const pageShift = Math.log2(pageSize);
  const tableBytes = 2 ** 32 / pageSize;
  const regionBase = alignUp(TABLE_BASE + tableBytes, Math.max(WASM_PAGE, pageSize));
  const memoryBase = regionBase + regionBytes;
  const initialPages = memoryBase / WASM_PAGE + 16;
  const maximumPages = maxMemoryBytes / WASM_PAGE;
  if (initialPages > maximumPages) {
    throw new LayoutError(
      `max memory ${maxMemoryBytes}: too small for a shared region of ${regionBytes} bytes; raise --max-memory above ${initialPages * WASM_PAGE} or lower --shared-size`,
    );
  }
  return { pageSize, pageShift, tableBase: TABLE_BASE, tableBytes, regionBase, regionBytes, memoryBase, initialPages, maximumPages };
}

/**
 * Where a kernel's unwound stack is kept during a checkpoint (instrument/unwind.ts): the padding
 * between the protection table and the shared region, past the byte the table's pair loads read.
 * Pages there are private (their protection bytes stay zero) and belong to no allocation.
 */
export function unwindArea(layout: Layout): { base: number; end: number } {
  return { base: layout.tableBase + layout.tableBytes + 64, end: layout.regionBase };
}

/** First and one-past-last DSM page of the shared region. */
export function regionPages(layout: Layout): { first: number; end: number } {
  return { first: layout.regionBase >>> layout.pageShift, end: (layout.regionBase + layout.regionBytes) >>> layout.pageShift };
}

export class MetadataError extends Error {
  override name = "MetadataError";
}

export function encodeMetadata(meta: Metadata): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(meta));
}

/** Decodes and validates the custom section; `source` names the module in messages. */
export function decodeMetadata(bytes: ArrayBuffer | Uint8Array, source: string): Metadata {
  let meta: Metadata;
  try {
    meta = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new MetadataError(`${source}: the "${METADATA_SECTION}" section is not valid JSON; rebuild it with dsm build`);
  }
  if (meta?.abi !== ABI_VERSION) {
    throw new MetadataError(`${source}: built for ABI version ${JSON.stringify(meta?.abi)}, this runtime speaks ${ABI_VERSION}; rebuild it with this version's dsm build`);
  }
  const l = meta.layout;
  if (!l || typeof l.pageSize !== "number" || typeof l.regionBase !== "number" || !meta.run || !Array.isArray(meta.run.params)) {
    throw new MetadataError(`${source}: the "${METADATA_SECTION}" section is incomplete; rebuild it with dsm build`);
  }
  if (meta.entry !== undefined && meta.entry !== "run" && meta.entry !== "main") {
    throw new MetadataError(`${source}: entry ${JSON.stringify(meta.entry)} in the "${METADATA_SECTION}" section is neither "run" nor "main"; rebuild it with dsm build`);
  }
  return meta;
}
