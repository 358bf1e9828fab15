/**
 * The admin API's job routes (docs/ADMIN_API.md, "Jobs"): start re-encrypt jobs, list and watch them,
 * list their problems, cancel and resume them. Jobs are JSON in the API's snake_case.
 */
import { isJobId, type JobRecord } from '../jobs/job-record.js';
import type { JobsService } from '../jobs/jobs-service.js';
import { adminErrors } from './admin-errors.js';

export function jobJson(job: JobRecord) {
  const c = job.counters;
  return {
    id: job.id,
    kind: job.kind,
    bucket: job.bucket,
    status: job.status,
    phase: job.phase,
    strategy: job.params.strategy ?? null,
    target_backend: job.params.targetBackend ?? null,
    target_bucket: job.params.targetBucket ?? null,
    source_backend: job.params.sourceBackend ?? null,
    source_bucket: job.params.sourceBucket ?? null,
    delete_source: job.params.deleteSource ?? null,
    flipped_at: job.flippedAt ?? null,
    cursor: job.cursor ?? null,
    counters: {
      objects: c.objects,
      bytes: c.bytes,
      rewritten: c.rewritten,
      skipped: c.skipped,
      failed: c.failed,
      total: c.total ?? null,
      ...(job.kind === 'migrate' && { verified: c.verified ?? 0, deleted: c.deleted ?? 0 }),
    },
    problems_kept: job.problems.length,
    pages: job.pages,
    revision: job.revision,
    created_at: job.createdAt,
    created_by: job.createdBy,
    started_at: job.startedAt ?? null,
    updated_at: job.updatedAt,
    finished_at: job.finishedAt ?? null,
    gate_since: job.gateSince,
    execution: job.execution ?? null,
    cancel_requested: job.cancelRequested ?? false,
    error: job.error ?? null,
  };
}

export function jobProblemsJson(job: JobRecord) {
  return {
    id: job.id,
    failed: job.counters.failed,
    problems: job.problems.map((p) => ({ key: p.key, outcome: p.outcome, reason: p.reason, at: p.at })),
  };
}

/** The job id of a route, checked. */
export function jobIdParam(raw: string): string {
  if (!isJobId(raw)) throw adminErrors.notFound(`there is no job ${raw}`);
  return raw;
}

export function requireJobs(jobs: JobsService | undefined): JobsService {
  if (!jobs) throw adminErrors.notImplemented('this gateway runs no jobs (its store keeps no job records)');
  return jobs;
}
