import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { S3Error } from '../../../functions/core/errors.js';
import { parseRange } from '../../../functions/core/s3/range.js';
import { thrown } from '../../support/thrown.js';

function rangeError(header: string, size: number): S3Error {
  return thrown(() => parseRange(header, size), S3Error);
}

describe('parseRange', () => {
  it.each([
    ['bytes=0-0', 10, { start: 0, end: 0 }],
    ['bytes=2-5', 10, { start: 2, end: 5 }],
    ['bytes=2-', 10, { start: 2, end: 9 }],
    ['bytes=-3', 10, { start: 7, end: 9 }],
    ['bytes=-30', 10, { start: 0, end: 9 }],
    ['bytes=5-100', 10, { start: 5, end: 9 }],
  ])('maps %s over %i bytes', (header, size, expected) => {
    expect(parseRange(header, size)).toEqual(expected);
  });

  it.each(['items=0-1', 'bytes=0-1,3-4', 'bytes=a-b', 'bytes=5-2', 'bytes=-'])(
    'ignores %s and serves the whole object, as S3 does',
    (header) => {
      expect(parseRange(header, 10)).toBeUndefined();
    },
  );

  it.each([
    ['bytes=10-', 10],
    ['bytes=10-20', 10],
    ['bytes=-0', 10],
    ['bytes=0-', 0],
    ['bytes=-5', 0],
  ])('rejects the unsatisfiable %s over %i bytes with 416 InvalidRange', (header, size) => {
    const error = rangeError(header, size);
    expect(error.code).toBe('InvalidRange');
    expect(error.status).toBe(416);
    expect(error.headers['content-range']).toBe(`bytes */${size}`);
  });

  it('always yields a range inside the object', () => {
    fc.assert(
      fc.property(
        fc.nat(1 << 20),
        fc.nat(1 << 21),
        fc.nat(1 << 21),
        fc.constantFrom('a-b', 'a-', '-b'),
        (size, a, b, form) => {
          const header = 'bytes=' + form.replace('a', String(a)).replace('b', String(b));
          let range;
          try {
            range = parseRange(header, size);
          } catch (error) {
            expect((error as S3Error).status).toBe(416);
            return;
          }
          if (range === undefined) return;
          expect(range.start).toBeGreaterThanOrEqual(0);
          expect(range.end).toBeLessThan(size);
          expect(range.start).toBeLessThanOrEqual(range.end);
        },
      ),
    );
  });
});
