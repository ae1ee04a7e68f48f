/**
 * The WASI calls (module `wasi_snapshot_preview1`) a C kernel's libc may make, served by the
 * node's host. A kernel computes; it gets output, clocks and random bytes, and nothing that
 * touches files or sockets: any other call stops the run with an UnsupportedWasiCallError naming
 * it (instantiation itself never fails on an unknown WASI import).
 *
 * Output, whole lines at a time so that nodes do not tangle them: a program's (main) node 0
 * writes to the command's stdout and stderr. Otherwise the command's stdout carries the run's
 * result (or its --json), so a `run` kernel's node 0 writes both to stderr. Every other node's
 * lines go to stderr prefixed with `[node k] `.
 *
 * Arguments: a program gets argv (`[name, ...words after --]`) and an empty environment; a
 * `run` kernel gets no arguments.
 *
 * The host reads and writes only the kernel's own buffers (iovecs, result slots), which libc
 * keeps in private memory, and only while the kernel is inside the call.
 */
import { KernelExitError, UnsupportedWasiCallError } from "./errors.js";

export const WASI_MODULE = "wasi_snapshot_preview1";

const Errno = { Success: 0, BadF: 8, Inval: 28, SPipe: 70 } as const;
const FILETYPE_CHARACTER_DEVICE = 2;
const Clock = { Realtime: 0, Monotonic: 1, ProcessCpu: 2, ThreadCpu: 3 } as const;

export interface WasiOutput {
  /** Writes one node's output; `fd` is 1 (stdout) or 2 (stderr). */
  write(fd: number, bytes: Uint8Array): void;
}

export interface WasiHostOptions {
  memory: WebAssembly.Memory;
  nodeId: number;
  output: WasiOutput;
  /** argv of a program, argv[0] first; [] for a `run` kernel. @default [] */
  argv?: readonly string[];
}

/** Builds the `wasi_snapshot_preview1` imports for the functions `module` imports. */
export function wasiImports(module: WebAssembly.Module, options: WasiHostOptions): Record<string, (...args: never[]) => unknown> {
  const provided = provide(options) as Record<string, (...args: never[]) => unknown>;
  const imports: Record<string, (...args: never[]) => unknown> = {};
  for (const { module: from, name, kind } of WebAssembly.Module.imports(module)) {
    if (from !== WASI_MODULE || kind !== "function") continue;
    imports[name] =
      provided[name] ??
      (() => {
        throw new UnsupportedWasiCallError(options.nodeId, name);
      });
  }
  return imports;
}

