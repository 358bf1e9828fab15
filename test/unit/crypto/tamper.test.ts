// The tamper matrix: every edit an attacker with write access to the backend can make to a stored segment
// is refused, and nothing is released from the damaged chunk or any chunk after it.
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  decryptSegment,
  encryptSegment,
  type FormatErrorReason,
  segmentPlaintextLength,
  unwrapDataKey,
  wrapDataKey,
} from '../../../functions/core/crypto/index.js';
import { collect, drain, expectSameBytes, reasonOf, splitAt } from './streams.js';

const KIB64 = 65_536;
const CHUNK = KIB64 + 16;
const dataKey = randomBytes(32);
// 200000 bytes: chunks 0..2 full, chunk 3 holds 3392 bytes.
const plaintext = randomBytes(200_000);
const CHUNKS = 4;
let segment: Buffer;

beforeAll(async () => {
  segment = await collect(
    encryptSegment(splitAt(plaintext), dataKey, { partNumber: 0, plaintextLength: plaintext.byteLength }),
  );
});

const chunkStart = (index: number) => 24 + index * CHUNK;
const chunkEnd = (index: number) => Math.min(chunkStart(index + 1), segment.byteLength);
const chunkBytes = (index: number) => segment.subarray(chunkStart(index), chunkEnd(index));

/** How the reader learns the segment's plaintext length. */
type LengthSource = 'from metadata' | 'from the stored length';

async function open(
  stored: Buffer,
  lengthFrom: LengthSource,
  plaintextLength = plaintext.byteLength,
  partNumber = 0,
) {
  try {
    const length =
      lengthFrom === 'from metadata' ? plaintextLength : segmentPlaintextLength(stored.byteLength);
    return await drain(
      decryptSegment(splitAt(stored.subarray(24), [1000, 70_000]), dataKey, {
        partNumber,
        header: stored.subarray(0, 24),
        firstChunk: 0,
        segmentPlaintextLength: length,
      }),
    );
  } catch (error) {
    return { released: Buffer.alloc(0), error };
  }
}

/**
 * Asserts the read failed with one of `reasons`, and released at most the chunks before `damagedChunk`,
 * each of them intact.
 */
function expectRefused(
  result: { released: Buffer; error?: unknown },
  reasons: FormatErrorReason[],
  damagedChunk: number,
): void {
  expect(result.error, 'the read should fail').toBeDefined();
  expect(reasons).toContain(reasonOf(result.error));
  expect(result.released.byteLength).toBeLessThanOrEqual(damagedChunk * KIB64);
  expectSameBytes(result.released, plaintext.subarray(0, result.released.byteLength));
}

function flipBit(bytes: Buffer, offset: number, bit = 0): Buffer {
  const copy = Buffer.from(bytes);
  copy[offset] ^= 1 << bit;
  return copy;
}

const lengthSources: LengthSource[] = ['from metadata', 'from the stored length'];

