/**
 * Durable jobs (re-encrypt, migrate) as the control plane's store keeps them: one record per job, and
 * the write gate the job holds on its bucket (in the bucket's settings, so every instance sees it on its
 * next reload). The record is the job's only state: a task reads it, does one page of work, and commits
 * the next cursor and counters with one conditional write on the record's revision. A task that crashed,
 * timed out or lost a race simply finds the record as the last commit left it.
 */
import type { BucketRouteSetting } from '../control/config-store.js';

export type JobKind = 'reencrypt' | 'migrate';

export type JobStatus =
  'queued' | 'running' | 'cancelling' | 'cancelled' | 'succeeded' | 'failed' | 'succeeded-with-failures';

/** A status no task changes any more. */
export const FINISHED: readonly JobStatus[] = ['cancelled', 'succeeded', 'failed', 'succeeded-with-failures'];

/**
 * Where a job is. Re-encrypt: gate (wait until every instance sees the gate), rewrite, sweep (objects
 * that landed while the gate went up), done. Migrate: gate, copy, verify, flip, cleanup, done.
 */
export type JobPhase = 'gate' | 'rewrite' | 'sweep' | 'copy' | 'verify' | 'flip' | 'cleanup' | 'done';

export type ReencryptStrategy = 'full' | 'rewrap';

export interface JobParams {
  /** Re-encrypt: how to rewrite (`rewrap` where the mode allows it; `full` otherwise). */
  strategy?: ReencryptStrategy;
  /** Migrate: the backend the bucket moves to, and the bucket's name there. */
  targetBackend?: string;
  targetBucket?: string;
  /** Migrate: where the bucket lived when the job started (the copy's source, what cleanup deletes). */
  sourceBackend?: string;
  sourceBucket?: string;
  deleteSource?: boolean;
}

export interface JobCounters {
  /** Objects looked at (in the current pass). */
  objects: number;
  /** Their plaintext bytes. */
  bytes: number;
  rewritten: number;
  /** Already as configured, or SSE-C (which the gateway holds no key for). */
  skipped: number;
  failed: number;
  /** Objects in the bucket, when a pass has counted them. */
  total?: number;
  /** Migrate: objects whose copy matched the source. */
  verified?: number;
  /** Migrate: source objects deleted by the cleanup. */
  deleted?: number;
}

/** One object a job could not (or would not) process. */
export interface JobProblem {
  key: string;
  outcome: 'failed' | 'skipped';
  reason: string;
  at: string;
}

/** How many problems a record keeps (the counters count them all). */
export const PROBLEMS_KEPT = 100;

export interface JobRecord {
  /** `j-<UTC yyyymmddhhmmss>-<8 hex>`: sorts by creation time. */
  id: string;
  kind: JobKind;
  /** The gateway bucket the job works on (and holds the write gate of). */
  bucket: string;
  params: JobParams;
  status: JobStatus;
  phase: JobPhase;
  /** The last key the current phase finished; absent at the start of a phase. */
  cursor?: string;
  counters: JobCounters;
  /** The first {@link PROBLEMS_KEPT} problems. */
  problems: JobProblem[];
  /** 1, 2, 3, ...: each commit adds one, and is conditional on the one before. */
  revision: number;
  /** Pages committed, over the job's life. */
  pages: number;
  createdAt: string;
  createdBy: string;
  updatedAt: string;
  /** When the write gate was armed: writes accepted before then may still land until the bound passes. */
  gateSince: string;
  startedAt?: string;
  finishedAt?: string;
  /** The Step Functions execution (or local run) driving the job. */
  execution?: string;
  /** Why a failed job failed. */
  error?: string;
  /** Set by a cancel; the next task ends the job (a migrate can be cancelled only before its flip). */
  cancelRequested?: boolean;
  /** Migrate: when the bucket's route moved to the target. */
  flippedAt?: string;
}

/** A bucket's write gate: while it is set, writes to the bucket get 503 SlowDown on every instance. */
export interface WriteGate {
  jobId: string;
  since: string;
}

/** What a job commit may also change in the job's bucket settings, in the same atomic write. */
export interface JobSettingsChange {
  /** A migrate's flip: the bucket's new route. */
  route?: BucketRouteSetting;
  /** The job is over: lift its gate. */
  releaseGate?: boolean;
}

export interface JobStore {
  /**
   * Stores a new job and arms its bucket's write gate, atomically; refused while another job holds the
   * bucket's gate.
   *
   * @throws BucketBusyError when another job's gate is on the bucket.
   */
  createJob(job: JobRecord): Promise<JobRecord>;
  job(id: string): Promise<JobRecord | undefined>;
  /** The newest jobs first, at most `limit`. */
  listJobs(limit?: number): Promise<JobRecord[]>;
  /**
   * Replaces the record with `next` (whose revision must be `expectedRevision + 1`) if its revision is
   * still `expectedRevision`, and applies `settings` to the bucket's settings in the same atomic write.
   *
   * @throws JobConflictError when the record moved.
   */
  commitJob(next: JobRecord, expectedRevision: number, settings?: JobSettingsChange): Promise<JobRecord>;
}

/** Whether a config store keeps job records too (every adapter but a read-only memory store does). */
export function isJobStore(store: object): store is JobStore {
  return typeof (store as Partial<JobStore>).createJob === 'function';
}

export class BucketBusyError extends Error {
  constructor(
    readonly bucket: string,
    readonly jobId: string,
  ) {
    super(`bucket ${bucket} already has a job running (${jobId}): wait for it to finish, or cancel it`);
    this.name = 'BucketBusyError';
  }
}

export class JobConflictError extends Error {
  constructor(
    readonly jobId: string,
    readonly expectedRevision: number,
    readonly currentRevision: number,
  ) {
    super(
      `job ${jobId} moved: the commit expected revision ${expectedRevision}, but it is at ${currentRevision}`,
    );
    this.name = 'JobConflictError';
  }
}

export class NoSuchJobError extends Error {
  constructor(readonly jobId: string) {
    super(`there is no job ${jobId}`);
    this.name = 'NoSuchJobError';
  }
}

/** A new job id: `j-<UTC yyyymmddhhmmss>-<8 hex>`. */
export function newJobId(now: Date, random: string): string {
  const stamp = now.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return `j-${stamp}-${random}`;
}

const JOB_ID = /^j-\d{14}-[0-9a-f]{8}$/;

export function isJobId(value: string): boolean {
  return JOB_ID.test(value);
}
