import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CHECKSUM_ALGORITHMS,
  createChecksum,
  type ChecksumAlgorithm,
} from '../../../functions/core/integrity/checksums.js';

function digestHex(algorithm: ChecksumAlgorithm, ...pieces: (string | Uint8Array)[]): string {
  const checksum = createChecksum(algorithm);
  for (const piece of pieces) checksum.update(typeof piece === 'string' ? Buffer.from(piece) : piece);
  return checksum.digest().toString('hex');
}

/** Bit-at-a-time reflected CRC, the textbook definition: slow, short and obviously right. */
function referenceCrc(data: Uint8Array, width: 32 | 64, reflectedPoly: bigint): string {
  const mask = (1n << BigInt(width)) - 1n;
  let crc = mask;
  for (const byte of data) {
    crc ^= BigInt(byte);
    for (let k = 0; k < 8; k++) crc = crc & 1n ? (crc >> 1n) ^ reflectedPoly : crc >> 1n;
  }
  return ((crc ^ mask) & mask).toString(16).padStart(width / 4, '0');
}

describe('checksum known answers', () => {
  // The "check" values of the CRC catalogue (input "123456789") and the FIPS digests of the same input.
  const check: Record<ChecksumAlgorithm, string> = {
    crc32: 'cbf43926',
    crc32c: 'e3069283',
    crc64nvme: 'ae8b14860a799888',
    sha1: 'f7c3bc1d808e04732adf679965ccc34ca7ae3441',
    sha256: '15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225',
  };
  for (const algorithm of CHECKSUM_ALGORITHMS) {
    it(`computes ${algorithm}("123456789") = ${check[algorithm]}`, () => {
      expect(digestHex(algorithm, '123456789')).toBe(check[algorithm]);
    });
  }

  it("matches the CRC32C of AWS's trailer example: 66560 'a' bytes are sOO8/Q==", () => {
    const checksum = createChecksum('crc32c');
    checksum.update(Buffer.alloc(65536, 'a'));
    checksum.update(Buffer.alloc(1024, 'a'));
    expect(checksum.digest().toString('base64')).toBe('sOO8/Q==');
  });

  it('gives the initial-state digests for an empty input', () => {
    expect(digestHex('crc32')).toBe('00000000');
    expect(digestHex('crc32c')).toBe('00000000');
    expect(digestHex('crc64nvme')).toBe('0000000000000000');
  });
});

describe('table-driven CRCs', () => {
  it('agree with the bitwise definition for any input split at any point', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), (data, cut) => {
        const at = cut % (data.length + 1);
        expect(digestHex('crc32c', data.subarray(0, at), data.subarray(at))).toBe(
          referenceCrc(data, 32, 0x82f63b78n),
        );
        expect(digestHex('crc64nvme', data.subarray(0, at), data.subarray(at))).toBe(
          referenceCrc(data, 64, 0x9a6c9329ac4bc9b5n),
        );
        expect(digestHex('crc32', data.subarray(0, at), data.subarray(at))).toBe(
          referenceCrc(data, 32, 0xedb88320n),
        );
      }),
      { numRuns: 300 },
    );
  });

  it('does not depend on how the input is split into updates', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 2000 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (data, cuts) => {
          const points = [...new Set(cuts.map((c) => c % data.length))].sort((a, b) => a - b);
          const pieces: Uint8Array[] = [];
          let start = 0;
          for (const p of [...points, data.length]) {
            pieces.push(data.subarray(start, p));
            start = p;
          }
          for (const algorithm of CHECKSUM_ALGORITHMS) {
            expect(digestHex(algorithm, ...pieces)).toBe(digestHex(algorithm, data));
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});
