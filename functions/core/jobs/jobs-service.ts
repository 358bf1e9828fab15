/**
 * Starting, watching and cancelling jobs: what the admin API and the CLI call. A start stores the job
 * with its bucket's write gate (one atomic write, refused while another job holds the bucket), makes the
 * local instance see the gate at once, and starts the job's execution.
 */
import { randomBytes } from 'node:crypto';

import type { Runtime } from '../control/runtime.js';
import { isValidBucketName } from '../s3/names.js';
import {
  BucketBusyError,
  FINISHED,
  JobConflictError,
  NoSuchJobError,
  newJobId,
  type JobRecord,
  type JobStore,
  type ReencryptStrategy,
} from './job-record.js';
import type { JobRunner } from './job-runner.js';

/** At most this many buckets per start request. */
export const MAX_BUCKETS_PER_START = 100;

export interface JobsServiceOptions {
  store: JobStore;
  runner: JobRunner;
  runtime(): Promise<Runtime>;
  now(): Date;
  /** Makes this instance see a just-armed gate now rather than at its next reload. */
  refresh?(): Promise<void>;
}

export interface Refusal {
  bucket: string;
  code: 'NoSuchBucket' | 'BucketBusy' | 'InvalidBucketName' | 'Duplicate';
  reason: string;
  jobId?: string;
}

export interface StartResult {
  jobs: JobRecord[];
  refused: Refusal[];
}

/** A request the service refuses as a whole (the admin API answers it 400). */
export class JobRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JobRequestError';
  }
}

export class JobsService {
  constructor(private readonly options: JobsServiceOptions) {}

  /** One re-encrypt job per bucket; buckets that cannot start now are refused beside the ones that did. */
  async startReencrypt(buckets: string[], strategy: ReencryptStrategy, by: string): Promise<StartResult> {
    if (buckets.length === 0) throw new JobRequestError('name at least one bucket');
    if (buckets.length > MAX_BUCKETS_PER_START) {
      throw new JobRequestError(
        `at most ${MAX_BUCKETS_PER_START} buckets per request, not ${buckets.length}: start the rest in another request`,
      );
    }
    const runtime = await this.options.runtime();
    const result: StartResult = { jobs: [], refused: [] };
    const seen = new Set<string>();
    const created: JobRecord[] = [];
    for (const bucket of buckets) {
      if (seen.has(bucket)) {
        result.refused.push({ bucket, code: 'Duplicate', reason: 'named twice in this request' });
        continue;
      }
      seen.add(bucket);
      const refusal = await this.refusal(runtime, bucket);
      if (refusal) {
        result.refused.push(refusal);
        continue;
      }
      const job = this.newJob('reencrypt', bucket, by, { strategy });
      try {
        created.push(await this.options.store.createJob(job));
      } catch (error) {
        if (!(error instanceof BucketBusyError)) throw error;
        result.refused.push({ bucket, code: 'BucketBusy', reason: error.message, jobId: error.jobId });
      }
    }
    if (created.length > 0) await this.options.refresh?.();
    for (const job of created) result.jobs.push(await this.launch(job));
    return result;
  }

  /**
   * A migrate job for one bucket: to `targetBackend`, in the bucket `targetBucket` there (default: the
   * bucket's name on its current backend), which must be empty (it is created when missing).
   *
   * @throws JobRequestError for a target the bucket cannot move to; BucketBusyError while a job holds it.
   */
  async startMigrate(
    bucket: string,
    target: { backend: string; bucket?: string; deleteSource: boolean },
    by: string,
  ): Promise<JobRecord> {
    const runtime = await this.options.runtime();
    const refusal = await this.refusal(runtime, bucket);
    if (refusal?.code === 'BucketBusy') throw new BucketBusyError(bucket, refusal.jobId!);
    if (refusal) throw new JobRequestError(`bucket ${bucket} ${refusal.reason}`);
    if (!runtime.routes.hasBackend(target.backend)) {
      throw new JobRequestError(`the config has no backend "${target.backend}" to migrate to`);
    }
    const source = runtime.routes.resolve(bucket);
    const targetBucket = target.bucket ?? source.bucket;
    if (!isValidBucketName(targetBucket)) {
      throw new JobRequestError(`"${targetBucket}" is not a valid S3 bucket name for the target`);
    }
    if (source.backend.name === target.backend && source.bucket === targetBucket) {
      throw new JobRequestError(`bucket ${bucket} is stored in ${targetBucket} on ${target.backend} already`);
    }
    const to = runtime.routes.at(target.backend, targetBucket);
    if (!(await to.backend.bucketExists(to.bucket))) {
      await to.backend.createBucket(to.bucket);
    } else if ((await to.backend.listObjects(to.bucket, { prefix: '', maxKeys: 1 })).objects.length > 0) {
      throw new JobRequestError(
        `the target bucket ${targetBucket} on ${target.backend} holds objects already: migrate into an empty bucket, ` +
          'so that what the bucket serves after the flip is exactly what it served before',
      );
    }
    const job = this.newJob('migrate', bucket, by, {
      targetBackend: target.backend,
      targetBucket,
      sourceBackend: source.backend.name,
      sourceBucket: source.bucket,
      deleteSource: target.deleteSource,
    });
    const created = await this.options.store.createJob(job);
    await this.options.refresh?.();
    return this.launch(created);
  }

