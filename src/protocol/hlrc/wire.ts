/**
 * What home-based lazy release consistency (hlrc.ts) puts on the wire beyond lrc's (release/wire.ts:
 * vector times and interval records on lock grants and barriers, and the "diffs" payload).
 *
 *   HlrcFlush        writer → home   version = interval, arg = the writer's previous interval
 *                                    flushed to this home (0: none); payload: one diff per page
 *                                    of that home the interval wrote ("diffs", release/wire.ts)
 *   HlrcFlushAck     home → writer   version = the interval applied
 *   HlrcPageRequest  node → home     page = the first page asked for; JSON {pages, need}
 *   HlrcPageReply    home → node     page = the request's; payload: the pages, whole, in order
 */
import type { DecodeContext } from "../codec.js";
import { MAX_PAGES_PAYLOAD } from "../codec_checks.js";
import { isObject, isU32 } from "../wire_checks.js";

/**
 * node → home. `need`: [writer, interval] pairs; the home answers once it has applied every
 * flush of each writer up to that interval (its own writes are always in its copy).
 */
export interface HlrcPageRequestBody {
  pages: number[];
  need: [number, number][];
}

export function validateHlrcPageRequest(body: unknown, ctx: DecodeContext): string | undefined {
  if (!isObject(body) || !Array.isArray(body.pages) || body.pages.length === 0 || body.pages.length > MAX_PAGES_PAYLOAD) {
    return `page request needs 1..${MAX_PAGES_PAYLOAD} pages`;
  }
  for (const p of body.pages) {
    if (!isU32(p) || (ctx.firstPage !== undefined && ctx.pageCount !== undefined && (p < ctx.firstPage || p >= ctx.firstPage + ctx.pageCount))) {
      return `page request names page ${String(p)}, outside the shared region`;
    }
  }
  if (!Array.isArray(body.need)) return "page request needs a list of [writer, interval]";
  for (const entry of body.need) {
    if (!Array.isArray(entry) || entry.length !== 2 || !isU32(entry[0]) || entry[0] >= ctx.nodeCount || !isU32(entry[1]) || entry[1] < 1) {
      return `page request need entries must be [node below ${ctx.nodeCount}, interval >= 1]`;
    }
  }
  return undefined;
}
