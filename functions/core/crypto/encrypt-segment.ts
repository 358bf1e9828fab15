import { randomBytes } from 'node:crypto';
import { assertKeyLength, ChunkSealer, deriveSegmentKey } from './chunk-cipher.js';
import { ExactReader } from './exact-reader.js';
import { FormatError } from './format-error.js';
import {
  chunkCount,
  chunkPlaintextLength,
  encodeSegmentHeader,
  isPartNumber,
  isPlaintextLength,
  SEGMENT_SALT_LENGTH,
} from './segment-layout.js';

export interface EncryptSegmentOptions {
  /** 0 for a single-part object, 1..10000 for a part of a multipart upload. */
  partNumber: number;
  /** The exact number of bytes the source will yield (Content-Length); the source is checked against it. */
  plaintextLength: number;
  /** A fixed salt, for known-answer tests only: production segments take a fresh random salt each. */
  salt?: Uint8Array;
}

/**
 * Encrypts one segment: the 24-byte header, then the plaintext in 64 KiB chunks, each sealed with
 * AES-256-GCM under the segment key with its index and final flag authenticated. The output is exactly
 * {@link segmentCiphertextLength}(plaintextLength) bytes, yielded as the header, then each chunk's
 * ciphertext (one piece per source piece) and its tag.
 *
 * Pulls from the source only as the consumer pulls (backpressure) and holds no more than one source piece.
 * The final chunk's tag is released only after the source has ended, so a source longer (or shorter) than
 * declared never produces a complete segment.
 *
 * @throws RangeError (synchronously) for a data key that is not 32 bytes, a part number outside 0..10000, a
 *   plaintext length outside 0..5 TiB or a salt that is not 16 bytes.
 * @throws FormatError `length-mismatch` (while iterating) when the source yields fewer or more bytes than
 *   `plaintextLength`.
 */
export function encryptSegment(
  source: AsyncIterable<Uint8Array>,
  dataKey: Uint8Array,
  options: EncryptSegmentOptions,
): AsyncIterable<Uint8Array> {
  const { partNumber, plaintextLength } = options;
  assertKeyLength(dataKey, 'a data key');
  if (!isPartNumber(partNumber)) {
    throw new RangeError(`a part number is a whole number from 0 to 10000, got ${partNumber}`);
  }
  if (!isPlaintextLength(plaintextLength)) {
    throw new RangeError(`a plaintext length is a whole number from 0 to 5 TiB, got ${plaintextLength}`);
  }
  const salt = options.salt ?? randomBytes(SEGMENT_SALT_LENGTH);
  if (salt.byteLength !== SEGMENT_SALT_LENGTH) {
    throw new RangeError(`a segment salt must be ${SEGMENT_SALT_LENGTH} bytes`);
  }
  // Copied now: the generator starts later, and the caller may wipe its data key meanwhile.
  return generate(source, Buffer.from(dataKey), partNumber, plaintextLength, Buffer.from(salt));
}

async function* generate(
  source: AsyncIterable<Uint8Array>,
  dataKey: Buffer,
  partNumber: number,
  plaintextLength: number,
  salt: Buffer,
): AsyncGenerator<Uint8Array, void, undefined> {
  const segmentKey = deriveSegmentKey(dataKey, salt, partNumber);
  dataKey.fill(0);
  const reader = new ExactReader(source);
  const chunks = chunkCount(plaintextLength);
  let read = 0;
  const shortfall = () =>
    new FormatError(
      'length-mismatch',
      `the plaintext ended after ${read} bytes, ${plaintextLength} were declared`,
    );
  try {
    yield encodeSegmentHeader(partNumber, salt);
    for (let index = 0; index < chunks; index++) {
      const final = index === chunks - 1;
      const sealer = new ChunkSealer(segmentKey, { partNumber, index, final });
      let remaining = chunkPlaintextLength(plaintextLength, index);
      while (remaining > 0) {
        const plaintext = await reader.readUpTo(remaining);
        if (plaintext.byteLength === 0) throw shortfall();
        read += plaintext.byteLength;
        remaining -= plaintext.byteLength;
        yield sealer.update(plaintext);
      }
      const tag = sealer.finish();
      // The final tag completes the segment: it waits until the source proved to hold nothing more.
      if (final && !(await reader.atEnd())) {
        throw new FormatError(
          'length-mismatch',
          `the plaintext is longer than the ${plaintextLength} bytes declared`,
        );
      }
      yield tag;
    }
  } finally {
    segmentKey.fill(0);
    await reader.close();
  }
}
