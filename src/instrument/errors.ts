/** Thrown when a module cannot be instrumented; the pass fails closed rather than leave an access unchecked. */
export class InstrumentError extends Error {
  override name = "InstrumentError";
}
