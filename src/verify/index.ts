// Tools that check what a run did: the linearizability checker and the decoder of the history
// kernel's logs.
export {
  checkLinearizable,
  describeOperation,
  CheckBudgetError,
  HistoryError,
  DEFAULT_MAX_STATES,
  type Operation,
  type CheckResult,
  type CheckOptions,
} from "./linearizability.js";
export { decodeHistoryLog, historyLogBytes, HistoryLogError, HISTORY_MAGIC, HISTORY_HEADER_WORDS, HISTORY_RECORD_WORDS } from "./history_log.js";
