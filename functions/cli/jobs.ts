/**
 * `sealgate jobs ...`: start re-encrypt jobs, list and watch them, list the objects they skipped or
 * failed, cancel and resume them, through the admin API's job routes (docs/ADMIN_API.md).
 */
import { Command, Option } from 'commander';
import type { AdminClient } from './admin-client.js';
import { adminClientFrom } from './admin-target.js';
import { jsonOption, positiveInteger, remoteOptions, type RemoteCommandOptions } from './command-options.js';
import {
  followJobs,
  formatBytes,
  isFinished,
  jobRoute,
  summaryLine,
  type JobAnswer,
} from './job-progress.js';
import {
  cell,
  CliError,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  Output,
  textTable,
  type CliIo,
  type SetExitCode,
} from './output.js';

/** What `POST jobs/reencrypt` answers: 202 when a job started, 409 (same shape) when none did. */
interface StartAnswer {
  jobs: JobAnswer[];
  refused: { bucket: string; code: string; reason: string; job_id: string | null }[];
}

interface FailuresAnswer {
  id: string;
  failed: number;
  problems: { key: string; outcome: string; reason: string; at: string }[];
}

interface FollowOptions {
  interval: number;
}

/** How often `--wait` and `--watch` ask for a job: often enough to look live, one small read each. */
const POLL_INTERVAL_MS = 500;

/** `--interval MS`, for the commands that poll. */
function intervalOption(command: Command): Command {
  return command.option(
    '--interval <ms>',
    'with --wait or --watch: poll every this many milliseconds',
    positiveInteger,
    POLL_INTERVAL_MS,
  );
}

/** One job's detail, a field a line. */
export function renderJob(job: JobAnswer): string {
  const c = job.counters;
  const fields: [string, string][] = [
    ['job', job.id],
    ['kind', job.kind],
    ['bucket', job.bucket],
    ['strategy', cell(job.strategy)],
    ['status', job.status + (job.cancel_requested && !isFinished(job) ? ' (cancel requested)' : '')],
    ['phase', job.phase],
    ['objects', c.total === null ? String(c.objects) : `${c.objects} of ${c.total}`],
    ['bytes', `${formatBytes(c.bytes)} (${c.bytes})`],
    ['rewritten', String(c.rewritten)],
    ['skipped', String(c.skipped)],
    ['failed', String(c.failed)],
    ['problems kept', String(job.problems_kept)],
    ['pages', String(job.pages)],
    ['created', `${job.created_at} by ${job.created_by}`],
    ['started', cell(job.started_at)],
    ['updated', job.updated_at],
    ['finished', cell(job.finished_at)],
    ['execution', cell(job.execution)],
    ['error', cell(job.error)],
  ];
  const width = Math.max(...fields.map(([name]) => name.length)) + 2;
  return fields.map(([name, value]) => `${`${name}:`.padEnd(width)}${value}\n`).join('');
}

/** Recent jobs as a table, newest first. */
export function renderJobList(jobs: JobAnswer[]): string {
  if (jobs.length === 0) return '(no jobs yet)\n';
  return textTable(
    ['ID', 'BUCKET', 'KIND', 'STATUS', 'PHASE', 'OBJECTS', 'REWRITTEN', 'SKIPPED', 'FAILED'],
    jobs.map((j) => [
      j.id,
      j.bucket,
      j.kind,
      j.status,
      j.phase,
      j.counters.total === null ? String(j.counters.objects) : `${j.counters.objects}/${j.counters.total}`,
      String(j.counters.rewritten),
      String(j.counters.skipped),
      String(j.counters.failed),
    ]),
  );
}

function renderStart(answer: StartAnswer): string {
  const started = answer.jobs.map((j) => `started ${j.id} on bucket ${j.bucket}\n`);
  const refused = answer.refused.map((r) => `refused bucket ${r.bucket}: ${r.reason} (${r.code})\n`);
  return [...started, ...refused].join('');
}

