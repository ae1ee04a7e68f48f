/**
 * `dsm` processes for tests: started with an optional command prefix (`ip netns exec <ns>`),
 * their output collected, their exit awaited with a bound, and killed in `finally`.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { runJob } from "../../src/cluster/run_job.js";
import { parseRunArguments, type KernelModule } from "../../src/runtime/kernel_module.js";
import { ROOT } from "./kernels.js";

export const DSM = join(ROOT, "bin/dsm.js");

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Date.now() at exit. */
  at: number;
}

export class DsmProcess {
  readonly child: ChildProcess;
  out = "";
  err = "";
  readonly exit: Promise<Exit>;
  private exited: Exit | undefined;

  constructor(args: string[], options: { prefix?: string[]; env?: NodeJS.ProcessEnv } = {}) {
    const command = [...(options.prefix ?? []), process.execPath, DSM, ...args];
    this.child = spawn(command[0], command.slice(1), { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...options.env } });
    this.child.stdout!.setEncoding("utf8").on("data", (d: string) => (this.out += d));
    this.child.stderr!.setEncoding("utf8").on("data", (d: string) => (this.err += d));
    this.exit = new Promise((resolve) => this.child.once("close", (code, signal) => resolve((this.exited = { code, signal, at: Date.now() }))));
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** The rank this node printed when it joined, or undefined before that. */
  get rank(): number | undefined {
    const m = /joined job \S+ as rank (\d+)/.exec(this.err);
    return m ? Number(m[1]) : undefined;
  }

  /** The `host:port` of the nats server this node's transport joined through. */
  get server(): string | undefined {
    return /joined job .* via nats (\S+)/.exec(this.err)?.[1];
  }

  /** Resolves with the exit, or rejects after `ms` naming what the process printed. */
  async exitWithin(ms: number): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`dsm pid ${this.pid} still running after ${ms} ms; stderr: ${this.err.slice(-500)}`)), ms);
    });
    return Promise.race([this.exit, late]).finally(() => clearTimeout(timer));
  }

  /** Waits until `test` holds for the output, bounded. */
  async waitFor(test: (p: DsmProcess) => boolean, ms: number, what: string): Promise<void> {
    const deadline = Date.now() + ms;
    while (!test(this)) {
      if (this.exited) throw new Error(`dsm pid ${this.pid} exited (${this.exited.code ?? this.exited.signal}) before ${what}; stderr: ${this.err.slice(-500)}`);
      if (Date.now() > deadline) throw new Error(`dsm pid ${this.pid}: no ${what} after ${ms} ms; stderr: ${this.err.slice(-500)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    if (!this.exited) this.child.kill(signal);
  }
}

/** Waits (bounded) for all to exit; kills the ones still running after `ms`. */
export async function settleAll(procs: DsmProcess[], ms: number): Promise<Exit[]> {
  try {
    return await Promise.all(procs.map((p) => p.exitWithin(ms)));
  } finally {
    for (const p of procs) p.kill();
    await Promise.all(procs.map((p) => p.exitWithin(5000).catch(() => undefined)));
  }
}

/** Runs `dsm args...` to completion (bounded). */
export function dsmSync(args: string[], timeoutMs = 120_000) {
  const r = spawnSync(process.execPath, [DSM, ...args], { encoding: "utf8", timeout: timeoutMs });
  return { code: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
}

/** The one-node result of `kernel(args)`, computed in this process: what every multi-node run must print. */
export async function oneNodeResult(kernel: KernelModule, args: string[]): Promise<number | string | null> {
  const job = await runJob(kernel, parseRunArguments(kernel.meta, args), { nodes: 1, protocol: "diff", transport: "local", faultTimeoutMs: 10_000 });
  return job.result;
}