  async job(id: string): Promise<JobRecord> {
    const job = await this.options.store.job(id);
    if (!job) throw new NoSuchJobError(id);
    return job;
  }

  list(limit?: number): Promise<JobRecord[]> {
    return this.options.store.listJobs(limit);
  }

  /**
   * Asks a running job to stop: its next task ends it as `cancelled` and lifts the gate. Objects already
   * rewritten stay rewritten (they read the same). A finished job cannot be cancelled.
   */
  async cancel(id: string): Promise<JobRecord> {
    for (;;) {
      const job = await this.job(id);
      if (FINISHED.includes(job.status)) {
        throw new JobRequestError(
          `job ${id} has already finished (${job.status}): there is nothing to cancel`,
        );
      }
      if (job.cancelRequested) return job;
      if (job.flippedAt !== undefined) {
        throw new JobRequestError(
          `job ${id} has flipped bucket ${job.bucket} to ${job.params.targetBackend} already: a migrate can be ` +
            'cancelled only before its flip (migrate the bucket back to undo it)',
        );
      }
      const next: JobRecord = {
        ...job,
        status: 'cancelling',
        cancelRequested: true,
        revision: job.revision + 1,
        updatedAt: this.options.now().toISOString(),
      };
      try {
        return await this.options.store.commitJob(next, job.revision);
      } catch (error) {
        if (!(error instanceof JobConflictError)) throw error; // a page landed in between: ask again
      }
    }
  }

  /** Starts a new execution for an unfinished job whose execution ended (stopped, crashed past its retries). */
  async resume(id: string): Promise<JobRecord> {
    const job = await this.job(id);
    if (FINISHED.includes(job.status)) {
      throw new JobRequestError(`job ${id} has finished (${job.status}): start a new job instead`);
    }
    return this.launch(job);
  }

  private newJob(
    kind: JobRecord['kind'],
    bucket: string,
    by: string,
    params: JobRecord['params'],
  ): JobRecord {
    const now = this.options.now();
    const at = now.toISOString();
    return {
      id: newJobId(now, randomBytes(4).toString('hex')),
      kind,
      bucket,
      params,
      status: 'queued',
      phase: 'gate',
      counters: { objects: 0, bytes: 0, rewritten: 0, skipped: 0, failed: 0 },
      problems: [],
      revision: 1,
      pages: 0,
      createdAt: at,
      createdBy: by,
      updatedAt: at,
      gateSince: at,
    };
  }

  private async launch(job: JobRecord): Promise<JobRecord> {
    const execution = await this.options.runner.start(job.id);
    for (let current = job; ;) {
      try {
        return await this.options.store.commitJob(
          { ...current, execution, revision: current.revision + 1 },
          current.revision,
        );
      } catch (error) {
        if (!(error instanceof JobConflictError)) throw error;
        current = await this.job(job.id); // the execution's first task committed first
      }
    }
  }

  private async refusal(runtime: Runtime, bucket: string): Promise<Refusal | undefined> {
    if (!isValidBucketName(bucket)) {
      return { bucket, code: 'InvalidBucketName', reason: 'is not a valid S3 bucket name' };
    }
    const gate = runtime.gates.get(bucket);
    if (gate) {
      return {
        bucket,
        code: 'BucketBusy',
        reason: `job ${gate.jobId} is running on it`,
        jobId: gate.jobId,
      };
    }
    const route = runtime.routes.resolve(bucket);
    if (!(await route.backend.bucketExists(route.bucket))) {
      return {
        bucket,
        code: 'NoSuchBucket',
        reason: `backend ${route.backend.name} has no bucket ${route.bucket}`,
      };
    }
    return undefined;
  }
}
