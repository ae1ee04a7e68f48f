/**
 * A nats-server cluster for a test: one server per address, each from its own config file
 * (server_name, listen, pid_file, pings every second, cluster routes to all), started either here
 * (loopback) or through a command prefix such as `ip netns exec <ns>` (the multi-host test bed).
 * Ready when every server logged "Server is ready"; routes form in ~0.1 s more, which the nodes'
 * rendezvous absorbs (hellos repeat).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { findNatsServer } from "../../src/transport/nats_server.js";

export interface ClusterServerConfig {
  name: string;
  host: string;
  clientPort: number;
  routePort: number;
  /** `host:routePort` of every server of the cluster (this one included, as nats-server allows). */
  routes: string[];
  pidFile: string;
  /** Extra top-level config text (authorization, tls, ...). */
  extra?: string;
}

/** The config file text of one server. */
export function clusterServerConfig(c: ClusterServerConfig): string {
  return [
    `server_name: ${c.name}`,
    `listen: "${c.host}:${c.clientPort}"`,
    `pid_file: "${c.pidFile}"`,
    `ping_interval: "1s"`,
    `ping_max: 2`,
    `cluster {`,
    `  name: dsm_test`,
    `  listen: "${c.host}:${c.routePort}"`,
    `  routes: [${c.routes.map((r) => `"nats-route://${r}"`).join(", ")}]`,
    `}`,
    c.extra ?? "",
    "",
  ].join("\n");
}

export interface ClusterServer {
  name: string;
  url: string;
  process: ChildProcess;
  /** What the server logged (last 20 KB). */
  log(): string;
  /** True once the process exited. */
  readonly exited: boolean;
}

export interface NatsCluster {
  servers: ClusterServer[];
  /** Every client URL, comma-separated, as `--nats` takes them. */
  urls: string;
  /** The index of the server at `hostPort` (`host:port`, as a client reports it), or -1. */
  indexOf(hostPort: string): number;
  /** Kills server `i` with `signal` and waits (bounded) until it exited. */
  kill(i: number, signal?: NodeJS.Signals): Promise<void>;
  /** Kills server `i` if it runs, starts it again from its config and waits until it is ready. */
  restart(i: number): Promise<void>;
  /** Kills every server still running; safe to call twice. */
  stop(): Promise<void>;
}

export interface ClusterOptions {
  /** One address per server. */
  hosts: string[];
  /** Folder for config and pid files. */
  dir: string;
  /** Client and route ports per server; default free loopback ports. */
  ports?: { client: number; route: number }[];
  /** Command prefix per server, e.g. ["ip", "netns", "exec", "ns1"]. */
  prefix?: (i: number) => string[];
  extra?: string;
  /** Run JetStream on every server, each storing under `dir` (checkpoints' object store). @default false */
  jetStream?: boolean;
  /** @default 5000 */
  readyTimeoutMs?: number;
}

export async function startNatsCluster(options: ClusterOptions): Promise<NatsCluster> {
  const binary = findNatsServer();
  if (!binary) throw new Error("nats-server not installed (apt-get install nats-server)");
  const ports = options.ports ?? (await Promise.all(options.hosts.map(async () => ({ client: await freePort(), route: await freePort() }))));
  const routes = options.hosts.map((h, i) => `${h}:${ports[i].route}`);
  const launch = (i: number): ClusterServer => {
    const name = `s${i}`;
    const config = join(options.dir, `${name}.conf`);
    writeFileSync(
      config,
      clusterServerConfig({ name, host: options.hosts[i], clientPort: ports[i].client, routePort: ports[i].route, routes, pidFile: join(options.dir, `${name}.pid`), extra: [options.extra ?? "", options.jetStream ? `jetstream { store_dir: "${join(options.dir, `jetstream-${name}`)}" }` : ""].join("\n") }),
    );
    const command = [...(options.prefix?.(i) ?? []), binary, "-c", config];
    const child = spawn(command[0], command.slice(1), { stdio: ["ignore", "ignore", "pipe"] });
    let log = "";
    let exited = false;
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (chunk: string) => (log = (log + chunk).slice(-20_000)));
    child.once("exit", () => (exited = true));
    return {
      name,
      url: `nats://${options.hosts[i]}:${ports[i].client}`,
      process: child,
      log: () => log,
      get exited() {
        return exited;
      },
    };
  };
  const servers: ClusterServer[] = options.hosts.map((_, i) => launch(i));
  const readyTimeoutMs = options.readyTimeoutMs ?? 5000;
  const cluster: NatsCluster = {
    indexOf: (hostPort) => servers.findIndex((s) => s.url === `nats://${hostPort}`),
    async restart(i) {
      await cluster.kill(i);
      servers[i] = launch(i);
      await ready([servers[i]], readyTimeoutMs);
    },
    servers,
    urls: servers.map((s) => s.url).join(","),
    async kill(i, signal = "SIGKILL") {
      const s = servers[i];
      if (s.exited) return;
      const gone = new Promise<void>((resolve) => s.process.once("exit", () => resolve()));
      s.process.kill(signal);
      await bounded(gone, 5000, `nats-server ${s.name} did not exit after ${signal}`);
    },
    async stop() {
      await Promise.all(servers.map((_, i) => cluster.kill(i).catch(() => servers[i].process.kill("SIGKILL"))));
    },
  };
  try {
    await ready(servers, readyTimeoutMs);
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}

async function ready(servers: ClusterServer[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!servers.every((s) => /Server is ready/.test(s.log()))) {
    const dead = servers.find((s) => s.exited);
    if (dead) throw new Error(`nats-server ${dead.name} exited while starting: ${dead.log().trim().split("\n").slice(-3).join(" | ")}`);
    if (Date.now() > deadline) throw new Error(`nats-server(s) ${servers.map((s) => s.name).join(", ")} not ready after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function bounded(promise: Promise<void>, ms: number, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<void>((_, reject) => (timer = setTimeout(() => reject(new Error(what)), ms)))]).finally(() => clearTimeout(timer));
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}
