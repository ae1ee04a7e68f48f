/**
 * Describes each linear-memory instruction as the instrumentation sees it: its operands in
 * evaluation order (with a way to replace each), and what it touches — one access of a fixed
 * width at `ptr + offset`, or byte ranges whose length is an operand (bulk memory).
 */
import binaryen from "binaryen";
import { Access } from "../abi.js";
import { nodes } from "./binaryen_nodes.js";

type Ref = binaryen.ExpressionRef;
type Info = Record<string, unknown>;

/** A load, store, atomic or SIMD access of `width` bytes at `operands[0] + offset`. */
export interface SingleAccess {
  kind: "single";
  operands: Ref[];
  setOperand(index: number, child: Ref): void;
  offset: number;
  width: number;
  access: Access;
}

/** A bulk operation: each range starts at `operands[start]` and is `operands[size]` bytes long. */
export interface RangeAccess {
  kind: "range";
  operands: Ref[];
  setOperand(index: number, child: Ref): void;
  ranges: { start: number; access: Access }[];
  size: number;
}

export type MemoryAccess = SingleAccess | RangeAccess;

/** Thrown by {@link describeAccess} when an instruction's shape is not what it expects. */
export class AccessShapeError extends Error {
  override name = "AccessShapeError";
}

const SIMD_LOAD_WIDTH = new Map<number, number>([
  [binaryen.Load8SplatVec128, 1],
  [binaryen.Load16SplatVec128, 2],
  [binaryen.Load32SplatVec128, 4],
  [binaryen.Load64SplatVec128, 8],
  [binaryen.Load8x8SVec128, 8],
  [binaryen.Load8x8UVec128, 8],
  [binaryen.Load16x4SVec128, 8],
  [binaryen.Load16x4UVec128, 8],
  [binaryen.Load32x2SVec128, 8],
  [binaryen.Load32x2UVec128, 8],
  [binaryen.Load32ZeroVec128, 4],
  [binaryen.Load64ZeroVec128, 8],
]);

const SIMD_LANE: ReadonlyMap<number, { width: number; access: Access }> = new Map([
  [binaryen.Load8LaneVec128, { width: 1, access: Access.Read }],
  [binaryen.Load16LaneVec128, { width: 2, access: Access.Read }],
  [binaryen.Load32LaneVec128, { width: 4, access: Access.Read }],
  [binaryen.Load64LaneVec128, { width: 8, access: Access.Read }],
  [binaryen.Store8LaneVec128, { width: 1, access: Access.Write }],
  [binaryen.Store16LaneVec128, { width: 2, access: Access.Write }],
  [binaryen.Store32LaneVec128, { width: 4, access: Access.Write }],
  [binaryen.Store64LaneVec128, { width: 8, access: Access.Write }],
]);

const ACCESS_KINDS = new Set<number>([
  binaryen.LoadId,
  binaryen.StoreId,
  binaryen.AtomicRMWId,
  binaryen.AtomicCmpxchgId,
  binaryen.AtomicWaitId,
  binaryen.AtomicNotifyId,
  binaryen.SIMDLoadId,
  binaryen.SIMDLoadStoreLaneId,
  binaryen.MemoryCopyId,
  binaryen.MemoryFillId,
  binaryen.MemoryInitId,
]);

type Setter = (expr: Ref, child: Ref) => void;

function operandsOf(expr: Ref, info: Info, fields: string[], setters: Setter[]) {
  const operands = fields.map((f) => info[f] as Ref);
  if (operands.some((r) => r === 0)) throw new AccessShapeError(`missing operand in ${fields.join(", ")}`);
  return { operands, setOperand: (i: number, c: Ref) => setters[i](expr, c) };
}

/**
 * The static offset of memory.atomic.wait / notify, which binaryen.js does not expose: read from
 * the instruction's own text, e.g. `(memory.atomic.wait32 $mimport$0 offset=8`.
 */
