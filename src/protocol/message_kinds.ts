/**
 * The kinds of wasm-dsm messages, with what each carries (checked by the codec, codec.ts, against
 * its KIND_SPECS), and the barrier flags.
 */
export const MessageKind = {
  /** node → barrier manager (node 0), or without a manager to every other node (peer_barriers.ts): version = epoch, arg = flags, JSON {@link ArriveBody}. */
  BarrierArrive: 1,
  /** manager → node: version = epoch, request = that node's arrive, JSON {@link ReleaseBody}. */
  BarrierRelease: 2,
  /** manager → node, answering a repeated arrive: JSON {@link BarrierWaitBody}. */
  BarrierWait: 3,
  /** node → manager after the final barrier's release, so the manager may stop (without a manager: to every other node); arg = flags. */
  BarrierDone: 4,
  /** node → lock manager: arg = lock id, JSON {@link LockAcquireBody} (token_locks.ts). */
  LockAcquire: 5,
  /** the lock's previous holder → acquirer: arg = lock id, request = the acquire's, JSON {@link LockGrantBody}. */
  LockGrant: 6,
  /** lock manager → the lock's previous requester: arg = lock id, JSON {@link LockForwardBody}. */
  LockForward: 7,
  /** requester → page manager: version = the requester's version of the page. */
  ReadRequest: 16,
  WriteRequest: 17,
  /** manager → holder: version = the holder's version, arg = requester, u32 payload = requester's version. */
  ReadForward: 18,
  WriteForward: 19,
  /** holder → requester: the whole page at `version`; arg = access granted. */
  PageData: 20,
  /** holder → requester: a diff from the requester's version to `version`; arg = access granted. */
  DiffData: 21,
  /** manager → requester: access without data (the requester's copy is current). */
  Grant: 22,
  /** manager → copy holder: drop copies of version ≤ `version`; arg = requester. */
  Invalidate: 23,
  InvalidateAck: 24,
  /** requester → manager: the page is installed; arg = access. */
  Confirm: 25,
  ConfirmAck: 26,
  /**
   * copy holder → manager, as it arrives at a barrier: it dropped its read-only copies of these
   * pages (self_invalidation.ts); entries as a Confirm's, request = the read that installed each.
   */
  Relinquish: 27,
  /**
   * owner and manager → a node that relinquished the page's previous version, as the owner
   * arrives at a barrier (page_pushes.ts): the page at `version`, whole; request = the node's last
   * transaction on the page, arg = the barrier (the owner's count of barriers, this one included).
   */
  PagePush: 28,
  /** As PagePush, with a diff from the version in the payload's first u32 ("baseDiff" payload). */
  DiffPush: 29,
  /** lrc, faulting node → a writer of the page: JSON {@link LrcDiffRequestBody}. */
  LrcDiffRequest: 35,
  /** lrc, writer → requester: the diffs asked for (a prefix of them when large), "diffs" payload. */
  LrcDiffReply: 36,
  /** lrc, faulting node → the node a collection named as holding a complete copy of the page. */
  LrcPageRequest: 37,
  /** lrc, that node → requester: its current bytes of the page, "page" payload. */
  LrcPageReply: 38,
  /** hlrc, writer → home: its diffs of one interval for pages of that home; version = interval, arg = the previous interval it flushed to that home (0: none), "diffs" payload. */
  HlrcFlush: 44,
  /** hlrc, home → writer: the flush of interval `version` is applied. */
  HlrcFlushAck: 45,
  /** hlrc, node → home: pages, and per writer the newest interval whose writes they must hold: JSON {@link HlrcPageRequestBody}. */
  HlrcPageRequest: 46,
  /** hlrc, home → requester: the pages asked for, whole, in the order asked ("pages" payload). */
  HlrcPageReply: 47,
  /**
   * hlrc over links that leave the process, home → a node that fetched the pages: the master
   * copies of a run of pages written since the home's previous barrier, sent as it arrives at the
   * barrier (hlrc/pushes.ts); page = the first, "pushed" payload.
   */
  HlrcPush: 48,
  /** hlrc, node → home: stop pushing `page` here (the node left two pushes of it unread). */
  HlrcPushDecline: 49,
  /** Any node → any node: one slice of a message larger than the transport carries; request = set id (fragments.ts). */
  Fragment: 40,
} as const;
export type MessageKind = (typeof MessageKind)[keyof typeof MessageKind];

const KIND_NAMES = new Map<number, string>(Object.entries(MessageKind).map(([name, kind]) => [kind, name]));

/** The kind's name, e.g. "ReadForward"; `kind 99` for an unknown one. */
export function kindName(kind: number): string {
  return KIND_NAMES.get(kind) ?? `kind ${kind}`;
}

/**
 * Flags of BarrierArrive, BarrierRelease and BarrierDone. Repeat (peer barriers only,
 * peer_barriers.ts): the sender sends this again because it still lacks the receiver's own.
 */
export const BarrierFlag = { Final: 1, Repeat: 2 } as const;
