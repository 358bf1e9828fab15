import { crc32 } from 'node:zlib';

import { describe, expect, it } from 'vitest';

import { S3Error } from '../../../functions/core/errors.js';
import { createChecksum } from '../../../functions/core/integrity/checksums.js';
import {
  completionHeaderChecksum,
  displayedChecksum,
  objectChecksumFromParts,
  requestedMultipartChecksum,
} from '../../../functions/core/integrity/multipart-checksum.js';

const headers = (entries: Record<string, string>) => new Headers(entries);

function invalid(run: () => unknown, message: RegExp): void {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(S3Error);
  expect((caught as S3Error).code).toBe('InvalidRequest');
  expect((caught as S3Error).message).toMatch(message);
}

describe('the checksum a CreateMultipartUpload chooses', () => {
  it('defaults the type as S3 does', () => {
    expect(requestedMultipartChecksum(headers({}))).toBeUndefined();
    expect(requestedMultipartChecksum(headers({ 'x-amz-checksum-algorithm': 'CRC32' }))).toEqual({
      algorithm: 'crc32',
      type: 'COMPOSITE',
    });
    expect(requestedMultipartChecksum(headers({ 'x-amz-checksum-algorithm': 'crc64nvme' }))).toEqual({
      algorithm: 'crc64nvme',
      type: 'FULL_OBJECT',
    });
    expect(
      requestedMultipartChecksum(
        headers({ 'x-amz-checksum-algorithm': 'CRC32C', 'x-amz-checksum-type': 'full_object' }),
      ),
    ).toEqual({ algorithm: 'crc32c', type: 'FULL_OBJECT' });
  });

  it("refuses what S3 refuses, with S3's messages", () => {
    invalid(
      () =>
        requestedMultipartChecksum(
          headers({ 'x-amz-checksum-algorithm': 'SHA1', 'x-amz-checksum-type': 'FULL_OBJECT' }),
        ),
      /FULL_OBJECT checksum type cannot be used with the sha1/,
    );
    invalid(
      () =>
        requestedMultipartChecksum(
          headers({ 'x-amz-checksum-algorithm': 'CRC64NVME', 'x-amz-checksum-type': 'COMPOSITE' }),
        ),
      /COMPOSITE checksum type cannot be used with the crc64nvme/,
    );
    invalid(
      () => requestedMultipartChecksum(headers({ 'x-amz-checksum-type': 'COMPOSITE' })),
      /can only be used with the x-amz-checksum-algorithm/,
    );
    invalid(() => requestedMultipartChecksum(headers({ 'x-amz-checksum-algorithm': 'MD5' })), /unsupported/);
    invalid(
      () =>
        requestedMultipartChecksum(
          headers({ 'x-amz-checksum-algorithm': 'CRC32', 'x-amz-checksum-type': 'BOTH' }),
        ),
      /x-amz-checksum-type header is invalid/,
    );
  });
});

describe("an object's checksum from its parts", () => {
  const a = Buffer.from('first part, any length');
  const b = Buffer.from('and the second');
  const crcOf = (data: Buffer) => {
    const out = Buffer.alloc(4);
    out.writeUInt32BE(crc32(data) >>> 0);
    return out.toString('base64');
  };

  it('is the CRC of the joined data for FULL_OBJECT', () => {
    const value = objectChecksumFromParts({ algorithm: 'crc32', type: 'FULL_OBJECT' }, [
      { value: crcOf(a), length: a.length },
      { value: crcOf(b), length: b.length },
    ]);
    expect(value).toBe(crcOf(Buffer.concat([a, b])));
  });

  it('is the checksum of the joined part checksums for COMPOSITE, shown with its part count', () => {
    const sha = (data: Buffer) => {
      const checksum = createChecksum('sha256');
      checksum.update(data);
      return checksum.digest();
    };
    const value = objectChecksumFromParts({ algorithm: 'sha256', type: 'COMPOSITE' }, [
      { value: sha(a).toString('base64'), length: a.length },
      { value: sha(b).toString('base64'), length: b.length },
    ]);
    expect(value).toBe(sha(Buffer.concat([sha(a), sha(b)])).toString('base64'));
    expect(displayedChecksum(value, 'COMPOSITE', 2)).toBe(`${value}-2`);
    expect(displayedChecksum(value, 'FULL_OBJECT', 2)).toBe(value);
  });
});

describe("a completion's whole-object checksum header", () => {
  const upload = { algorithm: 'crc32', type: 'COMPOSITE' } as const;

  it('is taken with or without the part-count suffix', () => {
    expect(completionHeaderChecksum(headers({ 'x-amz-checksum-crc32': 'AAAAAA==-3' }), upload)).toBe(
      'AAAAAA==',
    );
    expect(completionHeaderChecksum(headers({}), upload)).toBeUndefined();
  });

  it('must be of the upload algorithm and type', () => {
    invalid(
      () =>
        completionHeaderChecksum(headers({ 'x-amz-checksum-sha1': 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=' }), upload),
      /crc32/,
    );
    invalid(
      () => completionHeaderChecksum(headers({ 'x-amz-checksum-crc32': 'AAAAAA==' }), undefined),
      /no checksum/,
    );
    invalid(
      () => completionHeaderChecksum(headers({ 'x-amz-checksum-type': 'FULL_OBJECT' }), upload),
      /same checksum mode/,
    );
    invalid(() => completionHeaderChecksum(headers({ 'x-amz-checksum-crc32': 'AAAA' }), upload), /invalid/);
  });
});
