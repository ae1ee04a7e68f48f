/**
 * @fileoverview A private `nats-server` for one run or one test: bound to 127.0.0.1 on a free
 * port, no monitoring port, killed by `stop()` or, failing that, when this process exits.
 *
 * Readiness is checked the way a client sees it: a TCP connection must receive the server's
 * `INFO` line, which also proves the port belongs to our server and not to whoever else grabbed
 * it. A free port is found by binding port 0 and releasing it; if another process takes it in
 * between, the server fails with "address already in use" and is started again on a new port.
 *
 * Not covered: a parent killed with SIGKILL leaves the server running (a terminal's Ctrl-C still
 * reaches it, as it shares our process group); clusters (write a config and pass `config`).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createConnection, createServer, type Socket } from "node:net";
import { networkInterfaces, tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { NatsServerNotFoundError, NatsServerStartError, NatsServerStopError } from "./errors.js";
import { within } from "../time_bound.js";

export interface NatsServerOptions {
  /** Path to the binary. @default the first `nats-server` in `searchDirs` */
  binary?: string;
  /** Where to look for `nats-server`. @default the PATH, then /usr/sbin, /usr/local/sbin, /usr/local/bin */
  searchDirs?: string[];
  /** Client port on 127.0.0.1. @default 0 (a free port) */
  port?: number;
  /** Configuration file text, for what 2.9's flags cannot set (pings, max_payload). @default none */
  config?: string;
  /** More command-line flags, e.g. `["--user", "a", "--pass", "b"]`. @default [] */
  args?: string[];
  /** Run JetStream (`-js`), storing under a temporary directory removed at stop(). @default false */
  jetStream?: boolean;
  /** Bound on start-up until the server answers. @default 5000 */
  startTimeoutMs?: number;
  /** Bound on waiting for exit after SIGTERM (and again after SIGKILL). @default 2000 */
  stopTimeoutMs?: number;
}

export interface NatsServer {
  /** `nats://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Kills the server and waits until it exited; safe to call twice. */
  stop(): Promise<void>;
}

const FALLBACK_DIRS = ["/usr/sbin", "/usr/local/sbin", "/usr/local/bin"];
const START_ATTEMPTS = 3;
const LOG_TAIL_CHARS = 2000;

/**
 * Whether one of `servers` (nats URLs, or host:port) runs on this machine: its host is a loopback
 * name or address, or an address of one of this machine's interfaces. Its threads then compete
 * with the kernels for this machine's cores (runtime/core_gauge.ts). A URL that does not parse
 * counts as remote.
 */
export function serverOnThisMachine(servers: string | readonly string[]): boolean {
  const local = new Set(["localhost", "127.0.0.1", "::1", "0.0.0.0", "::"]);
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) local.add(a.address);
  for (const server of typeof servers === "string" ? servers.split(",") : servers) {
    let host: string;
    try {
      host = new URL(server.includes("://") ? server.trim() : `nats://${server.trim()}`).hostname.replace(/^\[|\]$/g, "");
    } catch {
      continue;
    }
    if (local.has(host) || host.startsWith("127.") || host.endsWith(".localhost")) return true;
  }
  return false;
}

/** The directories searched for `nats-server` by default: the PATH, then where packages install it. */
export function defaultSearchDirs(): string[] {
  return [...(process.env.PATH ?? "").split(delimiter).filter((dir) => dir !== ""), ...FALLBACK_DIRS];
}

/** The path of an executable `nats-server`, or null when none is installed. */
export function findNatsServer(dirs = defaultSearchDirs()): string | null {
  for (const dir of dirs) {
    const candidate = join(dir, "nats-server");
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; try the next directory
    }
  }
  return null;
}

