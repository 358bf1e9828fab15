import { FormatError } from './format-error.js';

/** Plaintext bytes per chunk; every chunk but a segment's last holds exactly this many. */
export const CHUNK_PLAINTEXT_LENGTH = 65_536;
/** The AES-GCM tag that follows each chunk's ciphertext. */
export const TAG_LENGTH = 16;
/** A full chunk on the wire: ciphertext and tag. */
export const CHUNK_CIPHERTEXT_LENGTH = CHUNK_PLAINTEXT_LENGTH + TAG_LENGTH;
/** "SGE", version, part number, salt. */
export const SEGMENT_HEADER_LENGTH = 24;
export const SEGMENT_SALT_LENGTH = 16;
export const FORMAT_VERSION = 0x01;
/** The part number of a single-part object's only segment; multipart parts are 1..10000 as in S3. */
export const SINGLE_PART_NUMBER = 0;
export const MAX_PART_NUMBER = 10_000;
/**
 * The longest plaintext a segment or object may declare: S3's largest object, 5 TiB. It bounds every length
 * read from metadata or a backend before it sizes anything, and keeps chunk indexes far below 2^32.
 */
export const MAX_PLAINTEXT_LENGTH = 5 * 2 ** 40;

const MAGIC = [0x53, 0x47, 0x45]; // "SGE"

/** The parsed 24-byte header that opens every segment. */
export interface SegmentHeader {
  partNumber: number;
  salt: Uint8Array;
}

export function isPartNumber(value: number): boolean {
  return Number.isInteger(value) && value >= SINGLE_PART_NUMBER && value <= MAX_PART_NUMBER;
}

export function isPlaintextLength(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= MAX_PLAINTEXT_LENGTH;
}

/** Encodes a segment header: "SGE" || 0x01 || uint32 BE part number || 16-byte salt. */
export function encodeSegmentHeader(partNumber: number, salt: Uint8Array): Uint8Array {
  const header = new Uint8Array(SEGMENT_HEADER_LENGTH);
  header.set(MAGIC, 0);
  header[3] = FORMAT_VERSION;
  new DataView(header.buffer).setUint32(4, partNumber);
  header.set(salt, 8);
  return header;
}

/**
 * Parses a segment header read from a backend. The header is not authenticated by a tag of its own: the
 * magic, version and part number are checked here, and the salt feeds the segment key, so an edited salt
 * makes every chunk's tag fail.
 *
 * @throws FormatError `bad-header` for a wrong size or magic, `unsupported-version` for another version.
 */
export function parseSegmentHeader(header: Uint8Array): SegmentHeader {
  if (header.byteLength !== SEGMENT_HEADER_LENGTH) {
    throw new FormatError(
      'bad-header',
      `a segment header is ${SEGMENT_HEADER_LENGTH} bytes, got ${header.byteLength}`,
    );
  }
  if (header[0] !== MAGIC[0] || header[1] !== MAGIC[1] || header[2] !== MAGIC[2]) {
    throw new FormatError('bad-header', 'a segment header starts with "SGE"');
  }
  if (header[3] !== FORMAT_VERSION) {
    throw new FormatError('unsupported-version', `segment format version ${header[3]} is not supported`);
  }
  const partNumber = new DataView(header.buffer, header.byteOffset, header.byteLength).getUint32(4);
  return { partNumber, salt: header.slice(8, SEGMENT_HEADER_LENGTH) };
}

/** How many chunks a segment of `plaintextLength` bytes has: at least one (an empty segment has one empty chunk). */
export function chunkCount(plaintextLength: number): number {
  return Math.max(1, Math.ceil(plaintextLength / CHUNK_PLAINTEXT_LENGTH));
}

/** The plaintext size of chunk `index` in a segment of `plaintextLength` bytes. */
export function chunkPlaintextLength(plaintextLength: number, index: number): number {
  const last = chunkCount(plaintextLength) - 1;
  return index < last ? CHUNK_PLAINTEXT_LENGTH : plaintextLength - last * CHUNK_PLAINTEXT_LENGTH;
}

/**
 * The ciphertext length of a segment: 24 + P + 16 * max(1, ceil(P / 65536)). A pure function of the
 * plaintext length, so an encrypted write can declare its Content-Length before it starts.
 *
 * @throws RangeError unless P is a whole number from 0 to 5 TiB.
 */
export function segmentCiphertextLength(plaintextLength: number): number {
  if (!isPlaintextLength(plaintextLength)) {
    throw new RangeError(`a plaintext length is a whole number from 0 to 5 TiB, got ${plaintextLength}`);
  }
  return SEGMENT_HEADER_LENGTH + plaintextLength + TAG_LENGTH * chunkCount(plaintextLength);
}

/**
 * The plaintext length of a segment of `ciphertextLength` bytes: the inverse of
 * {@link segmentCiphertextLength}. Lengths no plaintext encrypts to are refused: shorter than a header and
 * one tag, a last chunk of 1..15 bytes (shorter than its tag), an empty last chunk after full ones (the
 * encoder never writes one), or more than 5 TiB of plaintext.
 *
 * @throws FormatError `invalid-layout` for a length no plaintext encrypts to.
 */
export function segmentPlaintextLength(ciphertextLength: number): number {
  const impossible = () =>
    new FormatError('invalid-layout', `no plaintext encrypts to a segment of ${ciphertextLength} bytes`);
  if (!Number.isSafeInteger(ciphertextLength) || ciphertextLength < SEGMENT_HEADER_LENGTH + TAG_LENGTH) {
    throw impossible();
  }
  const body = ciphertextLength - SEGMENT_HEADER_LENGTH;
  const fullChunks = Math.floor(body / CHUNK_CIPHERTEXT_LENGTH);
  const rest = body - fullChunks * CHUNK_CIPHERTEXT_LENGTH;
  let plaintextLength: number;
  if (rest === 0) plaintextLength = fullChunks * CHUNK_PLAINTEXT_LENGTH;
  else if (rest < TAG_LENGTH || (rest === TAG_LENGTH && fullChunks > 0)) throw impossible();
  else plaintextLength = fullChunks * CHUNK_PLAINTEXT_LENGTH + rest - TAG_LENGTH;
  if (plaintextLength > MAX_PLAINTEXT_LENGTH) throw impossible();
  return plaintextLength;
}
