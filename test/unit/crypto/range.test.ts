import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ByteRange } from '../../../functions/core/backend.js';
import {
  decryptRange,
  objectCiphertextLength,
  planRange,
  segmentCiphertextLength,
} from '../../../functions/core/crypto/index.js';
import { collect, drain, expectSameBytes, reasonOf, splitAt, storeObject as storeParts } from './streams.js';

const KIB64 = 65_536;
const CHUNK = KIB64 + 16;
const MIB = 2 ** 20;
const dataKey = randomBytes(32);

function reasonOfCall(call: () => unknown): string {
  try {
    call();
  } catch (error) {
    return reasonOf(error);
  }
  throw new Error('the call succeeded');
}

function storeObject(parts: Buffer[], partNumbers: number[]): Promise<Buffer> {
  return storeParts(dataKey, parts, partNumbers);
}

/** A backend serving inclusive ranges of `stored`, cut at `cuts`, recording what was asked. */
function backend(stored: Buffer, cuts: number[] = []) {
  const fetched: ByteRange[] = [];
  const fetch = (range: ByteRange) => {
    fetched.push(range);
    const bytes = stored.subarray(range.start, range.end + 1);
    return splitAt(
      bytes,
      cuts.map((cut) => cut % (bytes.byteLength + 1)),
    );
  };
  return { fetch, fetched };
}

describe('planRange', () => {
  const GIB = 2 ** 30;
  const size = GIB;
  const lastChunk = size / KIB64 - 1;

  it('reads the first byte of a 1 GiB object from the header and chunk 0 only', () => {
    expect(planRange([size], [0], { start: 0, end: 0 })).toEqual([
      {
        segmentIndex: 0,
        partNumber: 0,
        segmentPlaintextLength: size,
        header: { start: 0, end: 23 },
        chunks: { start: 24, end: 24 + CHUNK - 1 },
        firstChunk: 0,
        chunkCount: 1,
        skip: 0,
        keep: 1,
      },
    ]);
  });

  it('reads the middle byte of a 1 GiB object from the header and the one chunk that holds it', () => {
    const [plan] = planRange([size], [0], { start: size / 2, end: size / 2 });
    expect(plan).toMatchObject({
      header: { start: 0, end: 23 },
      chunks: { start: 24 + 8192 * CHUNK, end: 24 + 8193 * CHUNK - 1 },
      firstChunk: 8192,
      chunkCount: 1,
      skip: 0,
      keep: 1,
    });
  });

  it('reads the last byte of a 1 GiB object from the header and the last chunk', () => {
    const [plan] = planRange([size], [0], { start: size - 1, end: size - 1 });
    expect(plan).toMatchObject({
      chunks: { start: 24 + lastChunk * CHUNK, end: segmentCiphertextLength(size) - 1 },
      firstChunk: lastChunk,
      chunkCount: 1,
      skip: KIB64 - 1,
      keep: 1,
    });
  });

  it('plans a range across part boundaries segment by segment, reading the middle part whole', () => {
    const lengths = [5 * MIB, 5 * MIB, 1000];
    const plans = planRange(lengths, [1, 2, 5], { start: 5 * MIB - 10, end: 10 * MIB + 9 });
    const secondStart = segmentCiphertextLength(5 * MIB);
    const thirdStart = 2 * secondStart;
    expect(
      plans.map((plan) => [plan.partNumber, plan.firstChunk, plan.chunkCount, plan.skip, plan.keep]),
    ).toEqual([
      [1, 79, 1, KIB64 - 10, 10],
      [2, 0, 80, 0, 5 * MIB],
      [5, 0, 1, 0, 10],
    ]);
    expect(plans[1].header).toEqual({ start: secondStart, end: secondStart + 23 });
    expect(plans[1].chunks).toEqual({ start: secondStart + 24, end: thirdStart - 1 });
    expect(plans[2].chunks).toEqual({ start: thirdStart + 24, end: thirdStart + 24 + 1016 - 1 });
  });

  it('skips empty segments', () => {
    const plans = planRange([10, 0, 10], [1, 2, 3], { start: 0, end: 19 });
    expect(plans.map((plan) => plan.partNumber)).toEqual([1, 3]);
    expect(plans[1].header.start).toBe(segmentCiphertextLength(10) + segmentCiphertextLength(0));
  });

  it.each<[string, ByteRange, number[]]>([
    ['past the end', { start: 0, end: 100 }, [100]],
    ['starting past the end', { start: 100, end: 100 }, [100]],
    ['with start after end', { start: 5, end: 4 }, [100]],
    ['with a negative start', { start: -1, end: 4 }, [100]],
    ['with a fractional end', { start: 0, end: 1.5 }, [100]],
    ['of an empty object', { start: 0, end: 0 }, [0]],
  ])('refuses a range %s as not satisfiable', (_, range, lengths) => {
    expect(reasonOfCall(() => planRange(lengths, lengths.length === 1 ? [0] : [1, 2], range))).toBe(
      'range-not-satisfiable',
    );
  });

  it.each<[string, number[], number[]]>([
    ['one plaintext length per part number', [1, 2], [1]],
    ['at least one segment', [], []],
    ['part numbers that ascend strictly (reordered)', [1, 1], [2, 1]],
    ['part numbers that ascend strictly (repeated)', [1, 1], [1, 1]],
    ['no part 0 in a multipart object', [1, 1], [0, 1]],
    ['part numbers up to 10000', [1], [10_001]],
    ['whole plaintext lengths', [1.5], [0]],
    ['no negative plaintext lengths', [-1], [0]],
    ['at most 5 TiB', [5 * 2 ** 40, 1], [1, 2]],
  ])('refuses a layout that breaks the rule: %s', (_, lengths, partNumbers) => {
    expect(reasonOfCall(() => planRange(lengths, partNumbers, { start: 0, end: 0 }))).toBe('invalid-layout');
  });

  it('accepts a single-part multipart object (part 1 alone) and the full 10000 parts', () => {
    expect(planRange([5], [1], { start: 0, end: 4 })).toHaveLength(1);
    const many = Array.from({ length: 10_000 }, (_, i) => i + 1);
    expect(
      planRange(
        many.map(() => 1),
        many,
        { start: 9_999, end: 9_999 },
      )[0].partNumber,
    ).toBe(10_000);
  });

  it('computes the stored length of an object as the sum of its segments', () => {
    expect(objectCiphertextLength([0], [0])).toBe(40);
    expect(objectCiphertextLength([5 * MIB, 1], [1, 2])).toBe(24 + 5 * MIB + 80 * 16 + 24 + 1 + 16);
  });
});

