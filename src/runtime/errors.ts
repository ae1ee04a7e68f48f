/** Errors a caller of the runtime can act on, one class per condition. */

/** The kernel trapped (out of bounds, unreachable, AssemblyScript abort). */
export class KernelTrapError extends Error {
  override name = "KernelTrapError";
  constructor(readonly node: number, detail: string, options?: ErrorOptions) {
    super(`node ${node}: kernel trapped: ${detail}`, options);
  }
}

/** A fault was not resolved in time. */
export class FaultTimeoutError extends Error {
  override name = "FaultTimeoutError";
  constructor(readonly node: number, readonly page: number, readonly access: string, readonly timeoutMs: number, options?: ErrorOptions) {
    super(`node ${node}: ${access} fault on page ${page} not resolved after ${timeoutMs} ms`, options);
  }
}

/** The module is not a wasm-dsm kernel, or is built for another ABI. */
export class KernelModuleError extends Error {
  override name = "KernelModuleError";
}

/** Arguments after `--` do not match the kernel's `run` signature. */
export class KernelArgumentError extends Error {
  override name = "KernelArgumentError";
}

/** The worker thread running a node's kernel exited or failed outside the kernel. */
export class WorkerExitError extends Error {
  override name = "WorkerExitError";
  constructor(readonly node: number, detail: string, options?: ErrorOptions) {
    super(`node ${node}: worker ${detail}`, options);
  }
}

/** A barrier or lock call did not complete in time. */
export class SyncWaitError extends Error {
  override name = "SyncWaitError";
  constructor(readonly node: number, readonly operation: string, readonly timeoutMs: number) {
    super(`node ${node}: ${operation} did not complete within ${timeoutMs} ms`);
  }
}

/** Thrown inside a worker to unwind its kernel when the host stops the node; the host reports why. */
export class HostAbort extends Error {
  override name = "HostAbort";
}

/** A C kernel called a WASI function the host does not provide (wasi.ts lists those it does). */
export class UnsupportedWasiCallError extends Error {
  override name = "UnsupportedWasiCallError";
  constructor(readonly node: number, readonly call: string) {
    super(`node ${node}: the kernel called WASI function ${call}, which wasm-dsm does not provide (only stdout/stderr output, clocks, random bytes, empty args and environment, and exit)`);
  }
}

/** A C kernel called exit() (WASI proc_exit) inside run instead of returning. */
export class KernelExitError extends Error {
  override name = "KernelExitError";
  constructor(readonly node: number, readonly code: number) {
    super(`node ${node}: the kernel called exit(${code}) inside run; return from run instead`);
  }
}

/** sharedAlloc (or a PARMACS program's G_MALLOC) asked for more than is left of the shared region. */
export class SharedRegionExhaustedError extends Error {
  override name = "SharedRegionExhaustedError";
  constructor(readonly node: number, readonly bytes: number, readonly regionBytes: number, readonly call = "sharedAlloc") {
    super(`node ${node}: ${call}(${bytes}) does not fit in what is left of the ${regionBytes}-byte shared region; rebuild with a larger --shared-size`);
  }
}

/**
 * A PARMACS program needs another number of nodes than the job has: more processes than nodes
 * (CREATE), or a barrier over fewer processes than nodes. wasm-dsm runs one process per node.
 */
export class ParmacsProcessCountError extends Error {
  override name = "ParmacsProcessCountError";
  constructor(readonly node: number, readonly processes: number, readonly nodes: number, message: string) {
    super(`node ${node}: ${message}`);
  }
}

/** A PARMACS program used a macro in a way the fork model does not support (see the message). */
export class ParmacsUsageError extends Error {
  override name = "ParmacsUsageError";
  constructor(readonly node: number, message: string) {
    super(`node ${node}: ${message}`);
  }
}
