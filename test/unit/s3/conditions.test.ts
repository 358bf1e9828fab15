import { describe, expect, it } from 'vitest';
import { S3Error } from '../../../functions/core/errors.js';
import { checkCopySourceConditions, checkReadConditions } from '../../../functions/core/s3/conditions.js';

const object = { etag: '"abc"', lastModified: new Date('2026-01-02T03:04:05Z') };
const before = 'Thu, 01 Jan 2026 00:00:00 GMT';
const after = 'Sat, 03 Jan 2026 00:00:00 GMT';

function outcome(run: () => void): string {
  try {
    run();
    return '200';
  } catch (error) {
    if (error instanceof S3Error) return `${error.status}`;
    throw error;
  }
}

describe('checkReadConditions', () => {
  it.each([
    [{ 'if-match': '"abc"' }, '200'],
    [{ 'if-match': 'abc' }, '200'],
    [{ 'if-match': '*' }, '200'],
    [{ 'if-match': '"other"' }, '412'],
    [{ 'if-none-match': '"abc"' }, '304'],
    [{ 'if-none-match': '"other"' }, '200'],
    [{ 'if-modified-since': after }, '304'],
    [{ 'if-modified-since': before }, '200'],
    [{ 'if-unmodified-since': before }, '412'],
    [{ 'if-unmodified-since': after }, '200'],
    // S3's documented precedence: a holding If-Match overrides a failing If-Unmodified-Since ...
    [{ 'if-match': '"abc"', 'if-unmodified-since': before }, '200'],
    // ... and a failing If-None-Match wins over a holding If-Modified-Since.
    [{ 'if-none-match': '"abc"', 'if-modified-since': before }, '304'],
    [{ 'if-modified-since': 'not a date' }, '200'],
  ])('answers %j with %s', (headers, status) => {
    expect(outcome(() => checkReadConditions(new Headers(headers), object))).toBe(status);
  });
});

describe('checkCopySourceConditions', () => {
  it.each([
    [{ 'x-amz-copy-source-if-match': '"abc"' }, '200'],
    [{ 'x-amz-copy-source-if-match': '"zzz"' }, '412'],
    [{ 'x-amz-copy-source-if-none-match': '"abc"' }, '412'],
    [{ 'x-amz-copy-source-if-modified-since': after }, '412'],
    [{ 'x-amz-copy-source-if-unmodified-since': before }, '412'],
    [{ 'x-amz-copy-source-if-unmodified-since': after }, '200'],
  ])('answers %j with %s (every failure is 412 for a copy)', (headers, status) => {
    expect(outcome(() => checkCopySourceConditions(new Headers(headers), object))).toBe(status);
  });
});
