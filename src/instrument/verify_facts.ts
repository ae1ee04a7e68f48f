/**
 * The facts the check verifier (verify_checks.ts) tracks along each path of a function, and how
 * the code it walks creates them. A fact holds from the point it is learnt until something kills
 * it: a call (the kernel may park and the host change any page), or a write of a variable it
 * mentions. Facts are learnt only from what the code itself tests, never from how it was built:
 *
 * - `page`: the protection byte of the page holding address `key + delta` allows `kind`. Learnt
 *   where a test that reads the byte is known to be 0: `(i32.load8_u offset=TABLE (i32.shr_u A
 *   (i32.const SHIFT)))` is 0 (read-write), or `(i32.and <or of such loads> (i32.const NO_READ))`
 *   is 0 (readable). A test `(i32.or x y)` is 0 when both x and y are. A pair load
 *   `(i32.load16_u offset=TABLE (i32.shr_u A (i32.const SHIFT)))` reads the bytes of page(A) and
 *   the page after it, the page of `A + pageSize` (pair_loads.ts): it is 0 (both read-write), or
 *   ORed with others and masked with `0x0202` it is 0 (both readable); masked with NO_READ it
 *   tests page(A) only.
 * - `span`: every byte from `key + lo` to `key + hi` lies in a page that allows `kind`. Learnt
 *   after `(call $__fault P1 P2 kind)` with P1, P2 the pages of `key + lo`, `key + hi` (the host
 *   returns only when every page of P1..P2 allows the access).
 * - `window`: every byte from local `slot` to `slot + pageSize - 1` lies in a page that allows
 *   `kind`. Learnt from `(local.set $slot (i32.and A (i32.const -pageSize)))` when page(A) allows
 *   it, from the straddling form `(select A (i32.and A -P) (i32.ne page(A) page(A + w - 1)))`
 *   when both pages allow it, and from the sentinel `(i32.const -pageSize)` (bytes above any
 *   memory: an access there traps whatever the table says).
 * - `inside`: the `width` bytes at `key + delta` lie in the window of local `slot`. Learnt where
 *   `(i32.gt_u (i32.sub A (local.get $slot)) (i32.const pageSize - width))` is 0.
 * - `range`: every page of the `size` bytes at `start` allows `kind` (bulk memory). Learnt after
 *   a call of the range helper (range_helper.ts) with those operands.
 * - `bound`: the variable `key` holds an unsigned value from `lo` to `hi`. Learnt where
 *   `(i32.lt_s X (i32.const C))` or `lt_u` is 0 (private_bounds.ts); an access it proves to lie
 *   in private memory needs no check (verify_private.ts says how bounds move and survive calls).
 * - `term`: the i32 expression with this text was not 0, with the variables it reads unchanged
 *   since. Learnt where `(i32.eqz G)` is known to be 0, for each term of G's tree of `i32.and`s
 *   (a versioned loop's guard, loop_version.ts).
 */
import binaryen from "binaryen";
import { Access, type Layout, NO_READ } from "../abi.js";
import { nodes } from "./binaryen_nodes.js";
import { childrenOf } from "./operand_scan.js";
import { PAIR_NO_READ } from "./pair_loads.js";
import { boundWhenFalse } from "./private_bounds.js";

type Ref = binaryen.ExpressionRef;

/** `l<index>`, `g<name>`, or `c` (delta is then an absolute address). */
export type Key = string;

export type Fact =
  | { type: "page"; key: Key; delta: number; kind: Access }
  | { type: "span"; key: Key; lo: number; hi: number; kind: Access }
  | { type: "window"; slot: number; kind: Access }
  | { type: "inside"; key: Key; delta: number; width: number; slot: number }
  | { type: "range"; start: Key; size: Key; kind: Access }
  | { type: "term"; text: string; reads: Key[] }
  | { type: "bound"; key: Key; lo: number; hi: number };

/** The facts that hold at one point, by a canonical string; undefined where no path reaches. */
export type State = Map<string, Fact> | undefined;

