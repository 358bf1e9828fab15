import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { authenticate, signingKey, type Authenticated } from '../../../functions/core/auth/sigv4.js';
import { S3Error } from '../../../functions/core/errors.js';
import type { RequestContext } from '../../../functions/core/request-context.js';
import {
  AWS_EXAMPLE_KEY_ID,
  AWS_EXAMPLE_SECRET,
  credential,
  received,
  s3Path,
  smithySigner,
  store,
  unsigned,
  type SignableRequest,
} from './signing.js';
import { thrown } from '../../support/thrown.js';

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const DOC_TIME = new Date('2013-05-24T00:00:00Z');
const DOC_SCOPE = `${AWS_EXAMPLE_KEY_ID}/20130524/us-east-1/s3/aws4_request`;

function s3Error(run: () => unknown): S3Error {
  return thrown(run, S3Error);
}

function raw(
  method: string,
  host: string,
  rawPath: string,
  rawQuery: string,
  headers: Record<string, string>,
): { request: Request; ctx: RequestContext } {
  const url = `https://${host}${rawPath}${rawQuery ? `?${rawQuery}` : ''}`;
  return {
    request: new Request(url, { method, headers: { host, ...headers } }),
    ctx: { rawPath, rawQuery, secure: true },
  };
}

function docAuthorization(signedHeaders: string, signature: string): string {
  return `AWS4-HMAC-SHA256 Credential=${DOC_SCOPE},SignedHeaders=${signedHeaders},Signature=${signature}`;
}

describe("AWS's published S3 signature examples", () => {
  it('accepts the GET Object example with a Range header', () => {
    const { request, ctx } = raw('GET', 'examplebucket.s3.amazonaws.com', '/test.txt', '', {
      range: 'bytes=0-9',
      'x-amz-content-sha256': EMPTY_SHA256,
      'x-amz-date': '20130524T000000Z',
      authorization: docAuthorization(
        'host;range;x-amz-content-sha256;x-amz-date',
        'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
      ),
    });
    const auth = authenticate(request, ctx, store, DOC_TIME);
    expect(auth.credential.accessKeyId).toBe(AWS_EXAMPLE_KEY_ID);
    expect(auth.payload).toEqual({ kind: 'sha256', hash: EMPTY_SHA256 });
  });

  it('accepts the PUT Object example, whose key has a $ the client encoded as %24', () => {
    const { request, ctx } = raw('PUT', 'examplebucket.s3.amazonaws.com', '/test%24file.text', '', {
      date: 'Fri, 24 May 2013 00:00:00 GMT',
      'x-amz-content-sha256': '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072',
      'x-amz-date': '20130524T000000Z',
      'x-amz-storage-class': 'REDUCED_REDUNDANCY',
      authorization: docAuthorization(
        'date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class',
        '98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd',
      ),
    });
    expect(authenticate(request, ctx, store, DOC_TIME).payload).toEqual({
      kind: 'sha256',
      hash: '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072',
    });
  });

  it('accepts the GET Bucket Lifecycle example, a query parameter without a value', () => {
    const { request, ctx } = raw('GET', 'examplebucket.s3.amazonaws.com', '/', 'lifecycle', {
      'x-amz-content-sha256': EMPTY_SHA256,
      'x-amz-date': '20130524T000000Z',
      authorization: docAuthorization(
        'host;x-amz-content-sha256;x-amz-date',
        'fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543',
      ),
    });
    expect(authenticate(request, ctx, store, DOC_TIME).credential).toBe(credential);
  });

  it('accepts the List Objects example with its query parameters in sent order', () => {
    const { request, ctx } = raw('GET', 'examplebucket.s3.amazonaws.com', '/', 'prefix=J&max-keys=2', {
      'x-amz-content-sha256': EMPTY_SHA256,
      'x-amz-date': '20130524T000000Z',
      authorization: docAuthorization(
        'host;x-amz-content-sha256;x-amz-date',
        '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7',
      ),
    });
    expect(authenticate(request, ctx, store, DOC_TIME).credential).toBe(credential);
  });

  const presignedQuery =
    'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request' +
    '&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host' +
    '&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404';

  it('accepts the presigned URL example within its 86400 s lifetime, with an unsigned payload', () => {
    const { request, ctx } = raw('GET', 'examplebucket.s3.amazonaws.com', '/test.txt', presignedQuery, {});
    const auth = authenticate(request, ctx, store, new Date('2013-05-24T23:59:59Z'));
    expect(auth.payload).toEqual({ kind: 'unsigned' });
  });

  it('rejects the presigned URL example once it has expired', () => {
    const { request, ctx } = raw('GET', 'examplebucket.s3.amazonaws.com', '/test.txt', presignedQuery, {});
    const error = s3Error(() => authenticate(request, ctx, store, new Date('2013-05-25T00:00:01Z')));
    expect([error.code, error.message]).toEqual(['AccessDenied', 'Request has expired']);
  });

  it('accepts the chunked upload example and hands out its seed signature to start the chunk chain', () => {
    const { request, ctx } = raw('PUT', 's3.amazonaws.com', '/examplebucket/chunkObject.txt', '', {
      'content-encoding': 'aws-chunked',
      'content-length': '66824',
      'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      'x-amz-date': '20130524T000000Z',
      'x-amz-decoded-content-length': '66560',
      'x-amz-storage-class': 'REDUCED_REDUNDANCY',
      authorization: docAuthorization(
        'content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class',
        '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9',
      ),
    });
    const { payload } = authenticate(request, ctx, store, DOC_TIME);
    expect(payload.kind === 'streaming' && payload.trailer).toBe(false);
    const chain = payload.kind === 'streaming' ? payload.chain : undefined;
    expect(chain && { ...chain, signingKey: Buffer.from(chain.signingKey).toString('hex') }).toEqual({
      signingKey: signingKey(AWS_EXAMPLE_SECRET, '20130524', 'us-east-1').toString('hex'),
      scope: '20130524/us-east-1/s3/aws4_request',
      amzDate: '20130524T000000Z',
      seedSignature: '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9',
    });
  });

  it('accepts the chunked upload with trailer example as a signed streaming payload with a trailer', () => {
    const { request, ctx } = raw('PUT', 's3.amazonaws.com', '/examplebucket/chunkObject.txt', '', {
      'content-encoding': 'aws-chunked',
      'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
      'x-amz-date': '20130524T000000Z',
      'x-amz-decoded-content-length': '66560',
      'x-amz-storage-class': 'REDUCED_REDUNDANCY',
      'x-amz-trailer': 'x-amz-checksum-crc32c',
      authorization: docAuthorization(
        'content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer',
        '106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e',
      ),
    });
    const { payload } = authenticate(request, ctx, store, DOC_TIME);
    expect(payload.kind === 'streaming' && [payload.trailer, payload.chain?.seedSignature]).toEqual([
      true,
      '106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e',
    ]);
  });
});

