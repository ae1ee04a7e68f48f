// The coherence protocols, chosen by name (--protocol), and what callers need around them.
import type { Coherence } from "./coherence.js";
import { createDiff } from "./diff_protocol.js";
import { UnknownProtocolError } from "./errors.js";
import { createIvy } from "./ivy.js";
import { createHlrc } from "./hlrc/hlrc.js";
import { createLrc } from "./lrc/lrc.js";
import { createMigrate } from "./migrate.js";
import type { ProtocolOptions } from "./page_protocol.js";

export const PROTOCOLS = ["migrate", "ivy", "diff", "lrc", "hlrc"] as const;
export type ProtocolName = (typeof PROTOCOLS)[number];

const FACTORIES: Record<ProtocolName, (options: ProtocolOptions) => Coherence> = {
  migrate: createMigrate,
  ivy: createIvy,
  diff: createDiff,
  lrc: createLrc,
  hlrc: createHlrc,
};

export function isProtocolName(name: string): name is ProtocolName {
  return (PROTOCOLS as readonly string[]).includes(name);
}

/** The protocol `name` for one node; throws {@link UnknownProtocolError} for a name not in {@link PROTOCOLS}. */
export function createProtocol(name: string, options: ProtocolOptions): Coherence {
  if (!isProtocolName(name)) throw new UnknownProtocolError(name, PROTOCOLS);
  return FACTORIES[name](options);
}

export { createDiff, DiffProtocol, DEFAULT_HISTORY_BYTES, DEFAULT_HISTORY_LENGTH } from "./diff_protocol.js";
export { createIvy, IvyProtocol } from "./ivy.js";
export { createLrc, LrcProtocol, DEFAULT_GC_BYTES, type LrcOptions } from "./lrc/lrc.js";
export { createHlrc, HlrcProtocol, type HlrcOptions } from "./hlrc/hlrc.js";
export { createMigrate, MigrateProtocol, homeOf } from "./migrate.js";
export { defaultRetryMs, type ProtocolOptions, type ProtocolTuning } from "./page_protocol.js";
export {
  AllocationMismatchError,
  BarrierCountError,
  InvalidProtocolOptionError,
  LockStateError,
  LockUsageError,
  LrcDiffMissingError,
  LrcStateError,
  PageRangeError,
  PageTimeoutError,
  ProtocolClosedError,
  SyncTimeoutError,
  UnknownProtocolError,
} from "./errors.js";
export { CodecError, MessageKind, decodeMessage, encodeMessage, describeMessage, kindName, type Message } from "./codec.js";
export type { Coherence, PagePort, ProtocolContext, ProtocolFactory, ProtocolStats } from "./coherence.js";