/** The fields of binaryen.getExpressionInfo the verifier reads, by kind. */
export interface Infos {
  Load: { ptr: Ref; offset: number; bytes: number; isSigned: boolean; isAtomic: boolean; type: number };
  Block: { children: Ref[] };
  If: { condition: Ref; ifTrue: Ref; ifFalse: Ref };
  Break: { name: string; condition: Ref; value: Ref };
  Switch: { names: string[]; defaultName: string };
  Call: { target: string; operands: Ref[] };
  Select: { ifTrue: Ref; ifFalse: Ref; condition: Ref };
}

export function infoOf<K extends keyof Infos>(expr: Ref, _kind: K): Infos[K] {
  return binaryen.getExpressionInfo(expr) as unknown as Infos[K];
}

export const factId = (f: Fact): string => JSON.stringify(f);

export function withFact(state: Map<string, Fact>, fact: Fact): void {
  state.set(factId(fact), fact);
}

/**
 * The facts that hold after every one of `states` (paths that reach the point): each fact of
 * one path that every other path implies, however it states it (a fault's span on one path and
 * two page facts on the other both prove the same bytes).
 */
export function join(layout: Layout, states: State[]): State {
  const live = states.filter((s): s is Map<string, Fact> => s !== undefined);
  if (live.length <= 1) return live.length === 0 ? undefined : new Map(live[0]);
  const result = new Map<string, Fact>();
  for (const state of live) {
    for (const [id, fact] of state) if (live.every((other) => other === state || implies(other, fact, layout))) result.set(id, fact);
  }
  return result;
}

/** Whether the facts of `state` prove `fact`. */
export function implies(state: Map<string, Fact>, fact: Fact, layout: Layout): boolean {
  if (state.has(factId(fact))) return true;
  switch (fact.type) {
    case "page":
      return covered(state, fact.key, fact.delta, 1, fact.kind, layout);
    case "span":
      return covered(state, fact.key, fact.lo, ((fact.hi - fact.lo) | 0) + 1, fact.kind, layout);
    case "window":
      return [...state.values()].some((f) => f.type === "window" && f.slot === fact.slot && f.kind >= fact.kind);
    case "range":
      return [...state.values()].some((f) => f.type === "range" && f.start === fact.start && f.size === fact.size && f.kind >= fact.kind);
    case "bound":
      return [...state.values()].some((f) => f.type === "bound" && f.key === fact.key && f.lo >= fact.lo && f.hi <= fact.hi);
    default:
      return false;
  }
}

/** Whether the facts prove every byte of the access allowed for `kind`. */
export function covered(state: Map<string, Fact>, key: string, delta: number, width: number, kind: Access, layout: Layout): boolean {
  const first = delta;
  const last = (delta + width - 1) | 0;
  const facts = [...state.values()];
  const windows = new Set(facts.filter((f) => f.type === "window" && f.kind >= kind).map((f) => (f as { slot: number }).slot));
  const points: number[] = [];
  for (const f of facts) {
    if (f.type === "inside" && f.key === key && windows.has(f.slot) && f.delta <= first && last <= ((f.delta + f.width - 1) | 0)) return true;
    if (f.type === "span" && f.key === key && f.kind >= kind && f.lo <= first && last <= f.hi) return true;
    if (f.type === "page" && f.key === key && f.kind >= kind) points.push(f.delta);
  }
  // Two allowed bytes at most a page apart cover every byte between them: page(y) <= page(x) + 1.
  return points.some((x) => x <= first && points.some((y) => y >= last && y - x <= layout.pageSize));
}


export function sameState(a: State, b: State): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.size === b.size && [...a.keys()].every((k) => b.has(k));
}

/** Drops every fact that mentions variable `key` (a local's key also names it as a slot). */
export function kill(state: Map<string, Fact>, key: Key): void {
  const slot = key.startsWith("l") ? Number(key.slice(1)) : -1;
  for (const [id, f] of state) {
    const hit =
      ((f.type === "page" || f.type === "span" || f.type === "inside" || f.type === "bound") && f.key === key) ||
      ((f.type === "window" || f.type === "inside") && f.slot === slot) ||
      (f.type === "range" && (f.start === key || f.size === key)) ||
      (f.type === "term" && f.reads.includes(key));
    if (hit) state.delete(id);
  }
}

