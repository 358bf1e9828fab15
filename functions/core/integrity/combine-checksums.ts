/**
 * The checksums of a multipart object, from the checksums of its parts (S3's "checking object integrity"):
 * - COMPOSITE: the algorithm over the concatenated binary part checksums, shown as `<base64>-<parts>`;
 * - FULL_OBJECT (CRC32, CRC32C, CRC64NVME only): the CRC of the whole object, which follows from the parts'
 *   CRCs and lengths without reading the data again. For a reflected CRC whose initial value and final xor
 *   are both all ones (all three), CRC(A || B) = CRC(A) * x^(8 * |B|) mod P, xor CRC(B): the conditioning
 *   terms cancel, as in zlib's crc32_combine. The multiplication mod P is done bitwise on BigInts, in the
 *   reflected bit order the registers use; a part costs O(log of its length) of them.
 */
import { createChecksum, type ChecksumAlgorithm } from './checksums.js';

/** The algorithms whose checksum of a whole object can be combined from its parts'. */
export type CrcAlgorithm = 'crc32' | 'crc32c' | 'crc64nvme';

export function isCrcAlgorithm(algorithm: ChecksumAlgorithm): algorithm is CrcAlgorithm {
  return algorithm === 'crc32' || algorithm === 'crc32c' || algorithm === 'crc64nvme';
}

interface Crc {
  width: number;
  /** The reflected polynomial. */
  poly: bigint;
  /** x^(2^k) mod P for k = 0 .. 63, for x^n by squaring. */
  powers: bigint[];
}

const CRCS: Record<CrcAlgorithm, Crc> = {
  crc32: crc(32, 0xedb88320n),
  crc32c: crc(32, 0x82f63b78n),
  crc64nvme: crc(64, 0x9a6c9329ac4bc9b5n),
};

function crc(width: number, poly: bigint): Crc {
  const spec: Crc = { width, poly, powers: [] };
  let power = 1n << BigInt(width - 2); // x^1, reflected
  for (let k = 0; k < 64; k++) {
    spec.powers.push(power);
    power = multiply(spec, power, power);
  }
  return spec;
}

/** a * b mod P, both reflected (the top bit is x^0). */
function multiply(spec: Crc, a: bigint, b: bigint): bigint {
  const top = 1n << BigInt(spec.width - 1);
  let product = 0n;
  for (let m = top; m > 0n; m >>= 1n) {
    if (a & m) {
      product ^= b;
      if ((a & (m - 1n)) === 0n) break;
    }
    b = b & 1n ? (b >> 1n) ^ spec.poly : b >> 1n;
  }
  return product;
}

/** x^(8 * bytes) mod P. */
function shiftFor(spec: Crc, bytes: number): bigint {
  let product = 1n << BigInt(spec.width - 1); // x^0
  let n = BigInt(bytes);
  for (let k = 3; n > 0n; k++, n >>= 1n) {
    if (n & 1n) product = multiply(spec, spec.powers[k % 64], product);
  }
  return product;
}

function toBigInt(digest: Buffer): bigint {
  return BigInt(`0x${digest.toString('hex') || '0'}`);
}

function toDigest(value: bigint, width: number): Buffer {
  return Buffer.from(value.toString(16).padStart(width / 4, '0'), 'hex');
}

/**
 * The CRC of the parts joined in order, from each part's CRC (big-endian bytes, as the checksum headers
 * carry them) and length.
 */
export function combineCrcs(algorithm: CrcAlgorithm, parts: { digest: Buffer; length: number }[]): Buffer {
  const spec = CRCS[algorithm];
  if (parts.length === 0) return createChecksum(algorithm).digest();
  let combined = toBigInt(parts[0].digest);
  for (const part of parts.slice(1)) {
    combined = multiply(spec, shiftFor(spec, part.length), combined) ^ toBigInt(part.digest);
  }
  return toDigest(combined, spec.width);
}

/** S3's COMPOSITE checksum of a multipart object: `<base64 of the checksum of the part checksums>-<parts>`. */
export function compositeChecksum(algorithm: ChecksumAlgorithm, partDigests: Buffer[]): string {
  const checksum = createChecksum(algorithm);
  for (const digest of partDigests) checksum.update(digest);
  return `${checksum.digest().toString('base64')}-${partDigests.length}`;
}
