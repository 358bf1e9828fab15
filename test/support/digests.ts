/**
 * Digests computed independently of the gateway's own implementation, so tests compare the gateway against
 * a second opinion: S3's additional checksums (base64 of the big-endian digest), Content-MD5 and ETags.
 */
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';

export type Algorithm = 'CRC32' | 'CRC32C' | 'SHA1' | 'SHA256' | 'CRC64NVME';
export const ALGORITHMS: Algorithm[] = ['CRC32', 'CRC32C', 'SHA1', 'SHA256', 'CRC64NVME'];

function reflectedTable(poly: bigint, width: number): bigint[] {
  const mask = (1n << BigInt(width)) - 1n;
  return Array.from({ length: 256 }, (_, n) => {
    let c = BigInt(n);
    for (let k = 0; k < 8; k++) c = c & 1n ? (c >> 1n) ^ poly : c >> 1n;
    return c & mask;
  });
}

// Reflected polynomials: CRC-32C (Castagnoli) and CRC-64/NVME, the ones S3 names.
const CRC32C_TABLE = reflectedTable(0x82f63b78n, 32);
const CRC64_TABLE = reflectedTable(0x9a6c9329ac4bc9b5n, 64);

function reflectedCrc(data: Uint8Array, table: bigint[], width: number): bigint {
  const mask = (1n << BigInt(width)) - 1n;
  let crc = mask;
  for (const byte of data) crc = table[Number((crc ^ BigInt(byte)) & 0xffn)] ^ (crc >> 8n);
  return crc ^ mask;
}

function bigEndian(value: bigint, bytes: number): Buffer {
  const out = Buffer.alloc(bytes);
  for (let i = bytes - 1; i >= 0; i--) {
    out[i] = Number(value & 0xffn);
    value >>= 8n;
  }
  return out;
}

/** The base64 checksum S3 sends in `x-amz-checksum-<algorithm>` for `data`. */
export function checksumOf(algorithm: Algorithm, data: Uint8Array): string {
  switch (algorithm) {
    case 'CRC32':
      return bigEndian(BigInt(crc32(data)), 4).toString('base64');
    case 'CRC32C':
      return bigEndian(reflectedCrc(data, CRC32C_TABLE, 32), 4).toString('base64');
    case 'CRC64NVME':
      return bigEndian(reflectedCrc(data, CRC64_TABLE, 64), 8).toString('base64');
    case 'SHA1':
      return createHash('sha1').update(data).digest('base64');
    case 'SHA256':
      return createHash('sha256').update(data).digest('base64');
  }
}

export function md5Hex(data: Uint8Array): string {
  return createHash('md5').update(data).digest('hex');
}

export function md5Base64(data: Uint8Array): string {
  return createHash('md5').update(data).digest('base64');
}

/** A single-part object's ETag: the quoted MD5 of its bytes. */
export function singlePartEtag(data: Uint8Array): string {
  return `"${md5Hex(data)}"`;
}

/** A multipart object's ETag: the MD5 of the parts' binary MD5s, then `-<number of parts>`, quoted. */
export function multipartEtag(parts: Uint8Array[]): string {
  const digests = Buffer.concat(parts.map((p) => createHash('md5').update(p).digest()));
  return `"${md5Hex(digests)}-${parts.length}"`;
}
