/**
 * The job's tasks, as the state machine (state-machine.ts) calls them: each reads the job record, does a
 * bounded piece of work, and commits the result with one conditional write. The record is the only state;
 * the task's input names the job and counts the execution's iterations, nothing more. So a task that
 * crashed, timed out or ran twice leaves the job as its last commit did, and the next task resumes there.
 *
 * A re-encrypt job's phases:
 * - `gate`: the write gate went up with the job; wait until every instance has reloaded and sees it;
 * - `rewrite`: page through the listing from the cursor, rewriting each object that is not as configured;
 * - `sweep`: after the bound within which a write accepted before the gate can still land, page through
 *   again and rewrite what landed since the gate (by its Last-Modified);
 * - `done`: the gate is lifted with the final status.
 */
import type { Logger } from '../logger.js';
import type { Runtime } from '../control/runtime.js';
import {
  FINISHED,
  JobConflictError,
  NoSuchJobError,
  PROBLEMS_KEPT,
  type JobProblem,
  type JobRecord,
  type JobSettingsChange,
  type JobStore,
} from './job-record.js';
import { reencryptObject, type RewriteOutcome } from './rewrite-object.js';
import type { TaskEvent } from './state-machine.js';

export interface JobEnvironment {
  store: JobStore;
  /** The newest running config: every task works under the config of its own start. */
  runtime(): Promise<Runtime>;
  now(): Date;
  logger: Logger;
  /** How long after a gate is armed every instance has seen it: the config reload bound plus a margin. */
  gateSettleMs: number;
  /** The longest a write accepted just before the gate went up can still take to land (the request timeout). */
  writeBoundMs: number;
  /** Keys per listing page. */
  pageSize: number;
  /** How long one page task may work before it commits and returns. */
  budgetMs: number;
  /** Objects rewritten at once within a page. */
  concurrency: number;
  /**
   * Called at each step of a page: after the listing, after each object's rewrite, after the commit.
   * A throw there is a crash at that point (the fault-injection tests use it).
   */
  onStep?: (step: 'listed' | 'rewrote' | 'committed', jobId: string, key?: string) => void;
}

export interface TaskInput {
  jobId: string;
  /** Page tasks run by this execution so far (the state machine continues as new past a limit). */
  iteration?: number;
}

export interface TaskOutput {
  jobId: string;
  iteration: number;
  /** What the state machine does next. */
  next: 'wait' | 'page' | 'done';
  /** For `wait`: how long. */
  waitSeconds: number;
}

/** Clock skew allowed between the gateway's clock and a backend's Last-Modified. */
const CLOCK_SKEW_MS = 2000;

/** The first task: the job starts running, and waits out the gate's settle time. */
export async function prepareJob(env: JobEnvironment, input: TaskInput): Promise<TaskOutput> {
  const job = await load(env, input.jobId);
  if (FINISHED.includes(job.status)) return output(input, 'done');
  if (job.status === 'queued') {
    await commit(env, job, { status: 'running', startedAt: env.now().toISOString() });
  }
  return output(input, 'page');
}

/** One page of work (or a wait, when the phase's time has not come yet). */
export async function runPage(env: JobEnvironment, input: TaskInput): Promise<TaskOutput> {
  const started = Date.now();
  const job = await load(env, input.jobId);
  const iteration = (input.iteration ?? 0) + 1;
  if (FINISHED.includes(job.status)) return { ...output(input, 'done'), iteration };
  if (job.cancelRequested) {
    await commit(env, job, finished(env, job, 'cancelled'), { releaseGate: true });
    return { ...output(input, 'done'), iteration };
  }
  const wait = waitMs(env, job);
  if (wait > 0) return { ...output(input, 'wait', wait), iteration };
  if (job.phase === 'gate') {
    await commit(env, job, { phase: 'rewrite' });
    return { ...output(input, 'page'), iteration };
  }
  if (job.kind !== 'reencrypt')
    throw new Error(`job ${job.id} is a ${job.kind} job, which this version cannot run`);
  await reencryptPage(env, job, started);
  return { ...output(input, 'page'), iteration };
}

