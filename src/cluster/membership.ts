/**
 * Who is in a job: what every node must agree on (its fingerprint), how a node is named in
 * messages, and how ranks are assigned at rendezvous (see rendezvous.ts).
 */

/** What every node of a job must agree on. */
export interface Fingerprint {
  /** sha256 of the kernel module's bytes, hex. */
  kernel: string;
  protocol: string;
  pageSize: number;
  /** Wire format of protocol messages. */
  format: number;
  nodes: number;
  args: string[];
}

/** The fields of a fingerprint as they appear in messages. */
const FIELD_NAMES: Record<keyof Fingerprint, string> = {
  kernel: "kernel (sha256)",
  protocol: "protocol",
  pageSize: "page size",
  format: "wire format",
  nodes: "node count",
  args: "arguments",
};

export interface Joiner {
  uid: string;
  host: string;
  pid: number;
  /** The rank asked for with --rank; undefined to take one at rendezvous. */
  rank?: number;
}

export interface Member extends Joiner {
  rank: number;
}

export class RankConflictError extends Error {
  override name = "RankConflictError";
  constructor(readonly rank: number, a: string, b: string) {
    super(`rank ${rank} is claimed by node ${a} and node ${b}; give each node its own --rank, or omit --rank`);
  }
}

/** `host/pid`, with the rank when known: how messages name a node. */
export function describeNode(node: Joiner): string {
  return `${node.host}/${node.pid}${node.rank === undefined ? "" : ` (rank ${node.rank})`}`;
}

/** The first field in which `theirs` differs from `ours`, or undefined when they agree. */
export function fingerprintDifference(ours: Fingerprint, theirs: Fingerprint): { field: string; ours: string; theirs: string } | undefined {
  for (const key of Object.keys(FIELD_NAMES) as (keyof Fingerprint)[]) {
    const a = show(key, ours[key]);
    const b = show(key, theirs[key]);
    if (a !== b) return { field: FIELD_NAMES[key], ours: a, theirs: b };
  }
  return undefined;
}

function show(key: keyof Fingerprint, value: unknown): string {
  if (key === "args") return JSON.stringify((value as string[]).join(" "));
  if (key === "kernel") return String(value).slice(0, 16);
  return String(value);
}

/**
 * Ranks for exactly `nodes` joiners: given ranks are kept; the others take the free ranks in
 * ascending order of (host, pid, uid). Throws RankConflictError for two claims of one rank.
 */
export function assignRanks(joiners: Joiner[], nodes: number): Member[] {
  const byRank = new Map<number, Joiner>();
  for (const j of joiners) {
    if (j.rank === undefined) continue;
    const other = byRank.get(j.rank);
    if (other) throw new RankConflictError(j.rank, describeNode(other), describeNode(j));
    byRank.set(j.rank, j);
  }
  const free = Array.from({ length: nodes }, (_, r) => r).filter((r) => !byRank.has(r));
  const open = joiners.filter((j) => j.rank === undefined).sort(compareJoiners);
  const members: Member[] = [];
  for (const [rank, j] of byRank) members.push({ ...j, rank });
  open.forEach((j, i) => members.push({ ...j, rank: free[i] }));
  return members.sort((a, b) => a.rank - b.rank);
}

function compareJoiners(a: Joiner, b: Joiner): number {
  if (a.host !== b.host) return a.host < b.host ? -1 : 1;
  if (a.pid !== b.pid) return a.pid - b.pid;
  return a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0;
}
