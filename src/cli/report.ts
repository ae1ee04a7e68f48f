import type { JobResult } from "../cluster/job.js";

/** A short human summary of one job. */
export function formatJob(job: JobResult): string {
  const s = job.stats;
  const lines = [
    `result    ${job.result}`,
    `kernel    ${job.kernel}: ${job.nodes} node(s), protocol ${job.protocol}, transport ${job.transport}, page ${job.pageSize} B${job.instrumented ? "" : " (uninstrumented baseline)"}`,
    `time      ${job.kernelMs.toFixed(1)} ms in run on node 0, ${job.wallMs.toFixed(1)} ms wall`,
    `faults    ${s.readFaults} read, ${s.writeFaults} write; ${s.messages} messages, ${s.bytes} bytes`,
  ];
  if (s.relinquished) {
    const pushes = s.pagesPushed ? `; ${s.pagesPushed} pages pushed (${s.pushesUsed} read, ${s.pushesUnused} given back unread)` : "";
    lines.push(`barriers  ${s.relinquished} read copies dropped on arrival (a writer next), ${s.relinquishApplied} of them struck from their manager's holders${pushes}`);
  }
  if (s.pagesHandedOver || s.pagesTaken) {
    lines.push(`locks     ${s.pagesHandedOver} pages handed over with lock grants, ${s.pagesTaken} taken`);
  }
  if (job.protocol === "lrc") {
    lines.push(`lrc       ${s.intervals} intervals, ${s.writeNotices} write notices, ${s.twins} twins, ${s.diffsCreated} diffs created, ${s.diffsApplied} applied, ${s.gcRuns} GC runs`);
  }
  if (job.protocol === "hlrc") {
    lines.push(`hlrc      ${s.intervals} intervals, ${s.writeNotices} write notices, ${s.twins} twins, ${s.flushes} flushes of ${s.diffsCreated} diffs (${s.diffBytes} bytes), ${s.pagesFetched} pages fetched, ${s.trackedPages} home pages tracked${s.pagesPushed ? `, ${s.pagesPushed} pages pushed (${s.pushesUsed} used, ${s.pushesDeclined} declined)` : ""}`);
  }
  return lines.join("\n");
}
