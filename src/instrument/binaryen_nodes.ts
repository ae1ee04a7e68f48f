/**
 * Typed access to binaryen.js's per-kind expression helpers (`binaryen.Load.setPtr`, ...), which
 * the library's TypeScript declarations omit, and to the one C API call the pass needs.
 */
import binaryen from "binaryen";

type Ref = binaryen.ExpressionRef;
type Get = (expr: Ref) => Ref;
type Set = (expr: Ref, child: Ref) => void;

interface Nodes {
  Block: { getName(expr: Ref): string | null; setName(expr: Ref, name: string): void; setChildAt(expr: Ref, index: number, child: Ref): void };
  If: { setCondition: Set; setIfTrue: Set; setIfFalse: Set };
  Loop: { getName(expr: Ref): string | null; setName(expr: Ref, name: string): void; getBody: Get; setBody: Set };
  Break: { getName(expr: Ref): string; setName(expr: Ref, name: string): void; setCondition: Set; setValue: Set };
  Switch: {
    getNumNames(expr: Ref): number;
    getNameAt(expr: Ref, index: number): string;
    setNameAt(expr: Ref, index: number, name: string): void;
    getDefaultName(expr: Ref): string;
    setDefaultName(expr: Ref, name: string): void;
    setCondition: Set;
    setValue: Set;
  };
  Call: { setOperandAt(expr: Ref, index: number, child: Ref): void };
  CallIndirect: { setOperandAt(expr: Ref, index: number, child: Ref): void; setTarget: Set };
  LocalGet: { getIndex(expr: Ref): number };
  LocalSet: { getIndex(expr: Ref): number; getValue: Get; setValue: Set };
  GlobalGet: { getName(expr: Ref): string };
  GlobalSet: { getName(expr: Ref): string; setValue: Set };
  Const: { getValueI32(expr: Ref): number };
  Unary: { getOp(expr: Ref): number; getValue: Get; setValue: Set };
  Binary: { getOp(expr: Ref): number; getLeft: Get; getRight: Get; setLeft: Set; setRight: Set };
  Select: { setIfTrue: Set; setIfFalse: Set; setCondition: Set };
  Drop: { setValue: Set };
  Return: { setValue: Set };
  MemoryGrow: { setDelta: Set };
  SIMDExtract: { setVec: Set };
  SIMDReplace: { setVec: Set; setValue: Set };
  SIMDShuffle: { setLeft: Set; setRight: Set };
  SIMDTernary: { setA: Set; setB: Set; setC: Set };
  SIMDShift: { setVec: Set; setShift: Set };
  Load: { setPtr: Set };
  Store: { setPtr: Set; setValue: Set };
  AtomicRMW: { setPtr: Set; setValue: Set };
  AtomicCmpxchg: { setPtr: Set; setExpected: Set; setReplacement: Set };
  AtomicWait: { setPtr: Set; setExpected: Set; setTimeout: Set };
  AtomicNotify: { setPtr: Set; setNotifyCount: Set };
  SIMDLoad: { setPtr: Set };
  SIMDLoadStoreLane: { setPtr: Set; setVec: Set };
  MemoryCopy: { setDest: Set; setSource: Set; setSize: Set };
  MemoryFill: { setDest: Set; setValue: Set; setSize: Set };
  MemoryInit: { setDest: Set; setOffset: Set; setSize: Set };
  Function: { getBody(func: binaryen.FunctionRef): Ref; setBody(func: binaryen.FunctionRef, body: Ref): void };
  /** Adds a local of `type` to `func` and returns its index. */
  _BinaryenFunctionAddVar(func: binaryen.FunctionRef, type: binaryen.Type): number;
}

export const nodes = binaryen as unknown as Nodes;
