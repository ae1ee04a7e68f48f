/**
 * Where checkpoints are kept, and what makes one valid.
 *
 * A checkpoint N of a job is a set of objects — one part per node (part.ts), each with a small
 * record of its size and SHA-256 — and a manifest written last, by node 0, once every part is
 * stored. Checkpoint N exists only once its manifest does; checkpoint N−1 is removed only after
 * that, so a crash at any moment leaves one whole checkpoint. Reading a part checks its size and
 * checksum against the manifest.
 *
 * {@link DirectoryStore}: `<dir>/<job>/<N>/node-<i>.part`, `node-<i>.json`, `manifest.json`
 * (written to a temporary name, flushed, then renamed, which is atomic on one file system);
 * nats_store.ts: the same objects in a JetStream object store.
 */
import { createHash } from "node:crypto";
import { closeSync, existsSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { CheckpointCorruptError, ResumeError } from "./errors.js";
import type { NatsStoreSpec } from "./nats_store.js";

/** What a checkpoint must have been taken with for a job to resume from it. */
export interface JobSetting {
  kernel: string;
  /** SHA-256 of the kernel module's bytes. */
  kernelSha256: string;
  args: string[];
  nodes: number;
  protocol: string;
  pageSize: number;
}

export interface PartRecord {
  node: number;
  name: string;
  bytes: number;
  sha256: string;
}

export interface Manifest {
  format: 1;
  job: string;
  checkpoint: number;
  setting: JobSetting;
  parts: PartRecord[];
  committedAt: string;
}

export interface CheckpointStore {
  /** For messages: where the job's checkpoints are. */
  readonly where: string;
  /** Stores one node's part of checkpoint `n` (and its record, with the part's SHA-256 `digest`); returns the record. */
  putPart(n: number, node: number, bytes: Uint8Array, digest: string): Promise<PartRecord>;
  /** The records of checkpoint `n`'s parts, one per node; a missing one throws CheckpointCorruptError. */
  partRecords(n: number, nodes: number): Promise<PartRecord[]>;
  /** Writes the manifest (which commits checkpoint `manifest.checkpoint`), then drops older ones. */
  commit(manifest: Manifest): Promise<void>;
  /**
   * The highest checkpoint number with a part's record or a manifest in the store (0: none): a
   * new checkpoint takes a higher one, so no record of an earlier attempt is taken for its own.
   */
  highest(): Promise<number>;
  /** Whether checkpoint `n`'s manifest is stored. */
  committed(n: number): Promise<boolean>;
  /** The newest committed manifest, or undefined when the job has none. */
  latest(): Promise<Manifest | undefined>;
  /** A part of a committed checkpoint, checked against its record. */
  getPart(manifest: Manifest, node: number): Promise<Uint8Array>;
  /** Removes every checkpoint of the job (it finished). */
  drop(): Promise<void>;
  close(): Promise<void>;
}

export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Plain data naming a store, so it can be posted to a node's worker. */
export type StoreSpec = { kind: "dir"; path: string } | NatsStoreSpec;

export async function openStore(spec: StoreSpec, job: string): Promise<CheckpointStore> {
  // Loaded only when used: the nats client is most of what a node's worker would load otherwise.
  if (spec.kind === "nats") return (await import("./nats_store.js")).NatsObjectStore.connect(spec, job);
  return new DirectoryStore(spec.path, job);
}

/** The newest committed manifest of `job` in the store `spec` names (undefined: none), and where that store is, for messages. */
export async function latestCheckpoint(spec: StoreSpec, job: string): Promise<{ manifest: Manifest | undefined; where: string }> {
  const store = await openStore(spec, job);
  try {
    return { manifest: await store.latest(), where: store.where };
  } finally {
    await store.close();
  }
}

export class DirectoryStore implements CheckpointStore {
  readonly where: string;

  constructor(root: string, readonly job: string) {
    this.where = join(root, job);
  }

  async putPart(n: number, node: number, bytes: Uint8Array, digest: string): Promise<PartRecord> {
    const dir = this.dir(n);
    mkdirSync(dir, { recursive: true });
    const name = `node-${node}.part`;
    const file = join(dir, name);
    // The node's part of a removed checkpoint, if there is one, is written over: its pages are in
    // the page cache already, which makes the write a copy (4 ms for 32 MiB here, against 60–80 ms
    // for a new file). A file already there (a stopped attempt at N) is written over as it is.
    let reuse = false;
    if (!existsSync(file)) {
      try {
        renameSync(join(this.where, SPARE, name), file);
        reuse = true;
      } catch {
        // none spare
      }
    }
    writeDurably(file, bytes, reuse);
    const record: PartRecord = { node, name, bytes: bytes.length, sha256: digest };
    writeDurably(join(dir, `node-${node}.json`), new TextEncoder().encode(JSON.stringify(record)));
    return record;
  }

  async partRecords(n: number, nodes: number): Promise<PartRecord[]> {
    const records: PartRecord[] = [];
    for (let node = 0; node < nodes; node++) {
      const file = join(this.dir(n), `node-${node}.json`);
      let record: PartRecord;
      try {
        record = JSON.parse(readFileSync(file, "utf8")) as PartRecord;
      } catch {
        throw new CheckpointCorruptError(n, file, "is missing or unreadable");
      }
      records.push(record);
    }
    return records;
  }

  async commit(manifest: Manifest): Promise<void> {
    const file = join(this.dir(manifest.checkpoint), "manifest.json");
    writeDurably(`${file}.tmp`, new TextEncoder().encode(JSON.stringify(manifest, null, 1)));
    renameSync(`${file}.tmp`, file);
    // Older checkpoints go: their parts are kept aside to be written over by the next ones (putPart), the rest in the background.
    mkdirSync(join(this.where, SPARE), { recursive: true });
    for (const n of this.numbers()) {
      if (n >= manifest.checkpoint) continue;
      for (const record of manifest.parts) {
        try {
          renameSync(join(this.dir(n), record.name), join(this.where, SPARE, record.name));
        } catch {
          // not there
        }
      }
      void rm(this.dir(n), { recursive: true, force: true }).catch(() => undefined);
    }
  }

  async highest(): Promise<number> {
    const recorded = this.numbers().filter((n) => {
      try {
        return readdirSync(this.dir(n)).some((name) => name.endsWith(".json"));
      } catch {
        return false;
      }
    });
    return Math.max(0, ...recorded);
  }

  async committed(n: number): Promise<boolean> {
    return existsSync(join(this.dir(n), "manifest.json"));
  }

  async latest(): Promise<Manifest | undefined> {
    for (const n of this.numbers().sort((a, b) => b - a)) {
      const file = join(this.dir(n), "manifest.json");
      let text: string;
      try {
        text = readFileSync(file, "utf8");
      } catch {
        continue; // not committed: a checkpoint stopped half-way
      }
      try {
        return JSON.parse(text) as Manifest;
      } catch {
        throw new CheckpointCorruptError(n, file, "is not valid JSON");
      }
    }
    return undefined;
  }

  async getPart(manifest: Manifest, node: number): Promise<Uint8Array> {
    const record = manifest.parts.find((p) => p.node === node);
    const n = manifest.checkpoint;
    if (!record) throw new CheckpointCorruptError(n, `the manifest in ${this.dir(n)}`, `lists no part of node ${node}`);
    const file = join(this.dir(n), record.name);
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(file);
    } catch {
      throw new CheckpointCorruptError(n, file, "is missing");
    }
    if (bytes.length !== record.bytes || sha256(bytes) !== record.sha256) throw new CheckpointCorruptError(n, file, `does not match its checksum (${bytes.length} bytes, expected ${record.bytes}); it was changed or damaged`);
    return bytes;
  }

  async drop(): Promise<void> {
    rmSync(this.where, { recursive: true, force: true });
  }

  async close(): Promise<void> {}

  private dir(n: number): string {
    return join(this.where, String(n));
  }

  private numbers(): number[] {
    let names: string[];
    try {
      names = readdirSync(this.where);
    } catch {
      return [];
    }
    return names.filter((name) => /^\d+$/.test(name)).map(Number);
  }
}

