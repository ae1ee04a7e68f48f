/** Type guards for the JSON bodies of messages, shared by the codec's body validators. */
import type { DecodeContext } from "./codec.js";

export const isU32 = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
export const isPair = (v: unknown): v is [number, number] => Array.isArray(v) && v.length === 2 && isU32(v[0]) && isU32(v[1]);
export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
export const isNode = (v: unknown, ctx: DecodeContext): boolean => isU32(v) && v < ctx.nodeCount;
/** A page number inside the shared region, when the context gives the region. */
export const isPage = (v: unknown, ctx: DecodeContext): v is number =>
  isU32(v) && (ctx.firstPage === undefined || ctx.pageCount === undefined || (v >= ctx.firstPage && v < ctx.firstPage + ctx.pageCount));
