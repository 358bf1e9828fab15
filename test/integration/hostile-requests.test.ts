/**
 * Hostile requests against the running server (filesystem backend, aes256-gcm-proxy), all sent as raw
 * HTTP: a credential granted `bob-*` buckets only tries bucket `alice` through every operation (object
 * reads and writes, listings, each multipart step, copies and UploadPartCopy from `alice` into its own
 * bucket, DeleteObjects, bucket settings, virtual-hosted hosts, the admin API); HTTP framing that request
 * smuggling relies on (Content-Length with Transfer-Encoding, two Content-Lengths), oversized headers,
 * duplicated signing headers; keys and bucket names in odd encodings. Each gets a clear 4xx; `alice`'s
 * objects, metadata and open upload stay as they were; nothing lands outside the bucket folders; and the
 * server keeps serving.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { signHeaders, signedRequest, type RawRequest } from '../support/signed-request.js';

const BOB = { accessKeyId: 'SGBOBTEST', secretAccessKey: 'bob-secret-for-hostile-tests-01' };
const BOB_YAML =
  `  - access_key_id: ${BOB.accessKeyId}\n    secret_access_key: ${BOB.secretAccessKey}\n` +
  `    grants: [ { bucket: "bob-*", access: [read, write] } ]\n`;

/**
 * Sends raw bytes without half-closing (a request the server takes in is answered, then closed by its
 * `Connection: close`; one it refuses, it closes itself) and returns the status of the answer, undefined
 * when the server closed without one.
 */
function exchange(endpoint: string, bytes: string | Buffer): Promise<{ status?: number; text: string }> {
  const { hostname, port } = new URL(endpoint);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNRESET' || error.code === 'EPIPE') done();
      else reject(error);
    });
    const done = () => {
      const text = Buffer.concat(received).toString('latin1');
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ status: match ? Number(match[1]) : undefined, text });
    };
    socket.on('close', done);
    socket.on('connect', () => socket.write(bytes));
  });
}