/** An address `key + delta`, when `expr` is a constant, a variable, or a variable plus or minus a constant. */
export function addressOf(expr: Ref): { key: Key; delta: number } | undefined {
  const id = binaryen.getExpressionId(expr);
  if (id === binaryen.ConstId) return binaryen.getExpressionType(expr) === binaryen.i32 ? { key: "c", delta: nodes.Const.getValueI32(expr) | 0 } : undefined;
  const v = variable(expr);
  if (v) return { key: v, delta: 0 };
  if (id !== binaryen.BinaryId) return undefined;
  const op = nodes.Binary.getOp(expr);
  const [left, right] = [nodes.Binary.getLeft(expr), nodes.Binary.getRight(expr)];
  if (op === binaryen.AddInt32) {
    if (variable(left) && constant(right) !== undefined) return { key: variable(left)!, delta: constant(right)! };
    if (variable(right) && constant(left) !== undefined) return { key: variable(right)!, delta: constant(left)! };
  }
  if (op === binaryen.SubInt32 && variable(left) && constant(right) !== undefined) return { key: variable(left)!, delta: -constant(right)! | 0 };
  return undefined;
}

/** `local.get` or `global.get` as a key; a constant as `c<value>` when `constants` (bulk operands). */
export function operandKey(expr: Ref, constants = false): Key | undefined {
  const c = constant(expr);
  if (constants && c !== undefined) return `c${c}`;
  return variable(expr);
}

function variable(expr: Ref): Key | undefined {
  const id = binaryen.getExpressionId(expr);
  if (id === binaryen.LocalGetId) return `l${nodes.LocalGet.getIndex(expr)}`;
  if (id === binaryen.GlobalGetId) return `g${nodes.GlobalGet.getName(expr)}`;
  return undefined;
}

export function constant(expr: Ref): number | undefined {
  if (binaryen.getExpressionId(expr) !== binaryen.ConstId || binaryen.getExpressionType(expr) !== binaryen.i32) return undefined;
  return nodes.Const.getValueI32(expr) | 0;
}

/**
 * Reads the protection byte of one page, or (`pair`) of a page and the next: returns an address
 * in the (first) page as `key + delta`.
 */
export function tableLoad(expr: Ref, layout: Layout): { key: Key; delta: number; pair: boolean } | undefined {
  if (binaryen.getExpressionId(expr) !== binaryen.LoadId) return undefined;
  const info = infoOf(expr, "Load");
  if (info.offset !== layout.tableBase || (info.bytes !== 1 && info.bytes !== 2) || info.isSigned || info.isAtomic || info.type !== binaryen.i32) return undefined;
  const pair = info.bytes === 2;
  const page = constant(info.ptr);
  if (page !== undefined) return !pair && (page >>> 0) < layout.tableBytes ? { key: "c", delta: (page << layout.pageShift) | 0, pair } : undefined;
  const a = pageAddress(info.ptr, layout);
  return a && { ...a, pair };
}

/** The page facts a table load known to allow `kind` gives; `both`: a pair's second byte was tested too. */
function loadFacts(a: { key: Key; delta: number; pair: boolean }, kind: Access, both: boolean, layout: Layout): Fact[] {
  const first = pageFact(a, kind, layout);
  return a.pair && both ? [first, pageFact({ key: a.key, delta: (a.delta + layout.pageSize) | 0 }, kind, layout)] : [first];
}

/** `(i32.shr_u A (i32.const SHIFT))` with A an address form: returns A. */
export function pageAddress(expr: Ref, layout: Layout): { key: Key; delta: number } | undefined {
  if (binaryen.getExpressionId(expr) !== binaryen.BinaryId || nodes.Binary.getOp(expr) !== binaryen.ShrUInt32) return undefined;
  if (constant(nodes.Binary.getRight(expr)) !== layout.pageShift) return undefined;
  return addressOf(nodes.Binary.getLeft(expr));
}

