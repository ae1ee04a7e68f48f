/** Type guards for the JSON bodies of messages, shared by the codec's body validators. */
import type { DecodeContext } from "./codec.js";

export const isU32 = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
export const isPair = (v: unknown): v is [number, number] => Array.isArray(v) && v.length === 2 && isU32(v[0]) && isU32(v[1]);
export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
export const isNode = (v: unknown, ctx: DecodeContext): boolean => isU32(v) && v < ctx.nodeCount;