function textOffset(expr: Ref): number {
  const head = binaryen.emitText(expr).split("\n", 1)[0];
  if (!/^\(memory\.atomic\.(wait32|wait64|notify)\b/.test(head)) {
    throw new AccessShapeError(`unexpected text ${JSON.stringify(head)}`);
  }
  const match = head.match(/\boffset=(\d+)\b/);
  return match ? Number(match[1]) : 0;
}

/** Describes a memory instruction, or returns undefined when `id` is not one. */
export function describeAccess(expr: Ref, id: number): MemoryAccess | undefined {
  if (!ACCESS_KINDS.has(id)) return undefined;
  const info = binaryen.getExpressionInfo(expr) as unknown as Info;
  const single = (o: ReturnType<typeof operandsOf>, offset: number, width: number, access: Access): SingleAccess => ({
    kind: "single",
    ...o,
    offset,
    width,
    access,
  });
  switch (id) {
    case binaryen.LoadId:
      return single(operandsOf(expr, info, ["ptr"], [nodes.Load.setPtr]), info.offset as number, info.bytes as number, Access.Read);
    case binaryen.StoreId:
      return single(operandsOf(expr, info, ["ptr", "value"], [nodes.Store.setPtr, nodes.Store.setValue]), info.offset as number, info.bytes as number, Access.Write);
    case binaryen.AtomicRMWId:
      return single(operandsOf(expr, info, ["ptr", "value"], [nodes.AtomicRMW.setPtr, nodes.AtomicRMW.setValue]), info.offset as number, info.bytes as number, Access.Write);
    case binaryen.AtomicCmpxchgId: {
      const o = operandsOf(expr, info, ["ptr", "expected", "replacement"], [nodes.AtomicCmpxchg.setPtr, nodes.AtomicCmpxchg.setExpected, nodes.AtomicCmpxchg.setReplacement]);
      return single(o, info.offset as number, info.bytes as number, Access.Write);
    }
    case binaryen.AtomicWaitId: {
      const o = operandsOf(expr, info, ["ptr", "expected", "timeout"], [nodes.AtomicWait.setPtr, nodes.AtomicWait.setExpected, nodes.AtomicWait.setTimeout]);
      return single(o, textOffset(expr), info.expectedType === binaryen.i64 ? 8 : 4, Access.Read);
    }
    case binaryen.AtomicNotifyId: {
      const o = operandsOf(expr, info, ["ptr", "notifyCount"], [nodes.AtomicNotify.setPtr, nodes.AtomicNotify.setNotifyCount]);
      return single(o, textOffset(expr), 4, Access.Read);
    }
    case binaryen.SIMDLoadId: {
      const width = SIMD_LOAD_WIDTH.get(info.op as number);
      if (width === undefined) throw new AccessShapeError(`unknown SIMD load op ${String(info.op)}`);
      return single(operandsOf(expr, info, ["ptr"], [nodes.SIMDLoad.setPtr]), info.offset as number, width, Access.Read);
    }
    case binaryen.SIMDLoadStoreLaneId: {
      const lane = SIMD_LANE.get(info.op as number);
      if (!lane) throw new AccessShapeError(`unknown SIMD lane op ${String(info.op)}`);
      const o = operandsOf(expr, info, ["ptr", "vec"], [nodes.SIMDLoadStoreLane.setPtr, nodes.SIMDLoadStoreLane.setVec]);
      return single(o, info.offset as number, lane.width, lane.access);
    }
    case binaryen.MemoryCopyId: {
      const o = operandsOf(expr, info, ["dest", "source", "size"], [nodes.MemoryCopy.setDest, nodes.MemoryCopy.setSource, nodes.MemoryCopy.setSize]);
      return { kind: "range", ...o, ranges: [{ start: 1, access: Access.Read }, { start: 0, access: Access.Write }], size: 2 };
    }
    case binaryen.MemoryFillId: {
      const o = operandsOf(expr, info, ["dest", "value", "size"], [nodes.MemoryFill.setDest, nodes.MemoryFill.setValue, nodes.MemoryFill.setSize]);
      return { kind: "range", ...o, ranges: [{ start: 0, access: Access.Write }], size: 2 };
    }
    case binaryen.MemoryInitId: {
      const o = operandsOf(expr, info, ["dest", "offset", "size"], [nodes.MemoryInit.setDest, nodes.MemoryInit.setOffset, nodes.MemoryInit.setSize]);
      return { kind: "range", ...o, ranges: [{ start: 0, access: Access.Write }], size: 2 };
    }
    default:
      return undefined;
  }
}
