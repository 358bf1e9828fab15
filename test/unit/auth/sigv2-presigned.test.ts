import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { authenticate } from '../../../functions/core/auth/sigv4.js';
import { S3Error } from '../../../functions/core/errors.js';
import { AWS_EXAMPLE_KEY_ID, AWS_EXAMPLE_SECRET, store } from './signing.js';
import { thrown } from '../../support/thrown.js';

// AWS's published query-string authentication example (Signature Version 2): GET of
// /johnsmith/photos/puppy.jpg, expiring at 1175139620.
const DOC_EXPIRES = '1175139620';
const DOC_SIGNATURE = 'NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D';
const BEFORE_EXPIRY = new Date((Number(DOC_EXPIRES) - 60) * 1000);

function request(method: string, rawPath: string, rawQuery: string) {
  return {
    request: new Request(`http://127.0.0.1${rawPath}?${rawQuery}`, {
      method,
      headers: { host: '127.0.0.1' },
    }),
    ctx: { rawPath, rawQuery, secure: false },
  };
}

function docQuery(signature = DOC_SIGNATURE): string {
  return `AWSAccessKeyId=${AWS_EXAMPLE_KEY_ID}&Expires=${DOC_EXPIRES}&Signature=${signature}`;
}

function s3Error(run: () => unknown): S3Error {
  return thrown(run, S3Error);
}

describe('Signature Version 2 presigned URLs', () => {
  it("accepts AWS's published example as an unsigned-payload request of its credential", () => {
    const { request: r, ctx } = request('GET', '/johnsmith/photos/puppy.jpg', docQuery());
    const auth = authenticate(r, ctx, store, BEFORE_EXPIRY);
    expect(auth.credential.accessKeyId).toBe(AWS_EXAMPLE_KEY_ID);
    expect(auth.payload).toEqual({ kind: 'unsigned' });
  });

  it('signs response-* overrides as part of the resource', () => {
    const expires = String(Number(DOC_EXPIRES));
    const stringToSign = `GET\n\n\n${expires}\n/johnsmith/a%20b.txt?response-content-type=text/plain`;
    const signature = createHmac('sha1', AWS_EXAMPLE_SECRET).update(stringToSign).digest('base64');
    const query = `AWSAccessKeyId=${AWS_EXAMPLE_KEY_ID}&Expires=${expires}&Signature=${encodeURIComponent(signature)}&response-content-type=text%2Fplain`;
    const { request: r, ctx } = request('GET', '/johnsmith/a%20b.txt', query);
    expect(authenticate(r, ctx, store, BEFORE_EXPIRY).credential.accessKeyId).toBe(AWS_EXAMPLE_KEY_ID);
    const tampered = query.replace('text%2Fplain', 'text%2Fhtml');
    const forged = request('GET', '/johnsmith/a%20b.txt', tampered);
    expect(s3Error(() => authenticate(forged.request, forged.ctx, store, BEFORE_EXPIRY)).code).toBe(
      'SignatureDoesNotMatch',
    );
  });

  it('rejects a URL for another key with SignatureDoesNotMatch', () => {
    const { request: r, ctx } = request('GET', '/johnsmith/photos/kitten.jpg', docQuery());
    expect(s3Error(() => authenticate(r, ctx, store, BEFORE_EXPIRY)).code).toBe('SignatureDoesNotMatch');
  });

  it('rejects an expired URL with AccessDenied', () => {
    const { request: r, ctx } = request('GET', '/johnsmith/photos/puppy.jpg', docQuery());
    const error = s3Error(() => authenticate(r, ctx, store, new Date((Number(DOC_EXPIRES) + 1) * 1000)));
    expect([error.code, error.message]).toEqual(['AccessDenied', 'Request has expired']);
  });

  it('rejects a URL that would live longer than seven days', () => {
    const { request: r, ctx } = request('GET', '/johnsmith/photos/puppy.jpg', docQuery());
    const longBefore = new Date((Number(DOC_EXPIRES) - 8 * 86400) * 1000);
    expect(s3Error(() => authenticate(r, ctx, store, longBefore)).code).toBe('AccessDenied');
  });

  it('rejects a method other than GET or HEAD', () => {
    const { request: r, ctx } = request('DELETE', '/johnsmith/photos/puppy.jpg', docQuery());
    expect(s3Error(() => authenticate(r, ctx, store, BEFORE_EXPIRY)).code).toBe('AccessDenied');
  });

  it('rejects an unknown access key with InvalidAccessKeyId', () => {
    const query = docQuery().replace(AWS_EXAMPLE_KEY_ID, 'AKIDUNKNOWN');
    const { request: r, ctx } = request('GET', '/johnsmith/photos/puppy.jpg', query);
    expect(s3Error(() => authenticate(r, ctx, store, BEFORE_EXPIRY)).code).toBe('InvalidAccessKeyId');
  });
});
