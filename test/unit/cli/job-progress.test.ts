import { describe, expect, it } from 'vitest';
import {
  formatBytes,
  formatDuration,
  progressLine,
  summaryLine,
  type JobAnswer,
} from '../../../functions/cli/job-progress.js';

/** A running job that started 10 s before its last commit. */
function job(counters: Partial<JobAnswer['counters']>, more: Partial<JobAnswer> = {}): JobAnswer {
  return {
    id: 'j-20260101000000-0000abcd',
    kind: 'reencrypt',
    bucket: 'photos',
    status: 'running',
    phase: 'rewrite',
    strategy: 'full',
    counters: { objects: 0, bytes: 0, rewritten: 0, skipped: 0, failed: 0, total: null, ...counters },
    problems_kept: 0,
    pages: 1,
    created_at: '2026-01-01T00:00:00.000Z',
    created_by: 'SGADMIN',
    started_at: '2026-01-01T00:00:00.000Z',
    updated_at: '2026-01-01T00:00:10.000Z',
    finished_at: null,
    execution: 'local:1',
    cancel_requested: false,
    error: null,
    ...more,
  };
}

describe('job progress lines', () => {
  it('in the first pass (no total yet): objects and bytes with their rates, no percentage nor ETA', () => {
    const line = progressLine(job({ objects: 200, bytes: 50_000_000 }));
    expect(line).toBe(
      'j-20260101000000-0000abcd photos running rewrite 200 objects, 50.0 MB, 20.0 obj/s, 5.0 MB/s',
    );
  });

  it('once the total is known: done of total with a percentage, and the ETA at the observed rate', () => {
    const line = progressLine(job({ objects: 100, bytes: 1000, total: 400 }, { phase: 'sweep' }));
    expect(line).toContain('100/400 objects (25%), 1.0 kB, 10.0 obj/s, 100 B/s, ETA 30 s');
  });

  it('puts a drawn bar between the job and the numbers', () => {
    expect(progressLine(job({ objects: 1, total: 2 }), '[==  ]')).toMatch(
      / rewrite \[== {2}\] 1\/2 objects \(50%\)/,
    );
  });

  it('a finished job has no ETA, and its rate runs to its end', () => {
    const done = job(
      { objects: 30, bytes: 0, total: 40 },
      { status: 'cancelled', phase: 'done', finished_at: '2026-01-01T00:00:03.000Z' },
    );
    expect(progressLine(done)).toMatch(/30\/40 objects \(75%\), 0 B, 10\.0 obj\/s, 0 B\/s$/);
  });

  it('the summary names the error and points at kept problems', () => {
    const failed = job(
      { objects: 4, bytes: 2048, rewritten: 2, skipped: 1, failed: 1, total: 4 },
      { status: 'failed', error: 'the backend went away', problems_kept: 2 },
    );
    expect(summaryLine(failed)).toBe(
      'j-20260101000000-0000abcd photos failed: 4 objects (2.0 kB), 2 rewritten, 1 skipped, 1 failed in 10 s; ' +
        'the backend went away (see sealgate jobs failures j-20260101000000-0000abcd)',
    );
  });

  it('a job not started yet shows no rate', () => {
    expect(progressLine(job({}, { status: 'queued', phase: 'gate', started_at: null }))).toMatch(
      /queued gate 0 objects, 0 B$/,
    );
  });
});

describe('units', () => {
  it.each([
    [0, '0 B'],
    [999, '999 B'],
    [1000, '1.0 kB'],
    [1_234_567, '1.2 MB'],
    [5e12, '5.0 TB'],
  ])('formatBytes(%d) is %s', (bytes, text) => expect(formatBytes(bytes)).toBe(text));

  it.each([
    [0.25, '250 ms'],
    [4.25, '4.3 s'],
    [42, '42 s'],
    [185, '3m05s'],
    [7380, '2h03m'],
  ])('formatDuration(%d) is %s', (seconds, text) => expect(formatDuration(seconds)).toBe(text));
});
