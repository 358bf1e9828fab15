// Known answers from test/unit/crypto/fixtures/reference_vectors.py, an independent Python implementation
// of docs/FORMAT.md; the same values are printed in FORMAT.md.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  decryptSegment,
  deriveLayoutKey,
  layoutTag,
  encryptSegment,
  unwrapDataKey,
  wrapDataKey,
  type KeyBinding,
} from '../../../functions/core/crypto/index.js';
import { deriveSegmentKey } from '../../../functions/core/crypto/chunk-cipher.js';
import { collect, expectSameBytes, patternBytes, sha256Hex, splitAt } from './streams.js';

interface SegmentVector {
  plaintextLength: number;
  partNumber: number;
  segmentKey: string;
  ciphertextLength: number;
  chunkCount: number;
  ciphertextSha256: string;
  header: string;
  firstChunkCiphertextStart: string;
  firstChunkTag: string;
  lastChunkTag: string;
  ciphertext?: string;
}

interface Vectors {
  dataKey: string;
  salt: string;
  segments: SegmentVector[];
  keyEncryptionKey: string;
  wrapNonce: string;
  wraps: { binding: KeyBinding; aad: string; wrappedKey: string }[];
  layouts: {
    segmentPlaintextLengths: number[];
    partNumbers: number[];
    layoutKey: string;
    layoutTag: string;
  }[];
}

const vectors = JSON.parse(
  readFileSync(new URL('fixtures/known-answer.json', import.meta.url), 'utf8'),
) as Vectors;
const dataKey = Buffer.from(vectors.dataKey, 'hex');
const salt = Buffer.from(vectors.salt, 'hex');
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

describe('known-answer vectors', () => {
  it('cover the sizes around a chunk boundary and a multipart segment', () => {
    expect(vectors.segments.map((v) => [v.plaintextLength, v.partNumber])).toEqual([
      [0, 0],
      [1, 0],
      [65_535, 0],
      [65_536, 0],
      [65_537, 0],
      [200_000, 0],
      [65_537, 7],
    ]);
  });

  describe.each(vectors.segments)('a $plaintextLength-byte segment, part $partNumber', (vector) => {
    it('derives the segment key', () => {
      expect(hex(deriveSegmentKey(dataKey, salt, vector.partNumber))).toBe(vector.segmentKey);
    });

    it('encrypts to the expected bytes', async () => {
      const plaintext = patternBytes(vector.plaintextLength);
      const ciphertext = await collect(
        encryptSegment(splitAt(plaintext), dataKey, {
          partNumber: vector.partNumber,
          plaintextLength: vector.plaintextLength,
          salt,
        }),
      );
      const firstChunkLength = Math.min(vector.plaintextLength, 65_536);
      expect(ciphertext.byteLength).toBe(vector.ciphertextLength);
      expect(hex(ciphertext.subarray(0, 24))).toBe(vector.header);
      expect(hex(ciphertext.subarray(24, 24 + Math.min(32, firstChunkLength)))).toBe(
        vector.firstChunkCiphertextStart,
      );
      expect(hex(ciphertext.subarray(24 + firstChunkLength, 40 + firstChunkLength))).toBe(
        vector.firstChunkTag,
      );
      expect(hex(ciphertext.subarray(-16))).toBe(vector.lastChunkTag);
      expect(sha256Hex(ciphertext)).toBe(vector.ciphertextSha256);
      if (vector.ciphertext !== undefined) expect(hex(ciphertext)).toBe(vector.ciphertext);
    });

    it('decrypts the expected bytes back to the plaintext', async () => {
      const ciphertext = await collect(
        encryptSegment(splitAt(patternBytes(vector.plaintextLength)), dataKey, {
          partNumber: vector.partNumber,
          plaintextLength: vector.plaintextLength,
          salt,
        }),
      );
      expect(sha256Hex(ciphertext)).toBe(vector.ciphertextSha256);
      const plaintext = await collect(
        decryptSegment(splitAt(ciphertext.subarray(24)), dataKey, {
          partNumber: vector.partNumber,
          header: ciphertext.subarray(0, 24),
          firstChunk: 0,
          segmentPlaintextLength: vector.plaintextLength,
        }),
      );
      expectSameBytes(plaintext, patternBytes(vector.plaintextLength));
    });
  });

  describe.each(vectors.wraps)('the data key wrapped for $binding.bucket/$binding.key', (vector) => {
    const kek = Buffer.from(vectors.keyEncryptionKey, 'hex');

    it('wraps to the expected bytes', () => {
      const wrapped = wrapDataKey(kek, dataKey, vector.binding, {
        nonce: Buffer.from(vectors.wrapNonce, 'hex'),
      });
      expect(hex(wrapped)).toBe(vector.wrappedKey);
    });

    it('unwraps the expected bytes', () => {
      expect(hex(unwrapDataKey(kek, Buffer.from(vector.wrappedKey, 'hex'), vector.binding))).toBe(
        vectors.dataKey,
      );
    });
  });

  describe.each(vectors.layouts)('the layout tag of parts $partNumbers', (vector) => {
    it('derives the layout key and tags the layout', () => {
      const layoutKey = deriveLayoutKey(dataKey);
      expect(hex(layoutKey)).toBe(vector.layoutKey);
      expect(hex(layoutTag(layoutKey, vector.segmentPlaintextLengths, vector.partNumbers))).toBe(
        vector.layoutTag,
      );
    });
  });

  it('are the ones docs/FORMAT.md shows', () => {
    const spec = readFileSync(new URL('../../../docs/FORMAT.md', import.meta.url), 'utf8');
    const shown = [
      vectors.dataKey,
      vectors.salt,
      vectors.keyEncryptionKey,
      vectors.wrapNonce,
      ...vectors.segments.flatMap((v) => [
        v.ciphertextSha256,
        v.segmentKey,
        v.header,
        v.firstChunkTag,
        v.lastChunkTag,
        ...(v.firstChunkCiphertextStart.length === 64 ? [v.firstChunkCiphertextStart] : []),
      ]),
      ...vectors.wraps.map((v) => v.wrappedKey),
      vectors.wraps[0].aad,
      ...vectors.layouts.flatMap((v) => [v.layoutKey, v.layoutTag]),
    ];
    expect(shown.filter((value) => !spec.includes(value))).toEqual([]);
  });
});
