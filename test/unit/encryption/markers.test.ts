import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeLayout, encodeLayout } from '../../../functions/core/encryption/layout-marker.js';
import { openValues, sealValues } from '../../../functions/core/encryption/sealed-values.js';
import { encodeUploadId, parseUploadId } from '../../../functions/core/encryption/upload-state.js';
import { storedEncryption } from '../../../functions/core/encryption/markers.js';
import { S3Error } from '../../../functions/core/errors.js';

describe('layout marker', () => {
  it('writes equal consecutive parts as one run', () => {
    const lengths = [...Array<number>(999).fill(8388608), 1234];
    const partNumbers = lengths.map((_, i) => i + 1);
    const marker = encodeLayout({ partNumbers, lengths });
    expect(marker).toBe('1-999:8388608,1000:1234');
    expect(decodeLayout(marker)).toEqual({ partNumbers, lengths });
  });

  it('keeps gaps in part numbers and uneven parts', () => {
    const layout = { partNumbers: [1, 2, 5], lengths: [5242881, 5242880, 7] };
    expect(encodeLayout(layout)).toBe('1:5242881,2:5242880,5:7');
    expect(decodeLayout(encodeLayout(layout))).toEqual(layout);
  });

  it('round-trips any ascending layout', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: 10000 }), { minLength: 1, maxLength: 50 }),
        fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 50, maxLength: 50 }),
        (numbers, sizes) => {
          const partNumbers = [...numbers].sort((a, b) => a - b);
          const lengths = partNumbers.map((_, i) => 5242880 + sizes[i]);
          expect(decodeLayout(encodeLayout({ partNumbers, lengths }))).toEqual({ partNumbers, lengths });
        },
      ),
    );
  });

  it.each([
    '',
    '0:5',
    '2-1:5',
    '1:5,1:5',
    '3:5,2:5',
    '1-10001:5',
    '1:-5',
    '1:5;2:5',
    '1:99999999999999999',
    'x',
  ])('refuses %j', (marker) => {
    expect(() => decodeLayout(marker)).toThrow();
  });
});

describe('sealed values', () => {
  const dataKey = randomBytes(32);

  it('opens what it sealed, and the marker does not show the values', () => {
    const values = { md5: 'a'.repeat(32), checksums: { sha256: 'Zm9vYmFy' } };
    const marker = sealValues(dataKey, values);
    expect(openValues(dataKey, marker)).toEqual(values);
    const raw = Buffer.from(marker, 'base64').toString('latin1');
    expect(raw).not.toContain('aaaa');
    expect(marker).not.toContain('Zm9vYmFy');
  });

  it('refuses another data key, a flipped bit, and a cut marker', () => {
    const marker = sealValues(dataKey, { md5: 'b'.repeat(32) });
    expect(() => openValues(randomBytes(32), marker)).toThrow();
    const bytes = Buffer.from(marker, 'base64');
    for (const at of [0, 5, 20, bytes.length - 1]) {
      const flipped = Buffer.from(bytes);
      flipped[at] ^= 1;
      expect(() => openValues(dataKey, flipped.toString('base64'))).toThrow();
    }
    expect(() => openValues(dataKey, bytes.subarray(0, 20).toString('base64'))).toThrow();
  });

  it('uses a fresh nonce each time', () => {
    expect(sealValues(dataKey, { md5: 'c' })).not.toBe(sealValues(dataKey, { md5: 'c' }));
  });
});

describe('upload state in upload ids', () => {
  it('round-trips the markers and the SSE-C layout key, and keeps the backend id whole', () => {
    const backendId = 'VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA-_.~x';
    const markers = { enc: 'sse-c', dk: randomBytes(61).toString('base64') };
    const id = encodeUploadId(backendId, { mode: 'sse-c', markers, layoutKey: 'TA==' });
    expect(id.startsWith(`${backendId}~sg1~`)).toBe(true);
    expect(id).toMatch(/^[A-Za-z0-9._~-]+$/);
    expect(parseUploadId(id)).toEqual({ backendId, state: { mode: 'sse-c', markers, layoutKey: 'TA==' } });
  });

  it('passes plain upload ids through', () => {
    expect(parseUploadId('abc.def-123')).toEqual({ backendId: 'abc.def-123' });
  });

  it('carries a checksum choice, with or without encryption state', () => {
    const checksum = { algorithm: 'crc32c', type: 'FULL_OBJECT' } as const;
    const plain = encodeUploadId('abc', undefined, checksum);
    expect(plain.startsWith('abc~sg1~')).toBe(true);
    expect(parseUploadId(plain)).toEqual({ backendId: 'abc', checksum });
    const markers = { enc: 'aes256-gcm-proxy', 'key-id': 'k1', dk: 'ZGs=' };
    const sealed = encodeUploadId('abc', { mode: 'aes256-gcm-proxy', markers }, checksum);
    expect(parseUploadId(sealed)).toEqual({
      backendId: 'abc',
      checksum,
      state: { mode: 'aes256-gcm-proxy', markers },
    });
    expect(encodeUploadId('abc', undefined)).toBe('abc');
  });

  it.each([
    'abc~sg1~',
    'abc~sg1~!!!',
    `abc~sg1~${Buffer.from('{"e":"none","d":"x"}').toString('base64url')}`,
    `abc~sg1~${Buffer.from('{"c":"md5","t":"C"}').toString('base64url')}`,
    `abc~sg1~${Buffer.from('{"c":"crc32","t":"X"}').toString('base64url')}`,
  ])('answers NoSuchUpload for a damaged state %j', (id) => {
    expect(() => parseUploadId(id)).toThrow(S3Error);
  });
});

describe('encryption markers', () => {
  it('reads each known form, plaintext when absent, and refuses an unknown one', () => {
    expect(storedEncryption({})).toBe('plain');
    for (const mode of ['aes256-gcm-proxy', 'aws-kms-envelope', 'sse-c', 'sse-kms', 'sse-s3']) {
      expect(storedEncryption({ enc: mode })).toBe(mode);
    }
    expect(() => storedEncryption({ enc: 'rot13' })).toThrow();
  });
});
