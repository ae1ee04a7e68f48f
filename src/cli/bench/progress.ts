/**
 * Progress of a bench run on stderr: on a terminal, one line redrawn in place (a bar, the count,
 * the time left and the step running); elsewhere (a pipe, a CI log) one plain line per finished step.
 */

export interface Progress {
  /** Starts a phase of `total` steps, e.g. ("build", 11). */
  begin(phase: string, total: number): void;
  /** Step `label` is starting. */
  start(label: string): void;
  /** Step `label` finished; `detail` says how (e.g. "123.4 ms", "failed: ..."). */
  finish(label: string, detail: string): void;
  /** Ends the phase. */
  end(): void;
}

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export const SILENT_PROGRESS: Progress = { begin() {}, start() {}, finish() {}, end() {} };

const BAR = 24;

export function progressOn(stream: ProgressStream): Progress {
  let phase = "";
  let total = 0;
  let done = 0;
  let t0 = 0;
  const tty = Boolean(stream.isTTY);
  const redraw = (label: string) => {
    const filled = total ? Math.round((BAR * done) / total) : 0;
    const left = done ? ((performance.now() - t0) / done) * (total - done) : NaN;
    const eta = Number.isFinite(left) ? `  ${duration(left)} left` : "";
    const line = `${phase} [${"#".repeat(filled)}${"-".repeat(BAR - filled)}] ${done}/${total}${eta}  ${label}`;
    stream.write(`\r\x1b[K${line.slice(0, Math.max(20, (stream.columns || 100) - 1))}`);
  };
  return {
    begin(name, steps) {
      phase = name;
      total = steps;
      done = 0;
      t0 = performance.now();
      if (tty) redraw("");
    },
    start(label) {
      if (tty) redraw(label);
    },
    finish(label, detail) {
      done++;
      if (tty) redraw(label);
      else stream.write(`${phase} ${done}/${total} ${label}: ${detail}\n`);
    },
    end() {
      const summary = `${phase}: ${done} of ${total} in ${duration(performance.now() - t0)}`;
      stream.write(tty ? `\r\x1b[K${summary}\n` : `${summary}\n`);
    },
  };
}

/** `850 ms`, `12.3 s`, `2 min 05 s`. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
}
