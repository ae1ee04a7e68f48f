/**
 * Command-line option validation. Every message quotes the bad value and says what to pass.
 * Environment variables read by the CLI all start with DSM_ and are listed in ENVIRONMENT.
 */

import { parseArgs, type ParseArgsConfig } from "node:util";

export class UsageError extends Error {
  override name = "UsageError";
}

/** Every environment variable the CLI reads. */
export const ENVIRONMENT = {
  DSM_TIMEOUT_MS: "default for --timeout (milliseconds a fault may take)",
  DSM_SYNC_TIMEOUT_MS: "default for --sync-timeout (milliseconds a barrier or lock wait may take)",
  DSM_SPIN_US: "fixed microseconds a waiting node spins on its bell before sleeping (default: up to 1000 while the running threads fit the cores, adapting to how often spins are answered; 300 or 0 for a node process of its own)",
  DSM_DEBUG: "print stack traces of errors",
  DSM_CHECKPOINT_EVERY: "default for --checkpoint-every (seconds between checkpoints at barriers)",
  DSM_REJOIN_TIMEOUT_MS: "dsm node: default for --rejoin-timeout (milliseconds the nodes left wait for a replacement)",
  DSM_JOB: "dsm node: default for --job (the job name shared by its nodes)",
  DSM_NODES: "dsm node: default for --nodes",
  DSM_RANK: "dsm node: default for --rank",
  DSM_JOIN_TIMEOUT_MS: "dsm node: default for --join-timeout (milliseconds to wait for the other nodes)",
  DSM_NATS_USER: "default for --user (nats user name)",
  DSM_NATS_PASS: "default for --pass (nats password; keeps it out of the process list)",
  DSM_NATS_TOKEN: "default for --token (nats token; keeps it out of the process list)",
  NATS_URL: "dsm node: default for --nats (the usual nats client variable, hence no DSM_ prefix)",
  DSM_UPDATE_GOLDEN: "tests only: 1 regenerates golden files",
  DSM_TEST_FILE_TIMEOUT_MS: "tests only: bound on one test file (default 300000)",
} as const;

const SIZE = /^(\d+)([kmg]?)(i?b)?$/i;

/** Parses `4096`, `4K`, `64M`, `1G` (binary units). */
export function parseSize(option: string, text: string): number {
  const m = SIZE.exec(text.trim());
  if (!m) throw new UsageError(`--${option} "${text}": expected a size in bytes such as 4096, 64K or 64M`);
  const unit = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2].toLowerCase() as "" | "k" | "m" | "g"];
  return Number(m[1]) * unit;
}

export function parseInteger(option: string, text: string, min: number, max: number): number {
  const v = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new UsageError(`--${option} "${text}": expected a whole number from ${min} to ${max}`);
  }
  return v;
}

export function parseChoice<T extends string>(option: string, text: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(text)) {
    throw new UsageError(`--${option} "${text}": unknown; use one of ${choices.join(", ")}`);
  }
  return text as T;
}

/** Parses a command's options (positionals allowed); a parse failure points at `dsm <command> --help`. */
export function parseCommandLine<O extends NonNullable<ParseArgsConfig["options"]>>(command: string, argv: string[], options: O) {
  try {
    return parseArgs({ args: glueFlagValues(argv, options), allowPositionals: true, options });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}; see dsm ${command} --help`);
  }
}

/** Options whose value is itself a list of flags (`--cflags "-O3 -DN=4"`). */
const FLAG_VALUED = ["cflags"];

/**
 * `--cflags -O3` as `--cflags=-O3`: parseArgs refuses a value that starts with a dash as
 * ambiguous, and for these options it always does.
 */
function glueFlagValues(argv: string[], options: NonNullable<ParseArgsConfig["options"]>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].startsWith("--") ? argv[i].slice(2) : undefined;
    if (name !== undefined && FLAG_VALUED.includes(name) && name in options && i + 1 < argv.length) out.push(`--${name}=${argv[++i]}`);
    else out.push(argv[i]);
  }
  return out;
}
