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
import { migrateObject, verifyObject, type MigrateOutcome } from './migrate-object.js';
import { reencryptObject, type RewriteOutcome } from './rewrite-object.js';
import type { Route } from '../routes.js';
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
  /**
   * Called after a commit changed the bucket's settings (a gate lifted, a route flipped): an instance
   * that runs its jobs in-process sees the change at once instead of at its next reload.
   */
  settingsChanged?: () => Promise<void>;
  /** Told of every commit that landed (progress and outcomes as metrics, on AWS). */
  metrics?: JobMetrics;
}

/** Where a job's progress goes besides its record: CloudWatch metrics on AWS (adapters/job-metrics.ts). */
export interface JobMetrics {
  committed(before: JobRecord, after: JobRecord): void;
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

/** The first task: the job starts running (the page tasks then wait out the gate's settle time). */
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
  if (job.cancelRequested && job.flippedAt === undefined) {
    await commit(env, job, finished(env, job, 'cancelled'), { releaseGate: true });
    return { ...output(input, 'done'), iteration };
  }
  const wait = waitMs(env, job);
  if (wait > 0) return { ...output(input, 'wait', wait), iteration };
  if (job.phase === 'gate') {
    await commit(env, job, { phase: job.kind === 'migrate' ? 'copy' : 'rewrite' });
    return { ...output(input, 'page'), iteration };
  }
  if (job.kind === 'migrate') await migratePage(env, job, started);
  else await reencryptPage(env, job, started);
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

// --- the passes over a listing ---

/** What one object's work came to (re-encrypt and migrate outcomes both fit). */
type Outcome = RewriteOutcome | MigrateOutcome;

interface Pass {
  /** The bucket listed. */
  route: Route;
  /** Only objects stored in the sweep window (see {@link sweepWindow}). */
  sweep: boolean;
  work(key: string): Promise<Outcome>;
  /** Adds an outcome to the counters and problems. */
  count(tally: Tally, key: string, outcome: Outcome): void;
}

interface Tally {
  counters: JobRecord['counters'];
  problems: JobProblem[];
  /** Keys the job recorded a problem for already. */
  known: ReadonlySet<string>;
  now: Date;
}

/**
 * One page of a pass: lists from the cursor, works through the objects a few at a time until the budget
 * is spent, and says where it stopped. The caller commits.
 */
async function runPass(
  env: JobEnvironment,
  job: JobRecord,
  started: number,
  pass: Pass,
): Promise<{ change: Partial<JobRecord>; done: boolean }> {
  const page = await pass.route.backend.listObjects(pass.route.bucket, {
    prefix: '',
    after: job.cursor,
    maxKeys: env.pageSize,
  });
  env.onStep?.('listed', job.id);
  const tally: Tally = {
    counters: { ...job.counters },
    problems: [],
    known: new Set(job.problems.map((p) => p.key)),
    now: env.now(),
  };
  const window = sweepWindow(env, job);
  const objects = pass.sweep
    ? page.objects.filter(
        (o) => o.lastModified.getTime() >= window.from && o.lastModified.getTime() <= window.to,
      )
    : page.objects;
  let cursor = job.cursor;
  let stoppedEarly = false;
  for (let index = 0; index < objects.length; index += env.concurrency) {
    if (index > 0 && Date.now() - started > env.budgetMs) {
      stoppedEarly = true;
      break;
    }
    const batch = objects.slice(index, index + env.concurrency);
    const outcomes = await Promise.all(
      batch.map(async (o) => {
        const outcome = await pass.work(o.key);
        env.onStep?.('rewrote', job.id, o.key);
        return outcome;
      }),
    );
    outcomes.forEach((outcome, i) => pass.count(tally, batch[i].key, outcome));
    cursor = batch[batch.length - 1].key;
  }
  if (!stoppedEarly && page.isTruncated) cursor = page.last ?? cursor;
  return {
    change: {
      counters: tally.counters,
      problems: [...job.problems, ...tally.problems].slice(0, PROBLEMS_KEPT),
      pages: job.pages + 1,
      cursor,
    },
    done: !stoppedEarly && !page.isTruncated,
  };
}

/**
 * A write accepted before every instance saw the gate started before gateSince + settle and ended within
 * the write bound after; the sweep looks at what was stored in that window (from before the gate went up
 * too, since a backend may date an object by when its write began).
 */
function sweepWindow(env: JobEnvironment, job: JobRecord): { from: number; to: number } {
  const since = Date.parse(job.gateSince);
  return {
    from: since - env.gateSettleMs - CLOCK_SKEW_MS,
    to: since + env.gateSettleMs + env.writeBoundMs + CLOCK_SKEW_MS,
  };
}

/** Counts an outcome of a first pass: every object, its bytes, and what became of it. */
function countFirstPass(tally: Tally, key: string, outcome: Outcome): void {
  tally.counters.objects++;
  tally.counters.bytes += outcome.bytes;
  countOutcome(tally, key, outcome);
}

/**
 * Counts an outcome of a sweep, which looks again at objects the first pass counted: only what it
 * changed, and a failure only where the job recorded none for the key already.
 */
function countSweep(tally: Tally, key: string, outcome: Outcome): void {
  if (outcome.outcome === 'skipped') return;
  if (outcome.outcome === 'rewritten' && outcome.how === 'earlier') return;
  if (outcome.outcome === 'failed' && tally.known.has(key)) return;
  countOutcome(tally, key, outcome);
}

function countOutcome(tally: Tally, key: string, outcome: Outcome): void {
  const { counters } = tally;
  if (outcome.outcome === 'rewritten') counters.rewritten++;
  else if (outcome.outcome === 'failed') counters.failed++;
  else counters.skipped++;
  if (outcome.outcome === 'failed') {
    problem(tally, key, 'failed', outcome.reason);
  } else if (outcome.outcome === 'skipped' && outcome.reason === 'sse-c') {
    problem(
      tally,
      key,
      'skipped',
      'encrypted with a customer-provided key (SSE-C): the gateway holds no key to rewrite it',
    );
  }
}

function problem(tally: Tally, key: string, outcome: JobProblem['outcome'], reason: string): void {
  tally.problems.push({ key, outcome, reason, at: tally.now.toISOString() });
}

// --- re-encrypt ---

async function reencryptPage(env: JobEnvironment, job: JobRecord, started: number): Promise<void> {
  const runtime = await env.runtime();
  const route = runtime.routes.resolve(job.bucket);
  const sweep = job.phase === 'sweep';
  const { change, done } = await runPass(env, job, started, {
    route,
    sweep,
    work: (key) => reencryptObject(route, { bucket: job.bucket, key }, job.params.strategy ?? 'full', job.id),
    count: sweep ? countSweep : countFirstPass,
  });
  if (!done) {
    await commit(env, job, change);
  } else if (!sweep) {
    const counters = { ...change.counters!, total: change.counters!.objects };
    await commit(env, job, { ...change, phase: 'sweep', cursor: undefined, counters });
  } else {
    await finish(env, job, change);
    return;
  }
  env.onStep?.('committed', job.id);
}

/** The job's last commit: succeeded, or succeeded-with-failures; the gate is lifted with it. */
async function finish(env: JobEnvironment, job: JobRecord, change: Partial<JobRecord>): Promise<void> {
  const counters = change.counters ?? job.counters;
  const status = counters.failed > 0 ? 'succeeded-with-failures' : 'succeeded';
  await commit(
    env,
    job,
    { ...change, ...finished(env, job, status), cursor: undefined },
    { releaseGate: true },
  );
  env.logger.info('job finished', { jobId: job.id, bucket: job.bucket, kind: job.kind, status, ...counters });
}

// --- migrate ---

/**
 * A migrate job's phases after the gate: copy (every object, source to target), sweep (objects stored
 * around the gate, copied again), verify (every object compared by content), flip (the bucket's route
 * moves to the target, the gate is lifted, in one conditional write; not when anything failed), cleanup
 * (only with delete_source: after every instance has seen the flip, the source's objects are deleted).
 */
async function migratePage(env: JobEnvironment, job: JobRecord, started: number): Promise<void> {
  const runtime = await env.runtime();
  const { sourceBackend, sourceBucket, targetBackend, targetBucket } = job.params;
  const source = runtime.routes.at(sourceBackend!, sourceBucket!);
  const target = runtime.routes.at(targetBackend!, targetBucket!);
  const name = (key: string) => ({ bucket: job.bucket, key });
  if (job.phase === 'copy' || job.phase === 'sweep') {
    const sweep = job.phase === 'sweep';
    const { change, done } = await runPass(env, job, started, {
      route: source,
      sweep,
      // The sweep copies again what may have changed after the first pass copied it.
      work: (key) => migrateObject(source, target, name(key), job.id, { again: sweep }),
      // The sweep copies anew what the first pass counted: only its failures count.
      count: sweep
        ? (tally, key, outcome) => {
            if (outcome.outcome === 'failed' && !tally.known.has(key)) countOutcome(tally, key, outcome);
          }
        : countFirstPass,
    });
    const next: Partial<JobRecord> = done
      ? sweep
        ? { ...change, phase: 'verify', cursor: undefined }
        : {
            ...change,
            phase: 'sweep',
            cursor: undefined,
            counters: { ...change.counters!, total: change.counters!.objects },
          }
      : change;
    await commit(env, job, next);
  } else if (job.phase === 'verify') {
    const { change, done } = await runPass(env, job, started, {
      route: source,
      sweep: false,
      work: async (key) => {
        const difference = await verifyObject(source, target, name(key));
        return difference === undefined
          ? { outcome: 'rewritten', bytes: 0, how: 'earlier' }
          : { outcome: 'failed', bytes: 0, reason: `verify: ${difference}` };
      },
      count: (tally, key, outcome) => {
        if (outcome.outcome === 'failed') {
          if (!tally.known.has(key)) tally.counters.failed++;
          problem(tally, key, 'failed', outcome.reason);
        } else {
          tally.counters.verified = (tally.counters.verified ?? 0) + 1;
        }
      },
    });
    await commit(env, job, done ? { ...change, phase: 'flip', cursor: undefined } : change);
  } else if (job.phase === 'flip') {
    if (job.counters.failed > 0) {
      const error =
        `${job.counters.failed} objects failed to copy or verify (see the failures): the route stays on ` +
        `${sourceBackend}, which stays authoritative and untouched`;
      await commit(env, job, { ...finished(env, job, 'failed'), error }, { releaseGate: true });
      env.logger.error('migrate job failed before its flip', { jobId: job.id, bucket: job.bucket, error });
      return;
    }
    const flippedAt = env.now().toISOString();
    const route = { backend: targetBackend!, backendBucket: targetBucket! };
    if (job.params.deleteSource) {
      await commit(
        env,
        job,
        { phase: 'cleanup', cursor: undefined, flippedAt },
        { route, releaseGate: true },
      );
    } else {
      await commit(env, job, { ...finished(env, job, 'succeeded'), flippedAt }, { route, releaseGate: true });
    }
    env.logger.info('bucket route flipped', { jobId: job.id, bucket: job.bucket, ...route });
  } else if (job.phase === 'cleanup') {
    const { change, done } = await runPass(env, job, started, {
      route: source,
      sweep: false,
      work: async (key) => {
        await source.backend.deleteObject(source.bucket, key);
        return { outcome: 'rewritten', bytes: 0, how: 'earlier' };
      },
      count: (tally) => {
        tally.counters.deleted = (tally.counters.deleted ?? 0) + 1;
      },
    });
    if (!done) await commit(env, job, change);
    else await commit(env, job, { ...change, ...finished(env, job, 'succeeded'), cursor: undefined });
  }
  env.onStep?.('committed', job.id);
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
        : job.phase === 'cleanup' && job.flippedAt !== undefined
          ? Date.parse(job.flippedAt) + env.gateSettleMs // every instance reads from the target by then
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
    const committed = await env.store.commitJob(next, job.revision, settings);
    env.metrics?.committed(job, committed);
    if (settings) await env.settingsChanged?.();
    return committed;
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
