/**
 * The `dsm` command: the composition root. It alone picks concrete transports and protocols.
 * Each command's module loads when that command runs: building loads Binaryen and the compilers
 * (over a second), which `dsm run` or `dsm node` on a built module, or a mistyped command, should
 * not wait for.
 */
import { UsageError } from "./options.js";

const HELP = `usage: dsm <command> [options]

commands:
  build <kernel.ts|kernel.c ...|module.wasm> [-o out.wasm]
                                       compile (AssemblyScript, C, C++) and instrument a kernel,
                                       or instrument a module from another compiler
  run <kernel.ts|.c|.wasm> [...] -- args
                                       run a kernel on one or more nodes
  node <kernel.ts|.c|.wasm> --nats URL --job ID --nodes N [...] -- args
                                       run one node of a job spread over processes or machines
  bench [options]                      compare protocols, node counts, transports and page sizes
                                       on the kernel suite; writes a report folder
  demo                                 build the kernel suite, run a quick comparison and write
                                       its report (npm start)

dsm <command> --help for the options of a command.`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case "build":
        return await (await import("./build_command.js")).buildCommand(rest);
      case "run":
        return await (await import("./run_command.js")).runCommand(rest);
      case "node":
        return await (await import("./node_command.js")).nodeCommand(rest);
      case "bench":
        return await (await import("./bench_command.js")).benchCommand(rest);
      case "demo":
        return await (await import("./demo_command.js")).demoCommand(rest);
      case undefined:
      case "help":
      case "--help":
      case "-h":
        console.log(HELP);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command "${command}"; use build, run, node, bench or demo (dsm --help)`);
    }
  } catch (error) {
    // Binaryen's C++ exceptions reach JavaScript as bare numbers: name what was thrown.
    const e = error instanceof Error ? error : new Error(`${typeof error} ${String(error)} thrown (not an Error); rerun with DSM_DEBUG=1 and report it`);
    console.error(`dsm: ${e.name && e.name !== "Error" ? `${e.name}: ` : ""}${e.message}`);
    if (process.env.DSM_DEBUG) console.error(e.stack);
    return e instanceof UsageError ? 2 : 1;
  }
}

