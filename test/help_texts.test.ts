/**
 * The help texts name every kind of kernel their command accepts: AssemblyScript and C/C++
 * sources, and .wasm modules (built ones for run and node, any compiler's for build).
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { BENCH_HELP } from "../src/cli/bench_command.js";
import { BUILD_HELP } from "../src/cli/build_command.js";
import { NODE_HELP } from "../src/cli/node_command.js";
import { RUN_HELP } from "../src/cli/run_command.js";

const Help = suite("help texts");

Help("the usage lines of build, run and node name C sources and .wasm modules", () => {
  assert.is(BUILD_HELP.split("\n").slice(0, 4).join("\n"), [
    "usage: dsm build <kernel.ts> [-o out.wasm] [options]",
    `       dsm build <kernel.c|.cc|.cpp> [more.c ...] [-o out.wasm] [--cflags "..."] [options]`,
    "       dsm build <prog.c.in> [more.c.in ...] [-o out.wasm] [options]",
    "       dsm build <module.wasm> [-o out.wasm] [options]",
  ].join("\n"));
  assert.is(RUN_HELP.split("\n")[0], "usage: dsm run <kernel.ts|kernel.c|kernel.wasm> [options] -- [run arguments]");
  assert.is(NODE_HELP.split("\n")[0], "usage: dsm node <kernel.ts|kernel.c|kernel.wasm> --nats URL[,URL] --job ID --nodes N [options] -- [run arguments]");
});

Help("run and node say which sources the build options apply to, --cflags included", () => {
  for (const help of [RUN_HELP, NODE_HELP]) {
    const flat = help.replace(/\s+/g, " ");
    assert.ok(flat.includes("--no-opt, --cflags layout, check and compiler options when building from a .ts, .c, .cc, .cpp or .c.in file"), flat);
  }
});

Help("bench names the C kernels and the path of a source as choices", () => {
  const flat = BENCH_HELP.replace(/\s+/g, " ");
  assert.ok(flat.includes("the C kernels jacobi.c, matmul.c, intsort.c, fft2d.c; or the path of a kernel source (.ts, .c, .cc, .cpp; with --args)"), flat);
  assert.ok(flat.includes("--languages L,L which version of each named kernel: as (AssemblyScript), c"), flat);
});

Help.run();
