/** Runs a kernel on local nodes of lrc with a chosen garbage-collection bound (for the GC tests). */
import { runLocalJob } from "../../src/cli/job.js";
import { createLrc } from "../../src/protocol/lrc.js";
import type { KernelModule } from "../../src/runtime/kernel_module.js";
import { LocalNetwork } from "../../src/transport/local_transport.js";

export async function runLrcWithGcBound(module: KernelModule, args: (number | bigint)[], nodes: number, gcBytes: number, job = 5) {
  const network = new LocalNetwork(nodes);
  try {
    return await runLocalJob(module, args, {
      nodes,
      protocol: "lrc",
      transport: "local",
      faultTimeoutMs: 10_000,
      syncTimeoutMs: 20_000,
      environment: (id, port) => {
        const transport = network.transport(id);
        const coherence = createLrc({ transport, port, job, timeoutMs: 10_000, gcBytes });
        return { coherence, counters: () => ({ ...transport.counters }), close: async () => coherence.close() };
      },
    });
  } finally {
    await network.close();
  }
}
