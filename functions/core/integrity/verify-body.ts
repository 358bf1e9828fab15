import { createHash } from 'node:crypto';
import { errors } from '../errors.js';
import { isChecksumValue } from './checksum-request.js';
import { createChecksum, type ChecksumAlgorithm } from './checksums.js';

/** What a request body must turn out to be. */
export interface BodyExpectations {
  /** Exact byte count (Content-Length, or x-amz-decoded-content-length for aws-chunked bodies). */
  length?: number;
  /** The `Content-MD5` header value, base64. */
  contentMd5?: string;
  /**
   * Compute the MD5 even without a Content-MD5 to check (a gateway-made ETag). Off by default: where the
   * backend stores the bytes as received, its own ETag is the MD5 and computing it here too would cost a
   * second pass over every byte.
   */
  md5?: boolean;
  /** The signed payload hash (x-amz-content-sha256), hex. */
  sha256?: string;
  /** An additional checksum: compared with `value`, or with the trailer's value, or only computed. */
  checksum?: {
    algorithm: ChecksumAlgorithm;
    /** Base64, from the `x-amz-checksum-<alg>` header. */
    value?: string;
    /** Reads the trailer once the body has ended (`x-amz-trailer`). */
    fromTrailer?: () => string | undefined;
  };
}

/** The digests of a body that passed every check. */
export interface BodyDigests {
  length: number;
  /** MD5 of the body, when Content-MD5 was checked or `md5` asked for it. */
  md5?: Buffer;
  /** The additional checksum, base64, as S3 reports it. */
  checksum?: { algorithm: ChecksumAlgorithm; value: string };
}

/** The checked stream, and its digests once it has been consumed. */
export interface VerifiedBody {
  body: AsyncIterable<Uint8Array>;
  /** Valid once `body` has been consumed whole; a plain function, safe to pass around detached. */
  digests: () => BodyDigests;
}

/**
 * Passes a body through while checking it: length, Content-MD5, the signed SHA-256 and an additional
 * checksum, computing MD5 only where it is checked or asked for.
 *
 * The last piece of data is held back until the source has ended and every check passed, so a consumer that
 * writes the stream to a backend never receives the complete body of a request that fails a check: it sees
 * the iteration throw instead, and stores nothing. Empty pieces are dropped so the held piece always holds
 * data.
 *
 * @throws S3Error InvalidDigest (synchronously) for a Content-MD5 that is not the base64 of 16 bytes, and
 *   InvalidRequest for a malformed checksum header value; while iterating: IncompleteBody, BadDigest,
 *   XAmzContentSHA256Mismatch, BadDigest for a checksum, InvalidRequest for a missing or malformed trailer.
 */
export function verifyBody(source: AsyncIterable<Uint8Array>, expect: BodyExpectations): VerifiedBody {
  const expectedMd5 = expect.contentMd5 === undefined ? undefined : parseContentMd5(expect.contentMd5);
  const checksumSpec = expect.checksum;
  if (checksumSpec?.value !== undefined && !isChecksumValue(checksumSpec.algorithm, checksumSpec.value)) {
    throw errors.invalidRequest(`Value for x-amz-checksum-${checksumSpec.algorithm} header is invalid.`);
  }
  let result: BodyDigests | undefined;

  async function* verify(): AsyncGenerator<Uint8Array> {
    const md5 = expectedMd5 !== undefined || expect.md5 === true ? createHash('md5') : undefined;
    const sha256 = expect.sha256 === undefined ? undefined : createHash('sha256');
    const checksum = checksumSpec && createChecksum(checksumSpec.algorithm);
    let length = 0;
    let held: Uint8Array | undefined;
    for await (const piece of source) {
      if (piece.byteLength === 0) continue;
      length += piece.byteLength;
      // Checked before the piece goes anywhere: a body longer than declared is refused at its first excess byte.
      if (expect.length !== undefined && length > expect.length) throw errors.incompleteBody();
      md5?.update(piece);
      sha256?.update(piece);
      checksum?.update(piece);
      if (held !== undefined) yield held;
      held = piece;
    }

    if (expect.length !== undefined && length !== expect.length) throw errors.incompleteBody();
    const md5Digest = md5?.digest();
    if (expectedMd5 !== undefined && !md5Digest?.equals(expectedMd5)) throw errors.badDigest();
    if (sha256 !== undefined && sha256.digest('hex') !== expect.sha256!.toLowerCase())
      throw errors.sha256Mismatch();
    let checksumResult: BodyDigests['checksum'];
    if (checksum !== undefined && checksumSpec !== undefined) {
      const { algorithm } = checksumSpec;
      const digest = checksum.digest();
      const expected =
        checksumSpec.value ?? (checksumSpec.fromTrailer && trailerValue(algorithm, checksumSpec.fromTrailer));
      if (expected !== undefined && !digest.equals(Buffer.from(expected, 'base64'))) {
        throw errors.checksumMismatch(algorithm);
      }
      checksumResult = { algorithm, value: digest.toString('base64') };
    }
    result = {
      length,
      ...(md5Digest && { md5: md5Digest }),
      ...(checksumResult && { checksum: checksumResult }),
    };
    if (held !== undefined) yield held;
  }

  return {
    body: verify(),
    digests: () => {
      if (result === undefined)
        throw new Error('Body digests are known only after the body passed its checks');
      return result;
    },
  };
}

/** Content-MD5 must be the base64 of exactly 16 bytes (RFC 1864); S3 answers InvalidDigest otherwise. */
function parseContentMd5(value: string): Buffer {
  const bytes = Buffer.from(value, 'base64');
  if (!/^[A-Za-z0-9+/]{22}==$/.test(value) || bytes.length !== 16) throw errors.invalidDigest();
  return bytes;
}

function trailerValue(algorithm: ChecksumAlgorithm, read: () => string | undefined): string {
  const value = read();
  if (value === undefined) {
    throw errors.invalidRequest(
      `x-amz-trailer announced x-amz-checksum-${algorithm}, but the body ended without that trailer.`,
    );
  }
  if (!isChecksumValue(algorithm, value)) {
    throw errors.invalidRequest(`Value for x-amz-checksum-${algorithm} trailing header is invalid.`);
  }
  return value;
}