describe('decryptRange', () => {
  const layout = fc
    .array(fc.integer({ min: 0, max: 3 * KIB64 + 50 }), { minLength: 1, maxLength: 4 })
    .chain((lengths): fc.Arbitrary<{ lengths: number[]; partNumbers: number[] }> =>
      lengths.length === 1
        ? fc.constant({ lengths, partNumbers: [0] })
        : fc
            .uniqueArray(fc.integer({ min: 1, max: 10_000 }), {
              minLength: lengths.length,
              maxLength: lengths.length,
            })
            .map((numbers) => ({ lengths, partNumbers: numbers.sort((a, b) => a - b) })),
    )
    .filter(({ lengths }) => lengths.reduce((a, b) => a + b, 0) > 0);

  it('returns exactly plaintext.slice(start, end + 1) for random ranges of random multipart objects', async () => {
    await fc.assert(
      fc.asyncProperty(
        layout,
        fc.nat(),
        fc.nat(),
        fc.array(fc.nat(), { maxLength: 5 }),
        async ({ lengths, partNumbers }, a, b, cuts) => {
          const parts = lengths.map((length) => randomBytes(length));
          const plaintext = Buffer.concat(parts);
          const stored = await storeObject(parts, partNumbers);
          expect(stored.byteLength).toBe(objectCiphertextLength(lengths, partNumbers));
          const [start, end] = [a % plaintext.byteLength, b % plaintext.byteLength].sort((x, y) => x - y) as [
            number,
            number,
          ];
          const { fetch, fetched } = backend(stored, cuts);
          const range = { start, end };
          const result = await collect(
            decryptRange({ dataKey, segmentPlaintextLengths: lengths, partNumbers, range, fetch }),
          );
          expectSameBytes(result, plaintext.subarray(start, end + 1));
          // At most two fetches: a separate header, then one run; and only the planned bytes, plus the
          // 40 stored bytes of each empty part the run crosses.
          const plans = planRange(lengths, partNumbers, range);
          const crossedEmpty = lengths
            .slice(plans[0].segmentIndex, plans[plans.length - 1].segmentIndex)
            .filter((length) => length === 0).length;
          const planned =
            plans.reduce((sum, plan) => sum + 24 + plan.chunks.end - plan.chunks.start + 1, 0) +
            crossedEmpty * segmentCiphertextLength(0);
          expect(fetched.length).toBeLessThanOrEqual(2);
          expect(fetched.reduce((sum, r) => sum + r.end - r.start + 1, 0)).toBe(planned);
        },
      ),
      { numRuns: 120 },
    );
  });

  it('reads across an empty part between two others (a range ending where the empty part lies)', async () => {
    const parts = [randomBytes(22_171), Buffer.alloc(0), randomBytes(96_344)];
    const plaintext = Buffer.concat(parts);
    const { fetch } = backend(await storeObject(parts, [1, 2, 3]));
    for (const range of [
      { start: 0, end: 22_171 },
      { start: 22_170, end: 22_171 },
      { start: 100, end: plaintext.byteLength - 1 },
    ]) {
      const result = await collect(
        decryptRange({
          dataKey,
          segmentPlaintextLengths: [22_171, 0, 96_344],
          partNumbers: [1, 2, 3],
          range,
          fetch,
        }),
      );
      expectSameBytes(result, plaintext.subarray(range.start, range.end + 1));
    }
  });

  it('fetches the header and the middle chunk alone for a range in the middle of a large object', async () => {
    const plaintext = randomBytes(10 * KIB64);
    const stored = await storeObject([plaintext], [0]);
    const { fetch, fetched } = backend(stored);
    const range = { start: 5 * KIB64 + 100, end: 5 * KIB64 + 199 };
    const result = await collect(
      decryptRange({
        dataKey,
        segmentPlaintextLengths: [plaintext.byteLength],
        partNumbers: [0],
        range,
        fetch,
      }),
    );
    expectSameBytes(result, plaintext.subarray(range.start, range.end + 1));
    expect(fetched).toEqual([
      { start: 0, end: 23 },
      { start: 24 + 5 * CHUNK, end: 24 + 6 * CHUNK - 1 },
    ]);
  });

  it('fetches the header and the first chunk in one request for the first byte', async () => {
    const plaintext = randomBytes(3 * KIB64);
    const { fetch, fetched } = backend(await storeObject([plaintext], [0]));
    const range = { start: 0, end: 0 };
    await collect(
      decryptRange({
        dataKey,
        segmentPlaintextLengths: [plaintext.byteLength],
        partNumbers: [0],
        range,
        fetch,
      }),
    );
    expect(fetched).toEqual([{ start: 0, end: 24 + CHUNK - 1 }]);
  });

  describe('with a misbehaving backend', () => {
    const parts = [randomBytes(KIB64 + 5), randomBytes(100)];
    const lengths = parts.map((part) => part.byteLength);
    const range = { start: KIB64 + 1, end: KIB64 + 50 };

    async function readWith(fetch: (range: ByteRange) => AsyncIterable<Uint8Array>, partNumbers = [1, 2]) {
      try {
        return await drain(
          decryptRange({ dataKey, segmentPlaintextLengths: lengths, partNumbers, range, fetch }),
        );
      } catch (error) {
        return { released: Buffer.alloc(0), error };
      }
    }

    it.each<[string, (stored: Buffer, r: ByteRange) => Buffer, string]>([
      ['one byte more than asked', (stored, r) => stored.subarray(r.start, r.end + 2), 'trailing-bytes'],
      ['one byte less than asked', (stored, r) => stored.subarray(r.start, r.end), 'truncated'],
      ['nothing', () => Buffer.alloc(0), 'truncated'],
    ])('rejects a backend that returns %s', async (_, serve, reason) => {
      const stored = await storeObject(parts, [1, 2]);
      const result = await readWith((r) => splitAt(serve(stored, r)));
      expect(reasonOf(result.error)).toBe(reason);
      expect(result.released.byteLength).toBe(0);
    });

    it('rejects parts stored in swapped order', async () => {
      const swapped = Buffer.concat([await storeObject([parts[1]], [2]), await storeObject([parts[0]], [1])]);
      const result = await readWith(backend(swapped).fetch);
      expect(['part-number-mismatch', 'truncated', 'chunk-auth-failed']).toContain(reasonOf(result.error));
      expect(result.released.byteLength).toBe(0);
    });

    it('refuses a layout whose part list was reordered, before fetching', async () => {
      const { fetch, fetched } = backend(await storeObject(parts, [1, 2]));
      const result = await readWith(fetch, [2, 1]);
      expect(reasonOf(result.error)).toBe('invalid-layout');
      expect(fetched).toEqual([]);
    });
  });
});