/** Where a directory store keeps the parts of removed checkpoints, to be written over. */
const SPARE = "spare";

/**
 * Writes `file` (`over`: an existing file, written over and cut to length) and flushes it to
 * disk. Synchronous: parts, records and manifests are written on a node's part thread
 * (part_thread.ts), while its kernel computes.
 */
function writeDurably(file: string, bytes: Uint8Array, over = false): void {
  const fd = openSync(file, over ? "r+" : "w");
  try {
    let at = 0;
    while (at < bytes.length) at += writeSync(fd, bytes, at, bytes.length - at);
    if (over) ftruncateSync(fd, bytes.length);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}


/** Refuses to resume from a checkpoint taken with another setting, naming the first difference. */
export function checkSetting(manifest: Manifest, setting: JobSetting, where: string): void {
  const taken = manifest.setting;
  const differences: string[] = [];
  if (taken.kernel !== setting.kernel || taken.kernelSha256 !== setting.kernelSha256) differences.push(`the kernel (${taken.kernel}, sha256 ${taken.kernelSha256.slice(0, 12)}…; this run: ${setting.kernel}, ${setting.kernelSha256.slice(0, 12)}…)`);
  if (JSON.stringify(taken.args) !== JSON.stringify(setting.args)) differences.push(`the arguments (-- ${taken.args.join(" ")}; this run: -- ${setting.args.join(" ")})`);
  if (taken.nodes !== setting.nodes) differences.push(`the node count (--nodes ${taken.nodes}; this run: ${setting.nodes})`);
  if (taken.protocol !== setting.protocol) differences.push(`the protocol (--protocol ${taken.protocol}; this run: ${setting.protocol})`);
  if (taken.pageSize !== setting.pageSize) differences.push(`the page size (${taken.pageSize}; this run: ${setting.pageSize})`);
  if (differences.length > 0) {
    throw new ResumeError(`checkpoint ${manifest.checkpoint} of job ${manifest.job} in ${where} was taken with another ${differences.join(", ")}; resume with the same setting, or start afresh under another --job name`);
  }
}
