import { createHash } from 'node:crypto';

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { createChecksum, type ChecksumAlgorithm } from '../../../functions/core/integrity/checksums.js';
import {
  combineCrcs,
  compositeChecksum,
  type CrcAlgorithm,
} from '../../../functions/core/integrity/combine-checksums.js';

function digestOf(algorithm: ChecksumAlgorithm, data: Uint8Array): Buffer {
  const checksum = createChecksum(algorithm);
  checksum.update(data);
  return checksum.digest();
}

const CRCS: CrcAlgorithm[] = ['crc32', 'crc32c', 'crc64nvme'];

describe('checksums of multipart objects', () => {
  it.each(CRCS)('combines %s part CRCs into the CRC of the whole object, for any split', (algorithm) => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 3000 }), { minLength: 1, maxLength: 6 }), (parts) => {
        const whole = digestOf(algorithm, Buffer.concat(parts));
        const combined = combineCrcs(
          algorithm,
          parts.map((part) => ({ digest: digestOf(algorithm, part), length: part.length })),
        );
        expect(combined.toString('hex')).toBe(whole.toString('hex'));
      }),
      { numRuns: 60 },
    );
  });

  it('combines parts of megabytes, as multipart parts are', () => {
    const parts = [Buffer.alloc(5 * 1024 * 1024, 7), Buffer.alloc(3 * 1024 * 1024 + 5, 9)];
    for (const algorithm of CRCS) {
      const whole = digestOf(algorithm, Buffer.concat(parts));
      const combined = combineCrcs(
        algorithm,
        parts.map((part) => ({ digest: digestOf(algorithm, part), length: part.length })),
      );
      expect(combined.equals(whole)).toBe(true);
    }
  });

  it('gives the composite checksum as the checksum of the part checksums, with the part count', () => {
    const parts = [Buffer.from('first part'), Buffer.from('second')];
    const digests = parts.map((part) => createHash('sha256').update(part).digest());
    const expected = createHash('sha256').update(Buffer.concat(digests)).digest('base64');
    expect(compositeChecksum('sha256', digests)).toBe(`${expected}-2`);
  });
});