/** Follows the jobs to their end and prints a summary line each; true when every one succeeded. */
async function waitAndSummarise(
  client: AdminClient,
  jobs: JobAnswer[],
  io: CliIo,
  out: Output,
  options: FollowOptions,
  json: (ended: JobAnswer[]) => unknown,
): Promise<boolean> {
  const ended = await followJobs(client, jobs, io, options.interval);
  out.result(json(ended), () => ended.map((job) => `${summaryLine(job)}\n`).join(''));
  return ended.every((job) => job.status === 'succeeded');
}

function reencryptCommand(io: CliIo, setExitCode: SetExitCode): Command {
  return intervalOption(
    jsonOption(
      remoteOptions(
        new Command('reencrypt')
          .description(
            "rewrite every object of the buckets under their backend's current key (exit 1 if a bucket is refused)",
          )
          .argument('<bucket...>', 'the gateway buckets'),
      ),
    ),
  )
    .addOption(
      new Option(
        '--strategy <strategy>',
        'full: every object under a new data key; rewrap: wrap the data key again where the mode allows (no data moved)',
      )
        .choices(['full', 'rewrap'])
        .default('full'),
    )
    .option('--wait', 'follow the jobs until they finish (exit 1 unless all succeeded)')
    .action(
      async (
        buckets: string[],
        options: RemoteCommandOptions & FollowOptions & { strategy: string; wait?: boolean },
      ) => {
        const out = new Output(io, options.json === true);
        const client = adminClientFrom(options, io.env);
        const answer = await client.post<StartAnswer>(
          'jobs/reencrypt',
          { buckets, strategy: options.strategy },
          [409],
        );
        let ok = answer.refused.length === 0;
        if (!options.wait || answer.jobs.length === 0) {
          out.result(answer, () => renderStart(answer));
        } else {
          if (!out.json) io.stdout(renderStart(answer));
          // With --json, one document: the answer with its jobs as they ended.
          const succeeded = await waitAndSummarise(client, answer.jobs, io, out, options, (ended) => ({
            ...answer,
            jobs: ended,
          }));
          ok &&= succeeded;
        }
        setExitCode(ok ? EXIT_OK : EXIT_FAILURE);
      },
    );
}

function migrateCommand(io: CliIo, setExitCode: SetExitCode): Command {
  return intervalOption(
    jsonOption(
      remoteOptions(
        new Command('migrate')
          .description(
            'move a bucket to another backend: copy, verify, flip its route, and (with --delete-source) clean up',
          )
          .argument('<bucket>', 'the gateway bucket'),
      ),
    ),
  )
    .requiredOption('--to <backend>', 'the backend to move the bucket to')
    .option('--target-bucket <name>', "the bucket's name on the target (default: its name on the source)")
    .option('--delete-source', "after the flip, delete the source's objects")
    .option('--wait', 'follow the job until it finishes (exit 1 unless it succeeded)')
    .action(
      async (
        bucket: string,
        options: RemoteCommandOptions &
          FollowOptions & { to: string; targetBucket?: string; deleteSource?: boolean; wait?: boolean },
      ) => {
        const out = new Output(io, options.json === true);
        const client = adminClientFrom(options, io.env);
        const job = await client.post<JobAnswer>(`buckets/${encodeURIComponent(bucket)}/migrate`, {
          target_backend: options.to,
          ...(options.targetBucket !== undefined && { target_bucket: options.targetBucket }),
          delete_source: options.deleteSource === true,
        });
        if (!options.wait) {
          out.result(job, () => `started ${job.id} on bucket ${job.bucket}, to backend ${options.to}\n`);
          return;
        }
        if (!out.json) io.stdout(`started ${job.id} on bucket ${job.bucket}, to backend ${options.to}\n`);
        const succeeded = await waitAndSummarise(client, [job], io, out, options, ([ended]) => ended);
        setExitCode(succeeded ? EXIT_OK : EXIT_FAILURE);
      },
    );
}

