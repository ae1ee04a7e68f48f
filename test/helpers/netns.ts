/**
 * A multi-host test bed on one machine, built from network namespaces (needs root):
 *
 *   <name>-br     a namespace holding only the bridge br0, so the root namespace gets no
 *                 addresses and no routes
 *   <name>-h<i>   one namespace per host: eth0 = 10.213.0.<i+1>/24, a veth whose other end
 *                 p<i> is a port of br0
 *
 * Interfaces are created directly inside their namespaces, so nothing collides with the root
 * namespace or with another test bed. Names carry the owner's pid (`dsmt<pid>x<rand>`): a bed
 * whose owner is gone is a leftover of a crashed run and is deleted with its processes; a bed
 * whose owner still runs is left alone.
 *
 * Faults: `cutOff(i)` sets p<i> down on the bridge (a partition: peers see silence, not resets);
 * `dropAll(i)` adds an nft table inside host i that drops everything but loopback.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";

export const NETNS_PREFIX = "dsmt";
const SUBNET = "10.213.0";

export interface TestHost {
  ns: string;
  ip: string;
  /** The bridge port of this host, in the bridge namespace. */
  port: string;
}

export interface TestBed {
  name: string;
  bridgeNs: string;
  hosts: TestHost[];
  /** Command prefix running a program on host `i`. */
  exec(i: number): string[];
  cutOff(i: number): void;
  dropAll(i: number): void;
  /** Kills every process left in the bed's namespaces and deletes them; safe to call twice. */
  teardown(): void;
}

export class NetnsError extends Error {
  override name = "NetnsError";
}

/** Runs `ip ...` (or another command); throws NetnsError with its stderr on failure. */
export function run(command: string, args: string[], input?: string): string {
  const r = spawnSync(command, args, { encoding: "utf8", input, timeout: 10_000 });
  if (r.error) throw new NetnsError(`${command} ${args.join(" ")}: ${r.error.message}`);
  if (r.status !== 0) throw new NetnsError(`${command} ${args.join(" ")} exited with ${r.status}: ${r.stderr.trim()}`);
  return r.stdout;
}

/**
 * True when the test may build network namespaces. Not root: under CI=true that is a failure
 * (thrown); elsewhere a loud SKIPPED line on stderr and false.
 */
export function rootOrSkip(name: string): boolean {
  if (process.getuid?.() === 0) return true;
  if (process.env.CI === "true") throw new NetnsError(`${name}: needs root for network namespaces, and CI must run it; run the tests as root`);
  process.stderr.write(`SKIPPED (needs root for network namespaces): ${name}\n`);
  return false;
}

/** Namespaces of test beds whose owning process is gone. */
export function leftoverNamespaces(): string[] {
  const names = run("ip", ["netns", "list"])
    .split("\n")
    .map((line) => line.split(" ")[0])
    .filter((n) => n.startsWith(NETNS_PREFIX));
  return names.filter((n) => {
    const pid = Number(/^dsmt(\d+)x/.exec(n)?.[1]);
    return !Number.isInteger(pid) || !alive(pid);
  });
}

export function removeNamespaces(names: string[]): void {
  for (const ns of names) {
    killProcessesIn(ns);
    spawnSync("ip", ["netns", "del", ns], { timeout: 10_000 });
  }
}

export function createTestBed(hostCount = 3): TestBed {
  removeNamespaces(leftoverNamespaces());
  const name = `${NETNS_PREFIX}${process.pid}x${randomBytes(2).toString("hex")}`;
  const bridgeNs = `${name}-br`;
  const hosts: TestHost[] = Array.from({ length: hostCount }, (_, i) => ({ ns: `${name}-h${i}`, ip: `${SUBNET}.${i + 1}`, port: `p${i}` }));
  const created: string[] = [];
  let tornDown = false;
  const bed: TestBed = {
    name,
    bridgeNs,
    hosts,
    exec: (i) => ["ip", "netns", "exec", hosts[i].ns],
    cutOff: (i) => void run("ip", ["-n", bridgeNs, "link", "set", hosts[i].port, "down"]),
    dropAll: (i) =>
      void run(
        "ip",
        ["netns", "exec", hosts[i].ns, "nft", "-f", "-"],
        `table inet dsm_cut {
  chain input { type filter hook input priority 0; policy drop; iifname "lo" accept; }
  chain output { type filter hook output priority 0; policy drop; oifname "lo" accept; }
}
`,
      ),
    teardown() {
      if (tornDown) return;
      tornDown = true;
      removeNamespaces(created.reverse());
    },
  };
  try {
    for (const ns of [bridgeNs, ...hosts.map((h) => h.ns)]) {
      run("ip", ["netns", "add", ns]);
      created.push(ns);
    }
    run("ip", ["-n", bridgeNs, "link", "add", "br0", "type", "bridge"]);
    run("ip", ["-n", bridgeNs, "link", "set", "br0", "up"]);
    for (const h of hosts) {
      run("ip", ["link", "add", "eth0", "netns", h.ns, "type", "veth", "peer", "name", h.port, "netns", bridgeNs]);
      run("ip", ["-n", bridgeNs, "link", "set", h.port, "master", "br0", "up"]);
      run("ip", ["-n", h.ns, "addr", "add", `${h.ip}/24`, "dev", "eth0"]);
      run("ip", ["-n", h.ns, "link", "set", "eth0", "up"]);
      run("ip", ["-n", h.ns, "link", "set", "lo", "up"]);
    }
  } catch (error) {
    bed.teardown();
    throw error;
  }
  return bed;
}

function killProcessesIn(ns: string): void {
  const r = spawnSync("ip", ["netns", "pids", ns], { encoding: "utf8", timeout: 10_000 });
  for (const pid of (r.stdout ?? "").split("\n").map(Number).filter((p) => p > 0)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