function provide({ memory, nodeId, output, argv = [] }: WasiHostOptions) {
  const encoded = argv.map((word) => new TextEncoder().encode(word + "\0"));
  const view = () => new DataView(memory.buffer);
  const bytes = () => new Uint8Array(memory.buffer);
  const isStdio = (fd: number) => fd === 1 || fd === 2;
  return {
    fd_write(fd: number, iovs: number, count: number, written: number): number {
      if (!isStdio(fd)) return Errno.BadF;
      const v = view();
      const chunks: Uint8Array[] = [];
      let total = 0;
      for (let i = 0; i < count; i++) {
        const base = v.getUint32(iovs + i * 8, true);
        const length = v.getUint32(iovs + i * 8 + 4, true);
        chunks.push(bytes().slice(base, base + length));
        total += length;
      }
      const all = new Uint8Array(total);
      let at = 0;
      for (const c of chunks) (all.set(c, at), (at += c.length));
      output.write(fd, all);
      v.setUint32(written, total, true);
      return Errno.Success;
    },
    fd_fdstat_get(fd: number, stat: number): number {
      if (fd < 0 || fd > 2) return Errno.BadF;
      const v = view();
      for (let i = 0; i < 24; i++) v.setUint8(stat + i, 0);
      v.setUint8(stat, FILETYPE_CHARACTER_DEVICE);
      v.setBigUint64(stat + 8, fd === 0 ? 0x2n : 0x40n, true); // fd_read or fd_write
      return Errno.Success;
    },
    // No preopened directories: libc finds none, so a kernel opening a file gets an error, not a trap.
    fd_prestat_get: () => Errno.BadF,
    fd_seek: (fd: number) => (fd <= 2 ? Errno.SPipe : Errno.BadF),
    fd_close: (fd: number) => (fd <= 2 ? Errno.Success : Errno.BadF),
    clock_time_get(id: number, _precision: bigint, time: number): number {
      let ns: bigint;
      if (id === Clock.Realtime) ns = BigInt(Date.now()) * 1_000_000n;
      else if (id === Clock.Monotonic || id === Clock.ProcessCpu || id === Clock.ThreadCpu) ns = process.hrtime.bigint();
      else return Errno.Inval;
      view().setBigUint64(time, ns, true);
      return Errno.Success;
    },
    clock_res_get(id: number, resolution: number): number {
      if (id > Clock.ThreadCpu) return Errno.Inval;
      view().setBigUint64(resolution, 1000n, true);
      return Errno.Success;
    },
    random_get(buffer: number, length: number): number {
      const target = new Uint8Array(length);
      crypto.getRandomValues(target.subarray(0, Math.min(length, 65536)));
      for (let at = 65536; at < length; at += 65536) crypto.getRandomValues(target.subarray(at, Math.min(length, at + 65536)));
      bytes().set(target, buffer);
      return Errno.Success;
    },
    args_sizes_get(count: number, size: number): number {
      const v = view();
      v.setUint32(count, encoded.length, true);
      v.setUint32(size, encoded.reduce((n, word) => n + word.length, 0), true);
      return Errno.Success;
    },
    args_get(pointers: number, buffer: number): number {
      const v = view();
      let at = buffer;
      encoded.forEach((word, i) => {
        v.setUint32(pointers + i * 4, at, true);
        bytes().set(word, at);
        at += word.length;
      });
      return Errno.Success;
    },
    environ_sizes_get: (count: number, size: number) => zeroSizes(view(), count, size),
    environ_get: () => Errno.Success,
    sched_yield: () => Errno.Success,
    proc_exit(code: number): never {
      throw new KernelExitError(nodeId, code);
    },
  };
}

function zeroSizes(v: DataView, count: number, size: number): number {
  v.setUint32(count, 0, true);
  v.setUint32(size, 0, true);
  return Errno.Success;
}

/** A node's output as this file's header describes, line by line per stream. */
export class KernelOutput implements WasiOutput {
  private readonly pending = new Map<number, string>();
  private readonly decoders = new Map<number, TextDecoder>();
  constructor(
    private readonly nodeId: number,
    /** A program's: node 0's stdout is the command's stdout. */
    private readonly program: boolean,
    private readonly writeFd: (fd: number, text: string) => void,
  ) {}

  write(fd: number, bytes: Uint8Array): void {
    const decoder = this.decoders.get(fd) ?? this.decoders.set(fd, new TextDecoder()).get(fd)!;
    const text = (this.pending.get(fd) ?? "") + decoder.decode(bytes, { stream: true });
    const end = text.lastIndexOf("\n");
    this.pending.set(fd, text.slice(end + 1));
    if (end < 0) return;
    const lines = text.slice(0, end).split("\n");
    this.writeFd(this.target(fd), lines.map((line) => this.prefix + line + "\n").join(""));
  }

  /**
   * Writes what is left of an unfinished last line of each stream: ended with a newline where
   * other nodes write too (stderr), as it is on a program's own stdout.
   */
  flush(): void {
    for (const [fd, text] of this.pending) {
      const target = this.target(fd);
      if (text) this.writeFd(target, this.prefix + text + (target === 1 ? "" : "\n"));
    }
    this.pending.clear();
  }

  private target(fd: number): number {
    return this.program && this.nodeId === 0 ? fd : 2;
  }

  private get prefix(): string {
    return this.nodeId === 0 ? "" : `[node ${this.nodeId}] `;
  }
}