describe.each(lengthSources)('a tampered segment, plaintext length %s', (lengthFrom) => {
  it('decrypts when untouched', async () => {
    const result = await open(segment, lengthFrom);
    expect(result.error).toBeUndefined();
    expectSameBytes(result.released, plaintext);
  });

  it.each([
    ['magic', 0, 'bad-header'],
    ['magic', 2, 'bad-header'],
    ['version', 3, 'unsupported-version'],
    ['part number', 7, 'part-number-mismatch'],
    ['part number', 4, 'part-number-mismatch'],
    ['salt', 8, 'chunk-auth-failed'],
    ['salt', 23, 'chunk-auth-failed'],
  ] as const)('rejects a bit flipped in the header %s (byte %i)', async (_, offset, reason) => {
    expectRefused(await open(flipBit(segment, offset), lengthFrom), [reason], 0);
  });

  it.each([0, 1, 2, 3])('rejects a bit flipped in the ciphertext of chunk %i', async (index) => {
    expectRefused(
      await open(flipBit(segment, chunkStart(index) + 5, 3), lengthFrom),
      ['chunk-auth-failed'],
      index,
    );
  });

  it.each([0, 1, 2, 3])('rejects a bit flipped in the tag of chunk %i', async (index) => {
    expectRefused(
      await open(flipBit(segment, chunkEnd(index) - 1, 7), lengthFrom),
      ['chunk-auth-failed'],
      index,
    );
  });

  it.each([
    [0, 1],
    [1, 2],
    [0, 2],
  ])('rejects chunks %i and %i swapped', async (a, b) => {
    const swapped = Buffer.concat([
      segment.subarray(0, chunkStart(a)),
      chunkBytes(b),
      segment.subarray(chunkEnd(a), chunkStart(b)),
      chunkBytes(a),
      segment.subarray(chunkEnd(b)),
    ]);
    expectRefused(await open(swapped, lengthFrom), ['chunk-auth-failed'], a);
  });

  it.each([0, 1, 2, 3])('rejects chunk %i dropped', async (index) => {
    const dropped = Buffer.concat([
      segment.subarray(0, chunkStart(index)),
      segment.subarray(chunkEnd(index)),
    ]);
    expectRefused(await open(dropped, lengthFrom), ['chunk-auth-failed', 'truncated'], index);
  });

  it('rejects the last chunk replaced by a copy of an earlier full chunk', async () => {
    const replaced = Buffer.concat([segment.subarray(0, chunkStart(3)), chunkBytes(2)]);
    expectRefused(await open(replaced, lengthFrom), ['chunk-auth-failed', 'truncated'], 3);
  });

  it.each([0, 1, 2, 3])('rejects truncation at the boundary before chunk %i', async (index) => {
    // Cut right after the previous chunk's tag. Read by the metadata's length, chunk `index` is missing;
    // read by the stored length, what is left looks like a shorter segment whose last chunk is not final.
    expectRefused(
      await open(segment.subarray(0, chunkStart(index)), lengthFrom),
      ['truncated', 'chunk-auth-failed', 'invalid-layout'],
      lengthFrom === 'from metadata' ? index : Math.max(0, index - 1),
    );
  });

  it.each([0, 1, 2, 3])(
    'rejects truncation between the ciphertext and the tag of chunk %i',
    async (index) => {
      expectRefused(
        await open(segment.subarray(0, chunkEnd(index) - 16), lengthFrom),
        ['truncated', 'chunk-auth-failed', 'invalid-layout'],
        index,
      );
    },
  );

  it.each([1, 1000, CHUNK - 17])('rejects truncation %i bytes into chunk 2', async (into) => {
    expectRefused(
      await open(segment.subarray(0, chunkStart(2) + into), lengthFrom),
      ['truncated', 'chunk-auth-failed', 'invalid-layout'],
      2,
    );
  });

  it('rejects truncation of a single byte from the end', async () => {
    expectRefused(
      await open(segment.subarray(0, -1), lengthFrom),
      ['truncated', 'chunk-auth-failed', 'invalid-layout'],
      CHUNKS - 1,
    );
  });

  it('rejects a segment cut down to its header', async () => {
    expectRefused(await open(segment.subarray(0, 24), lengthFrom), ['truncated', 'invalid-layout'], 0);
  });

  it.each<[string, () => Buffer]>([
    ['one byte', () => Buffer.from([0])],
    ['a tag-sized run of zeros', () => Buffer.alloc(16)],
    ['a copy of the last chunk', () => chunkBytes(3)],
    ['a copy of a full chunk', () => chunkBytes(1)],
    ['a whole second segment', () => segment],
  ])('rejects appended bytes: %s', async (_, appended) => {
    expectRefused(
      await open(Buffer.concat([segment, appended()]), lengthFrom),
      ['trailing-bytes', 'chunk-auth-failed', 'invalid-layout'],
      CHUNKS - 1,
    );
  });

  it('rejects any single bit flipped anywhere in the segment', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: segment.byteLength - 1 }),
        fc.integer({ min: 0, max: 7 }),
        async (offset, bit) => {
          const damagedChunk = offset < 24 ? 0 : Math.floor((offset - 24) / CHUNK);
          expectRefused(
            await open(flipBit(segment, offset, bit), lengthFrom),
            ['bad-header', 'unsupported-version', 'part-number-mismatch', 'chunk-auth-failed'],
            damagedChunk,
          );
        },
      ),
      { numRuns: 150 },
    );
  });

  it('rejects truncation to any shorter length', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: segment.byteLength - 1 }), async (length) => {
        const damagedChunk = length < 24 ? 0 : Math.floor((length - 24) / CHUNK);
        const result = await open(segment.subarray(0, length), lengthFrom);
        // A cut inside the header fails before any chunk is read.
        expectRefused(
          result,
          ['truncated', 'chunk-auth-failed', 'invalid-layout', 'bad-header'],
          // Read by the stored length, a cut exactly after chunk k's tag makes chunk k look final: it fails.
          lengthFrom === 'from the stored length' && length > 24 && (length - 24) % CHUNK === 0
            ? damagedChunk - 1
            : damagedChunk,
        );
      }),
      { numRuns: 100 },
    );
  });
});