/** Starts a private server; rejects with `NatsServerNotFoundError` or `NatsServerStartError`. */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const binary = options.binary ?? findNatsServer(options.searchDirs);
  if (binary === null) throw new NatsServerNotFoundError();
  const configDir = options.config === undefined && !options.jetStream ? undefined : mkdtempSync(join(tmpdir(), "dsm-nats-"));
  if (options.config !== undefined) writeFileSync(join(configDir!, "nats.conf"), options.config);
  try {
    for (let attempt = 1; ; attempt++) {
      const port = options.port || (await freePort());
      try {
        return await startOnce(binary, port, options, configDir);
      } catch (error) {
        const portTaken = error instanceof NatsServerStartError && /address already in use/i.test(error.log);
        if (!portTaken || options.port || attempt >= START_ATTEMPTS) throw error;
      }
    }
  } catch (error) {
    if (configDir) rmSync(configDir, { recursive: true, force: true });
    throw error;
  }
}

async function startOnce(
  binary: string,
  port: number,
  options: NatsServerOptions,
  configDir: string | undefined,
): Promise<NatsServer> {
  const args = ["-a", "127.0.0.1", "-p", String(port), ...(options.args ?? [])];
  if (options.config !== undefined) args.unshift("-c", join(configDir!, "nats.conf"));
  if (options.jetStream) args.push("-js", "-sd", join(configDir!, "jetstream"));
  const child = spawn(binary, args, { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (chunk: string) => {
    log = (log + chunk).slice(-LOG_TAIL_CHARS);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const spawnFailed = new Promise<Error>((resolve) => child.once("error", resolve));
  track(child);

  const startTimeoutMs = options.startTimeoutMs ?? 5000;
  let settled = false;
  const outcome = await Promise.race([
    waitForInfo(port, startTimeoutMs, () => settled).then((ok) => (ok ? "ready" : "timeout")),
    exited.then(() => "exited" as const),
    spawnFailed.then((error) => error),
  ]);
  settled = true;
  if (outcome !== "ready") {
    if (!(outcome instanceof Error)) await kill(child, exited, options.stopTimeoutMs ?? 2000).catch(() => undefined);
    const reason =
      outcome === "exited"
        ? `exited with code ${child.exitCode ?? child.signalCode} before accepting connections`
        : outcome === "timeout"
          ? `did not accept connections within ${startTimeoutMs} ms`
          : `could not be started (${(outcome as Error).message})`;
    throw new NatsServerStartError(binary, port, reason, lastLines(log), { cause: outcome instanceof Error ? outcome : undefined });
  }
  // Neither the child nor its log pipe keeps this process alive; the exit hook kills the server.
  child.unref();
  (child.stderr as Socket).unref();

  let stopping: Promise<void> | undefined;
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    pid: child.pid!,
    stop() {
      stopping ??= kill(child, exited, options.stopTimeoutMs ?? 2000).finally(() => {
        if (configDir) rmSync(configDir, { recursive: true, force: true });
      });
      return stopping;
    },
  };
}

async function kill(child: ChildProcess, exited: Promise<void>, stopTimeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  if (await within(exited, stopTimeoutMs)) return;
  child.kill("SIGKILL");
  if (await within(exited, stopTimeoutMs)) return;
  throw new NatsServerStopError(child.pid!, 2 * stopTimeoutMs);
}

/** Resolves true once a connection to the port reads an `INFO` line, false after `timeoutMs`. */
async function waitForInfo(port: number, timeoutMs: number, abandoned: () => boolean): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !abandoned()) {
    if (await probe(port, Math.max(1, deadline - Date.now()))) return true;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return false;
}

function probe(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), Math.min(timeoutMs, 1000));
    let seen = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      seen += chunk;
      if (seen.length >= 5) done(seen.startsWith("INFO "));
    });
    socket.on("error", () => done(false));
    socket.on("close", () => done(false));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

function lastLines(log: string): string {
  return log.trim().split("\n").slice(-3).join(" | ");
}

// Servers still running when this process exits (normally or by an uncaught exception).
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function track(child: ChildProcess): void {
  running.add(child);
  child.once("exit", () => running.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on("exit", () => {
      for (const server of running) server.kill("SIGKILL");
    });
  }
}
