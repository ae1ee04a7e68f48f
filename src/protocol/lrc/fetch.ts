/**
 * What lrc's access misses fetch (lrc.ts): diffs from the writers of a page, and whole pages for
 * stale copies; {@link fetchAndApply} brings a batch of pages up to date with both.
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
import { Protection } from "../../abi.js";
import type { PagePort } from "../coherence.js";
import { MessageKind, type DecodeContext, type Message } from "../codec.js";
import type { Endpoint } from "../endpoint.js";
import { all, flow, Future, wait, type Flow } from "../future.js";
import type { ByteArena } from "../release/arena.js";
import { LrcDiffMissingError, PageTimeoutError } from "../errors.js";
import { applyWordDiff, mergeWordDiffs, type WordDiff } from "../release/word_diff.js";
import { hbOrder, mergeableRuns, type WriteNotice } from "../release/intervals.js";
import type { LrcPages } from "./pages.js";
import { encodeIntervalDiffs, walkIntervalDiffs, entryBytes, type IntervalDiff, type LrcDiffRequestBody } from "../release/wire.js";

/** The reply kinds of this file's exchanges: one array, not one per exchange. */
const LRC_DIFF_REPLY_REPLIES: readonly MessageKind[] = [MessageKind.LrcDiffReply];
const LRC_PAGE_REPLY_REPLIES: readonly MessageKind[] = [MessageKind.LrcPageReply];

/** A diff reply stops adding diffs past this size; the requester asks again for the rest. */
const REPLY_BYTES = 512 << 10;

/** Consecutive notices of one writer for one page, fetched as one merged diff. */
export interface Run {
  page: number;
  notices: WriteNotice[];
  diff: WordDiff | undefined;
}

export const runKey = (page: number, lastInterval: number) => `${page}.${lastInterval}`;

/**
 * Asks `writer` for the wanted runs (keyed by runKey), again while its replies are partial; sets
 * each run's diff. The reply is read where it arrives (a ring's bytes, lent for the moment): each
 * wanted diff is copied into `arena`, and the caller frees it once applied, so a 128 KiB reply
 * costs no buffer of its own.
 */
export function* fetchDiffs(endpoint: Endpoint, writer: number, wanted: Map<string, Run>, ctx: DecodeContext, arena: ByteArena, timeoutMs: number, counters: { diffRequests: number }): Flow<void> {
  const deadline = endpoint.scheduler.now() + timeoutMs;
  while (wanted.size > 0) {
    const body: LrcDiffRequestBody = { pages: [...wanted.values()].map((run) => [run.page, run.notices.map((n) => n.index)]) };
    const page = body.pages[0][0];
    counters.diffRequests++;
    const replied = new Future<void>();
    endpoint.exchange(
      writer,
      { kind: MessageKind.LrcDiffRequest, page, body },
      {
        replies: LRC_DIFF_REPLY_REPLIES,
        accept: (m) => m.page === page,
        timeoutMs: Math.max(1, deadline - endpoint.scheduler.now()),
        timeout: () => new PageTimeoutError(page, writer, "read", timeoutMs),
        borrows: true,
      },
      (reply) => {
        let got = 0;
        walkIntervalDiffs(reply.payload, ctx, false, ({ page: p, interval, diff }) => {
          got++;
          const key = runKey(p, interval);
          const run = wanted.get(key);
          if (!run) return;
          wanted.delete(key);
          const bytes = arena.take(diff.bytes.byteLength);
          bytes.set(diff.bytes);
          run.diff = { form: diff.form, bytes };
        });
        if (got === 0) replied.reject(new LrcDiffMissingError(page, writer, body.pages[0][1][0]));
        else replied.resolve();
      },
      (error) => replied.reject(error),
    );
    yield* wait(replied);
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
  endpoint.send(msg.source, { kind: MessageKind.LrcDiffReply, page: msg.page, request: msg.request, payload: encodeIntervalDiffs(entries, true) });
}

/** Asks `source` for its bytes of `page`; rejects with PageTimeoutError after `timeoutMs`. */
export function fetchPage(endpoint: Endpoint, source: number, page: number, access: "read" | "write", timeoutMs: number): Future<Message> {
  return endpoint.call(
    source,
    { kind: MessageKind.LrcPageRequest, page },
    {
      replies: LRC_PAGE_REPLY_REPLIES,
      accept: (m) => m.page === page,
      timeoutMs,
      timeout: () => new PageTimeoutError(page, source, access, timeoutMs),
    },
  );
}

/** Source role: replies with this node's current bytes of the page asked for. */
export function servePage(endpoint: Endpoint, port: PagePort, msg: Message): void {
  const send = () => endpoint.send(msg.source, { kind: MessageKind.LrcPageReply, page: msg.page, request: msg.request, payload: port.page(msg.page) });
  if (port.protection(msg.page) === Protection.ReadWrite) port.whenParked(send, (error) => endpoint.fail(error));
  else send();
}

/** What {@link fetchAndApply} works with: one node's endpoint, memory and page state. */
export interface FetchContext {
  endpoint: Endpoint;
  port: PagePort;
  pages: LrcPages;
  decodeContext: DecodeContext;
  /** Where fetched diffs wait until applied (fetchDiffs). */
  replies: ByteArena;
  timeoutMs: number;
  counters: { diffRequests: number; diffsApplied: number; pagesFetched: number };
}

/**
 * Fetches every diff pending for `pages` and applies them; the pages end read-only (parked).
 * A stale page is first installed whole from its source. Per page, the notices are sorted into
 * happens-before order and grouped into runs of one writer (mergeableRuns); each run comes as
 * one diff, merged by its writer, and the runs are applied in order.
 */
export function* fetchAndApply(ctx: FetchContext, pages: readonly number[], access: "read" | "write"): Flow<void> {
  const { endpoint, port, timeoutMs, counters } = ctx;
  const whole = new Map<number, Future<Message>>();
  for (const page of pages) {
    const source = ctx.pages.staleSource(page);
    if (source !== undefined) whole.set(page, fetchPage(endpoint, source, page, access, timeoutMs));
  }
  const byWriter = new Map<number, Map<string, Run>>();
  const plans = new Map<number, Run[]>();
  for (const page of pages) {
    const pending = ctx.pages.pendingOf(page);
    if (!pending) continue;
    const runs = mergeableRuns([...pending].sort(hbOrder)).map((notices): Run => ({ page, notices, diff: undefined }));
    plans.set(page, runs);
    for (const run of runs) {
      const writer = run.notices[0].node;
      let wanted = byWriter.get(writer);
      if (!wanted) byWriter.set(writer, (wanted = new Map()));
      wanted.set(runKey(page, run.notices.at(-1)!.index), run);
    }
  }
  const diffFetches = [...byWriter].map(([writer, wanted]) => flow(fetchDiffs(endpoint, writer, wanted, ctx.decodeContext, ctx.replies, timeoutMs, counters)));
  yield* wait(all([...whole.values(), ...diffFetches]));
  for (const page of pages) {
    const bytes = port.page(page);
    const installed = whole.get(page);
    if (installed) {
      bytes.set(installed.result.payload);
      ctx.pages.fresh(page);
      counters.pagesFetched++;
    }
    for (const run of plans.get(page) ?? []) {
      applyWordDiff(bytes, run.diff!, true);
      ctx.replies.free(run.diff!.bytes);
      counters.diffsApplied += run.notices.length;
    }
    ctx.pages.applied(page);
    if (port.protection(page) === Protection.None) port.setProtection(page, Protection.ReadOnly);
  }
}
