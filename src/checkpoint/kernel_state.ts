/**
 * A kernel's own state at a barrier, taken and put back through the exports dsm build adds
 * (instrument/unwind.ts): its unwound stack, its mutable globals and its private memory.
 *
 *   barrier import ── startUnwind() ──▶ returns; the kernel unwinds to `run`, which returns
 *   host: stopUnwind(); capture()  ── the state, as plain data
 *   host: [restore(state) into a fresh instance]; startRewind(); call `run` (or `_start`) again
 *   the kernel rewinds to the barrier import ── rewinding: stopRewind(); return as if it had waited
 *
 * Shared pages are not part of it: a checkpoint saves them through the protocol (node_checkpoint.ts).
 */
import { GLOBAL_EXPORT_PREFIX, unwindArea, type Layout } from "../abi.js";
import { CheckpointError } from "./errors.js";

/** asyncify_get_state() values. */
const enum State {
  Normal = 0,
  Unwinding = 1,
  Rewinding = 2,
}

export interface KernelState {
  /** Private memory: from layout.memoryBase to the end of the memory (a view while captured). */
  memory: Uint8Array;
  /** Mutable globals by export name; i64 ones as decimal strings. */
  globals: Record<string, number | string>;
  /** The unwind area from its start to the top of the saved stack (header included). */
  stack: Uint8Array;
}

interface UnwindExports {
  asyncify_start_unwind(data: number): void;
  asyncify_stop_unwind(): void;
  asyncify_start_rewind(data: number): void;
  asyncify_stop_rewind(): void;
  asyncify_get_state(): number;
}

export class KernelUnwinder {
  private readonly calls: UnwindExports;
  private readonly globals: [string, WebAssembly.Global][] = [];
  private readonly area: { base: number; end: number };

  constructor(
    exports: WebAssembly.Exports,
    private readonly memory: WebAssembly.Memory,
    private readonly layout: Layout,
    kernel: string,
  ) {
    if (typeof exports.asyncify_start_unwind !== "function") {
      throw new CheckpointError(`${kernel} cannot be checkpointed: it was built without unwinding at barriers; rebuild it with this version's dsm build`);
    }
    this.calls = exports as unknown as UnwindExports;
    for (const [name, value] of Object.entries(exports)) {
      if (name.startsWith(GLOBAL_EXPORT_PREFIX) && value instanceof WebAssembly.Global) this.globals.push([name, value]);
    }
    this.area = unwindArea(layout);
  }

  get unwinding(): boolean {
    return this.calls.asyncify_get_state() === State.Unwinding;
  }

  get rewinding(): boolean {
    return this.calls.asyncify_get_state() === State.Rewinding;
  }

  /** From inside the barrier import: the kernel unwinds once the import returns. */
  startUnwind(): void {
    const header = new Int32Array(this.memory.buffer, this.area.base, 2);
    header[0] = this.area.base + 8;
    header[1] = this.area.end;
    this.calls.asyncify_start_unwind(this.area.base);
  }

  /** After `run` returned unwinding. Throws if the stack did not fit the unwind area. */
  stopUnwind(): void {
    this.calls.asyncify_stop_unwind();
  }

  /** The state after stopUnwind(): views of the memory, valid until the kernel runs again. */
  capture(): KernelState {
    const bytes = new Uint8Array(this.memory.buffer);
    const top = new Int32Array(this.memory.buffer, this.area.base, 1)[0]!;
    const globals: Record<string, number | string> = {};
    for (const [name, global] of this.globals) {
      const value = global.value as number | bigint;
      globals[name] = typeof value === "bigint" ? value.toString() : value;
    }
    return { memory: bytes.subarray(this.layout.memoryBase), globals, stack: bytes.subarray(this.area.base, top) };
  }

  /** Puts a captured state into this (fresh) instance, before startRewind(). */
  restore(state: KernelState): void {
    const want = this.layout.memoryBase + state.memory.length;
    const have = this.memory.buffer.byteLength;
    if (want > have) this.memory.grow(Math.ceil((want - have) / 65536));
    if (want !== this.memory.buffer.byteLength) {
      throw new CheckpointError(`the saved private memory ends at ${want} bytes, this node's memory at ${this.memory.buffer.byteLength}; the checkpoint is of another build`);
    }
    const bytes = new Uint8Array(this.memory.buffer);
    bytes.set(state.memory, this.layout.memoryBase);
    if (this.area.base + state.stack.length > this.area.end) throw new CheckpointError(`the saved stack (${state.stack.length} bytes) is larger than the unwind area`);
    bytes.set(state.stack, this.area.base);
    const names = new Set(this.globals.map(([name]) => name));
    for (const name of Object.keys(state.globals)) if (!names.has(name)) throw new CheckpointError(`the checkpoint holds global ${name}, which this build lacks; the checkpoint is of another build`);
    for (const [name, global] of this.globals) {
      const value = state.globals[name];
      if (value === undefined) throw new CheckpointError(`the checkpoint lacks global ${name}; the checkpoint is of another build`);
      global.value = typeof global.value === "bigint" ? BigInt(value) : Number(value);
    }
  }

  startRewind(): void {
    this.calls.asyncify_start_rewind(this.area.base);
  }

  /** From inside the barrier import, when `rewinding`: the kernel goes on from the barrier. */
  stopRewind(): void {
    this.calls.asyncify_stop_rewind();
  }
}
