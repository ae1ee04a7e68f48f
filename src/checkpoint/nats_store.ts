/**
 * Checkpoints in a NATS JetStream object store: one bucket per job, `dsm-ckpt-<job>`, with
 * min(3, servers in the cluster) replicas, holding the same objects as a directory store
 * (store.ts): `<N>/node-<i>.part`, `<N>/node-<i>.json`, `<N>/manifest.json`. The manifest is
 * put last; a checkpoint without one is not there. JetStream keeps each object's SHA-256 too;
 * the part record's checksum is checked here on reading, whatever the server says.
 *
 * The servers must run JetStream (`nats-server -js`); without it the first call fails with a
 * CheckpointStoreError saying so.
 */
import { connect, type NatsConnection, type ObjectStore } from "nats";
import { natsConnectionOptions, type NatsAuth } from "../transport/nats_transport.js";
import { CheckpointCorruptError, CheckpointError } from "./errors.js";
import { sha256, type CheckpointStore, type Manifest, type PartRecord } from "./store.js";

export interface NatsStoreSpec {
  kind: "nats";
  servers: string[];
  auth: NatsAuth;
  /** @default min(3, servers in the cluster) */
  replicas?: number;
}

/** Bound on repeating a request that timed out while the cluster elects JetStream leaders. */
const RETRY_BOUND_MS = 20_000;

const MANIFEST = /^(\d+)\/manifest\.json$/;

export function bucketName(job: string): string {
  return `dsm-ckpt-${job.replace(/[^A-Za-z0-9_-]/g, "_")}`;
}

