/**
 * Where a bench ran: the git revision of the code (with `+dirty` when the work tree has changes),
 * the cores available, the machine's CPU, Node and platform, and its load, for the report's header.
 */
import { execFileSync } from "node:child_process";
import { availableParallelism, cpus, loadavg, platform, release } from "node:os";
import { REPOSITORY_ROOT } from "./suite.js";

export interface MachineInfo {
  gitRevision: string;
  cores: number;
  cpu: string;
  node: string;
  platform: string;
  /** 1-minute load average when the run started: on a shared machine, how much else was running. */
  loadAverage: number;
}

export function machineInfo(): MachineInfo {
  return {
    gitRevision: gitRevision(),
    cores: availableParallelism(),
    cpu: cpus()[0]?.model.trim() ?? "unknown",
    node: process.version,
    platform: `${platform()} ${release()}`,
    loadAverage: Math.round(loadavg()[0] * 100) / 100,
  };
}

function gitRevision(): string {
  const git = (...args: string[]) => execFileSync("git", args, { cwd: REPOSITORY_ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 5000 }).trim();
  try {
    const rev = git("rev-parse", "--short", "HEAD");
    return git("status", "--porcelain", "--untracked-files=no") ? `${rev}+dirty` : rev;
  } catch {
    return "unknown";
  }
}