/** The state machine's catch: the job failed for a reason no retry cured. Its gate is lifted. */
export async function failJob(
  env: JobEnvironment,
  input: TaskInput & { error?: unknown },
): Promise<TaskOutput> {
  const job = await load(env, input.jobId);
  if (!FINISHED.includes(job.status)) {
    const reason = describeFailure(input.error);
    await commit(env, job, { ...finished(env, job, 'failed'), error: reason }, { releaseGate: true });
    env.logger.error('job failed', { jobId: job.id, bucket: job.bucket, error: reason });
  }
  return output(input, 'done');
}

// --- re-encrypt ---

async function reencryptPage(env: JobEnvironment, job: JobRecord, started: number): Promise<void> {
  const runtime = await env.runtime();
  const route = runtime.routes.resolve(job.bucket);
  const sweeping = job.phase === 'sweep';
  // A write accepted before every instance saw the gate started before gateSince + settle and ended
  // within the write bound after; the sweep looks at what was stored in that window (and, since a backend
  // may date an object by when its write began, from before the gate went up).
  const sweepFrom = Date.parse(job.gateSince) - env.gateSettleMs - CLOCK_SKEW_MS;
  const sweepTo = Date.parse(job.gateSince) + env.gateSettleMs + env.writeBoundMs + CLOCK_SKEW_MS;
  const page = await route.backend.listObjects(route.bucket, {
    prefix: '',
    after: job.cursor,
    maxKeys: env.pageSize,
  });
  env.onStep?.('listed', job.id);
  const counters = { ...job.counters };
  const problems: JobProblem[] = [];
  const known = new Set(job.problems.map((p) => p.key));
  let cursor = job.cursor;
  let stoppedEarly = false;
  const objects = sweeping
    ? page.objects.filter((o) => {
        const at = o.lastModified.getTime();
        return at >= sweepFrom && at <= sweepTo;
      })
    : page.objects;
  let index = 0;
  for (; index < objects.length; index += env.concurrency) {
    if (index > 0 && Date.now() - started > env.budgetMs) {
      stoppedEarly = true;
      break;
    }
    const batch = objects.slice(index, index + env.concurrency);
    const outcomes = await Promise.all(
      batch.map(async (o) => {
        const outcome = await reencryptObject(
          route,
          { bucket: job.bucket, key: o.key },
          job.params.strategy ?? 'full',
          job.id,
        );
        env.onStep?.('rewrote', job.id, o.key);
        return outcome;
      }),
    );
    outcomes.forEach((outcome, i) => {
      tally(counters, problems, known, batch[i].key, outcome, sweeping, env.now());
    });
    cursor = batch[batch.length - 1].key;
  }
  if (!stoppedEarly) cursor = page.isTruncated ? (page.last ?? cursor) : cursor;
  const phaseDone = !stoppedEarly && !page.isTruncated;
  const change: Partial<JobRecord> = {
    counters,
    problems: [...job.problems, ...problems].slice(0, PROBLEMS_KEPT),
    pages: job.pages + 1,
    cursor,
  };
  if (!phaseDone) {
    await commit(env, job, change);
    env.onStep?.('committed', job.id);
    return;
  }
  if (!sweeping) {
    await commit(env, job, {
      ...change,
      phase: 'sweep',
      cursor: undefined,
      counters: { ...counters, total: counters.objects },
    });
    env.onStep?.('committed', job.id);
    return;
  }
  const status = counters.failed > 0 ? 'succeeded-with-failures' : 'succeeded';
  await commit(
    env,
    job,
    { ...change, ...finished(env, job, status), cursor: undefined },
    { releaseGate: true },
  );
  env.logger.info('job finished', { jobId: job.id, bucket: job.bucket, status, ...counters });
}

