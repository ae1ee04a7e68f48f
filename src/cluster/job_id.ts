import { randomBytes } from "node:crypto";

/** A fresh job name: a NATS subject token. */
export function newJobName(): string {
  return `j${randomBytes(5).toString("hex")}`;
}

/** The job's number carried in every message header (FNV-1a of the name). */
export function jobNumber(job: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < job.length; i++) {
    h ^= job.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
