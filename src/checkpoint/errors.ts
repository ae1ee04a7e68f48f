/** Errors of checkpoints and of resuming from them, one class per condition a user acts on. */

/** A kernel or a checkpoint cannot be saved or put back (a build without unwinding, a stack too deep). */
export class CheckpointError extends Error {
  override name = "CheckpointError";
}

/** A stored checkpoint object is missing or does not match its checksum. */
export class CheckpointCorruptError extends Error {
  override name = "CheckpointCorruptError";
  constructor(readonly checkpoint: number, readonly object: string, detail: string) {
    super(`checkpoint ${checkpoint}: ${object} ${detail}`);
  }
}

/** --resume found nothing to resume, or a checkpoint of another job setting. */
export class ResumeError extends Error {
  override name = "ResumeError";
}
