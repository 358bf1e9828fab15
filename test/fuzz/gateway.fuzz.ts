/**
 * Fuzzing the running gateway over HTTP (the local server on loopback, filesystem backend under
 * aes256-gcm-proxy): every request body the gateway parses (DeleteObjects, CompleteMultipartUpload,
 * CreateBucketConfiguration, PutBucketEncryption, the admin API's JSON) and the headers it reads (Range,
 * copy sources, SSE-C, Content-MD5, checksums, conditions), random or mutated from valid ones, all signed
 * with the admin credential so that the parsing, not the authentication, is what gets reached. Every
 * answer must be a clear client error or a success, never a 5xx; error answers are well-formed; and after
 * each property the objects put there first are whole, the upload still open, and the server serving.
 */
import { createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { signedRequest, type RawRequest, type RawResponse } from '../support/signed-request.js';
import { budget } from './budget.js';

const BUCKET = 'fuzz';
const SENTINEL = 'sentinel/object';
const OTHER = 'other';
const md5 = (body: Buffer | string) => createHash('md5').update(body).digest('base64');

/** Text built from pieces of the grammar, mixed with anything. */
const textish = (pieces: string[], maxLength = 30) =>
  fc.oneof(
    fc.string({ maxLength: 200 }),
    fc
      .array(fc.oneof(fc.constantFrom(...pieces), fc.string({ maxLength: 6 })), { maxLength })
      .map((p) => p.join('')),
  );

const XML_PIECES = [
  '<?xml version="1.0" encoding="UTF-8"?>',
  '<Delete>',
  '</Delete>',
  '<Quiet>true</Quiet>',
  '<Object>',
  '</Object>',
  '<Key>',
  '</Key>',
  `${OTHER}-`,
  '<VersionId>',
  '</VersionId>',
  '<CompleteMultipartUpload>',
  '</CompleteMultipartUpload>',
  '<Part>',
  '</Part>',
  '<PartNumber>',
  '1',
  '10001',
  '-1',
  '</PartNumber>',
  '<ETag>',
  '"0"',
  '</ETag>',
  '<ChecksumCRC32>',
  '</ChecksumCRC32>',
  '<CreateBucketConfiguration>',
  '</CreateBucketConfiguration>',
  '<LocationConstraint>',
  'eu-west-1',
  '</LocationConstraint>',
  '<ServerSideEncryptionConfiguration>',
  '</ServerSideEncryptionConfiguration>',
  '<Rule>',
  '</Rule>',
  '<ApplyServerSideEncryptionByDefault>',
  '</ApplyServerSideEncryptionByDefault>',
  '<SSEAlgorithm>',
  'AES256',
  'aws:kms',
  '</SSEAlgorithm>',
  '<KMSMasterKeyID>',
  '</KMSMasterKeyID>',
  '<BucketKeyEnabled>',
  '</BucketKeyEnabled>',
  '&amp;',
  '&#0;',
  '&#xD800;',
  '<![CDATA[',
  ']]>',
  '<!DOCTYPE a [<!ENTITY b "bbbbbbbb">]>',
  '&b;',
  '<!--',
  '-->',
];

const JSON_PIECES = [
  '{',
  '}',
  '[',
  ']',
  ',',
  ':',
  '"base_version":',
  '1',
  '-1',
  '1e400',
  '"config":',
  '"backends"',
  '"buckets"',
  '"route":',
  '"backend":"local"',
  '"encryption":',
  '{"mode":"none"}',
  '"buckets":["fuzz"]',
  '"target":',
  '"rewrap"',
  '"mode":',
  '"to_backend":',
  '"__proto__":',
  'null',
  'true',
  '"\\u0000"',
];

describe('the gateway over HTTP', () => {
  let gateway: TestGateway;
  let uploadId: string;
  const sentinelBody = randomBytes(70_000);
  const otherBody = randomBytes(100);

  const send = (req: RawRequest) => signedRequest(gateway.endpoint, req);

  /**
   * No 5xx but S3's 501 NotImplemented (what S3 answers a header it does not implement, such as
   * If-None-Match with a value other than `*` on a PUT); an error answer names its code (S3: an XML Error
   * document; admin API: a JSON error).
   */
  function expectClear(response: RawResponse, what: string): void {
    const text = response.body.toString('utf8');
    const notImplemented = response.status === 501 && response.code === 'NotImplemented';
    if (!notImplemented) {
      expect(response.status, `${what} answered ${response.status}: ${text.slice(0, 400)}`).toBeLessThan(500);
    }
    if (response.status >= 400 && response.headers['content-type']?.includes('xml')) {
      expect(response.code, `${what}: ${text.slice(0, 400)}`).toMatch(/^[A-Za-z.]+$/);
    }
    if (response.status >= 400 && response.headers['content-type']?.includes('json')) {
      const parsed = JSON.parse(text) as { error?: { code?: string } };
      expect(parsed.error?.code, `${what}: ${text.slice(0, 400)}`).toMatch(/^[A-Za-z]+$/);
    }
  }

  async function expectIntact(): Promise<void> {
    const sentinel = await send({ method: 'GET', path: `/${BUCKET}/${SENTINEL}` });
    expect(sentinel.status).toBe(200);
    expect(sentinel.body.equals(sentinelBody)).toBe(true);
    const parts = await send({ method: 'GET', path: `/${BUCKET}/upload`, query: { uploadId } });
    expect(parts.status).toBe(200);
  }

  beforeAll(async () => {
    gateway = await startTestGateway({
      encryptionYaml: `      mode: aes256-gcm-proxy\n      key: "${'5a'.repeat(32)}"\n      key_id: fuzz-1\n`,
    });
    expect((await send({ method: 'PUT', path: `/${BUCKET}` })).status).toBe(200);
    expect((await send({ method: 'PUT', path: `/${BUCKET}/${SENTINEL}`, body: sentinelBody })).status).toBe(
      200,
    );
    expect((await send({ method: 'PUT', path: `/${BUCKET}/${OTHER}`, body: otherBody })).status).toBe(200);
    const started = await send({ method: 'POST', path: `/${BUCKET}/upload`, query: { uploads: '' } });
    uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(started.body.toString('utf8'))![1];
    const part = await send({
      method: 'PUT',
      path: `/${BUCKET}/upload`,
      query: { uploadId, partNumber: '1' },
      body: randomBytes(1000),
    });
    expect(part.status).toBe(200);
  });
  afterAll(async () => {
    await gateway?.close();
  });

  it('answers any DeleteObjects body clearly, deleting only the keys a valid one names', async () => {
    await fc.assert(
      fc.asyncProperty(textish(XML_PIECES), fc.boolean(), async (body, withMd5) => {
        const response = await send({
          method: 'POST',
          path: `/${BUCKET}`,
          query: { delete: '' },
          headers: withMd5 ? { 'content-md5': md5(body) } : {},
          body,
        });
        expectClear(response, 'DeleteObjects');
      }),
      budget(),
    );
    await expectIntact();
  });

  it('answers any CompleteMultipartUpload body clearly, leaving a refused upload open', async () => {
    await fc.assert(
      fc.asyncProperty(textish(XML_PIECES), async (body) => {
        const response = await send({ method: 'POST', path: `/${BUCKET}/upload`, query: { uploadId }, body });
        expectClear(response, 'CompleteMultipartUpload');
        // Nothing random names part 1's ETag, so no completion can succeed.
        expect(response.status).toBeGreaterThanOrEqual(400);
      }),
      budget(),
    );
    await expectIntact();
  });

  it('answers any CreateBucket and PutBucketEncryption body clearly', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(textish(XML_PIECES), async (body) => {
        const created = await send({ method: 'PUT', path: `/fuzz-new-${n++}`, body });
        expectClear(created, 'CreateBucket');
        const encryption = await send({
          method: 'PUT',
          path: `/${BUCKET}`,
          query: { encryption: '' },
          headers: { 'content-md5': md5(body) },
          body,
        });
        expectClear(encryption, 'PutBucketEncryption');
      }),
      budget(0.5),
    );
    await expectIntact();
  });

  it('answers any header the object operations read clearly', async () => {
    const headerValue = fc.oneof(
      fc.string({ maxLength: 60 }),
      textish([
        'bytes=',
        '0',
        '-',
        ',',
        '99999999999999999999',
        `/${BUCKET}/${SENTINEL}`,
        '%2F',
        '..',
        '?versionId=',
        'AES256',
        '=',
        '"',
        '*',
        'Thu, 01 Jan 1970 00:00:00 GMT',
        'W/"',
      ]),
    );
    const headerName = fc.constantFrom(
      'range',
      'x-amz-copy-source',
      'x-amz-copy-source-range',
      'x-amz-server-side-encryption-customer-algorithm',
      'x-amz-server-side-encryption-customer-key',
      'x-amz-server-side-encryption-customer-key-md5',
      'x-amz-server-side-encryption',
      'x-amz-server-side-encryption-aws-kms-key-id',
      'content-md5',
      'x-amz-checksum-crc32',
      'x-amz-checksum-sha256',
      'if-match',
      'if-none-match',
      'if-modified-since',
      'x-amz-metadata-directive',
      'x-amz-meta-fuzz',
      'content-type',
      'x-amz-storage-class',
      'x-amz-tagging',
      'x-amz-object-attributes',
      'x-amz-max-parts',
      'x-amz-checksum-mode',
    );
    const printable = (value: string) => value.replace(/[^\x20-\x7e]/g, '');
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'HEAD', 'PUT'),
        fc.constantFrom(`${OTHER}-copy`, SENTINEL, 'upload'),
        fc.dictionary(headerName, headerValue.map(printable), { maxKeys: 4 }),
        async (method, key, headers) => {
          // Writes go to keys of their own, so the sentinel is only ever read.
          const target = method === 'PUT' ? `${OTHER}-copy` : key;
          const query: Record<string, string> = method === 'GET' && key === 'upload' ? { uploadId } : {};
          const response = await send({
            method,
            path: `/${BUCKET}/${target}`,
            query,
            headers,
            body: method === 'PUT' ? otherBody : undefined,
          });
          expectClear(response, `${method} ${target} with ${JSON.stringify(headers)}`);
        },
      ),
      budget(),
    );
    await expectIntact();
  });

  it('answers any admin API body clearly, changing nothing it refused', async () => {
    const routes = [
      ['POST', 'config/validate'],
      ['POST', 'config/apply'],
      ['POST', 'config/rollback'],
      ['PUT', `buckets/${BUCKET}/settings`],
      ['POST', 'jobs/reencrypt'],
      ['POST', `buckets/${BUCKET}/migrate`],
      ['POST', 'jobs/nope/cancel'],
    ] as const;
    const before = await send({ method: 'GET', path: '/_sealgate/admin/config' });
    expect(before.status).toBe(200);
    const version = (JSON.parse(before.body.toString('utf8')) as { version: number }).version;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), textish(JSON_PIECES), async ([method, path], body) => {
        const response = await send({
          method,
          path: `/_sealgate/admin/${path}`,
          headers: { 'content-type': 'application/json' },
          body,
        });
        expectClear(response, `${method} ${path}`);
      }),
      budget(),
    );
    const after = await send({ method: 'GET', path: '/_sealgate/admin/config' });
    // Random bodies never hold a whole valid config for the right base version.
    expect((JSON.parse(after.body.toString('utf8')) as { version: number }).version).toBe(version);
    await expectIntact();
  });
});
