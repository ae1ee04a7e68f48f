/**
 * `dsm bench`'s hardware cap: a row's cap and efficiency from fake timings, and how the tables
 * print them.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { formatEfficiency, formatTable, TABLE_HEADER, tableCells } from "../src/cli/bench/format.js";
import { capOf, makeRow, type Measured, type Sample } from "../src/cli/bench/rows.js";
import { kernelSections } from "../src/cli/bench/summary.js";

const sample = (ms: number): Sample => ({ ms, result: 7, faults: 0, messages: 0, bytes: 0 });
const measured = (...ms: number[]): Measured => ({ samples: ms.map(sample) });
/** A cap job's repetitions: [one alone, the copies at once] in ms. */
const capSamples = (...pairs: [number, number][]): Measured => ({ samples: pairs.map(([alone, ms]) => ({ ...sample(ms), aloneMs: alone })) });
const config = { kernel: "k", language: "AssemblyScript" as const, size: "tiny", args: [1], nodes: 2, protocol: "ivy", transport: "local", pageSize: 4096 };
const twoCores = { gitRevision: "abc1234", cores: 2 };
// The baseline's median is 100 ms.
const alone = measured(120, 100, 80);
// Repetitions' caps 2 × 100 / 125 = 1.6, 2 × 100 / 100 = 2 and 2 × 90 / 120 = 1.5: median 1.6.
const together = { copies: 2, measured: capSamples([100, 125], [100, 100], [90, 120]) };

const Cap = suite("hardware cap and efficiency");

Cap("cap is the median of the repetitions' copies × time alone / time at once; efficiency is speedup / cap", () => {
  assert.is(capOf(2, together.measured), 1.6);
  // The example: two copies that each take 1.087× as long.
  assert.is(Math.round(capOf(2, capSamples([100, 108.7]))! * 100) / 100, 1.84);
  assert.is(capOf(4, capSamples([100, 200])), 2);
  const row = makeRow(config, measured(50, 40, 60), alone, twoCores, together);
  assert.equal([row.speedup, row.cap, row.efficiency], [2, 1.6, 1.25]);
  const slow = makeRow(config, measured(160), alone, twoCores, together);
  assert.equal([slow.speedup, slow.cap, slow.efficiency], [0.625, 1.6, 0.390625]);
});

Cap("one node, or one core, has a cap of 1 without a measurement; more nodes than cores use the cores' cap", () => {
  const one = makeRow({ ...config, nodes: 1 }, measured(80), alone, twoCores);
  assert.equal([one.speedup, one.cap, one.efficiency], [1.25, 1, 1.25]);
  const oneCore = makeRow({ ...config, nodes: 4 }, measured(200), alone, { ...twoCores, cores: 1 });
  assert.equal([oneCore.speedup, oneCore.cap, oneCore.efficiency], [0.5, 1, 0.5]);
  const emulated = makeRow({ ...config, nodes: 4 }, measured(100), alone, twoCores, together);
  assert.equal([emulated.emulated, emulated.cap, emulated.efficiency], [true, 1.6, 0.625]);
});

Cap("a failed cap, baseline or row leaves cap or efficiency null", () => {
  const capFailed = makeRow(config, measured(50), alone, twoCores, { copies: 2, measured: { samples: [], error: "TimeoutError" } });
  assert.equal([capFailed.speedup, capFailed.cap, capFailed.efficiency], [2, null, null]);
  assert.is(capOf(2, measured(100)), null);
  const noCap = makeRow(config, measured(50), alone, twoCores);
  assert.equal([noCap.cap, noCap.efficiency], [null, null]);
  const baselineFailed = makeRow(config, measured(50), { samples: [], error: "x" }, twoCores, together);
  assert.equal([baselineFailed.speedup, baselineFailed.cap, baselineFailed.efficiency], [null, 1.6, null]);
  const rowFailed = makeRow(config, { samples: [], error: "x" }, alone, twoCores, together);
  assert.equal([rowFailed.speedup, rowFailed.cap, rowFailed.efficiency], [null, 1.6, null]);
});

Cap("tables print cap like a speedup and efficiency as a percentage", () => {
  assert.equal([0.5, 0.875, 1.25, 0.042, 0.0004, null].map(formatEfficiency), ["50 %", "88 %", "125 %", "4.2 %", "0.0 %", "-"]);
  const row = makeRow(config, measured(50), alone, twoCores, together);
  assert.equal(TABLE_HEADER.slice(7, 11), ["ms", "speedup", "cap", "efficiency"]);
  assert.equal(tableCells(row).slice(7, 11), ["50.0", "2.00×", "1.60×", "125 %"]);
  const [section] = kernelSections([row]);
  assert.equal(section.table.header.slice(4, 8), ["ms", "speedup", "cap", "efficiency"]);
  assert.equal(section.table.rows[0].slice(4, 8), ["50.0", "2.00×", "1.60×", "125 %"]);
  assert.equal(formatTable([row], 2).split("\n"), [
    "kernel  language        args  nodes  protocol  transport  page    ms  speedup    cap  efficiency  faults  messages  bytes  correct",
    "k       AssemblyScript  1         2  ivy       local      4K    50.0    2.00×  1.60×       125 %       0         0    0 B  yes",
  ]);
});

Cap.run();
