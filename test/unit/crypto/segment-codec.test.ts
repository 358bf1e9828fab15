import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decryptSegment,
  encryptSegment,
  segmentCiphertextLength,
} from '../../../functions/core/crypto/index.js';
import { collect, drain, expectSameBytes, inPieces, patternBytes, reasonOf, splitAt } from './streams.js';

const dataKey = randomBytes(32);
const KIB64 = 65_536;

async function encrypt(plaintext: Uint8Array, partNumber = 0, cuts: number[] = []): Promise<Buffer> {
  return collect(
    encryptSegment(splitAt(plaintext, cuts), dataKey, { partNumber, plaintextLength: plaintext.byteLength }),
  );
}

function decrypt(ciphertext: Buffer, plaintextLength: number, partNumber = 0, cuts: number[] = []) {
  return decryptSegment(splitAt(ciphertext.subarray(24), cuts), dataKey, {
    partNumber,
    header: ciphertext.subarray(0, 24),
    firstChunk: 0,
    segmentPlaintextLength: plaintextLength,
  });
}

/** A source that counts how many pieces were pulled from it and whether it was closed. */
function countingSource(bytes: Uint8Array, pieceSize: number) {
  const state = { pulled: 0, closed: false };
  async function* source(): AsyncGenerator<Uint8Array> {
    try {
      for (let from = 0; from < bytes.byteLength; from += pieceSize) {
        state.pulled++;
        yield bytes.subarray(from, from + pieceSize);
      }
    } finally {
      state.closed = true;
    }
  }
  return { source: source(), state };
}

