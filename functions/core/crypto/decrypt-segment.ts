import { assertKeyLength, ChunkOpening, deriveSegmentKey } from './chunk-cipher.js';
import { ExactReader } from './exact-reader.js';
import { FormatError } from './format-error.js';
import {
  chunkCount,
  chunkPlaintextLength,
  isPartNumber,
  isPlaintextLength,
  parseSegmentHeader,
  TAG_LENGTH,
} from './segment-layout.js';

export interface DecryptSegmentOptions {
  /** The part number the object's layout puts at this segment's position (0 for a single-part object). */
  partNumber: number;
  /** The segment's 24-byte header, as read from the backend. */
  header: Uint8Array;
  /** The index of the first chunk the source holds. */
  firstChunk: number;
  /** How many chunks the source holds; by default every chunk from `firstChunk` to the segment's end. */
  chunkCount?: number;
  /** The segment's plaintext length: it says which chunk is the final one and how long each is. */
  segmentPlaintextLength: number;
}

/**
 * Decrypts a run of consecutive chunks of one segment. The source yields their ciphertext (each chunk's
 * ciphertext then tag), split anyhow. Each chunk's plaintext is released only after its tag verified, and
 * the run's last chunk only after the source proved to hold nothing more.
 *
 * @throws RangeError (synchronously) for a data key that is not 32 bytes.
 * @throws FormatError (synchronously) `bad-header` / `unsupported-version` for a bad header,
 *   `part-number-mismatch` when the header names another part, `invalid-layout` for a length or chunk run
 *   the segment cannot have; (while iterating) `truncated` when the source ends early, `chunk-auth-failed`
 *   when a tag does not verify, `trailing-bytes` when bytes follow the last chunk of the run.
 */
export function decryptSegment(
  source: AsyncIterable<Uint8Array>,
  dataKey: Uint8Array,
  options: DecryptSegmentOptions,
): AsyncIterable<Uint8Array> {
  assertKeyLength(dataKey, 'a data key');
  const { partNumber, firstChunk, segmentPlaintextLength } = options;
  if (!isPartNumber(partNumber)) {
    throw new FormatError(
      'invalid-layout',
      `a part number is a whole number from 0 to 10000, got ${partNumber}`,
    );
  }
  if (!isPlaintextLength(segmentPlaintextLength)) {
    throw new FormatError(
      'invalid-layout',
      `a segment's plaintext length is a whole number from 0 to 5 TiB, got ${segmentPlaintextLength}`,
    );
  }
  const header = parseSegmentHeader(options.header);
  if (header.partNumber !== partNumber) {
    throw new FormatError(
      'part-number-mismatch',
      `the segment header is for part ${header.partNumber}, expected part ${partNumber}`,
    );
  }
  const total = chunkCount(segmentPlaintextLength);
  const count = options.chunkCount ?? total - firstChunk;
  if (!Number.isInteger(firstChunk) || !Number.isInteger(count) || firstChunk < 0 || count < 1) {
    throw new FormatError('invalid-layout', `a chunk run starts at 0 or later and holds at least one chunk`);
  }
  if (firstChunk + count > total) {
    throw new FormatError(
      'invalid-layout',
      `chunks ${firstChunk}..${firstChunk + count - 1} run past the segment's ${total} chunks`,
    );
  }
  const run = { partNumber, salt: header.salt, firstChunk, count, total, segmentPlaintextLength };
  // Copied now: the generator starts later, and the caller may wipe its data key meanwhile.
  return generate(source, Buffer.from(dataKey), run);
}

interface ChunkRun {
  partNumber: number;
  salt: Uint8Array;
  firstChunk: number;
  count: number;
  total: number;
  segmentPlaintextLength: number;
}

async function* generate(
  source: AsyncIterable<Uint8Array>,
  dataKey: Buffer,
  run: ChunkRun,
): AsyncGenerator<Uint8Array, void, undefined> {
  const { partNumber, firstChunk, count, total, segmentPlaintextLength } = run;
  const segmentKey = deriveSegmentKey(dataKey, run.salt, partNumber);
  dataKey.fill(0);
  const reader = new ExactReader(source);
  const lastIndex = firstChunk + count - 1;
  try {
    for (let index = firstChunk; index <= lastIndex; index++) {
      const size = chunkPlaintextLength(segmentPlaintextLength, index);
      const opening = new ChunkOpening(segmentKey, { partNumber, index, final: index === total - 1 });
      // The chunk's ciphertext in one call: a view when it lies in one source piece, else gathered once in
      // the reader's scratch buffer. One decipher call and one plaintext buffer per chunk cost less than a
      // call and a buffer per piece (stored chunks are 16 bytes longer than 64 KiB, so pieces of a power
      // of two split nearly every one).
      const ciphertext = await reader.read(size);
      let got = ciphertext.byteLength;
      if (got < size) throw truncated(opening, partNumber, index, got, size);
      opening.update(ciphertext);
      const tag = await reader.read(TAG_LENGTH);
      got += tag.byteLength;
      if (tag.byteLength < TAG_LENGTH) throw truncated(opening, partNumber, index, got, size);
      const plaintext = opening.verify(tag);
      if (index === lastIndex && !(await reader.atEnd())) {
        opening.discard();
        throw new FormatError('trailing-bytes', `bytes follow chunk ${index} of part ${partNumber}`);
      }
      yield* plaintext;
    }
  } finally {
    segmentKey.fill(0);
    await reader.close();
  }
}

/** Wipes a chunk's unverified plaintext and describes where the ciphertext ended. */
function truncated(
  opening: ChunkOpening,
  partNumber: number,
  index: number,
  got: number,
  size: number,
): FormatError {
  opening.discard();
  return new FormatError(
    'truncated',
    `the ciphertext of part ${partNumber} ends inside chunk ${index} (${got} of ${size + TAG_LENGTH} bytes)`,
  );
}
