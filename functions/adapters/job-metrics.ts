/**
 * Job progress as CloudWatch metrics, in embedded metric format through Powertools for AWS Lambda
 * (namespace `Sealgate`, dimension `Kind`): per commit, what the page added (objects, bytes, rewritten,
 * skipped, failed, pages); per job that ended, one count of its outcome. The task handler publishes them
 * once per invocation.
 */
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';

type Unit = (typeof MetricUnit)[keyof typeof MetricUnit];

import { FINISHED, type JobRecord } from '../core/jobs/job-record.js';
import type { JobMetrics } from '../core/jobs/job-tasks.js';

/** The metric an ended job counts in, by status. */
const OUTCOME_METRIC: Record<string, string> = {
  succeeded: 'JobsSucceeded',
  'succeeded-with-failures': 'JobsSucceededWithFailures',
  failed: 'JobsFailed',
  cancelled: 'JobsCancelled',
};

export class PowertoolsJobMetrics implements JobMetrics {
  constructor(private readonly metrics: Metrics) {}

  committed(before: JobRecord, after: JobRecord): void {
    const delta = (pick: (job: JobRecord) => number) => Math.max(0, pick(after) - pick(before));
    const values: [string, Unit, number][] = [
      ['JobObjects', MetricUnit.Count, delta((j) => j.counters.objects)],
      ['JobBytes', MetricUnit.Bytes, delta((j) => j.counters.bytes)],
      ['JobObjectsRewritten', MetricUnit.Count, delta((j) => j.counters.rewritten)],
      ['JobObjectsSkipped', MetricUnit.Count, delta((j) => j.counters.skipped)],
      ['JobObjectsFailed', MetricUnit.Count, delta((j) => j.counters.failed)],
      ['JobPages', MetricUnit.Count, delta((j) => j.pages)],
    ];
    const ended = FINISHED.includes(after.status) && !FINISHED.includes(before.status);
    if (ended) values.push([OUTCOME_METRIC[after.status], MetricUnit.Count, 1]);
    if (values.every(([, , value]) => value === 0)) return;
    // A task works on one job: its kind is the one dimension (a job id as dimension would make one metric
    // per job); the id and bucket go in the EMF record's metadata. The handler publishes per invocation.
    this.metrics.addDimension('Kind', after.kind);
    this.metrics.addMetadata('jobId', after.id);
    this.metrics.addMetadata('bucket', after.bucket);
    for (const [name, unit, value] of values) {
      if (value > 0 || name === 'JobPages') this.metrics.addMetric(name, unit, value);
    }
  }
}
