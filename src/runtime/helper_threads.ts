/**
 * The process's helper threads yield to its kernels. Besides the kernels' worker threads and the
 * main thread, a Node process runs V8's platform threads, which compile hot JavaScript with the
 * optimising tier and mark the heap concurrently, and libuv's. The protocols are JavaScript running
 * in the kernels' threads, and V8 keeps compiling their code for the first seconds of a process:
 * measured on 2 vCPUs with 2 nodes (perf sched), those compilations took 0.3-0.7 of a core, and a
 * kernel whose core they took left its peer waiting in a fault for 1-4 ms at a time (jacobi
 * 1024×100 on ivy: ~280 ms in a fresh process). At nice 19 they run only where a core is free, and
 * the same run takes ~160 ms cold and ~125 ms warm.
 *
 * So once the pool's node workers have told their thread ids (worker.ts writes its id into a
 * shared word), every other thread of the process except the calling one and the main thread is
 * set to nice DSM_HELPER_NICE (default 19; 0 leaves them alone). Linux only, where nice is per
 * thread; elsewhere nothing changes. Lowering a thread's priority needs no privilege, but raising
 * it back would, so it is not undone: a process that runs DSM jobs keeps its helpers below them.
 * A thread that cannot be changed (it ended meanwhile) is skipped; this is advisory, never an error.
 */
import { readdirSync, readlinkSync } from "node:fs";
import { getPriority, setPriority } from "node:os";

/** Highest nice value (lowest priority) on Linux. */
const MAX_NICE = 19;
const DEFAULT_HELPER_NICE = MAX_NICE;

export class HelperNiceError extends RangeError {
  override name = "HelperNiceError";
}

/** DSM_HELPER_NICE, checked: an integer 0-19. */
export function helperNice(env: Record<string, string | undefined> = process.env): number {
  const raw = env.DSM_HELPER_NICE;
  if (raw === undefined || raw.trim() === "") return DEFAULT_HELPER_NICE;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > MAX_NICE) {
    throw new HelperNiceError(`DSM_HELPER_NICE="${raw}": expected an integer from 0 (leave helper threads alone) to ${MAX_NICE} (the default: they run only where a core is free)`);
  }
  return n;
}

/** The kernel's id of the calling thread (Linux), or undefined where /proc/thread-self is missing. */
export function currentThreadId(): number | undefined {
  try {
    const match = /(?:^|\/)task\/(\d+)$/.exec(readlinkSync("/proc/thread-self"));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Sets every thread of this process to nice `nice`, except the main thread, the calling thread and
 * `keep`, where it runs at a higher priority now. Returns how many threads it changed.
 */
export function deprioritizeHelpers(keep: Iterable<number>, nice: number): number {
  if (nice <= 0) return 0;
  let tasks: string[];
  try {
    tasks = readdirSync("/proc/self/task");
  } catch {
    return 0;
  }
  const skip = new Set<number>([process.pid, ...keep]);
  const self = currentThreadId();
  if (self !== undefined) skip.add(self);
  let changed = 0;
  for (const task of tasks) {
    const tid = Number(task);
    if (!Number.isInteger(tid) || skip.has(tid)) continue;
    try {
      if (getPriority(tid) < nice) {
        setPriority(tid, nice);
        changed++;
      }
    } catch {
      // The thread ended, or this system does not allow it: it keeps its priority.
    }
  }
  return changed;
}
