/**
 * What lrc's access misses fetch (lrc.ts): diffs from the writers of a page, and whole pages for
 * stale copies.
 *
 * Diffs: one request per writer, naming runs of its intervals per page (see lrc.ts for the
 * diagram); the writer merges each run's diffs into one and replies with a prefix of them when
 * they are large, and the requester asks again for the rest.
 *
 * Whole pages: a garbage collection leaves a page stale on a node that did not write it since the
 * previous collection and still had notices of it: the notices are dropped unapplied, and the
 * collection names one writer (the highest-numbered, so every node names the same) that validated
 * the page and so holds a complete copy.
 *
 *   node ── LrcPageRequest(p) ──▶ source            (again after retryMs while no reply comes)
 *   node ◀── LrcPageReply(p, the source's current bytes of p) ── source
 *
 * The source answers every copy of the request with its bytes at that moment, so a repeated
 * request is harmless. A page the source's kernel may be writing (read-write there) is read while
 * its kernel is parked.
 */
import { Protection } from "../abi.js";
import type { PagePort } from "./coherence.js";
import { MessageKind, type DecodeContext, type Message } from "./codec.js";
import type { Endpoint } from "./endpoint.js";
import { LrcDiffMissingError, PageTimeoutError } from "./errors.js";
import { mergeWordDiffs, type WordDiff } from "./lrc_diff.js";
import type { WriteNotice } from "./lrc_intervals.js";
import { decodeIntervalDiffs, encodeIntervalDiffs, entryBytes, type IntervalDiff, type LrcDiffRequestBody } from "./lrc_wire.js";

/** A diff reply stops adding diffs past this size; the requester asks again for the rest. */
const REPLY_BYTES = 512 << 10;

/** Consecutive notices of one writer for one page, fetched as one merged diff. */
export interface Run {
  page: number;
  notices: WriteNotice[];
  diff: WordDiff | undefined;
}

export const runKey = (page: number, lastInterval: number) => `${page}.${lastInterval}`;

/** Asks `writer` for the wanted runs (keyed by runKey), again while its replies are partial; sets each run's diff. */
export async function fetchDiffs(endpoint: Endpoint, writer: number, wanted: Map<string, Run>, ctx: DecodeContext, timeoutMs: number, counters: { diffRequests: number }): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (wanted.size > 0) {
    const body: LrcDiffRequestBody = { pages: [...wanted.values()].map((run) => [run.page, run.notices.map((n) => n.index)]) };
    const page = body.pages[0][0];
    counters.diffRequests++;
    const reply = await endpoint.call(
      writer,
      { kind: MessageKind.LrcDiffRequest, page, body },
      {
        replies: [MessageKind.LrcDiffReply],
        accept: (m) => m.page === page,
        timeoutMs: Math.max(1, deadline - Date.now()),
        timeout: () => new PageTimeoutError(page, writer, "read", timeoutMs),
      },
    );
    const entries = decodeIntervalDiffs(reply.payload, ctx, false);
    if (entries.length === 0) throw new LrcDiffMissingError(page, writer, body.pages[0][1][0]);
    for (const { page: p, interval, diff } of entries) {
      const key = runKey(p, interval);
      const run = wanted.get(key);
      if (!run) continue;
      wanted.delete(key);
      run.diff = diff;
    }
  }
}

/**
 * Writer role: for each run asked for (a page and consecutive intervals of this node), one diff
 * merging the run's diffs (`diffOf` gives each, undefined when unknown), named by its last
 * interval; in the order asked, stopping at REPLY_BYTES or at a run this node cannot serve.
 */
export function serveDiffs(
  endpoint: Endpoint,
  msg: Message,
  diffOf: (page: number, interval: number) => WordDiff | undefined,
  pageSize: number,
  counters: { diffsSent: number; diffBytes: number },
): void {
  const { pages } = msg.body as LrcDiffRequestBody;
  const entries: IntervalDiff[] = [];
  let size = 0;
  for (const [page, intervals] of pages) {
    const diffs: WordDiff[] = [];
    let missing = false;
    for (const interval of intervals) {
      const diff = diffOf(page, interval);
      if (!diff) missing = true;
      else diffs.push(diff);
    }
    if (missing) break; // the requester reports the run missing
    const merged = mergeWordDiffs(pageSize, diffs);
    if (entries.length > 0 && size + entryBytes(merged) > REPLY_BYTES) break;
    entries.push({ page, interval: intervals[intervals.length - 1], diff: merged });
    size += entryBytes(merged);
    counters.diffsSent += intervals.length;
  }
  counters.diffBytes += size;
  endpoint.send(msg.source, { kind: MessageKind.LrcDiffReply, page: msg.page, request: msg.request, payload: encodeIntervalDiffs(entries) });
}

/** Asks `source` for its bytes of `page`; rejects with PageTimeoutError after `timeoutMs`. */
export async function fetchPage(endpoint: Endpoint, source: number, page: number, access: "read" | "write", timeoutMs: number): Promise<Uint8Array> {
  const reply = await endpoint.call(
    source,
    { kind: MessageKind.LrcPageRequest, page },
    {
      replies: [MessageKind.LrcPageReply],
      accept: (m) => m.page === page,
      timeoutMs,
      timeout: () => new PageTimeoutError(page, source, access, timeoutMs),
    },
  );
  return reply.payload;
}

/** Source role: replies with this node's current bytes of the page asked for. */
export async function servePage(endpoint: Endpoint, port: PagePort, msg: Message): Promise<void> {
  const read = () => port.page(msg.page).slice();
  const bytes = port.protection(msg.page) === Protection.ReadWrite ? await port.whenParked(read) : read();
  endpoint.send(msg.source, { kind: MessageKind.LrcPageReply, page: msg.page, request: msg.request, payload: bytes });
}
