/**
 * How job commits change a bucket's settings (the store adapters share it): arming the job's gate, and
 * on later commits a migrate's new route or the gate lifted.
 */
import type { BucketSettings } from '../control/config-store.js';
import type { JobRecord, JobSettingsChange } from './job-record.js';

/**
 * The bucket's settings with `job`'s gate armed (a new settings entry when it had none). The bucket's
 * listing record becomes `marked` with it: the job's writes (encrypted, or keeping an ETag) need no
 * other arming, and an instance that sees the gate sees that too.
 */
export function withGate(job: JobRecord, existing: BucketSettings | undefined): BucketSettings {
  return {
    bucket: job.bucket,
    revision: (existing?.revision ?? 0) + 1,
    updatedAt: job.createdAt,
    updatedBy: `job ${job.id}`,
    ...(existing?.route && { route: existing.route }),
    ...(existing?.encryption && { encryption: existing.encryption }),
    gate: { jobId: job.id, since: job.gateSince },
    listing: 'marked',
  };
}

/**
 * The bucket's settings after a job commit's change (the entry stays, with its revision moved, when
 * nothing is left in it). Only the job's own gate is lifted: a gate another job holds stays.
 */
export function changedSettings(
  existing: BucketSettings | undefined,
  job: JobRecord,
  change: JobSettingsChange,
): BucketSettings {
  const route = change.route ?? existing?.route;
  const keepGate = existing?.gate && !(change.releaseGate && existing.gate.jobId === job.id);
  return {
    bucket: job.bucket,
    revision: (existing?.revision ?? 0) + 1,
    updatedAt: job.updatedAt,
    updatedBy: `job ${job.id}`,
    ...(route && { route }),
    ...(existing?.encryption && { encryption: existing.encryption }),
    ...(keepGate && { gate: existing.gate }),
    ...(existing?.listing && { listing: existing.listing }),
  };
}