describe('a tampered empty segment', () => {
  let empty: Buffer;
  beforeAll(async () => {
    empty = await collect(
      encryptSegment(splitAt(Buffer.alloc(0)), dataKey, { partNumber: 0, plaintextLength: 0 }),
    );
  });

  it('decrypts to nothing when untouched, after verifying its one empty chunk', async () => {
    expect(empty.byteLength).toBe(40);
    const result = await open(empty, 'from metadata', 0);
    expect(result.error).toBeUndefined();
    expect(result.released.byteLength).toBe(0);
  });

  it.each<[string, () => Buffer, FormatErrorReason]>([
    ['its tag flipped', () => flipBit(empty, 39), 'chunk-auth-failed'],
    ['its tag cut off', () => empty.subarray(0, 24), 'truncated'],
    ['bytes appended', () => Buffer.concat([empty, Buffer.from([1])]), 'trailing-bytes'],
  ])('rejects it with %s', async (_, tampered, reason) => {
    const result = await open(tampered(), 'from metadata', 0);
    expect(reasonOf(result.error)).toBe(reason);
  });
});

describe('segments moved between parts and objects', () => {
  const partOne = randomBytes(KIB64 + 10);
  const partTwo = randomBytes(KIB64 + 20);
  let one: Buffer;
  let two: Buffer;
  beforeAll(async () => {
    one = await collect(
      encryptSegment(splitAt(partOne), dataKey, { partNumber: 1, plaintextLength: partOne.byteLength }),
    );
    two = await collect(
      encryptSegment(splitAt(partTwo), dataKey, { partNumber: 2, plaintextLength: partTwo.byteLength }),
    );
  });

  async function decryptAs(stored: Buffer, partNumber: number, length: number, key: Uint8Array = dataKey) {
    try {
      return await drain(
        decryptSegment(splitAt(stored.subarray(24)), key, {
          partNumber,
          header: stored.subarray(0, 24),
          firstChunk: 0,
          segmentPlaintextLength: length,
        }),
      );
    } catch (error) {
      return { released: Buffer.alloc(0), error };
    }
  }

  it('decrypts each part at its own position', async () => {
    expectSameBytes((await decryptAs(one, 1, partOne.byteLength)).released, partOne);
    expectSameBytes((await decryptAs(two, 2, partTwo.byteLength)).released, partTwo);
  });

  it('rejects part 2 served where part 1 belongs', async () => {
    const result = await decryptAs(two, 1, partTwo.byteLength);
    expect(reasonOf(result.error)).toBe('part-number-mismatch');
  });

  it('rejects part 2 whose header was edited to say part 1, before releasing anything', async () => {
    const relabelled = Buffer.from(two);
    relabelled.writeUInt32BE(1, 4);
    const result = await decryptAs(relabelled, 1, partTwo.byteLength);
    expect(reasonOf(result.error)).toBe('chunk-auth-failed');
    expect(result.released.byteLength).toBe(0);
  });

  it('rejects a part re-uploaded under the same number with a chunk spliced from the earlier upload', async () => {
    const again = await collect(
      encryptSegment(splitAt(partOne), dataKey, { partNumber: 1, plaintextLength: partOne.byteLength }),
    );
    const spliced = Buffer.concat([again.subarray(0, 24 + CHUNK), one.subarray(24 + CHUNK)]);
    const result = await decryptAs(spliced, 1, partOne.byteLength);
    expect(reasonOf(result.error)).toBe('chunk-auth-failed');
    expectSameBytes(result.released, partOne.subarray(0, KIB64));
  });

  it("rejects another object's segment (another data key) at the same part number", async () => {
    const result = await decryptAs(one, 1, partOne.byteLength, randomBytes(32));
    expect(reasonOf(result.error)).toBe('chunk-auth-failed');
    expect(result.released.byteLength).toBe(0);
  });
});

describe('ciphertext and wrapped key moved to another object', () => {
  const kek = randomBytes(32);
  const binding = { mode: 'aes256-gcm-proxy', keyId: 'k1', bucket: 'a', key: 'report.pdf' };

  it.each([
    ['another key in the same bucket', { ...binding, key: 'report-copy.pdf' }, kek],
    ['the same key in another bucket', { ...binding, bucket: 'b' }, kek],
    ['a backend with another wrapping key', binding, randomBytes(32)],
  ])('cannot be read from %s', (_, target, targetKek) => {
    const wrapped = wrapDataKey(kek, dataKey, binding);
    let caught: unknown;
    try {
      unwrapDataKey(targetKek, wrapped, target);
    } catch (error) {
      caught = error;
    }
    expect(reasonOf(caught)).toBe('unwrap-failed');
  });
});
