/**
 * The checksum of a multipart upload, as S3 defines it: chosen at CreateMultipartUpload by
 * `x-amz-checksum-algorithm` and `x-amz-checksum-type`, carried by every part, and turned into the object's
 * checksum at CompleteMultipartUpload from the parts' checksums (combine-checksums.ts).
 *
 * S3's rules for the pair: SHA-1 and SHA-256 are COMPOSITE only; CRC32 and CRC32C are COMPOSITE unless
 * FULL_OBJECT is asked for; CRC64NVME is FULL_OBJECT only; a type needs an algorithm.
 */
import { errors } from '../errors.js';
import { isChecksumValue } from './checksum-request.js';
import { isChecksumAlgorithm, type ChecksumAlgorithm } from './checksums.js';
import { combineCrcs, compositeChecksum, isCrcAlgorithm } from './combine-checksums.js';

export type ChecksumType = 'COMPOSITE' | 'FULL_OBJECT';

/** What an upload's parts carry and what its object's checksum is. */
export interface MultipartChecksum {
  algorithm: ChecksumAlgorithm;
  type: ChecksumType;
}

/**
 * The checksum a CreateMultipartUpload asks for, or undefined when it names no algorithm.
 *
 * @throws S3Error InvalidRequest, with S3's messages, for an unknown algorithm or type, a type without an
 *   algorithm, or a pair S3 does not allow.
 */
export function requestedMultipartChecksum(headers: Headers): MultipartChecksum | undefined {
  const rawAlgorithm = headers.get('x-amz-checksum-algorithm');
  const rawType = headers.get('x-amz-checksum-type');
  const type = rawType === null ? undefined : rawType.trim().toUpperCase();
  if (type !== undefined && type !== 'COMPOSITE' && type !== 'FULL_OBJECT') {
    throw errors.invalidRequest('Value for x-amz-checksum-type header is invalid.');
  }
  if (rawAlgorithm === null) {
    if (type !== undefined) {
      throw errors.invalidRequest(
        'The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.',
      );
    }
    return undefined;
  }
  const algorithm = rawAlgorithm.trim().toLowerCase();
  if (!isChecksumAlgorithm(algorithm)) {
    throw errors.invalidRequest(
      'Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]',
    );
  }
  const chosen: ChecksumType = type ?? (algorithm === 'crc64nvme' ? 'FULL_OBJECT' : 'COMPOSITE');
  if (chosen === 'FULL_OBJECT' && !isCrcAlgorithm(algorithm)) {
    throw errors.invalidRequest(
      `The FULL_OBJECT checksum type cannot be used with the ${algorithm} checksum algorithm.`,
    );
  }
  if (chosen === 'COMPOSITE' && algorithm === 'crc64nvme') {
    throw errors.invalidRequest(
      'The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm.',
    );
  }
  return { algorithm, type: chosen };
}

/** The response headers S3 echoes for an upload's checksum. */
export function multipartChecksumHeaders(checksum: MultipartChecksum | undefined): Record<string, string> {
  if (!checksum) return {};
  return {
    'x-amz-checksum-algorithm': checksum.algorithm.toUpperCase(),
    'x-amz-checksum-type': checksum.type,
  };
}

/** One part as the object's checksum needs it: its checksum (base64) and its plaintext length. */
export interface PartChecksum {
  value: string;
  length: number;
}

/**
 * The object's checksum from its parts', base64: for COMPOSITE the checksum of the joined binary part
 * checksums (without S3's `-<parts>` suffix, which {@link displayedChecksum} adds), for FULL_OBJECT the CRC
 * of the whole object.
 */
export function objectChecksumFromParts(checksum: MultipartChecksum, parts: PartChecksum[]): string {
  const digests = parts.map((part) => Buffer.from(part.value, 'base64'));
  if (checksum.type === 'COMPOSITE')
    return compositeChecksum(checksum.algorithm, digests).replace(/-\d+$/, '');
  if (!isCrcAlgorithm(checksum.algorithm))
    throw new Error(`no FULL_OBJECT checksum for ${checksum.algorithm}`);
  return combineCrcs(
    checksum.algorithm,
    parts.map((part, i) => ({ digest: digests[i], length: part.length })),
  ).toString('base64');
}

/** A stored object's checksum as HEAD and GET show it: a composite one ends in `-<parts>`. */
export function displayedChecksum(value: string, type: ChecksumType, partsCount: number | undefined): string {
  return type === 'COMPOSITE' && partsCount !== undefined ? `${value}-${partsCount}` : value;
}

/**
 * The whole-object checksum a CompleteMultipartUpload carries in its `x-amz-checksum-<alg>` header, if any,
 * checked against the upload's: a header of another algorithm, or a malformed value, is InvalidRequest.
 * A composite value may come with its `-<parts>` suffix; it is returned without it.
 */
export function completionHeaderChecksum(
  headers: Headers,
  upload: MultipartChecksum | undefined,
): string | undefined {
  let found: string | undefined;
  for (const [name, value] of headers) {
    if (!name.startsWith('x-amz-checksum-')) continue;
    const algorithm = name.slice('x-amz-checksum-'.length);
    if (algorithm === 'type' || algorithm === 'algorithm' || algorithm === 'mode') continue;
    if (!isChecksumAlgorithm(algorithm)) {
      throw errors.invalidRequest(
        `The ${name} header names a checksum algorithm this gateway does not support.`,
      );
    }
    if (upload?.algorithm !== algorithm) {
      throw errors.invalidRequest(
        `The upload was created using ${upload ? `a ${upload.algorithm}` : 'no'} checksum; ` +
          `the complete request's ${name} header does not match it.`,
      );
    }
    const bare = upload.type === 'COMPOSITE' ? value.replace(/-\d+$/, '') : value;
    if (!isChecksumValue(algorithm, bare)) {
      throw errors.invalidRequest(`Value for ${name} header is invalid.`);
    }
    found = bare;
  }
  const type = headers.get('x-amz-checksum-type');
  if (type !== null && upload && type.trim().toUpperCase() !== upload.type) {
    throw errors.invalidRequest(
      `The upload was created using the ${upload.type} checksum mode. The complete request must use the same checksum mode.`,
    );
  }
  return found;
}