const NOW = new Date('2026-03-01T12:00:00Z');

async function signHeader(
  req: SignableRequest,
  options: { secret?: string; keyId?: string; at?: Date; unsignableHeaders?: Set<string> } = {},
): Promise<SignableRequest> {
  const signer = smithySigner(options.secret, options.keyId);
  return (await signer.sign(req, {
    signingDate: options.at ?? NOW,
    ...(options.unsignableHeaders && { unsignableHeaders: options.unsignableHeaders }),
  })) as SignableRequest;
}

async function presign(
  req: SignableRequest,
  options: { expiresIn?: number; at?: Date } = {},
): Promise<SignableRequest> {
  // As the S3 presigner does: presigned S3 URLs never bind a payload (smithy alone would sign the empty hash).
  const withPayloadMode = { ...req, headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...req.headers } };
  return (await smithySigner().presign(withPayloadMode, {
    signingDate: options.at ?? NOW,
    expiresIn: options.expiresIn ?? 3600,
  })) as SignableRequest;
}

function accept(
  signed: SignableRequest,
  now = NOW,
  override?: { rawPath?: string; rawQuery?: string },
): Authenticated {
  const { request, ctx } = received(signed, override);
  return authenticate(request, ctx, store, now);
}

function reject(
  signed: SignableRequest,
  now = NOW,
  override?: { rawPath?: string; rawQuery?: string },
): S3Error {
  return s3Error(() => accept(signed, now, override));
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

describe('requests signed by @smithy/signature-v4 (AWS SDK v3)', () => {
  it('accepts a PutObject with a signed payload hash and reports the hash for the body check', async () => {
    const signed = await signHeader(
      unsigned('PUT', s3Path('bucket', 'dir/file.txt'), {
        'content-type': 'text/plain',
        'x-amz-content-sha256': sha256('hello'),
        'x-amz-meta-colour': 'blue',
      }),
    );
    expect(accept(signed).payload).toEqual({ kind: 'sha256', hash: sha256('hello') });
  });

  it('accepts UNSIGNED-PAYLOAD and reports it', async () => {
    const signed = await signHeader(
      unsigned('PUT', s3Path('bucket', 'k'), { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }),
    );
    expect(accept(signed).payload).toEqual({ kind: 'unsigned' });
  });

  it('accepts STREAMING-UNSIGNED-PAYLOAD-TRAILER as a streaming payload without a chain', async () => {
    const signed = await signHeader(
      unsigned('PUT', s3Path('bucket', 'k'), {
        'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
        'content-encoding': 'aws-chunked',
        'x-amz-trailer': 'x-amz-checksum-crc32',
        'x-amz-decoded-content-length': '5',
      }),
    );
    expect(accept(signed).payload).toEqual({ kind: 'streaming', trailer: true });
  });

  const awkwardKeys = [
    'with space/and+plus.txt',
    'unicode/Ünïcödé-日本語-😀',
    "tilde~and(parens)!*'",
    'dots/../../escape/./here',
    'percent%20literal and %',
    'trailing/slash/',
    'semi;colon,comma=equals&amp?question#hash',
  ];
  for (const key of awkwardKeys) {
    it(`accepts a header-signed request for the key ${JSON.stringify(key)}`, async () => {
      const signed = await signHeader(
        unsigned('GET', s3Path('bucket', key), { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }),
      );
      expect(accept(signed).credential).toBe(credential);
    });

    it(`accepts a presigned URL for the key ${JSON.stringify(key)}`, async () => {
      const signed = await presign(unsigned('GET', s3Path('bucket', key)));
      expect(accept(signed).credential).toBe(credential);
    });
  }

  it('accepts a key the client sent with characters left unencoded, as long as it signed them that way', async () => {
    // Some clients leave $ and spaces-as-%20 mixes alone; S3 verifies against the path as sent.
    const signed = await signHeader(
      unsigned('GET', '/bucket/price$list(1).txt', { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }),
    );
    expect(accept(signed).credential).toBe(credential);
  });

  it('accepts repeated query keys, signed with their values sorted', async () => {
    const signed = await signHeader(
      unsigned(
        'GET',
        '/bucket',
        { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
        {
          tag: ['zeta', 'alpha', 'mid dle'],
          'list-type': '2',
          prefix: 'a+b c/',
        },
      ),
    );
    expect(accept(signed).credential).toBe(credential);
  });

  it('accepts a query that spells a space as +, as form encoders do', async () => {
    const signed = await signHeader(
      unsigned('GET', '/bucket', { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }, { prefix: 'a b' }),
    );
    expect(accept(signed, NOW, { rawQuery: 'prefix=a+b' }).credential).toBe(credential);
  });

  it('accepts a presigned PUT whose URL carries x-amz-content-sha256=UNSIGNED-PAYLOAD, as the S3 presigner makes', async () => {
    const signed = await presign(
      unsigned('PUT', s3Path('bucket', 'up.bin'), { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }),
    );
    expect(Object.keys(signed.query)).toContain('x-amz-content-sha256');
    expect(accept(signed).payload).toEqual({ kind: 'unsigned' });
  });

  it('accepts a request signed for any region', async () => {
    const signer = smithySigner();
    const signed = (await signer.sign(
      unsigned('GET', '/bucket/k', { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }),
      { signingDate: NOW, signingRegion: 'eu-central-2' },
    )) as SignableRequest;
    expect(signed.headers.authorization).toContain('/eu-central-2/s3/aws4_request');
    expect(accept(signed).credential).toBe(credential);
  });

  it('accepts a request 14 minutes off the server clock', async () => {
    const signed = await signHeader(
      unsigned('GET', '/bucket/k', { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }),
    );
    expect(accept(signed, new Date(NOW.getTime() + 14 * 60_000)).credential).toBe(credential);
  });
});

describe('rejected requests', () => {
  const get = (): SignableRequest =>
    unsigned('GET', '/bucket/k', { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' });

  it('rejects a request signed with the wrong secret as SignatureDoesNotMatch', async () => {
    const error = reject(await signHeader(get(), { secret: 'not-the-secret' }));
    expect([error.code, error.status]).toEqual(['SignatureDoesNotMatch', 403]);
  });

  it('rejects an unknown access key as InvalidAccessKeyId', async () => {
    const error = reject(await signHeader(get(), { keyId: 'AKIDUNKNOWN' }));
    expect([error.code, error.fields.AWSAccessKeyId]).toEqual(['InvalidAccessKeyId', 'AKIDUNKNOWN']);
  });

  it('never puts the secret in an error message', async () => {
    const error = reject(await signHeader(get(), { secret: 'not-the-secret' }));
    expect(JSON.stringify([error.message, error.fields])).not.toContain(AWS_EXAMPLE_SECRET);
  });

  it('rejects a request more than 15 minutes off the server clock as RequestTimeTooSkewed', async () => {
    const signed = await signHeader(get());
    expect(reject(signed, new Date(NOW.getTime() + 16 * 60_000)).code).toBe('RequestTimeTooSkewed');
    expect(reject(signed, new Date(NOW.getTime() - 16 * 60_000)).code).toBe('RequestTimeTooSkewed');
  });

  it('rejects an expired presigned URL', async () => {
    const signed = await presign(unsigned('GET', '/bucket/k'), { expiresIn: 60 });
    const error = reject(signed, new Date(NOW.getTime() + 61_000));
    expect([error.code, error.message]).toEqual(['AccessDenied', 'Request has expired']);
  });

  it('rejects a presigned URL dated more than 15 minutes in the future as RequestTimeTooSkewed', async () => {
    const signed = await presign(unsigned('GET', '/bucket/k'), { at: new Date(NOW.getTime() + 20 * 60_000) });
    expect(reject(signed).code).toBe('RequestTimeTooSkewed');
  });

  it('rejects a presigned URL that claims to live longer than seven days', async () => {
    const signed = await presign(unsigned('GET', '/bucket/k'));
    signed.query['X-Amz-Expires'] = '604801';
    expect(reject(signed).code).toBe('AuthorizationQueryParametersError');
  });

  it('rejects a request whose signed header was changed after signing', async () => {
    const signed = await signHeader(
      unsigned('PUT', '/bucket/k', {
        'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
        'x-amz-meta-owner': 'alice',
      }),
    );
    signed.headers['x-amz-meta-owner'] = 'mallory';
    expect(reject(signed).code).toBe('SignatureDoesNotMatch');
  });

  it('rejects a request whose path was changed after signing', async () => {
    const signed = await signHeader(get());
    expect(reject(signed, NOW, { rawPath: '/bucket/other' }).code).toBe('SignatureDoesNotMatch');
  });

  it('rejects a request whose query was changed after signing', async () => {
    const signed = await signHeader({ ...get(), query: { 'max-keys': '1' } });
    expect(reject(signed, NOW, { rawQuery: 'max-keys=1000' }).code).toBe('SignatureDoesNotMatch');
  });

  it('rejects a presigned URL used with another method', async () => {
    const signed = await presign(unsigned('GET', '/bucket/k'));
    expect(reject({ ...signed, method: 'DELETE' }).code).toBe('SignatureDoesNotMatch');
  });

  it('rejects a signature that does not sign the host header', async () => {
    const signed = await signHeader(get(), { unsignableHeaders: new Set(['host']) });
    expect(signed.headers.authorization).not.toMatch(/SignedHeaders=[^,]*host/);
    expect(reject(signed).code).toBe('AuthorizationHeaderMalformed');
  });

  it('rejects an x-amz-* header added after signing, naming it in HeadersNotSigned', async () => {
    const signed = await presign(unsigned('PUT', '/bucket/k'));
    signed.headers['x-amz-copy-source'] = '/secret-bucket/secret-key';
    const error = reject(signed);
    expect([error.code, error.fields.HeadersNotSigned]).toEqual(['AccessDenied', 'x-amz-copy-source']);
  });

  it('rejects a request without any authentication as anonymous', () => {
    const error = reject(get());
    expect([error.code, error.message]).toEqual([
      'AccessDenied',
      'Anonymous requests are not allowed: sign the request with SigV4',
    ]);
  });

  it('rejects a SigV2 Authorization header, saying SigV4 is required', () => {
    const error = reject({
      ...get(),
      headers: { ...get().headers, authorization: 'AWS AKIAIOSFODNN7EXAMPLE:c2lnbmF0dXJl' },
    });
    expect([error.code, error.message]).toEqual([
      'InvalidRequest',
      'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.',
    ]);
  });

  it('rejects both an Authorization header and a presigned query at once', async () => {
    const presigned = await presign(unsigned('GET', '/bucket/k'));
    const headerSigned = await signHeader(get());
    const error = reject({ ...presigned, headers: headerSigned.headers });
    expect(error.code).toBe('InvalidArgument');
  });

  it('rejects a header-signed request without x-amz-content-sha256', async () => {
    const signed = await signHeader(unsigned('GET', '/bucket/k'));
    const error = reject(signed);
    expect([error.code, error.message]).toEqual([
      'InvalidRequest',
      'Missing required header for this request: x-amz-content-sha256',
    ]);
  });

  it('rejects an x-amz-content-sha256 that is neither a hash nor a known payload mode', async () => {
    const signed = await signHeader(
      unsigned('PUT', '/bucket/k', { 'x-amz-content-sha256': 'STREAMING-MAYBE' }),
    );
    expect(reject(signed).code).toBe('InvalidArgument');
  });

  it('rejects a credential scope for another service', async () => {
    const signer = smithySigner();
    const signed = (await signer.sign(get(), { signingDate: NOW, signingService: 'iam' })) as SignableRequest;
    const error = reject(signed);
    expect([error.code, error.message]).toEqual([
      'AuthorizationHeaderMalformed',
      'The authorization header is malformed; incorrect service "iam". This endpoint belongs to "s3".',
    ]);
  });

  it('rejects a credential scope dated another day than x-amz-date', async () => {
    const signed = await signHeader(get());
    signed.headers.authorization = signed.headers.authorization.replace('/20260301/', '/20260228/');
    expect(reject(signed).code).toBe('AuthorizationHeaderMalformed');
  });

  it('rejects an Authorization header that lacks the Signature component', async () => {
    const signed = await signHeader(get());
    signed.headers.authorization = signed.headers.authorization.replace(/, Signature=.*$/, '');
    expect(reject(signed).code).toBe('AuthorizationHeaderMalformed');
  });

  it('rejects two Authorization headers joined by a comma, the valid one second, as malformed', async () => {
    const signed = await signHeader(get());
    const valid = signed.headers.authorization;
    const forged = valid.replace(/Signature=[0-9a-f]+/, `Signature=${'0'.repeat(64)}`);
    signed.headers.authorization = `${forged}, ${valid}`;
    const error = reject(signed);
    expect(error.code).toBe('AuthorizationHeaderMalformed');
  });

  it('rejects an Authorization header that gives a component twice', async () => {
    const signed = await signHeader(get());
    signed.headers.authorization += `, Signature=${'1'.repeat(64)}`;
    expect(reject(signed).message).toMatch(/Signature is given more than once/);
  });

  it('rejects a presigned URL with a parameter missing', async () => {
    const signed = await presign(unsigned('GET', '/bucket/k'));
    delete signed.query['X-Amz-Date'];
    expect(reject(signed).code).toBe('AuthorizationQueryParametersError');
  });
});

describe('signing key cache', () => {
  it('derives the documented key chain for the example secret, date and region', () => {
    // The signing key of AWS's chunked-upload example, derived independently here as HMAC(HMAC(...)).
    const h = (key: string | Buffer, data: string): Buffer => createHmac('sha256', key).update(data).digest();
    const expected = h(h(h(h(`AWS4${AWS_EXAMPLE_SECRET}`, '20130524'), 'us-east-1'), 's3'), 'aws4_request');
    expect(signingKey(AWS_EXAMPLE_SECRET, '20130524', 'us-east-1').equals(expected)).toBe(true);
  });

  it('keeps keys of different secrets apart', () => {
    expect(
      signingKey('secret-a', '20260301', 'us-east-1').equals(signingKey('secret-b', '20260301', 'us-east-1')),
    ).toBe(false);
  });
});
