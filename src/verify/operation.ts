/** One operation of a history of read/write registers, as the checker and the log decoder see it. */
export interface Operation {
  node: number;
  kind: "read" | "write";
  address: number;
  /** The value written, or the value the read returned. */
  value: number;
  /** Microseconds; start <= end. */
  start: number;
  end: number;
}

/** `read of 5 by node 1 at [10, 20] µs`, for messages. */
export function describeOperation(op: Operation): string {
  return `${op.kind} of ${op.value} by node ${op.node} at [${op.start}, ${op.end}] µs`;
}
