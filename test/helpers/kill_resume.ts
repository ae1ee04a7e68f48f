/**
 * A job killed mid-run and resumed, as a user does it with the command line: `dsm run` with
 * --checkpoint-every, SIGKILL once N checkpoints are committed, then `dsm run --resume`.
 */
import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "./kernels.js";

const DSM = join(ROOT, "bin/dsm.js");

/**
 * Runs `dsm run <options> -- <args>` and kills it (SIGKILL) after node 0 printed "checkpoint
 * `after` committed"; resolves with its stderr. Rejects if the run ends by itself first or takes
 * longer than `boundMs`.
 */
export function runAndKill(options: string[], args: string[], after: number, boundMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DSM, "run", ...options, "--", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    let killed = false;
    const timer = setTimeout(() => (child.kill("SIGKILL"), reject(new Error(`no checkpoint ${after} within ${boundMs} ms:\n${stderr}`))), boundMs);
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
      if (!killed && stderr.includes(`node 0: checkpoint ${after} committed`)) {
        killed = true;
        child.kill("SIGKILL");
      }
    });
    child.stdout.resume();
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (killed && signal === "SIGKILL") resolve(stderr);
      else reject(new Error(`the run ended by itself (code ${code}, signal ${signal}) before it was killed; give it more work:\n${stderr}`));
    });
  });
}

/** `dsm run <options> -- <args>` to the end: its exit status, stdout and stderr. */
export function runToEnd(options: string[], args: string[], boundMs = 120_000): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [DSM, "run", ...options, "--", ...args], { encoding: "utf8", timeout: boundMs });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
