/** Job progress as Powertools EMF metrics: what each commit added, and one count per ended job. */
import { Metrics } from '@aws-lambda-powertools/metrics';
import { describe, expect, it } from 'vitest';

import { PowertoolsJobMetrics } from '../../../functions/adapters/job-metrics.js';
import type { JobRecord } from '../../../functions/core/jobs/job-record.js';

function job(overrides: Partial<JobRecord> = {}): JobRecord {
  return {
    id: 'j-20261203130000-0000abcd',
    kind: 'reencrypt',
    bucket: 'photos',
    params: { strategy: 'full' },
    status: 'running',
    phase: 'rewrite',
    counters: { objects: 0, bytes: 0, rewritten: 0, skipped: 0, failed: 0 },
    problems: [],
    revision: 3,
    pages: 0,
    createdAt: '2026-12-03T13:00:00.000Z',
    createdBy: 'AKADMIN',
    updatedAt: '2026-12-03T13:00:00.000Z',
    gateSince: '2026-12-03T13:00:00.000Z',
    ...overrides,
  };
}

/** The EMF document's metric values by name, and its dimensions and metadata. */
function emitted(metrics: Metrics) {
  const emf = metrics.serializeMetrics() as unknown as Record<string, unknown> & {
    _aws: {
      CloudWatchMetrics: {
        Namespace: string;
        Dimensions: string[][];
        Metrics: { Name: string; Unit: string }[];
      }[];
    };
  };
  const [directive] = emf._aws.CloudWatchMetrics;
  return {
    namespace: directive.Namespace,
    dimensions: directive.Dimensions.flat(),
    units: Object.fromEntries(directive.Metrics.map((m) => [m.Name, m.Unit])),
    value: (name: string) => emf[name],
    emf,
  };
}

describe('job metrics', () => {
  it('emits what a page added, under the job kind, with the job id as metadata', () => {
    const metrics = new Metrics({ namespace: 'Sealgate', serviceName: 'sealgate-jobs' });
    const before = job({
      counters: { objects: 1000, bytes: 5000, rewritten: 990, skipped: 10, failed: 0 },
      pages: 1,
    });
    const after = job({
      counters: { objects: 2000, bytes: 9000, rewritten: 1985, skipped: 12, failed: 3 },
      pages: 2,
    });
    new PowertoolsJobMetrics(metrics).committed(before, after);
    const out = emitted(metrics);
    expect(out.namespace).toBe('Sealgate');
    expect(out.dimensions).toEqual(expect.arrayContaining(['service', 'Kind']));
    expect(out.value('Kind')).toBe('reencrypt');
    expect(out.value('jobId')).toBe(after.id);
    expect([
      out.value('JobObjects'),
      out.value('JobBytes'),
      out.value('JobObjectsRewritten'),
      out.value('JobObjectsSkipped'),
      out.value('JobObjectsFailed'),
      out.value('JobPages'),
    ]).toEqual([1000, 4000, 995, 2, 3, 1]);
    expect(out.units).toMatchObject({ JobBytes: 'Bytes', JobObjects: 'Count' });
    expect(out.value('JobsSucceeded')).toBeUndefined();
  });

  it.each([
    ['succeeded', 'JobsSucceeded'],
    ['succeeded-with-failures', 'JobsSucceededWithFailures'],
    ['failed', 'JobsFailed'],
    ['cancelled', 'JobsCancelled'],
  ] as const)('counts a job that ended %s once, as %s', (status, metric) => {
    const metrics = new Metrics({ namespace: 'Sealgate', serviceName: 'sealgate-jobs' });
    const adapter = new PowertoolsJobMetrics(metrics);
    adapter.committed(job(), job({ status, phase: 'done' }));
    expect(emitted(metrics).value(metric)).toBe(1);
  });

  it('emits nothing for a commit that changed no counter (a phase change)', () => {
    const metrics = new Metrics({ namespace: 'Sealgate', serviceName: 'sealgate-jobs' });
    new PowertoolsJobMetrics(metrics).committed(job({ phase: 'gate' }), job({ phase: 'rewrite' }));
    expect(metrics.hasStoredMetrics()).toBe(false);
  });
});