function statusCommand(io: CliIo, setExitCode: SetExitCode): Command {
  return intervalOption(
    jsonOption(
      remoteOptions(
        new Command('status')
          .description("recent jobs as a table, or one job's detail (--watch: follow it until it finishes)")
          .argument('[id]', 'a job id'),
      ),
    ),
  )
    .option('--limit <n>', 'list at most this many jobs (default 50)', positiveInteger)
    .option('--watch', 'follow the job until it finishes (exit 1 unless it succeeded)')
    .action(
      async (
        id: string | undefined,
        options: RemoteCommandOptions & FollowOptions & { limit?: number; watch?: boolean },
      ) => {
        if (options.watch && id === undefined) throw new CliError('--watch needs a job id', EXIT_USAGE);
        const out = new Output(io, options.json === true);
        const client = adminClientFrom(options, io.env);
        if (id === undefined) {
          const query: Record<string, string> = {};
          if (options.limit !== undefined) query.limit = String(options.limit);
          const list = await client.get<{ jobs: JobAnswer[] }>('jobs', query);
          out.result(list, () => renderJobList(list.jobs));
          return;
        }
        const job = await client.get<JobAnswer>(jobRoute(id));
        if (!options.watch) {
          out.result(job, () => renderJob(job));
          return;
        }
        const succeeded = await waitAndSummarise(client, [job], io, out, options, ([ended]) => ended);
        setExitCode(succeeded ? EXIT_OK : EXIT_FAILURE);
      },
    );
}

function failuresCommand(io: CliIo): Command {
  return jsonOption(
    remoteOptions(
      new Command('failures')
        .description('the objects a job skipped or failed, with the reason (the first 100 kept)')
        .argument('<id>', 'a job id'),
    ),
  ).action(async (id: string, options: RemoteCommandOptions) => {
    const out = new Output(io, options.json === true);
    const answer = await adminClientFrom(options, io.env).get<FailuresAnswer>(jobRoute(id, 'failures'));
    out.result(answer, () => {
      const kept = answer.problems.length;
      const head = `job ${answer.id}: ${answer.failed} failed, ${kept} problem${kept === 1 ? '' : 's'} kept\n`;
      if (answer.problems.length === 0) return head;
      const table = textTable(
        ['KEY', 'OUTCOME', 'REASON'],
        answer.problems.map((p) => [p.key, p.outcome, p.reason]),
      );
      return `${head}\n${table}`;
    });
  });
}

/** `cancel` and `resume`: one POST on the job, which answers the job as it now is. */
function jobActionCommand(io: CliIo, action: 'cancel' | 'resume', description: string): Command {
  return jsonOption(
    remoteOptions(new Command(action).description(description).argument('<id>', 'a job id')),
  ).action(async (id: string, options: RemoteCommandOptions) => {
    const out = new Output(io, options.json === true);
    const job = await adminClientFrom(options, io.env).post<JobAnswer>(jobRoute(id, action), {});
    out.result(job, () =>
      action === 'cancel'
        ? `${job.id} ${job.bucket}: ${job.status}, cancel requested (it stops after its current page)\n`
        : `${job.id} ${job.bucket}: ${job.status}, resumed as execution ${cell(job.execution)}\n`,
    );
  });
}

export function jobsCommands(io: CliIo, setExitCode: SetExitCode): Command {
  return new Command('jobs')
    .description('re-encrypt and migrate jobs: start, list, watch, problems, cancel, resume (admin API)')
    .addCommand(reencryptCommand(io, setExitCode))
    .addCommand(migrateCommand(io, setExitCode))
    .addCommand(statusCommand(io, setExitCode))
    .addCommand(failuresCommand(io))
    .addCommand(
      jobActionCommand(io, 'cancel', 'ask a running job to stop: objects already rewritten stay rewritten'),
    )
    .addCommand(
      jobActionCommand(
        io,
        'resume',
        'start a new execution for an unfinished job whose execution ended (stopped, crashed)',
      ),
    );
}
