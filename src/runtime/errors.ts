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