export class NatsObjectStore implements CheckpointStore {
  readonly where: string;
  private bucket: ObjectStore | undefined;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly job: string,
    private readonly replicas: number,
  ) {
    this.where = `the NATS object store ${bucketName(job)} on ${nc.getServer()}`;
  }

  static async connect(spec: NatsStoreSpec, job: string): Promise<NatsObjectStore> {
    let nc: NatsConnection;
    try {
      nc = await connect({ ...natsConnectionOptions({ servers: spec.servers, job, nodeId: 0, nodeCount: 1, ...spec.auth }, spec.servers), name: `dsm-${job}-checkpoints` });
    } catch (error) {
      throw new CheckpointError(`cannot reach the checkpoint store on ${spec.servers.join(", ")}: ${(error as Error).message}`, { cause: error });
    }
    const servers = new Set([nc.getServer(), ...(nc.info?.connect_urls ?? [])]).size;
    return new NatsObjectStore(nc, job, spec.replicas ?? Math.min(3, servers));
  }

  async putPart(n: number, node: number, bytes: Uint8Array, digest: string): Promise<PartRecord> {
    const os = await this.open();
    const name = `node-${node}.part`;
    await this.call(() => os.putBlob({ name: `${n}/${name}`, options: { max_chunk_size: this.chunkBytes } }, bytes), `storing ${n}/${name}`);
    const record: PartRecord = { node, name, bytes: bytes.length, sha256: digest };
    await this.call(() => os.putBlob({ name: `${n}/node-${node}.json` }, new TextEncoder().encode(JSON.stringify(record))), `storing ${n}/node-${node}.json`);
    return record;
  }

  /** Object chunks as large as a message may be (JetStream's default of 128 KiB costs a message per 128 KiB). */
  private get chunkBytes(): number {
    return Math.max(128 * 1024, (this.nc.info?.max_payload ?? 1024 * 1024) - 64 * 1024);
  }

  async partRecords(n: number, nodes: number): Promise<PartRecord[]> {
    const os = await this.open();
    const records: PartRecord[] = [];
    for (let node = 0; node < nodes; node++) {
      const name = `${n}/node-${node}.json`;
      const bytes = await this.call(() => os.getBlob(name), `reading ${name}`);
      if (!bytes) throw new CheckpointCorruptError(n, `${name} in ${this.where}`, "is missing");
      records.push(JSON.parse(new TextDecoder().decode(bytes)) as PartRecord);
    }
    return records;
  }

  async commit(manifest: Manifest): Promise<void> {
    const os = await this.open();
    const n = manifest.checkpoint;
    await this.call(() => os.putBlob({ name: `${n}/manifest.json` }, new TextEncoder().encode(JSON.stringify(manifest))), `storing ${n}/manifest.json`);
    for (const info of await this.call(() => os.list(), "listing objects")) {
      const m = Number(info.name.split("/")[0]);
      if (Number.isInteger(m) && m < n) await this.call(() => os.delete(info.name), `removing ${info.name}`);
    }
  }

  async highest(): Promise<number> {
    const os = await this.existing();
    if (!os) return 0;
    const recorded = (await this.call(() => os.list(), "listing objects")).map((info) => /^(\d+)\/[^/]+\.json$/.exec(info.name)).filter((m) => m !== null);
    return Math.max(0, ...recorded.map((m) => Number(m![1])));
  }

  async committed(n: number): Promise<boolean> {
    const os = await this.open();
    return (await this.call(() => os.info(`${n}/manifest.json`), `looking for ${n}/manifest.json`)) !== null;
  }

  async latest(): Promise<Manifest | undefined> {
    const os = await this.existing();
    if (!os) return undefined;
    const numbers = (await this.call(() => os.list(), "listing objects"))
      .map((info) => MANIFEST.exec(info.name))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => b - a);
    if (numbers.length === 0) return undefined;
    const name = `${numbers[0]}/manifest.json`;
    const bytes = await this.call(() => os.getBlob(name), `reading ${name}`);
    if (!bytes) throw new CheckpointCorruptError(numbers[0]!, `${name} in ${this.where}`, "is missing");
    try {
      return JSON.parse(new TextDecoder().decode(bytes)) as Manifest;
    } catch {
      throw new CheckpointCorruptError(numbers[0]!, `${name} in ${this.where}`, "is not valid JSON");
    }
  }

  async getPart(manifest: Manifest, node: number): Promise<Uint8Array> {
    const os = await this.open();
    const n = manifest.checkpoint;
    const record = manifest.parts.find((p) => p.node === node);
    if (!record) throw new CheckpointCorruptError(n, `the manifest in ${this.where}`, `lists no part of node ${node}`);
    const name = `${n}/${record.name}`;
    let bytes: Uint8Array | null;
    try {
      bytes = await os.getBlob(name);
    } catch (error) {
      throw new CheckpointCorruptError(n, `${name} in ${this.where}`, `cannot be read (${(error as Error).message})`);
    }
    if (!bytes) throw new CheckpointCorruptError(n, `${name} in ${this.where}`, "is missing");
    if (bytes.length !== record.bytes || sha256(bytes) !== record.sha256) throw new CheckpointCorruptError(n, `${name} in ${this.where}`, `does not match its checksum (${bytes.length} bytes, expected ${record.bytes}); it was changed or damaged`);
    return bytes;
  }

  async drop(): Promise<void> {
    const os = await this.existing();
    if (!os) return;
    await this.call(() => os.destroy(), "removing the bucket");
    this.bucket = undefined;
  }

  async close(): Promise<void> {
    await this.nc.close().catch(() => undefined);
  }

  /**
   * The job's bucket if it exists, without creating it: a cluster takes seconds to create a
   * replicated stream, which a job's start-up check need not wait for (the first part, stored
   * while the kernels compute, creates it).
   */
  private async existing(): Promise<ObjectStore | undefined> {
    if (this.bucket) return this.bucket;
    const jsm = await this.call(() => this.nc.jetstreamManager(), "reaching JetStream");
    try {
      await this.call(() => jsm.streams.info(`OBJ_${bucketName(this.job)}`), "looking for the bucket");
    } catch (error) {
      if (/stream not found/i.test(((error as Error).cause as Error | undefined)?.message ?? "")) return undefined;
      throw error;
    }
    return this.open();
  }

  /** Opens (creates) the job's bucket. */
  private async open(): Promise<ObjectStore> {
    this.bucket ??= await this.call(() => this.nc.jetstream().views.os(bucketName(this.job), { replicas: this.replicas }), `opening the bucket (${this.replicas} replicas)`);
    return this.bucket;
  }

  /**
   * Runs one store request. A cluster that has just started, or whose servers came and went,
   * elects JetStream leaders for some seconds and times requests out meanwhile: a timed-out
   * request is made again until RETRY_BOUND_MS have passed.
   */
  private async call<T>(work: () => Promise<T>, what: string): Promise<T> {
    const deadline = Date.now() + RETRY_BOUND_MS;
    for (;;) {
      try {
        return await work();
      } catch (error) {
        if (error instanceof CheckpointCorruptError) throw error;
        if (/TIMEOUT|temporarily unavailable/i.test((error as Error).message) && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 250));
          continue;
        }
        throw this.failure(error as Error, what);
      }
    }
  }

  private failure(error: Error, what: string): CheckpointError {
    const hint = /503|no responders|jetstream not enabled/i.test(error.message) ? "; the nats servers must run JetStream (nats-server -js, or jetstream {} in its configuration)" : "";
    return new CheckpointError(`checkpoint store ${bucketName(this.job)}: ${what} failed: ${error.message}${hint}`, { cause: error });
  }
}
