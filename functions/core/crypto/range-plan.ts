import type { ByteRange } from '../backend.js';
import { FormatError } from './format-error.js';
import {
  CHUNK_CIPHERTEXT_LENGTH,
  CHUNK_PLAINTEXT_LENGTH,
  chunkCount,
  isPlaintextLength,
  MAX_PART_NUMBER,
  MAX_PLAINTEXT_LENGTH,
  SEGMENT_HEADER_LENGTH,
  segmentCiphertextLength,
  SINGLE_PART_NUMBER,
} from './segment-layout.js';

/** What to fetch and decrypt from one segment to serve a plaintext range. Byte ranges are inclusive. */
export interface SegmentReadPlan {
  /** The segment's position in the object (0-based). */
  segmentIndex: number;
  partNumber: number;
  segmentPlaintextLength: number;
  /** Where the segment's 24-byte header lies in the stored object. */
  header: ByteRange;
  /** Where the needed chunks (ciphertext and tags) lie in the stored object. */
  chunks: ByteRange;
  firstChunk: number;
  chunkCount: number;
  /** Plaintext bytes to drop from the start of the decrypted chunks. */
  skip: number;
  /** Plaintext bytes to keep after those. */
  keep: number;
}

/**
 * Checks an object's layout as read from its metadata: one length per part number, and the part numbers
 * either `[0]` (a single-part object) or strictly ascending within 1..10000 (a multipart object, as
 * S3's CompleteMultipartUpload requires). Ascending order means a reordered part list is refused here
 * and a reordered body is refused by the headers' part numbers.
 *
 * @throws FormatError `invalid-layout`.
 */
export function assertObjectLayout(
  segmentPlaintextLengths: readonly number[],
  partNumbers: readonly number[],
): void {
  const fail = (problem: string) => new FormatError('invalid-layout', problem);
  if (segmentPlaintextLengths.length !== partNumbers.length) {
    throw fail('an object layout has one plaintext length per part number');
  }
  if (partNumbers.length === 0 || partNumbers.length > MAX_PART_NUMBER) {
    throw fail('an object has from 1 to 10000 segments');
  }
  if (partNumbers.length === 1 && partNumbers[0] === SINGLE_PART_NUMBER) {
    // a single-part object
  } else {
    let previous = SINGLE_PART_NUMBER;
    for (const partNumber of partNumbers) {
      if (!Number.isInteger(partNumber) || partNumber <= previous || partNumber > MAX_PART_NUMBER) {
        throw fail('the part numbers of a multipart object ascend strictly within 1..10000');
      }
      previous = partNumber;
    }
  }
  let total = 0;
  for (const length of segmentPlaintextLengths) {
    if (!isPlaintextLength(length))
      throw fail(`a segment's plaintext length is a whole number from 0 to 5 TiB`);
    total += length;
  }
  if (total > MAX_PLAINTEXT_LENGTH) throw fail('an object holds at most 5 TiB of plaintext');
}

/**
 * The stored length of an encrypted object: the sum of its segments' ciphertext lengths.
 *
 * @throws FormatError `invalid-layout` for a layout {@link assertObjectLayout} refuses.
 */
export function objectCiphertextLength(
  segmentPlaintextLengths: readonly number[],
  partNumbers: readonly number[],
): number {
  assertObjectLayout(segmentPlaintextLengths, partNumbers);
  return segmentPlaintextLengths.reduce((sum, length) => sum + segmentCiphertextLength(length), 0);
}

/**
 * Plans a read of the plaintext bytes `range.start..range.end` (inclusive): for each segment the range
 * touches, the header and the run of chunks to fetch, and how to trim the decrypted run. Untouched
 * segments and chunks are never fetched, so a range costs its own size plus at most 64 KiB + 16 bytes
 * per end and 24 bytes per segment header, wherever it lies in the object.
 *
 * @throws FormatError `invalid-layout` for a layout {@link assertObjectLayout} refuses;
 *   `range-not-satisfiable` unless 0 <= start <= end < the object's plaintext length.
 */
export function planRange(
  segmentPlaintextLengths: readonly number[],
  partNumbers: readonly number[],
  range: ByteRange,
): SegmentReadPlan[] {
  assertObjectLayout(segmentPlaintextLengths, partNumbers);
  const total = segmentPlaintextLengths.reduce((sum, length) => sum + length, 0);
  const { start, end } = range;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || start > end || end >= total) {
    throw new FormatError(
      'range-not-satisfiable',
      `bytes ${start}-${end} do not lie inside an object of ${total} bytes`,
    );
  }
  const plans: SegmentReadPlan[] = [];
  let plaintextOffset = 0;
  let ciphertextOffset = 0;
  segmentPlaintextLengths.forEach((length, segmentIndex) => {
    const segmentEnd = plaintextOffset + length - 1;
    if (length > 0 && start <= segmentEnd && end >= plaintextOffset) {
      const localStart = Math.max(start, plaintextOffset) - plaintextOffset;
      const localEnd = Math.min(end, segmentEnd) - plaintextOffset;
      const firstChunk = Math.floor(localStart / CHUNK_PLAINTEXT_LENGTH);
      const lastChunk = Math.floor(localEnd / CHUNK_PLAINTEXT_LENGTH);
      const chunksStart = ciphertextOffset + SEGMENT_HEADER_LENGTH + firstChunk * CHUNK_CIPHERTEXT_LENGTH;
      const lastChunkEnd =
        lastChunk === chunkCount(length) - 1
          ? ciphertextOffset + segmentCiphertextLength(length) - 1
          : ciphertextOffset + SEGMENT_HEADER_LENGTH + (lastChunk + 1) * CHUNK_CIPHERTEXT_LENGTH - 1;
      plans.push({
        segmentIndex,
        partNumber: partNumbers[segmentIndex],
        segmentPlaintextLength: length,
        header: { start: ciphertextOffset, end: ciphertextOffset + SEGMENT_HEADER_LENGTH - 1 },
        chunks: { start: chunksStart, end: lastChunkEnd },
        firstChunk,
        chunkCount: lastChunk - firstChunk + 1,
        skip: localStart - firstChunk * CHUNK_PLAINTEXT_LENGTH,
        keep: localEnd - localStart + 1,
      });
    }
    plaintextOffset += length;
    ciphertextOffset += segmentCiphertextLength(length);
  });
  return plans;
}