function tally(
  counters: JobRecord['counters'],
  problems: JobProblem[],
  known: ReadonlySet<string>,
  key: string,
  outcome: RewriteOutcome,
  sweeping: boolean,
  now: Date,
): void {
  // The sweep looks again at objects the rewrite pass already counted: it counts only what it changes,
  // and a failure only where the pass did not record one for the key already.
  if (
    sweeping &&
    (outcome.outcome === 'skipped' ||
      (outcome.outcome === 'rewritten' && outcome.how === 'earlier') ||
      (outcome.outcome === 'failed' && known.has(key)))
  ) {
    return;
  }
  if (!sweeping) {
    counters.objects++;
    counters.bytes += outcome.bytes;
  }
  if (outcome.outcome === 'rewritten') counters.rewritten++;
  else if (outcome.outcome === 'failed') counters.failed++;
  else counters.skipped++;
  if (outcome.outcome === 'failed' || (outcome.outcome === 'skipped' && outcome.reason === 'sse-c')) {
    problems.push({
      key,
      outcome: outcome.outcome,
      reason:
        outcome.outcome === 'failed'
          ? outcome.reason
          : 'encrypted with a customer-provided key (SSE-C): the gateway holds no key to rewrite it',
      at: now.toISOString(),
    });
  }
}

// --- plumbing ---

/** How long the job must wait before its phase may start: the gate's settle time, the sweep's write bound. */
function waitMs(env: JobEnvironment, job: JobRecord): number {
  const since = Date.parse(job.gateSince);
  const until =
    job.phase === 'gate'
      ? since + env.gateSettleMs
      : job.phase === 'sweep' && job.cursor === undefined
        ? since + env.gateSettleMs + env.writeBoundMs
        : 0;
  return Math.max(0, until - env.now().getTime());
}

function output(input: TaskInput, next: TaskOutput['next'], waitMilliseconds = 0): TaskOutput {
  return {
    jobId: input.jobId,
    iteration: input.iteration ?? 0,
    next,
    waitSeconds: Math.ceil(waitMilliseconds / 1000),
  };
}

function finished(env: JobEnvironment, job: JobRecord, status: JobRecord['status']): Partial<JobRecord> {
  return { status, phase: 'done', finishedAt: env.now().toISOString(), cancelRequested: job.cancelRequested };
}

async function load(env: JobEnvironment, jobId: string): Promise<JobRecord> {
  const job = await env.store.job(jobId);
  if (!job) throw new NoSuchJobError(jobId);
  return job;
}

/**
 * Commits `change` on top of `job` at its revision. A JobConflictError means another task (a retry, an
 * earlier attempt still running) committed first: this task's work is dropped, and the next task starts
 * from that commit.
 */
async function commit(
  env: JobEnvironment,
  job: JobRecord,
  change: Partial<JobRecord>,
  settings?: JobSettingsChange,
): Promise<JobRecord> {
  // A job whose first commit (prepare's) lost a race is running all the same once a task works on it.
  if (job.status === 'queued' && change.status === undefined) {
    change = { status: 'running', startedAt: env.now().toISOString(), ...change };
  }
  const next: JobRecord = {
    ...job,
    ...change,
    revision: job.revision + 1,
    updatedAt: env.now().toISOString(),
  };
  if (next.cursor === undefined) delete next.cursor;
  if (next.cancelRequested === undefined) delete next.cancelRequested;
  try {
    return await env.store.commitJob(next, job.revision, settings);
  } catch (error) {
    if (error instanceof JobConflictError) {
      env.logger.warn('job commit lost to another task; its page is dropped', { jobId: job.id });
      return job;
    }
    throw error;
  }
}

function describeFailure(error: unknown): string {
  if (error && typeof error === 'object') {
    const { Error: name, Cause: cause } = error as { Error?: unknown; Cause?: unknown };
    if (typeof cause === 'string') {
      try {
        const parsed = JSON.parse(cause) as { errorMessage?: unknown };
        if (typeof parsed.errorMessage === 'string') return parsed.errorMessage;
      } catch {
        return cause;
      }
      return cause;
    }
    if (typeof name === 'string') return name;
    if (error instanceof Error) return error.message;
    return JSON.stringify(error);
  }
  return typeof error === 'string' ? error : 'unknown error';
}

/** The task function's entry: one of the state machine's tasks, by name. */
export async function runTask(env: JobEnvironment, event: TaskEvent): Promise<TaskOutput> {
  const input = { jobId: event.jobId, iteration: event.iteration ?? 0 };
  switch (event.task) {
    case 'prepare':
      return prepareJob(env, input);
    case 'page':
      return runPage(env, input);
    case 'fail':
      return failJob(env, { ...input, error: event.error });
    default:
      throw new Error(`unknown job task ${String((event as { task?: unknown }).task)}`);
  }
}
