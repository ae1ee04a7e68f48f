/**
 * A private nats-server for a test file. Where nats-server is not installed, tests that need it
 * are skipped loudly on a developer machine and fail in CI (`CI=true`), where they must run.
 */
import { NatsServerNotFoundError } from "../../src/transport/errors.js";
import { startNatsServer, type NatsServer, type NatsServerOptions } from "../../src/transport/nats_server.js";

export async function natsOrSkip(name: string, options?: NatsServerOptions): Promise<NatsServer | null> {
  try {
    return await startNatsServer(options);
  } catch (error) {
    if (!(error instanceof NatsServerNotFoundError) || process.env.CI === "true") throw error;
    process.stderr.write(`SKIPPED (nats-server not installed): ${name}\n`);
    return null;
  }
}