describe('encryptSegment / decryptSegment', () => {
  it('round-trips plaintexts of random sizes cut at random points on both sides', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 4 * KIB64 + 100 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        fc.integer({ min: 0, max: 10_000 }),
        async (size, plainCuts, cipherCuts, partNumber) => {
          const plaintext = randomBytes(size);
          const ciphertext = await encrypt(
            plaintext,
            partNumber,
            plainCuts.map((cut) => cut % (size + 1)),
          );
          expect(ciphertext.byteLength).toBe(segmentCiphertextLength(size));
          const cuts = cipherCuts.map((cut) => cut % ciphertext.byteLength);
          expectSameBytes(await collect(decrypt(ciphertext, size, partNumber, cuts)), plaintext);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('round-trips sizes at every chunk boundary', async () => {
    for (const size of [0, 1, KIB64 - 1, KIB64, KIB64 + 1, 2 * KIB64, 2 * KIB64 + 1]) {
      const plaintext = patternBytes(size);
      expectSameBytes(await collect(decrypt(await encrypt(plaintext), size)), plaintext);
    }
  });

  it('round-trips a source that yields one byte at a time', async () => {
    const plaintext = randomBytes(KIB64 + 3);
    const ciphertext = await collect(
      encryptSegment(inPieces(plaintext, 1), dataKey, {
        partNumber: 1,
        plaintextLength: plaintext.byteLength,
      }),
    );
    const decrypted = decryptSegment(inPieces(ciphertext.subarray(24), 1), dataKey, {
      partNumber: 1,
      header: ciphertext.subarray(0, 24),
      firstChunk: 0,
      segmentPlaintextLength: plaintext.byteLength,
    });
    expectSameBytes(await collect(decrypted), plaintext);
  });

  it('takes a fresh salt for every segment, so the same plaintext encrypts differently each time', async () => {
    const plaintext = patternBytes(100);
    const [a, b] = [await encrypt(plaintext, 3), await encrypt(plaintext, 3)];
    expect(a.subarray(8, 24)).not.toEqual(b.subarray(8, 24));
    expect(a.subarray(24)).not.toEqual(b.subarray(24));
  });

  it('pulls from the source only as the consumer pulls (backpressure)', async () => {
    const { source, state } = countingSource(randomBytes(10 * KIB64), KIB64);
    const iterator = encryptSegment(source, dataKey, { partNumber: 0, plaintextLength: 10 * KIB64 })[
      Symbol.asyncIterator
    ]();
    await iterator.next(); // the header
    expect(state.pulled).toBe(0);
    await iterator.next(); // chunk 0's ciphertext
    expect(state.pulled).toBe(1);
    await iterator.next(); // chunk 0's tag
    await iterator.next(); // chunk 1's ciphertext
    expect(state.pulled).toBe(2);
    await iterator.return?.();
    expect(state.closed).toBe(true);
  });

  it('closes its source when the consumer stops decrypting early', async () => {
    const plaintext = randomBytes(5 * KIB64);
    const ciphertext = await encrypt(plaintext);
    const { source, state } = countingSource(ciphertext.subarray(24), 4096);
    const decrypted = decryptSegment(source, dataKey, {
      partNumber: 0,
      header: ciphertext.subarray(0, 24),
      firstChunk: 0,
      segmentPlaintextLength: plaintext.byteLength,
    });
    let released = 0;
    for await (const piece of decrypted) {
      expectSameBytes(piece, plaintext.subarray(0, piece.byteLength));
      released = piece.byteLength;
      break;
    }
    expect(released).toBeGreaterThan(0);
    expect(state.closed).toBe(true);
    expect(state.pulled).toBeLessThanOrEqual(Math.ceil((KIB64 + 16) / 4096));
  });

  it('does not read the data key after the call returns, so the caller may wipe it at once', async () => {
    const key = Buffer.from(dataKey);
    const plaintext = patternBytes(1000);
    const encrypted = encryptSegment(splitAt(plaintext), key, { partNumber: 0, plaintextLength: 1000 });
    key.fill(0);
    expectSameBytes(await collect(decrypt(await collect(encrypted), 1000)), plaintext);
  });

  describe('refuses a plaintext that does not match its declared length', () => {
    it.each([
      ['shorter', KIB64 * 2, KIB64 * 2 - 1, 'the plaintext ended after 131071 bytes, 131072 were declared'],
      [
        'shorter by whole chunks',
        KIB64 * 3,
        KIB64,
        'the plaintext ended after 65536 bytes, 196608 were declared',
      ],
      ['empty', 10, 0, 'the plaintext ended after 0 bytes, 10 were declared'],
      ['longer', KIB64, KIB64 + 1, 'the plaintext is longer than the 65536 bytes declared'],
      ['longer than an empty declaration', 0, 1, 'the plaintext is longer than the 0 bytes declared'],
    ])('%s', async (_, declared, actual, message) => {
      const { released, error } = await drain(
        encryptSegment(splitAt(randomBytes(actual), [7]), dataKey, {
          partNumber: 0,
          plaintextLength: declared,
        }),
      );
      expect(reasonOf(error)).toBe('length-mismatch');
      expect((error as Error).message).toBe(message);
      // Never a complete-looking segment: the final chunk is not released.
      expect(released.byteLength).toBeLessThan(segmentCiphertextLength(declared));
    });
  });

  it.each<[string, () => unknown, string]>([
    [
      'a data key that is not 32 bytes',
      () => encryptSegment(splitAt(Buffer.alloc(0)), randomBytes(16), { partNumber: 0, plaintextLength: 0 }),
      'a data key must be 32 bytes',
    ],
    [
      'a part number outside 0..10000',
      () => encryptSegment(splitAt(Buffer.alloc(0)), dataKey, { partNumber: 10_001, plaintextLength: 0 }),
      'a part number is a whole number from 0 to 10000, got 10001',
    ],
    [
      'a negative plaintext length',
      () => encryptSegment(splitAt(Buffer.alloc(0)), dataKey, { partNumber: 0, plaintextLength: -1 }),
      'a plaintext length is a whole number from 0 to 5 TiB, got -1',
    ],
    [
      'a salt that is not 16 bytes',
      () =>
        encryptSegment(splitAt(Buffer.alloc(0)), dataKey, {
          partNumber: 0,
          plaintextLength: 0,
          salt: Buffer.alloc(8),
        }),
      'a segment salt must be 16 bytes',
    ],
  ])('refuses to encrypt with %s, before reading anything', (_, call, message) => {
    expect(call).toThrow(RangeError);
    expect(call).toThrow(message);
  });

  it('decrypts a run of chunks from the middle of a segment', async () => {
    const plaintext = randomBytes(5 * KIB64 + 7);
    const ciphertext = await encrypt(plaintext);
    const run = ciphertext.subarray(24 + 2 * (KIB64 + 16), 24 + 4 * (KIB64 + 16));
    const decrypted = decryptSegment(splitAt(run, [5, 70_000]), dataKey, {
      partNumber: 0,
      header: ciphertext.subarray(0, 24),
      firstChunk: 2,
      chunkCount: 2,
      segmentPlaintextLength: plaintext.byteLength,
    });
    expectSameBytes(await collect(decrypted), plaintext.subarray(2 * KIB64, 4 * KIB64));
  });

  describe('refuses, before reading anything, a decryption whose layout is impossible', () => {
    const header = Buffer.from('5347450100000000' + '00'.repeat(16), 'hex');
    const base = { partNumber: 0, header, firstChunk: 0, segmentPlaintextLength: 3 * KIB64 };
    it.each<[string, Partial<typeof base> & { chunkCount?: number }, string]>([
      [
        'a part number over 10000',
        { partNumber: 10_001 },
        'a part number is a whole number from 0 to 10000, got 10001',
      ],
      [
        'a plaintext length over 5 TiB',
        { segmentPlaintextLength: 5 * 2 ** 40 + 1 },
        "a segment's plaintext length is a whole number from 0 to 5 TiB, got 5497558138881",
      ],
      [
        'a negative first chunk',
        { firstChunk: -1 },
        'a chunk run starts at 0 or later and holds at least one chunk',
      ],
      [
        'an empty chunk run',
        { chunkCount: 0 },
        'a chunk run starts at 0 or later and holds at least one chunk',
      ],
      [
        'a chunk run past the end',
        { firstChunk: 2, chunkCount: 2 },
        "chunks 2..3 run past the segment's 3 chunks",
      ],
      ['a header for another part', { partNumber: 4 }, 'the segment header is for part 0, expected part 4'],
    ])('%s', (_, change, message) => {
      let caught: unknown;
      try {
        decryptSegment(splitAt(Buffer.alloc(0)), dataKey, { ...base, ...change });
      } catch (error) {
        caught = error;
      }
      expect(['invalid-layout', 'part-number-mismatch']).toContain(reasonOf(caught));
      expect((caught as Error).message).toBe(message);
    });
  });
});
