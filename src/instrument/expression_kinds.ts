/**
 * The closed list of Binaryen expression kinds the instrumentation knows. Every kind is either
 * a memory access (described in memory_access.ts and rewritten), or a kind known to touch no
 * linear memory, whose children are listed here in evaluation order so the walker can reach
 * every nested access. Anything else is refused by the walker (fail closed).
 *
 * Binaryen's TypeScript declarations give expression ids and operations as `const enum`s whose
 * numbers do not match the library at run time, so only the runtime values (`binaryen.LoadId`,
 * `binaryen.Load8SplatVec128`, ...) are used.
 */
import binaryen from "binaryen";
import { nodes } from "./binaryen_nodes.js";

type Ref = binaryen.ExpressionRef;
type Info = Record<string, unknown>;

/** One child slot of an expression: how to read it from the info object and write it back. */
interface Slot {
  field: string;
  set: (expr: Ref, child: Ref) => void;
}

const slot = (field: string, set: (expr: Ref, child: Ref) => void): Slot => ({ field, set });

/** Non-memory kinds whose children are fixed fields, listed in evaluation order. */
const FIXED: ReadonlyMap<number, readonly Slot[]> = new Map<number, readonly Slot[]>([
  [binaryen.NopId, []],
  [binaryen.LocalGetId, []],
  [binaryen.GlobalGetId, []],
  [binaryen.ConstId, []],
  [binaryen.MemorySizeId, []],
  [binaryen.UnreachableId, []],
  [binaryen.AtomicFenceId, []],
  [binaryen.DataDropId, []],
  [binaryen.IfId, [slot("condition", nodes.If.setCondition), slot("ifTrue", nodes.If.setIfTrue), slot("ifFalse", nodes.If.setIfFalse)]],
  [binaryen.LoopId, [slot("body", nodes.Loop.setBody)]],
  [binaryen.BreakId, [slot("value", nodes.Break.setValue), slot("condition", nodes.Break.setCondition)]],
  [binaryen.SwitchId, [slot("value", nodes.Switch.setValue), slot("condition", nodes.Switch.setCondition)]],
  [binaryen.LocalSetId, [slot("value", nodes.LocalSet.setValue)]],
  [binaryen.GlobalSetId, [slot("value", nodes.GlobalSet.setValue)]],
  [binaryen.UnaryId, [slot("value", nodes.Unary.setValue)]],
  [binaryen.BinaryId, [slot("left", nodes.Binary.setLeft), slot("right", nodes.Binary.setRight)]],
  [binaryen.SelectId, [slot("ifTrue", nodes.Select.setIfTrue), slot("ifFalse", nodes.Select.setIfFalse), slot("condition", nodes.Select.setCondition)]],
  [binaryen.DropId, [slot("value", nodes.Drop.setValue)]],
  [binaryen.ReturnId, [slot("value", nodes.Return.setValue)]],
  [binaryen.MemoryGrowId, [slot("delta", nodes.MemoryGrow.setDelta)]],
  [binaryen.SIMDExtractId, [slot("vec", nodes.SIMDExtract.setVec)]],
  [binaryen.SIMDReplaceId, [slot("vec", nodes.SIMDReplace.setVec), slot("value", nodes.SIMDReplace.setValue)]],
  [binaryen.SIMDShuffleId, [slot("left", nodes.SIMDShuffle.setLeft), slot("right", nodes.SIMDShuffle.setRight)]],
  [binaryen.SIMDTernaryId, [slot("a", nodes.SIMDTernary.setA), slot("b", nodes.SIMDTernary.setB), slot("c", nodes.SIMDTernary.setC)]],
  [binaryen.SIMDShiftId, [slot("vec", nodes.SIMDShift.setVec), slot("shift", nodes.SIMDShift.setShift)]],
]);

/** The children of a non-memory expression, in evaluation order, with a way to replace each. */
export interface Children {
  refs: Ref[];
  set(index: number, child: Ref): void;
}

/**
 * Children of a kind known to touch no linear memory, or undefined when the kind is not on the
 * list (the caller decides whether it is a memory access or must be refused).
 */
export function plainChildren(expr: Ref, id: number): Children | undefined {
  const slots = FIXED.get(id);
  if (slots?.length === 0) return { refs: [], set: () => {} };
  if (!slots && id !== binaryen.BlockId && id !== binaryen.CallId && id !== binaryen.CallIndirectId) return undefined;
  const info = binaryen.getExpressionInfo(expr) as unknown as Info;
  if (id === binaryen.BlockId) {
    const refs = info.children as Ref[];
    return { refs, set: (i, c) => nodes.Block.setChildAt(expr, i, c) };
  }
  if (id === binaryen.CallId) {
    const refs = info.operands as Ref[];
    return { refs, set: (i, c) => nodes.Call.setOperandAt(expr, i, c) };
  }
  if (id === binaryen.CallIndirectId) {
    // Operands are evaluated first, then the table index.
    const operands = info.operands as Ref[];
    const refs = [...operands, info.target as Ref];
    return {
      refs,
      set: (i, c) => (i < operands.length ? nodes.CallIndirect.setOperandAt(expr, i, c) : nodes.CallIndirect.setTarget(expr, c)),
    };
  }
  const present = slots!.filter((s) => (info[s.field] as Ref) !== 0);
  return { refs: present.map((s) => info[s.field] as Ref), set: (i, c) => present[i].set(expr, c) };
}

let names: Map<number, string> | undefined;

/** Kinds binaryen.js 132 has no `...Id` constant for (numbers checked against the library). */
const UNNAMED_KINDS: [number, string][] = [
  [29, "Pause"],
  [50, "TableFill"],
  [51, "TableCopy"],
  [52, "TableInit"],
  [53, "ElemDrop"],
];

/** The readable name of an expression id, e.g. "Try" for binaryen.TryId. */
export function kindName(id: number): string {
  if (!names) {
    names = new Map(UNNAMED_KINDS);
    for (const [key, value] of Object.entries(binaryen)) {
      if (key.endsWith("Id") && typeof value === "number") names.set(value, key.slice(0, -2));
    }
  }
  return names.get(id) ?? `#${id}`;
}
