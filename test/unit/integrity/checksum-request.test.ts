import { describe, expect, it } from 'vitest';
import { S3Error } from '../../../functions/core/errors.js';
import { isChecksumValue, requestedChecksum } from '../../../functions/core/integrity/checksum-request.js';
import { thrown } from '../../support/thrown.js';

function rejection(headers: Record<string, string>): S3Error {
  return thrown(() => requestedChecksum(new Headers(headers)), S3Error);
}

describe('requestedChecksum', () => {
  it('finds no checksum in a request that names none', () => {
    expect(requestedChecksum(new Headers({ 'content-md5': 'XUFAKrxLKna5cZ2REBfFkg==' }))).toBeUndefined();
  });

  it('reads a checksum header with its value', () => {
    expect(requestedChecksum(new Headers({ 'x-amz-checksum-crc32c': 'sOO8/Q==' }))).toEqual({
      algorithm: 'crc32c',
      value: 'sOO8/Q==',
      inTrailer: false,
    });
  });

  it('reads a checksum announced in x-amz-trailer, with the SDK algorithm header agreeing', () => {
    const headers = new Headers({
      'x-amz-trailer': 'x-amz-checksum-crc64nvme',
      'x-amz-sdk-checksum-algorithm': 'CRC64NVME',
    });
    expect(requestedChecksum(headers)).toEqual({ algorithm: 'crc64nvme', inTrailer: true });
  });

  it('rejects x-amz-sdk-checksum-algorithm alone, as S3 does', () => {
    const error = rejection({ 'x-amz-sdk-checksum-algorithm': 'SHA256' });
    expect([error.code, error.message]).toEqual([
      'InvalidRequest',
      'x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or x-amz-trailer headers were found.',
    ]);
  });

  it('ignores the x-amz-checksum-type, -algorithm and -mode headers, which carry no value', () => {
    const headers = new Headers({
      'x-amz-checksum-type': 'FULL_OBJECT',
      'x-amz-checksum-algorithm': 'CRC32',
      'x-amz-checksum-mode': 'ENABLED',
    });
    expect(requestedChecksum(headers)).toBeUndefined();
  });

  it("rejects two checksum headers with S3's message", () => {
    const error = rejection({
      'x-amz-checksum-crc32': 'AAAAAA==',
      'x-amz-checksum-sha1': 'C+7Hteo/D9vJXQ3UfzxbwnXaijM=',
    });
    expect([error.code, error.message]).toEqual([
      'InvalidRequest',
      'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.',
    ]);
  });

  it('rejects a checksum header together with a trailer checksum', () => {
    const error = rejection({ 'x-amz-checksum-crc32': 'AAAAAA==', 'x-amz-trailer': 'x-amz-checksum-crc32c' });
    expect(error.message).toBe(
      'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.',
    );
  });

  it('rejects a value that is not the base64 of the digest length', () => {
    for (const value of ['AAAA', 'AAAAAAA=', 'not base64!', 'AAAAAAAAAAA=']) {
      const error = rejection({ 'x-amz-checksum-crc32': value });
      expect([error.code, error.message]).toEqual([
        'InvalidRequest',
        'Value for x-amz-checksum-crc32 header is invalid.',
      ]);
    }
  });

  it('rejects an algorithm this gateway does not know, in a header, a trailer or the SDK header', () => {
    expect(rejection({ 'x-amz-checksum-xxhash64': 'AAAAAAAAAAA=' }).code).toBe('InvalidRequest');
    expect(rejection({ 'x-amz-trailer': 'x-amz-checksum-md5' }).code).toBe('InvalidRequest');
    expect(rejection({ 'x-amz-sdk-checksum-algorithm': 'MD5' }).code).toBe('InvalidRequest');
  });

  it('rejects an SDK algorithm header that disagrees with the checksum header', () => {
    const error = rejection({ 'x-amz-checksum-crc32': 'AAAAAA==', 'x-amz-sdk-checksum-algorithm': 'CRC32C' });
    expect(error.message).toBe('Value for x-amz-sdk-checksum-algorithm header is invalid.');
  });
});

describe('isChecksumValue', () => {
  it('accepts canonical base64 of the right length for each algorithm', () => {
    expect(isChecksumValue('crc32', 'sOO8/Q==')).toBe(true);
    expect(isChecksumValue('crc64nvme', 'rosUhgp5mIg=')).toBe(true);
    expect(isChecksumValue('sha256', Buffer.alloc(32, 7).toString('base64'))).toBe(true);
  });

  it('refuses base64 whose padding bits are not zero', () => {
    // "sOO8/R==" decodes to the same bytes as "sOO8/Q==" but is not what any encoder produces.
    expect(isChecksumValue('crc32', 'sOO8/R==')).toBe(false);
  });
});
