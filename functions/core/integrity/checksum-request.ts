import { errors } from '../errors.js';
import {
  CHECKSUM_ALGORITHMS,
  CHECKSUM_LENGTHS,
  isChecksumAlgorithm,
  type ChecksumAlgorithm,
} from './checksums.js';

/** The checksum a request asks S3 to verify and store. */
export interface RequestedChecksum {
  algorithm: ChecksumAlgorithm;
  /** The base64 value from the `x-amz-checksum-<alg>` header; absent when it comes in a trailer. */
  value?: string;
  /** True when `x-amz-trailer` announces the value at the end of an `aws-chunked` body. */
  inTrailer: boolean;
}

const CHECKSUM_PREFIX = 'x-amz-checksum-';
// Headers that share the prefix but carry no checksum value (CreateMultipartUpload, GetObject).
const NOT_CHECKSUMS = new Set(['x-amz-checksum-type', 'x-amz-checksum-algorithm', 'x-amz-checksum-mode']);

/**
 * Reads the checksum a PutObject or UploadPart request carries, following S3's rules for additional
 * checksums: at most one `x-amz-checksum-<alg>` header or `x-amz-trailer` entry, a value that is the base64
 * of exactly the algorithm's digest length, and an `x-amz-sdk-checksum-algorithm` that agrees with it.
 * Returns `undefined` when the request names no checksum at all. `value` is present exactly when
 * `inTrailer` is false.
 *
 * @throws S3Error InvalidRequest with S3's messages for several checksums, a malformed value, an unknown
 *   algorithm, or an `x-amz-sdk-checksum-algorithm` that disagrees with, or comes without, the checksum.
 */
export function requestedChecksum(headers: Headers): RequestedChecksum | undefined {
  // Only names of known algorithms count as checksum headers: x-amz-checksum-type, -algorithm and -mode
  // share the prefix but mean something else.
  const inHeaders = CHECKSUM_ALGORITHMS.filter((algorithm) => headers.has(CHECKSUM_PREFIX + algorithm));
  rejectUnknownChecksumHeaders(headers);
  const inTrailer = trailerChecksums(headers.get('x-amz-trailer'));
  if (inHeaders.length + inTrailer.length > 1) {
    throw errors.invalidChecksum(
      'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.',
    );
  }
  const sdkAlgorithm = sdkChecksumAlgorithm(headers.get('x-amz-sdk-checksum-algorithm'));
  const headerAlgorithm = inHeaders[0];
  const trailerAlgorithm = inTrailer[0];
  const algorithm = headerAlgorithm ?? trailerAlgorithm;
  if (algorithm === undefined) {
    if (sdkAlgorithm === undefined) return undefined;
    // S3 refuses the SDK header alone rather than computing the checksum itself.
    throw errors.invalidRequest(
      'x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or x-amz-trailer headers were found.',
    );
  }
  if (sdkAlgorithm !== undefined && sdkAlgorithm !== algorithm) {
    throw errors.invalidRequest('Value for x-amz-sdk-checksum-algorithm header is invalid.');
  }
  if (headerAlgorithm !== undefined) {
    const value = headers.get(CHECKSUM_PREFIX + headerAlgorithm) ?? '';
    if (!isChecksumValue(headerAlgorithm, value)) {
      throw errors.invalidRequest(`Value for ${CHECKSUM_PREFIX}${headerAlgorithm} header is invalid.`);
    }
    return { algorithm, value, inTrailer: false };
  }
  return { algorithm, inTrailer: trailerAlgorithm !== undefined };
}

/** True when `value` is the canonical base64 of exactly as many bytes as `algorithm` produces. */
export function isChecksumValue(algorithm: ChecksumAlgorithm, value: string): boolean {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0) return false;
  const bytes = Buffer.from(value, 'base64');
  // Re-encoding rejects non-canonical forms (stray bits in the padding) that Buffer would silently accept.
  return bytes.length === CHECKSUM_LENGTHS[algorithm] && bytes.toString('base64') === value;
}

function rejectUnknownChecksumHeaders(headers: Headers): void {
  // An algorithm S3 knows but this gateway does not (xxhash, sha512, ...) must not be silently skipped:
  // the client would believe its data was verified.
  for (const name of headers.keys()) {
    if (!name.startsWith(CHECKSUM_PREFIX) || NOT_CHECKSUMS.has(name)) continue;
    if (!isChecksumAlgorithm(name.slice(CHECKSUM_PREFIX.length))) {
      throw errors.invalidRequest(
        `The ${name} header names a checksum algorithm this gateway does not support.`,
      );
    }
  }
}

function trailerChecksums(trailer: string | null): ChecksumAlgorithm[] {
  if (trailer === null) return [];
  const found: ChecksumAlgorithm[] = [];
  for (const entry of trailer.split(',')) {
    const name = entry.trim().toLowerCase();
    if (!name.startsWith(CHECKSUM_PREFIX)) continue;
    const algorithm = name.slice(CHECKSUM_PREFIX.length);
    if (!isChecksumAlgorithm(algorithm)) {
      throw errors.invalidRequest(
        `The x-amz-trailer ${name} names a checksum algorithm this gateway does not support.`,
      );
    }
    found.push(algorithm);
  }
  return found;
}

function sdkChecksumAlgorithm(value: string | null): ChecksumAlgorithm | undefined {
  if (value === null) return undefined;
  const algorithm = value.trim().toLowerCase();
  if (!isChecksumAlgorithm(algorithm)) {
    throw errors.invalidRequest('Value for x-amz-sdk-checksum-algorithm header is invalid.');
  }
  return algorithm;
}
