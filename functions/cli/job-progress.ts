/**
 * Following jobs until they finish, for `sealgate jobs reencrypt --wait` and `jobs status ID --watch`: a
 * live bar per job (cli-progress) when stderr is a terminal, else a plain line on stderr each time a job
 * moved. Rates and the ETA come from the job's own timestamps (the gateway's clock), never the CLI's.
 */
import cliProgress from 'cli-progress';

import { FINISHED } from '../core/jobs/job-record.js';
import type { AdminClient } from './admin-client.js';
import type { CliIo } from './output.js';

/** A job as the admin API answers it (functions/core/admin/job-routes.ts, `jobJson`). */
export interface JobAnswer {
  id: string;
  kind: string;
  bucket: string;
  status: string;
  phase: string;
  strategy: string | null;
  counters: {
    objects: number;
    bytes: number;
    rewritten: number;
    skipped: number;
    failed: number;
    /** Known once the first pass has counted the bucket. */
    total: number | null;
  };
  problems_kept: number;
  pages: number;
  created_at: string;
  created_by: string;
  started_at: string | null;
  updated_at: string;
  finished_at: string | null;
  execution: string | null;
  cancel_requested: boolean;
  error: string | null;
}

export function isFinished(job: JobAnswer): boolean {
  return (FINISHED as readonly string[]).includes(job.status);
}

/** The route of one job, its id encoded (an id the API does not know gets its 404). */
export function jobRoute(id: string, action?: string): string {
  return `jobs/${encodeURIComponent(id)}${action ? `/${action}` : ''}`;
}

/** Bytes (or bytes per second) in decimal units: `0 B`, `12.3 kB`, `4.5 MB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** A duration as `850 ms`, `42 s`, `3m05s`, `2h03m`. */
export function formatDuration(seconds: number): string {
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s`;
  const s = Math.round(seconds);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Seconds the job has worked: from its start to its end, or to its last commit while it runs. */
function workedSeconds(job: JobAnswer): number | undefined {
  if (job.started_at === null) return undefined;
  const seconds = (Date.parse(job.finished_at ?? job.updated_at) - Date.parse(job.started_at)) / 1000;
  return Number.isFinite(seconds) && seconds > 0 ? seconds : undefined;
}

/** The fraction of the bucket done, when the first pass has counted it. */
function fractionDone(job: JobAnswer): number | undefined {
  const { objects, total } = job.counters;
  if (total === null) return undefined;
  return total === 0 ? 1 : Math.min(1, objects / total);
}

/**
 * One job's progress: objects done (of the total, with a percentage, once known), bytes, rate and ETA.
 * `bar` is a drawn bar to put before the numbers.
 */
export function progressLine(job: JobAnswer, bar?: string): string {
  const { objects, bytes, total } = job.counters;
  const fraction = fractionDone(job);
  const parts = [
    fraction === undefined
      ? `${objects} objects`
      : `${objects}/${total} objects (${Math.floor(fraction * 100)}%)`,
    formatBytes(bytes),
  ];
  const seconds = workedSeconds(job);
  if (seconds !== undefined && objects > 0) {
    const rate = objects / seconds;
    parts.push(`${rate.toFixed(1)} obj/s`, `${formatBytes(bytes / seconds)}/s`);
    if (!isFinished(job) && total !== null && objects < total) {
      parts.push(`ETA ${formatDuration((total - objects) / rate)}`);
    }
  }
  const head = `${job.id} ${job.bucket} ${job.status} ${job.phase}`;
  return `${head}${bar ? ` ${bar}` : ''} ${parts.join(', ')}`;
}

/** How a job ended, in one line, with a pointer to its problems when it kept some. */
export function summaryLine(job: JobAnswer): string {
  const c = job.counters;
  const seconds = workedSeconds(job);
  let line =
    `${job.id} ${job.bucket} ${job.status}: ${c.objects} objects (${formatBytes(c.bytes)}), ` +
    `${c.rewritten} rewritten, ${c.skipped} skipped, ${c.failed} failed` +
    (seconds === undefined ? '' : ` in ${formatDuration(seconds)}`);
  if (job.error !== null) line += `; ${job.error}`;
  if (job.problems_kept > 0) line += ` (see sealgate jobs failures ${job.id})`;
  return line;
}

/** Where progress goes while jobs are followed. */
interface ProgressDisplay {
  show(job: JobAnswer): void;
  stop(): void;
}

/** A line on stderr each time a job's progress changed (logs and pipes get no redraws). */
function lineDisplay(io: CliIo): ProgressDisplay {
  const shown = new Map<string, string>();
  return {
    show(job) {
      const line = progressLine(job);
      if (shown.get(job.id) === line) return;
      shown.set(job.id, line);
      io.stderr(`${line}\n`);
    },
    stop() {},
  };
}

/**
 * One live bar per job on the terminal, redrawn in place. cli-progress turns line wrapping off while it
 * draws (a wrapped line breaks the redraw); a Ctrl-C must not leave the terminal that way, so the first
 * SIGINT or SIGTERM stops the bars and is raised again, to end the process as it would have.
 */
function barDisplay(terminal: NodeJS.WritableStream): ProgressDisplay {
  const bars = new cliProgress.MultiBar(
    {
      stream: terminal,
      barsize: 20,
      format: (options, _params, payload: { job: JobAnswer }) => {
        const fraction = fractionDone(payload.job);
        const bar = fraction === undefined ? undefined : cliProgress.Format.BarFormat(fraction, options);
        return progressLine(payload.job, bar);
      },
    },
    cliProgress.Presets.shades_classic,
  );
  const byJob = new Map<string, cliProgress.SingleBar>();
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];
  const unhook = () => signals.forEach((signal) => process.off(signal, interrupted));
  function interrupted(signal: NodeJS.Signals): void {
    unhook();
    bars.stop();
    process.kill(process.pid, signal);
  }
  signals.forEach((signal) => process.once(signal, interrupted));
  return {
    show(job) {
      const bar = byJob.get(job.id);
      if (bar) bar.update(job.counters.objects, { job });
      else byJob.set(job.id, bars.create(job.counters.total ?? 0, job.counters.objects, { job }));
    },
    stop() {
      unhook();
      bars.stop();
    },
  };
}

/**
 * Polls every job in `jobs` each `intervalMs` until all have finished, showing their progress, and
 * resolves with them as they ended (in the order given).
 */
export async function followJobs(
  client: AdminClient,
  jobs: JobAnswer[],
  io: CliIo,
  intervalMs: number,
): Promise<JobAnswer[]> {
  const current = jobs.slice();
  const display = io.terminal ? barDisplay(io.terminal) : lineDisplay(io);
  try {
    for (;;) {
      current.forEach((job) => display.show(job));
      if (current.every(isFinished)) return current;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
      for (const [i, job] of current.entries()) {
        if (!isFinished(job)) current[i] = await client.get<JobAnswer>(jobRoute(job.id));
      }
    }
  } finally {
    display.stop();
  }
}
