import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CHUNK_PLAINTEXT_LENGTH,
  FormatError,
  MAX_PLAINTEXT_LENGTH,
  parseSegmentHeader,
  segmentCiphertextLength,
  segmentPlaintextLength,
} from '../../../functions/core/crypto/index.js';
import { encodeSegmentHeader } from '../../../functions/core/crypto/segment-layout.js';
import { reasonOf } from './streams.js';

const KIB64 = CHUNK_PLAINTEXT_LENGTH;

describe('segmentCiphertextLength', () => {
  it.each([
    [0, 24 + 16],
    [1, 24 + 1 + 16],
    [KIB64 - 1, 24 + KIB64 - 1 + 16],
    [KIB64, 24 + KIB64 + 16],
    [KIB64 + 1, 24 + KIB64 + 1 + 32],
    [200_000, 24 + 200_000 + 64],
    [5 * 2 ** 30, 24 + 5 * 2 ** 30 + 16 * 81_920],
  ])('is 24 + P + 16 * max(1, ceil(P / 65536)) for P = %i', (plaintext, ciphertext) => {
    expect(segmentCiphertextLength(plaintext)).toBe(ciphertext);
  });

  it.each([-1, 1.5, Number.NaN, MAX_PLAINTEXT_LENGTH + 1])(
    'refuses a plaintext length that is not a whole number from 0 to 5 TiB: %s',
    (plaintext) => {
      expect(() => segmentCiphertextLength(plaintext)).toThrow(
        'a plaintext length is a whole number from 0 to 5 TiB',
      );
    },
  );
});

describe('segmentPlaintextLength', () => {
  it.each([
    [0, 'shorter than a header and one tag'],
    [39, 'shorter than a header and one tag'],
    [24 + KIB64 + 16 + 1, 'a last chunk of 1 byte, shorter than its tag'],
    [24 + KIB64 + 16 + 15, 'a last chunk of 15 bytes, shorter than its tag'],
    [24 + KIB64 + 16 + 16, 'an empty last chunk after a full one'],
    [24 + 1.5, 'not a whole number'],
    [segmentCiphertextLength(MAX_PLAINTEXT_LENGTH) + 1, 'more than 5 TiB of plaintext'],
  ])('refuses %i bytes: %s', (ciphertext) => {
    let caught: unknown;
    try {
      segmentPlaintextLength(ciphertext);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(FormatError);
    expect(reasonOf(caught)).toBe('invalid-layout');
    expect((caught as Error).message).toBe(`no plaintext encrypts to a segment of ${ciphertext} bytes`);
  });

  it('inverts segmentCiphertextLength for every plaintext length', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_PLAINTEXT_LENGTH }), (plaintext) => {
        expect(segmentPlaintextLength(segmentCiphertextLength(plaintext))).toBe(plaintext);
      }),
      { numRuns: 2000 },
    );
  });

  it('inverts it near every chunk boundary', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: -2, max: 2 }), (chunks, delta) => {
        const plaintext = Math.max(0, chunks * KIB64 + delta);
        expect(segmentPlaintextLength(segmentCiphertextLength(plaintext))).toBe(plaintext);
      }),
    );
  });

  it('accepts exactly the lengths some plaintext encrypts to', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 40 * (KIB64 + 16) }), (ciphertext) => {
        let plaintext: number | undefined;
        try {
          plaintext = segmentPlaintextLength(ciphertext);
        } catch (error) {
          expect(reasonOf(error)).toBe('invalid-layout');
        }
        if (plaintext !== undefined) expect(segmentCiphertextLength(plaintext)).toBe(ciphertext);
        else {
          // No plaintext near the candidate encrypts to this length.
          const guess = Math.max(0, ciphertext - 24 - 16 * Math.ceil((ciphertext - 24) / (KIB64 + 16)));
          for (const candidate of [guess - 1, guess, guess + 1].filter((p) => p >= 0)) {
            expect(segmentCiphertextLength(candidate)).not.toBe(ciphertext);
          }
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('segment header', () => {
  const salt = new Uint8Array(16).fill(0xab);

  it('is "SGE", version 1, the part number big-endian and the salt', () => {
    expect(Buffer.from(encodeSegmentHeader(10_000, salt)).toString('hex')).toBe(
      '53474501' + '00002710' + 'ab'.repeat(16),
    );
  });

  it('parses back to its part number and salt', () => {
    const header = encodeSegmentHeader(42, salt);
    expect(parseSegmentHeader(header)).toEqual({ partNumber: 42, salt });
  });

  it('parses a header that is a view into a larger buffer', () => {
    const larger = new Uint8Array(100);
    larger.set(encodeSegmentHeader(7, salt), 30);
    expect(parseSegmentHeader(larger.subarray(30, 54)).partNumber).toBe(7);
  });

  it.each([
    ['a segment header is 24 bytes, got 23', 'bad-header', encodeSegmentHeader(1, salt).subarray(0, 23)],
    [
      'a segment header starts with "SGE"',
      'bad-header',
      Uint8Array.from([0x53, 0x47, 0x46, 1, ...new Array<number>(20).fill(0)]),
    ],
    [
      'segment format version 2 is not supported',
      'unsupported-version',
      Uint8Array.from([0x53, 0x47, 0x45, 2, ...new Array<number>(20).fill(0)]),
    ],
  ])('refuses a header: %s', (message, reason, header) => {
    let caught: unknown;
    try {
      parseSegmentHeader(header);
    } catch (error) {
      caught = error;
    }
    expect(reasonOf(caught)).toBe(reason);
    expect((caught as Error).message).toBe(message);
  });
});
