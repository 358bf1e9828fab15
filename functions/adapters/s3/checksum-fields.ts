/**
 * S3's own additional checksums, for the multipart uploads the S3 backend has S3 keep them for (plain
 * uploads that chose a checksum: S3 verifies each part's, checks the completion's part list against them,
 * and keeps the object's, so nothing has to be written after completion). The SDK names each algorithm's
 * value in its own field.
 */
import type { ObjectChecksum, PartChecksumValue } from '../../core/backend.js';
import { CHECKSUM_ALGORITHMS, type ChecksumAlgorithm } from '../../core/integrity/checksums.js';
import type { MultipartChecksum } from '../../core/integrity/multipart-checksum.js';

type ChecksumField =
  'ChecksumCRC32' | 'ChecksumCRC32C' | 'ChecksumSHA1' | 'ChecksumSHA256' | 'ChecksumCRC64NVME';

const FIELDS: Record<ChecksumAlgorithm, ChecksumField> = {
  crc32: 'ChecksumCRC32',
  crc32c: 'ChecksumCRC32C',
  sha1: 'ChecksumSHA1',
  sha256: 'ChecksumSHA256',
  crc64nvme: 'ChecksumCRC64NVME',
};

type WithChecksums = Partial<Record<ChecksumField, string>> & { ChecksumType?: string };

/** The SDK input field that carries `value` for `algorithm`. */
export function checksumInput(
  algorithm: ChecksumAlgorithm,
  value: string,
): Partial<Record<ChecksumField, string>> {
  return { [FIELDS[algorithm]]: value };
}

/** The SDK's name of an algorithm. */
export function checksumAlgorithmInput(algorithm: ChecksumAlgorithm): Uppercase<ChecksumAlgorithm> {
  return algorithm.toUpperCase() as Uppercase<ChecksumAlgorithm>;
}

/** CreateMultipartUpload's input for an upload's checksum choice. */
export function multipartChecksumInput(checksum: MultipartChecksum | undefined) {
  if (!checksum) return {};
  return { ChecksumAlgorithm: checksumAlgorithmInput(checksum.algorithm), ChecksumType: checksum.type };
}

/** The checksum a ListParts entry reports for a part, if any. */
export function partChecksumOf(part: WithChecksums): PartChecksumValue | undefined {
  for (const algorithm of CHECKSUM_ALGORITHMS) {
    const value = part[FIELDS[algorithm]];
    if (value) return { algorithm, value };
  }
  return undefined;
}

/**
 * The object checksum a HeadObject (with checksum mode) reports, with a composite value's `-<parts>`
 * suffix taken off (the core adds it back as S3 shows it); undefined without a checksum type.
 */
export function objectChecksumOf(out: WithChecksums): ObjectChecksum | undefined {
  const type = out.ChecksumType;
  if (type !== 'COMPOSITE' && type !== 'FULL_OBJECT') return undefined;
  const found = partChecksumOf(out);
  if (!found) return undefined;
  return { algorithm: found.algorithm, type, value: found.value.replace(/-\d+$/, '') };
}
