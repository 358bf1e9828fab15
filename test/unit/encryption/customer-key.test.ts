import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { customerKeyOf } from '../../../functions/core/encryption/customer-key.js';
import { S3Error } from '../../../functions/core/errors.js';
import { thrown } from '../../support/thrown.js';

const key = randomBytes(32);
const md5 = createHash('md5').update(key).digest('base64');
const loopback = { rawPath: '/', rawQuery: '', secure: false, sourceIp: '127.0.0.1' };

function headers(fields: Record<string, string>, prefix = 'x-amz-server-side-encryption-customer-'): Headers {
  return new Headers(Object.entries(fields).map(([name, value]) => [prefix + name, value]));
}

function refusal(h: Headers, ctx = loopback): { code: string; status: number; message: string } {
  const error = thrown(() => customerKeyOf(h, ctx), S3Error);
  return { code: error.code, status: error.status, message: error.message };
}

describe('customerKeyOf (SSE-C headers)', () => {
  it('returns nothing without headers, and the key with its MD5 when all three are right', () => {
    expect(customerKeyOf(new Headers(), loopback)).toBeUndefined();
    const got = customerKeyOf(
      headers({ algorithm: 'AES256', key: key.toString('base64'), 'key-md5': md5 }),
      loopback,
    );
    expect(got?.key.equals(key)).toBe(true);
    expect(got?.keyMd5).toBe(md5);
  });

  it('reads the copy-source form separately', () => {
    const h = headers(
      { algorithm: 'AES256', key: key.toString('base64'), 'key-md5': md5 },
      'x-amz-copy-source-server-side-encryption-customer-',
    );
    expect(customerKeyOf(h, loopback)).toBeUndefined();
    expect(customerKeyOf(h, loopback, 'source')?.key.equals(key)).toBe(true);
  });

  it.each([
    [{ key: key.toString('base64'), 'key-md5': md5 }, 'InvalidRequest', 'encryption algorithm'],
    [{ algorithm: 'AES256', 'key-md5': md5 }, 'InvalidRequest', 'secret key'],
    [{ algorithm: 'AES256', key: key.toString('base64') }, 'InvalidRequest', 'MD5'],
    [
      { algorithm: 'aws:kms', key: key.toString('base64'), 'key-md5': md5 },
      'InvalidEncryptionAlgorithmError',
      'AES256',
    ],
    [
      { algorithm: 'AES256', key: key.subarray(0, 16).toString('base64'), 'key-md5': md5 },
      'InvalidArgument',
      'secret key was invalid',
    ],
    [
      { algorithm: 'AES256', key: 'not base64!', 'key-md5': md5 },
      'InvalidArgument',
      'secret key was invalid',
    ],
    [
      {
        algorithm: 'AES256',
        key: key.toString('base64'),
        'key-md5': createHash('md5').update('x').digest('base64'),
      },
      'InvalidArgument',
      'MD5 hash of the key did not match',
    ],
  ])('refuses %j with %s', (fields, code, message) => {
    const got = refusal(headers(fields));
    expect(got.code).toBe(code);
    expect(got.status).toBe(400);
    expect(got.message).toContain(message);
  });

  it('refuses SSE-C over plain HTTP from another host, and allows TLS and loopback (IPv4, IPv6, mapped)', () => {
    const h = headers({ algorithm: 'AES256', key: key.toString('base64'), 'key-md5': md5 });
    const got = refusal(h, { ...loopback, sourceIp: '203.0.113.9' });
    expect(got).toMatchObject({ code: 'InvalidRequest', status: 400 });
    expect(got.message).toContain('secure connection');
    expect(customerKeyOf(h, { ...loopback, secure: true, sourceIp: '203.0.113.9' })).toBeDefined();
    for (const ip of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) {
      expect(customerKeyOf(h, { ...loopback, sourceIp: ip })).toBeDefined();
    }
  });
});