// Raw HTTP against the plain server (the function URL run would repeat it: the emulator is not an HTTP
// parser of its own).
describe.skipIf(process.env.SEALGATE_TEST_TARGET === 'function-url')('hostile requests', () => {
  let gateway: TestGateway;
  let uploadId: string;
  const secret = randomBytes(20_000);

  const asAdmin = (req: RawRequest) => signedRequest(gateway.endpoint, req);
  const asBob = (req: RawRequest) => signedRequest(gateway.endpoint, req, { credentials: BOB });

  /** alice's state: her object's bytes and metadata, and her open upload's parts. */
  async function aliceState(): Promise<string> {
    const object = await asAdmin({ method: 'GET', path: '/alice/secret' });
    const listed = await asAdmin({ method: 'GET', path: '/alice', query: { 'list-type': '2' } });
    const parts = await asAdmin({ method: 'GET', path: '/alice/upload', query: { uploadId } });
    expect(object.status).toBe(200);
    expect(object.body.equals(secret)).toBe(true);
    const keys = [...listed.body.toString('utf8').matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1]);
    return JSON.stringify({
      keys,
      meta: object.headers['x-amz-meta-owner'],
      etag: object.headers.etag,
      parts: parts.status,
    });
  }

  beforeAll(async () => {
    gateway = await startTestGateway({
      target: 'server',
      encryptionYaml: `      mode: aes256-gcm-proxy\n      key: "${'4e'.repeat(32)}"\n      key_id: hostile-1\n`,
      extraYaml: BOB_YAML + 'domains: [s3.sealgate.test]\n',
    });
    for (const bucket of ['alice', 'bob-own']) {
      expect((await asAdmin({ method: 'PUT', path: `/${bucket}` })).status).toBe(200);
    }
    const put = await asAdmin({
      method: 'PUT',
      path: '/alice/secret',
      headers: { 'x-amz-meta-owner': 'alice' },
      body: secret,
    });
    expect(put.status).toBe(200);
    const started = await asAdmin({ method: 'POST', path: '/alice/upload', query: { uploads: '' } });
    uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(started.body.toString('utf8'))![1];
    const part = await asAdmin({
      method: 'PUT',
      path: '/alice/upload',
      query: { uploadId, partNumber: '1' },
      body: randomBytes(1000),
    });
    expect(part.status).toBe(200);
  });
  afterAll(async () => {
    await gateway?.close();
  });

  describe('a credential for bob-* buckets, against bucket alice', () => {
    const deleteBody = '<Delete><Object><Key>secret</Key></Object></Delete>';
    const attempts: [string, () => RawRequest | Promise<RawRequest>][] = [
      ['GetObject', () => ({ method: 'GET', path: '/alice/secret' })],
      ['HeadObject', () => ({ method: 'HEAD', path: '/alice/secret' })],
      ['ranged GetObject', () => ({ method: 'GET', path: '/alice/secret', headers: { range: 'bytes=0-9' } })],
      [
        'GetObjectAttributes',
        () => ({
          method: 'GET',
          path: '/alice/secret',
          query: { attributes: '' },
          headers: { 'x-amz-object-attributes': 'ETag,ObjectSize' },
        }),
      ],
      ['PutObject over it', () => ({ method: 'PUT', path: '/alice/secret', body: 'overwritten' })],
      ['PutObject of a new key', () => ({ method: 'PUT', path: '/alice/planted', body: 'planted' })],
      ['DeleteObject', () => ({ method: 'DELETE', path: '/alice/secret' })],
      [
        'DeleteObjects',
        () => ({
          method: 'POST',
          path: '/alice',
          query: { delete: '' },
          headers: { 'content-md5': md5(deleteBody) },
          body: deleteBody,
        }),
      ],
      ['ListObjectsV2', () => ({ method: 'GET', path: '/alice', query: { 'list-type': '2' } })],
      ['ListObjects', () => ({ method: 'GET', path: '/alice' })],
      ['ListObjectVersions', () => ({ method: 'GET', path: '/alice', query: { versions: '' } })],
      ['ListMultipartUploads', () => ({ method: 'GET', path: '/alice', query: { uploads: '' } })],
      ['CreateMultipartUpload', () => ({ method: 'POST', path: '/alice/planted', query: { uploads: '' } })],
      [
        'UploadPart into her upload',
        () => ({
          method: 'PUT',
          path: '/alice/upload',
          query: { uploadId, partNumber: '2' },
          body: 'part',
        }),
      ],
      ['ListParts of her upload', () => ({ method: 'GET', path: '/alice/upload', query: { uploadId } })],
      [
        'CompleteMultipartUpload of her upload',
        () => ({
          method: 'POST',
          path: '/alice/upload',
          query: { uploadId },
          body: '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"x"</ETag></Part></CompleteMultipartUpload>',
        }),
      ],
      [
        'AbortMultipartUpload of her upload',
        () => ({ method: 'DELETE', path: '/alice/upload', query: { uploadId } }),
      ],
      [
        'CopyObject from her bucket into his',
        () => ({
          method: 'PUT',
          path: '/bob-own/stolen',
          headers: { 'x-amz-copy-source': '/alice/secret' },
        }),
      ],
      [
        'CopyObject with an encoded source',
        () => ({
          method: 'PUT',
          path: '/bob-own/stolen',
          headers: { 'x-amz-copy-source': 'alice%2Fsecret' },
        }),
      ],
      [
        'CopyObject from his bucket into hers',
        () => ({
          method: 'PUT',
          path: '/alice/secret',
          headers: { 'x-amz-copy-source': '/bob-own/anything' },
        }),
      ],
      [
        'UploadPartCopy from her bucket into his upload',
        async () => {
          const own = await asBob({ method: 'POST', path: '/bob-own/assembled', query: { uploads: '' } });
          expect(own.status).toBe(200);
          const ownId = /<UploadId>([^<]+)<\/UploadId>/.exec(own.body.toString('utf8'))![1];
          return {
            method: 'PUT',
            path: '/bob-own/assembled',
            query: { uploadId: ownId, partNumber: '1' },
            headers: { 'x-amz-copy-source': '/alice/secret', 'x-amz-copy-source-range': 'bytes=0-99' },
          };
        },
      ],
      ['GetBucketEncryption', () => ({ method: 'GET', path: '/alice', query: { encryption: '' } })],
      ['DeleteBucketEncryption', () => ({ method: 'DELETE', path: '/alice', query: { encryption: '' } })],
      ['HeadBucket', () => ({ method: 'HEAD', path: '/alice' })],
      ['DeleteBucket', () => ({ method: 'DELETE', path: '/alice' })],
      [
        'GetObject on a virtual-hosted host',
        () => ({
          method: 'GET',
          path: '/secret',
          headers: { host: `alice.s3.sealgate.test:${new URL(gateway.endpoint).port}` },
        }),
      ],
      [
        'PutObject on a virtual-hosted localhost',
        () => ({
          method: 'PUT',
          path: '/planted',
          headers: { host: `alice.localhost:${new URL(gateway.endpoint).port}` },
          body: 'planted',
        }),
      ],
      ['the admin API: the config', () => ({ method: 'GET', path: '/_sealgate/admin/config' })],
      [
        'the admin API: her bucket settings',
        () => ({
          method: 'PUT',
          path: '/_sealgate/admin/buckets/alice/settings',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ route: { backend: 'main' } }),
        }),
      ],
      [
        'the admin API: inspecting her object',
        () => ({ method: 'GET', path: '/_sealgate/admin/objects/alice/secret' }),
      ],
      [
        'the admin API: a re-encrypt job',
        () => ({
          method: 'POST',
          path: '/_sealgate/admin/jobs/reencrypt',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ buckets: ['alice'] }),
        }),
      ],
    ];

    it.each(attempts)('is refused: %s', async (_what, build) => {
      const before = await aliceState();
      const answer = await asBob(await build());
      expect(answer.status, answer.body.toString('utf8').slice(0, 300)).toBe(403);
      if (answer.body.length > 0 && answer.headers['content-type']?.includes('xml')) {
        expect(answer.code).toBe('AccessDenied');
      }
      // Nothing of hers travelled in the answer.
      expect(answer.body.includes(secret.subarray(0, 16))).toBe(false);
      expect(await aliceState()).toBe(before);
    });

    it('leaves his own bucket without anything of hers', async () => {
      const listed = await asAdmin({ method: 'GET', path: '/bob-own', query: { 'list-type': '2' } });
      expect(listed.body.toString('utf8')).not.toMatch(/<Key>(stolen|assembled)<\/Key>/);
    });
  });

  describe('HTTP framing and headers', () => {
    const host = () => new URL(gateway.endpoint).host;

    it.each([
      [
        'Content-Length with Transfer-Encoding (request smuggling)',
        (h: string) =>
          `PUT /alice/smuggled HTTP/1.1\r\nHost: ${h}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /alice/secret HTTP/1.1\r\nHost: ${h}\r\n\r\n`,
      ],
      [
        'two different Content-Lengths',
        (h: string) =>
          `PUT /alice/smuggled HTTP/1.1\r\nHost: ${h}\r\nContent-Length: 3\r\nContent-Length: 30\r\n\r\nabc`,
      ],
      [
        'a header of 64 KiB',
        (h: string) => `GET /alice/secret HTTP/1.1\r\nHost: ${h}\r\nX-Big: ${'a'.repeat(65_536)}\r\n\r\n`,
      ],
      [
        'a request line with a bare LF and a space in the path',
        (h: string) => `GET /alice/sec ret HTTP/1.1\nHost: ${h}\n\n`,
      ],
    ])('answers %s with a 4xx (or closes), storing nothing', async (_what, request) => {
      const before = await aliceState();
      const { status, text } = await exchange(gateway.endpoint, request(host()));
      if (status !== undefined) expect(status, text.slice(0, 200)).toBeGreaterThanOrEqual(400);
      if (status !== undefined) expect(status).toBeLessThan(500);
      expect(text).not.toContain(secret.subarray(0, 16).toString('latin1'));
      expect(await aliceState()).toBe(before);
      const planted = await asAdmin({ method: 'HEAD', path: '/alice/smuggled' });
      expect(planted.status).toBe(404);
    });

    it('refuses a request signed with one x-amz-date and sent with two', async () => {
      const req: RawRequest = { method: 'GET', path: '/alice/secret' };
      const headers = await signHeaders(gateway.endpoint, req);
      const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
      const raw = `GET /alice/secret HTTP/1.1\r\n${lines.join('')}x-amz-date: 20300101T000000Z\r\nConnection: close\r\n\r\n`;
      const { status } = await exchange(gateway.endpoint, raw);
      expect(status).toBe(403);
    });

    it.each(['forged first', 'valid first'])(
      'refuses two Authorization headers, %s, as malformed (400), serving nothing',
      async (order) => {
        const req: RawRequest = { method: 'GET', path: '/alice/secret' };
        const headers = await signHeaders(gateway.endpoint, req);
        const forged = headers.authorization.replace(/Signature=[0-9a-f]+/, `Signature=${'0'.repeat(64)}`);
        const both =
          order === 'forged first' ? [forged, headers.authorization] : [headers.authorization, forged];
        const lines = Object.entries(headers)
          .filter(([name]) => name !== 'authorization')
          .map(([name, value]) => `${name}: ${value}\r\n`);
        const raw =
          `GET /alice/secret HTTP/1.1\r\n${lines.join('')}` +
          both.map((value) => `authorization: ${value}\r\n`).join('') +
          'Connection: close\r\n\r\n';
        const { status, text } = await exchange(gateway.endpoint, raw);
        expect(status, text.slice(0, 300)).toBe(400);
        expect(text).toContain('<Code>AuthorizationHeaderMalformed</Code>');
        expect(text).not.toContain(secret.subarray(0, 16).toString('latin1'));
      },
    );
  });

  describe('odd encodings in names', () => {
    it.each([
      '%2e%2e%2fescaped',
      '..%5c..%5cwindows',
      '%c0%ae%c0%ae/overlong',
      'nul%00byte',
      '%ff%fe-not-utf8',
      'a/%2e/b',
      '.sealgate/tmp/x',
    ])('keeps the key %s inside its bucket (stored there, or refused with a 4xx)', async (key) => {
      const body = randomBytes(100);
      const put = await asAdmin({ method: 'PUT', path: `/bob-own/${key}`, body });
      if (put.status === 200) {
        const got = await asAdmin({ method: 'GET', path: `/bob-own/${key}` });
        expect(got.status).toBe(200);
        expect(got.body.equals(body)).toBe(true);
      } else {
        expect(put.status).toBeGreaterThanOrEqual(400);
        expect(put.status).toBeLessThan(500);
      }
      // The store's top level holds the buckets' folders and the gateway's own, nothing a key made.
      const top = readdirSync(join(gateway.dataDir, 'store')).sort();
      for (const entry of top) expect(['.sealgate', 'alice', 'bob-own']).toContain(entry);
    });

    it.each(['..', '.', 'alice%2f..', 'ALICE', 'al%00ice', 'a'.repeat(64)])(
      'refuses the bucket name %s with a 4xx',
      async (bucket) => {
        const answer = await asAdmin({ method: 'PUT', path: `/${bucket}` });
        expect(answer.status).toBeGreaterThanOrEqual(400);
        expect(answer.status).toBeLessThan(500);
      },
    );

    it('still serves after all of it', async () => {
      const answer = await asAdmin({ method: 'GET', path: '/alice/secret' });
      expect(answer.status).toBe(200);
      expect(answer.body.equals(secret)).toBe(true);
    });
  });
});

function md5(text: string): string {
  return createHash('md5').update(text).digest('base64');
}
