/**
 * Worker for the start gate tests: passes the gate as node `node`, then records how many nodes had
 * arrived when it went through (ARRIVED, slot 0 of the gate) and adds one to `passed`.
 */
import { parentPort, workerData } from "node:worker_threads";
import { StartGate } from "../../src/runtime/start_gate.js";

const { gate, parties, node, passed } = workerData as { gate: SharedArrayBuffer; parties: number; node: number; passed: SharedArrayBuffer };
new StartGate(gate, parties).pass(node, 20_000, () => undefined);
const seen = Atomics.load(new Int32Array(gate, 0, 1), 0);
Atomics.add(new Int32Array(passed), 0, 1);
parentPort!.postMessage({ node, seen });