/** The facts that hold when `cond` evaluated to 0. */
export function zeroFacts(cond: Ref, layout: Layout): Fact[] {
  const id = binaryen.getExpressionId(cond);
  if (id === binaryen.LoadId) {
    const a = tableLoad(cond, layout);
    return a ? loadFacts(a, Access.Write, true, layout) : [];
  }
  if (id !== binaryen.BinaryId) return [];
  const op = nodes.Binary.getOp(cond);
  const [left, right] = [nodes.Binary.getLeft(cond), nodes.Binary.getRight(cond)];
  const b = boundWhenFalse(cond);
  if (b) return [{ type: "bound", key: b.key, lo: b.bound.lo, hi: b.bound.hi }];
  if (op === binaryen.OrInt32) return [...zeroFacts(left, layout), ...zeroFacts(right, layout)];
  const mask = constant(right);
  if (op === binaryen.AndInt32 && (mask === NO_READ || mask === PAIR_NO_READ)) {
    const loads = orOfTableLoads(left, layout);
    return loads ? loads.flatMap((a) => loadFacts(a, Access.Read, mask === PAIR_NO_READ, layout)) : [];
  }
  if (op === binaryen.GtUInt32) {
    const limit = constant(right);
    if (limit === undefined || limit < 0 || limit >= layout.pageSize) return [];
    if (binaryen.getExpressionId(left) !== binaryen.BinaryId || nodes.Binary.getOp(left) !== binaryen.SubInt32) return [];
    const a = addressOf(nodes.Binary.getLeft(left));
    const slot = nodes.Binary.getRight(left);
    if (!a || binaryen.getExpressionId(slot) !== binaryen.LocalGetId) return [];
    return [{ type: "inside", key: a.key, delta: a.delta, width: layout.pageSize - limit, slot: nodes.LocalGet.getIndex(slot) }];
  }
  return [];
}

/**
 * The terms of a guard known not to be 0 (see `term` in the file comment). The flag reset before
 * it only matters for progress: a flag left set makes the guard fail.
 */
export function guardFacts(guard: Ref): Fact[] {
  const terms: Ref[] = [];
  const split = (e: Ref) => {
    if (binaryen.getExpressionId(e) === binaryen.BinaryId && nodes.Binary.getOp(e) === binaryen.AndInt32) {
      split(nodes.Binary.getLeft(e));
      split(nodes.Binary.getRight(e));
    } else terms.push(e);
  };
  split(guard);
  return terms.map((t) => ({ type: "term", text: binaryen.emitText(t), reads: readsOf(t) }));
}

function readsOf(e: Ref): Key[] {
  const keys = new Set<Key>();
  const walk = (x: Ref) => {
    const id = binaryen.getExpressionId(x);
    if (id === binaryen.LocalGetId) keys.add(`l${nodes.LocalGet.getIndex(x)}`);
    if (id === binaryen.GlobalGetId) keys.add(`g${nodes.GlobalGet.getName(x)}`);
    for (const child of childrenOf(x, id)) walk(child);
  };
  walk(e);
  return [...keys];
}

/** A page fact; for an absolute address, a span over its whole page. */
export function pageFact(a: { key: Key; delta: number }, kind: Access, layout: Layout): Fact {
  if (a.key !== "c") return { type: "page", key: a.key, delta: a.delta, kind };
  const first = ((a.delta >>> layout.pageShift) << layout.pageShift) | 0;
  return { type: "span", key: "c", lo: first, hi: (first + layout.pageSize - 1) | 0, kind };
}

function orOfTableLoads(expr: Ref, layout: Layout): { key: Key; delta: number; pair: boolean }[] | undefined {
  const a = tableLoad(expr, layout);
  if (a) return [a];
  if (binaryen.getExpressionId(expr) !== binaryen.BinaryId || nodes.Binary.getOp(expr) !== binaryen.OrInt32) return undefined;
  const left = orOfTableLoads(nodes.Binary.getLeft(expr), layout);
  const right = left && orOfTableLoads(nodes.Binary.getRight(expr), layout);
  return left && right ? [...left, ...right] : undefined;
}
