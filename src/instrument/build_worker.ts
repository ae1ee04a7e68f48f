/**
 * Builds a kernel on a short-lived worker thread. The compiler and Binaryen are large: loading
 * them on the main thread leaves V8 optimising them in the background for hundreds of
 * milliseconds, which a kernel run started right after would pay for (measured: the first run's
 * kernelMs went from ~4 ms to ~500 ms). Terminating the worker's isolate drops that work.
 */
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { buildKernel, type BuildOptions, type BuildOutput } from "./build.js";

type Reply = { ok: true; output: BuildOutput } | { ok: false; name: string; message: string };

export class BuildFailedError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

export async function buildKernelIsolated(sourcePath: string | readonly string[], options: BuildOptions = {}): Promise<BuildOutput> {
  const worker = new Worker(new URL(import.meta.url), { workerData: { sourcePath, options } });
  try {
    const reply = await new Promise<Reply>((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
      worker.once("exit", (code) => reject(new Error(`the build worker exited with code ${code}`)));
    });
    if (!reply.ok) throw new BuildFailedError(reply.name, reply.message);
    return reply.output;
  } finally {
    await worker.terminate();
  }
}

if (!isMainThread && workerData?.sourcePath) {
  const { sourcePath, options } = workerData as { sourcePath: string | string[]; options: BuildOptions };
  buildKernel(sourcePath, options).then(
    (output) => parentPort!.postMessage({ ok: true, output } satisfies Reply),
    (error: Error) => parentPort!.postMessage({ ok: false, name: error.name, message: error.message } satisfies Reply),
  );
}
