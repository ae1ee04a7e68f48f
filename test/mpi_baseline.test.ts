/**
 * dsm bench's `mpi` rows (src/cli/bench/mpi.ts, bench/baselines/jacobi_mpi.c): the C Jacobi with
 * Open MPI halo exchange gives the DSM kernel's checksum bit for bit on 1 to 4 ranks, even and
 * uneven splits, and counts its messages and bytes exactly; its output parser and command line;
 * the error when Open MPI is missing. Where mpicc is not installed the runs are skipped loudly on
 * a developer machine and fail in CI (`CI=true`), where they must run.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { loadMpiJacobi, MpiMissingError, MpiRunError, mpirunArgs, parseMpiOutput, type MpiJacobi } from "../src/cli/bench/mpi.js";
import { jacobi } from "./helpers/reference_dense.js";

const Mpi = suite("Open MPI Jacobi baseline");

Mpi("without mpicc on the PATH: MpiMissingError naming the packages", async () => {
  const error = await loadMpiJacobi({ ...process.env, PATH: "/nonexistent" }).then(() => null, (e: Error) => e);
  assert.ok(error instanceof MpiMissingError, String(error));
  assert.match(error!.message, /^mpicc and mpirun not found \(.*\); install them with: apt-get install openmpi-bin libopenmpi-dev$/);
});

Mpi("the output parser takes rank 0's line and refuses anything else, quoting it", () => {
  assert.equal(parseMpiOutput("result 22630.228515625 ms 1.940 messages 33 bytes 15744\n", "cmd"), { result: 22630.228515625, ms: 1.94, messages: 33, bytes: 15744 });
  assert.throws(() => parseMpiOutput("Segmentation fault\n", "mpirun -np 2 x"), (e: Error) => e instanceof MpiRunError && e.message === `mpirun -np 2 x: expected a line "result R ms T messages M bytes B", got: "Segmentation fault\\n"`);
});

Mpi("mpirun: unbound ranks, oversubscribed only past the cores", () => {
  assert.equal(mpirunArgs("/x", 2, 64, 5, 2), ["-np", "2", "--bind-to", "none", "/x", "64", "5"]);
  assert.equal(mpirunArgs("/x", 4, 64, 5, 2), ["-np", "4", "--bind-to", "none", "--oversubscribe", "/x", "64", "5"]);
});

let mpi: MpiJacobi | null = null;
Mpi.before(async () => {
  try {
    mpi = await loadMpiJacobi();
  } catch (error) {
    if (!(error instanceof MpiMissingError) || process.env.CI === "true") throw error;
    process.stderr.write(`SKIPPED (Open MPI not installed: ${error.message}): mpi_baseline.test runs\n`);
  }
});

Mpi("the checksum equals the sequential reference on 1-4 ranks, 64×5 and 67×4; messages and bytes are exact", async () => {
  if (!mpi) return;
  for (const [n, iters] of [[64, 5], [67, 4]] as const) {
    const expected = jacobi(n, iters);
    for (const ranks of [1, 2, 3, 4]) {
      const run = await mpi.run(ranks, n, iters, 60_000);
      assert.is(run.result, expected, `${n}×${iters} on ${ranks} ranks`);
      // Each of the ranks - 1 boundaries carries one row each way per sweep; then every rank but 0 sends its row sums.
      const halo = 2 * (ranks - 1) * iters;
      assert.is(run.messages, halo + ranks - 1, `messages, ${ranks} ranks`);
      assert.is(run.bytes, halo * n * 8 + (n - Math.floor(n / ranks)) * 8, `bytes, ${ranks} ranks`);
      assert.ok(run.ms > 0);
    }
  }
});

Mpi("a bad argument list makes mpirun fail with the program's usage line", async () => {
  if (!mpi) return;
  const error = await mpi.run(2, 1, 5, 60_000).then(() => null, (e: Error) => e);
  assert.ok(error instanceof MpiRunError, String(error));
  assert.match(error!.message, /usage: jacobi_mpi n iters/);
});

Mpi.run();
