/**
 * Bad requests, on both backends: each gets S3's error code and HTTP status, and leaves the store as it
 * was (checked by listing and reading after the request). Inputs an SDK will not produce are sent as raw
 * HTTP requests signed by hand (see test/support/signed-request.ts).
 */
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetBucketPolicyCommand,
  GetObjectAclCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutBucketPolicyCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  GetObjectTaggingCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  AbortMultipartUploadCommand,
  ListBucketsCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checksumOf, md5Base64, singlePartEtag } from '../support/digests.js';
import { expectUploadOrCapError, REFUSED_BY_CAP } from '../support/function-url-cap.js';
import {
  TEST_CREDENTIALS,
  startTestGateway,
  type BackendKind,
  type TestGateway,
} from '../support/gateway.js';
import { useMoto } from '../support/moto.js';
import {
  bucketState,
  expectS3Error,
  expectStatus,
  getBytes,
  patternBytes,
  uniqueBucket,
} from '../support/s3-expect.js';
import {
  joinFrames,
  rawExchange,
  rawRequest,
  sendTruncated,
  sha256Hex,
  signHeaders,
  signedRequest,
  streamingUpload,
  unsignedTrailerUpload,
} from '../support/signed-request.js';

const MIB = 1024 * 1024;
const BACKENDS: BackendKind[] = ['filesystem', 's3'];

/** A credential with a grant on another bucket only, and one that may only read buckets named `ro-*`. */
const NO_GRANT = { accessKeyId: 'SGNOGRANT', secretAccessKey: 'no-grant-secret-0001' };
const READ_ONLY = { accessKeyId: 'SGREADONLY', secretAccessKey: 'read-only-secret-0001' };
const EXTRA_CREDENTIALS =
  `  - access_key_id: ${NO_GRANT.accessKeyId}\n    secret_access_key: ${NO_GRANT.secretAccessKey}\n` +
  `    grants: [ { bucket: "other", access: [read] } ]\n` +
  `  - access_key_id: ${READ_ONLY.accessKeyId}\n    secret_access_key: ${READ_ONLY.secretAccessKey}\n` +
  `    grants: [ { bucket: "ro-*", access: [read] } ]\n`;

const moto = useMoto();

describe.each(BACKENDS)('rejected requests on the %s backend', (backend) => {
  let gateway: TestGateway;
  let s3: S3Client;
  let plain: S3Client;
  /** Readable by the read-only credential (its name matches `ro-*`). */
  let bucket: string;
  const original = Buffer.from('the original content');

  beforeAll(async () => {
    gateway = await startTestGateway({ backend, s3Endpoint: moto.endpoint, extraYaml: EXTRA_CREDENTIALS });
    s3 = gateway.client();
    plain = gateway.client({
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    bucket = uniqueBucket('ro');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'existing', Body: original }));
  });
  afterAll(async () => {
    await gateway?.close();
  });

  /** Runs `attempt` and checks that the bucket's keys, ETags and the original object's bytes are unchanged. */
  async function expectUnchanged(attempt: () => Promise<void>): Promise<void> {
    const before = await bucketState(s3, bucket);
    await attempt();
    expect(await bucketState(s3, bucket)).toEqual(before);
    expect((await getBytes(s3, bucket, 'existing')).equals(original)).toBe(true);
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    expect(uploads.Uploads ?? []).toEqual([]);
  }

  const put = (client: S3Client, key = 'existing', body: Buffer | string = 'replacement content') =>
    client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));

  describe('authentication and authorization', () => {
    it('rejects a wrong secret with SignatureDoesNotMatch (403)', async () => {
      const wrong = gateway.client({
        credentials: { accessKeyId: TEST_CREDENTIALS.accessKeyId, secretAccessKey: 'not-the-secret' },
      });
      await expectUnchanged(async () => {
        await expectS3Error(put(wrong), 'SignatureDoesNotMatch', 403);
        await expectS3Error(put(wrong, 'new-key'), 'SignatureDoesNotMatch', 403);
      });
      await expectS3Error(
        wrong.send(new GetObjectCommand({ Bucket: bucket, Key: 'existing' })),
        'SignatureDoesNotMatch',
        403,
      );
    });

    it('rejects an unknown access key with InvalidAccessKeyId (403)', async () => {
      const unknown = gateway.client({
        credentials: { accessKeyId: 'SGNOSUCHKEY', secretAccessKey: 'whatever-secret' },
      });
      await expectUnchanged(async () => {
        await expectS3Error(put(unknown, 'new-key'), 'InvalidAccessKeyId', 403);
      });
    });

    it('rejects anonymous reads and writes with AccessDenied (403)', async () => {
      await expectUnchanged(async () => {
        const write = await rawRequest(gateway.endpoint, {
          method: 'PUT',
          path: `/${bucket}/anonymous`,
          body: 'anon',
        });
        expect({ status: write.status, code: write.code }).toEqual({ status: 403, code: 'AccessDenied' });
      });
      const read = await rawRequest(gateway.endpoint, { method: 'GET', path: `/${bucket}/existing` });
      expect({ status: read.status, code: read.code }).toEqual({ status: 403, code: 'AccessDenied' });
      expect(read.body.toString()).not.toContain(original.toString());
    });

    it.each([20, -20])('rejects a clock %i minutes off with RequestTimeTooSkewed (403)', async (minutes) => {
      // A fresh client for each request: the SDK corrects its clock from the first error's Date header.
      const skewed = () => gateway.client({ systemClockOffset: minutes * 60_000 });
      await expectUnchanged(async () => {
        await expectS3Error(put(skewed(), 'skewed'), 'RequestTimeTooSkewed', 403);
      });
      await expectS3Error(
        skewed().send(new GetObjectCommand({ Bucket: bucket, Key: 'existing' })),
        'RequestTimeTooSkewed',
        403,
      );
    });

    it('rejects expired presigned GET and PUT URLs with AccessDenied (403)', async () => {
      const signingDate = new Date(Date.now() - 10 * 60_000);
      const getUrl = await getSignedUrl(plain, new GetObjectCommand({ Bucket: bucket, Key: 'existing' }), {
        expiresIn: 60,
        signingDate,
      });
      const got = await fetch(getUrl);
      expect(got.status).toBe(403);
      expect(await got.text()).toContain('<Code>AccessDenied</Code>');

      const putUrl = await getSignedUrl(plain, new PutObjectCommand({ Bucket: bucket, Key: 'existing' }), {
        expiresIn: 60,
        signingDate,
      });
      await expectUnchanged(async () => {
        const res = await fetch(putUrl, { method: 'PUT', body: 'late upload' });
        expect(res.status).toBe(403);
        expect(await res.text()).toContain('<Code>AccessDenied</Code>');
      });
    });

    it('rejects a presigned URL whose signature was altered with SignatureDoesNotMatch (403)', async () => {
      const url = new URL(
        await getSignedUrl(plain, new PutObjectCommand({ Bucket: bucket, Key: 'existing' }), {
          expiresIn: 300,
        }),
      );
      const signature = url.searchParams.get('X-Amz-Signature')!;
      url.searchParams.set('X-Amz-Signature', (signature[0] === '0' ? '1' : '0') + signature.slice(1));
      await expectUnchanged(async () => {
        const res = await fetch(url, { method: 'PUT', body: 'forged' });
        expect(res.status).toBe(403);
        expect(await res.text()).toContain('<Code>SignatureDoesNotMatch</Code>');
      });
    });

    it('denies a credential without a grant on the bucket, for reads and writes', async () => {
      const stranger = gateway.client({ credentials: NO_GRANT });
      await expectS3Error(
        stranger.send(new GetObjectCommand({ Bucket: bucket, Key: 'existing' })),
        'AccessDenied',
        403,
      );
      await expectS3Error(stranger.send(new ListObjectsV2Command({ Bucket: bucket })), 'AccessDenied', 403);
      await expectUnchanged(async () => {
        await expectS3Error(put(stranger), 'AccessDenied', 403);
        await expectS3Error(
          stranger.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'existing' })),
          'AccessDenied',
          403,
        );
      });
      const listed = await stranger.send(new ListBucketsCommand({}));
      expect((listed.Buckets ?? []).map((b) => b.Name)).not.toContain(bucket);
    });

    it('lets a read-only grant read but not write, delete or start uploads', async () => {
      const reader = gateway.client({ credentials: READ_ONLY });
      expect((await getBytes(reader, bucket, 'existing')).equals(original)).toBe(true);
      await expectUnchanged(async () => {
        await expectS3Error(put(reader), 'AccessDenied', 403);
        await expectS3Error(put(reader, 'new-key'), 'AccessDenied', 403);
        await expectS3Error(
          reader.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'existing' })),
          'AccessDenied',
          403,
        );
        await expectS3Error(
          reader.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mp' })),
          'AccessDenied',
          403,
        );
        await expectS3Error(
          reader.send(
            new CopyObjectCommand({ Bucket: bucket, Key: 'copy', CopySource: `${bucket}/existing` }),
          ),
          'AccessDenied',
          403,
        );
      });
      await expectS3Error(reader.send(new DeleteBucketCommand({ Bucket: bucket })), 'AccessDenied', 403);
      expect((await s3.send(new HeadBucketCommand({ Bucket: bucket }))).$metadata.httpStatusCode).toBe(200);
    });

    it('denies a copy whose source bucket the credential may not read', async () => {
      const secret = uniqueBucket('secret');
      await s3.send(new CreateBucketCommand({ Bucket: secret }));
      await s3.send(new PutObjectCommand({ Bucket: secret, Key: 'classified', Body: 'classified' }));
      const writer = gateway.client({ credentials: READ_ONLY });
      await expectUnchanged(async () => {
        await expectS3Error(
          writer.send(
            new CopyObjectCommand({ Bucket: bucket, Key: 'leak', CopySource: `${secret}/classified` }),
          ),
          'AccessDenied',
          403,
        );
      });
    });
  });

  describe('body integrity', () => {
    const replacement = Buffer.from('replacement content');

    it('rejects a Content-MD5 that does not match the body with BadDigest and stores nothing', async () => {
      const wrongMd5 = md5Base64(Buffer.from('something else'));
      await expectUnchanged(async () => {
        for (const client of [s3, plain]) {
          await expectS3Error(
            client.send(
              new PutObjectCommand({
                Bucket: bucket,
                Key: 'existing',
                Body: replacement,
                ContentMD5: wrongMd5,
              }),
            ),
            'BadDigest',
            400,
          );
        }
      });
    });

    it.each(['CRC32', 'SHA256'] as const)(
      'rejects a wrong x-amz-checksum-%s header with BadDigest and stores nothing',
      async (algorithm) => {
        const wrong = checksumOf(algorithm, Buffer.from('something else'));
        await expectUnchanged(async () => {
          await expectS3Error(
            plain.send(
              new PutObjectCommand({
                Bucket: bucket,
                Key: 'existing',
                Body: replacement,
                [`Checksum${algorithm}`]: wrong,
              }),
            ),
            'BadDigest',
            400,
          );
        });
      },
    );

    it('rejects a wrong checksum in an aws-chunked trailer with BadDigest and stores nothing', async () => {
      const data = patternBytes(10_000, 1);
      const upload = await unsignedTrailerUpload(
        gateway.endpoint,
        { method: 'PUT', path: `/${bucket}/existing` },
        [data.subarray(0, 8192), data.subarray(8192)],
        { algorithm: 'crc32', value: checksumOf('CRC32', Buffer.from('other')) },
      );
      await expectUnchanged(async () => {
        const res = await rawRequest(gateway.endpoint, {
          method: 'PUT',
          path: `/${bucket}/existing`,
          headers: upload.headers,
          body: upload.body,
        });
        expect({ status: res.status, code: res.code }).toEqual({ status: 400, code: 'BadDigest' });
      });
    });

    it('stores a hand-built unsigned-payload trailer upload whose checksum matches (control)', async () => {
      const data = patternBytes(10_000, 2);
      const upload = await unsignedTrailerUpload(
        gateway.endpoint,
        { method: 'PUT', path: `/${bucket}/trailer-ok` },
        [data.subarray(0, 8192), data.subarray(8192)],
        { algorithm: 'crc32', value: checksumOf('CRC32', data) },
      );
      const res = await rawRequest(gateway.endpoint, {
        method: 'PUT',
        path: `/${bucket}/trailer-ok`,
        headers: upload.headers,
        body: upload.body,
      });
      expect(res.status).toBe(200);
      expect((await getBytes(s3, bucket, 'trailer-ok')).equals(data)).toBe(true);
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'trailer-ok' }));
    });

    it('rejects a body whose SHA-256 differs from x-amz-content-sha256 with XAmzContentSHA256Mismatch', async () => {
      await expectUnchanged(async () => {
        const res = await signedRequest(
          gateway.endpoint,
          { method: 'PUT', path: `/${bucket}/existing`, body: replacement },
          { payloadHash: sha256Hex('a different body') },
        );
        expect({ status: res.status, code: res.code }).toEqual({
          status: 400,
          code: 'XAmzContentSHA256Mismatch',
        });
      });
    });

    describe('signed aws-chunked uploads', () => {
      const data = patternBytes(150_000, 3);
      const chunks = [data.subarray(0, 65536), data.subarray(65536, 131072), data.subarray(131072)];
      const upload = (key: string) =>
        streamingUpload(gateway.endpoint, { method: 'PUT', path: `/${bucket}/${key}` }, chunks);
      const send = (key: string, headers: Record<string, string>, body: Buffer) =>
        rawRequest(gateway.endpoint, { method: 'PUT', path: `/${bucket}/${key}`, headers, body });

      it('stores a correctly signed streaming upload (control for the tampering below)', async () => {
        const { headers, frames } = await upload('streamed');
        const res = await send('streamed', headers, joinFrames(frames));
        expect(res.status).toBe(200);
        expect((await getBytes(s3, bucket, 'streamed')).equals(data)).toBe(true);
        await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'streamed' }));
      });

      it('rejects a chunk whose signature was altered with SignatureDoesNotMatch and stores nothing', async () => {
        const { headers, frames } = await upload('existing');
        const forged = frames[1].header.replace(/=([0-9a-f])/, (_, c: string) => `=${c === '0' ? '1' : '0'}`);
        frames[1] = { ...frames[1], header: forged };
        await expectUnchanged(async () => {
          const res = await send('existing', headers, joinFrames(frames));
          expect({ status: res.status, code: res.code }).toEqual({
            status: 403,
            code: 'SignatureDoesNotMatch',
          });
        });
      });

      it('rejects a chunk whose data changed in flight with SignatureDoesNotMatch and stores nothing', async () => {
        const { headers, frames } = await upload('existing');
        const tampered = Buffer.from(frames[2].data);
        tampered[100] = tampered[100] ^ 0x01;
        frames[2] = { ...frames[2], data: tampered };
        await expectUnchanged(async () => {
          const res = await send('existing', headers, joinFrames(frames));
          expect({ status: res.status, code: res.code }).toEqual({
            status: 403,
            code: 'SignatureDoesNotMatch',
          });
        });
      });

      it('rejects validly signed chunks sent in another order with SignatureDoesNotMatch', async () => {
        const { headers, frames } = await upload('existing');
        const swapped = [frames[1], frames[0], ...frames.slice(2)];
        await expectUnchanged(async () => {
          const res = await send('existing', headers, joinFrames(swapped));
          expect({ status: res.status, code: res.code }).toEqual({
            status: 403,
            code: 'SignatureDoesNotMatch',
          });
        });
      });

      it('rejects a final chunk replaced by a validly chained one from another upload', async () => {
        // A chain computed from another seed: every frame signature is self-consistent but not this request's.
        const { headers, frames } = await upload('existing');
        const other = await streamingUpload(
          gateway.endpoint,
          { method: 'PUT', path: `/${bucket}/elsewhere` },
          chunks,
        );
        const spliced = [...frames.slice(0, 2), ...other.frames.slice(2)];
        await expectUnchanged(async () => {
          const res = await send('existing', headers, joinFrames(spliced));
          expect({ status: res.status, code: res.code }).toEqual({
            status: 403,
            code: 'SignatureDoesNotMatch',
          });
        });
      });

      it('stores nothing when the connection ends in the middle of a chunk', async () => {
        const { headers, frames } = await upload('existing');
        const body = joinFrames(frames);
        await expectUnchanged(async () => {
          const status = await sendTruncated(
            gateway.endpoint,
            { method: 'PUT', path: `/${bucket}/existing`, headers },
            body.subarray(0, 100_000),
          );
          if (status !== undefined) expect(status).toBeGreaterThanOrEqual(400);
        });
      });

      it('stores nothing when the final zero-length chunk never arrives', async () => {
        const { headers, frames } = await upload('existing');
        const body = joinFrames(frames);
        const finalFrame = frames[frames.length - 1].header.length + 4;
        await expectUnchanged(async () => {
          const status = await sendTruncated(
            gateway.endpoint,
            { method: 'PUT', path: `/${bucket}/existing`, headers },
            body.subarray(0, body.length - finalFrame),
          );
          if (status !== undefined) expect(status).toBeGreaterThanOrEqual(400);
        });
      });
    });

    it('stores nothing when a plain upload ends before Content-Length bytes', async () => {
      const body = patternBytes(100_000, 4);
      const headers = await signHeaders(
        gateway.endpoint,
        { method: 'PUT', path: `/${bucket}/existing`, headers: { 'content-length': String(body.length) } },
        { payloadHash: 'UNSIGNED-PAYLOAD' },
      );
      await expectUnchanged(async () => {
        const status = await sendTruncated(
          gateway.endpoint,
          { method: 'PUT', path: `/${bucket}/existing`, headers },
          body.subarray(0, 60_000),
        );
        if (status !== undefined) expect(status).toBeGreaterThanOrEqual(400);
      });
    });
  });

  describe('S3 error codes', () => {
    it('answers NoSuchBucket (404) for object and listing requests on a missing bucket, creating nothing', async () => {
      const missing = uniqueBucket('missing');
      await expectS3Error(s3.send(new GetObjectCommand({ Bucket: missing, Key: 'k' })), 'NoSuchBucket', 404);
      await expectS3Error(s3.send(new ListObjectsV2Command({ Bucket: missing })), 'NoSuchBucket', 404);
      await expectS3Error(
        s3.send(new PutObjectCommand({ Bucket: missing, Key: 'k', Body: 'x' })),
        'NoSuchBucket',
        404,
      );
      await expectS3Error(
        s3.send(new CreateMultipartUploadCommand({ Bucket: missing, Key: 'k' })),
        'NoSuchBucket',
        404,
      );
      await expectS3Error(s3.send(new DeleteBucketCommand({ Bucket: missing })), 'NoSuchBucket', 404);
      await expectS3Error(s3.send(new HeadBucketCommand({ Bucket: missing })), 'NotFound', 404);
    });

    it('refuses an x-amz-server-side-encryption the backend mode does not do, and SSE-C on a plain object', async () => {
      const customerKey = { SSECustomerAlgorithm: 'AES256', SSECustomerKey: 'k'.repeat(32) };
      await expectUnchanged(async () => {
        // The test backend stores plaintext (mode none): a client asking for AES256 must not get plaintext.
        await expectS3Error(
          s3.send(
            new PutObjectCommand({ Bucket: bucket, Key: 'sse', Body: 'x', ServerSideEncryption: 'AES256' }),
          ),
          'InvalidArgument',
          400,
        );
        await expectS3Error(
          s3.send(
            new PutObjectCommand({
              Bucket: bucket,
              Key: 'ssec-mixed',
              Body: 'x',
              ServerSideEncryption: 'AES256',
              ...customerKey,
            }),
          ),
          'InvalidArgument',
          400,
        );
        await expectS3Error(
          s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'existing', ...customerKey })),
          'InvalidRequest',
          400,
        );
      });
    });

    it('refuses a read that sends SSE-S3 or SSE-KMS headers with InvalidArgument, as S3 does', async () => {
      for (const method of ['GET', 'HEAD']) {
        for (const [name, value] of [
          ['x-amz-server-side-encryption', 'aws:kms'],
          ['x-amz-server-side-encryption', 'AES256'],
          ['x-amz-server-side-encryption-aws-kms-key-id', 'alias/aws/s3'],
        ]) {
          const res = await signedRequest(gateway.endpoint, {
            method,
            path: `/${bucket}/existing`,
            headers: { [name]: value },
          });
          expect({ method, name, status: res.status }).toEqual({ method, name, status: 400 });
          if (method === 'GET') expect(res.code).toBe('InvalidArgument');
        }
      }
      expect((await getBytes(s3, bucket, 'existing')).equals(original)).toBe(true);
    });

    it('answers GetObjectTagging with an empty tag set (objects carry no tags), NoSuchKey for a missing key', async () => {
      const tagging = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'existing' }));
      expect(tagging.TagSet).toEqual([]);
      await expectS3Error(
        s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'absent' })),
        'NoSuchKey',
        404,
      );
    });

    it('answers NoSuchKey (404) to GET, and a body-less 404 to HEAD', async () => {
      await expectS3Error(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'absent' })), 'NoSuchKey', 404);
      const path = `/${bucket}/absent`;
      const headers = await signHeaders(gateway.endpoint, { method: 'HEAD', path });
      const exchange = await rawExchange(gateway.endpoint, { method: 'HEAD', path, headers });
      expect(exchange.status).toBe(404);
      expect(exchange.afterHead.length).toBe(0);
      expect(exchange.head.toLowerCase()).not.toContain('transfer-encoding: chunked');
    });

    it('answers NoSuchUpload (404) for an upload id that does not exist', async () => {
      const UploadId = 'no-such-upload-id';
      await expectUnchanged(async () => {
        await expectS3Error(
          s3.send(
            new UploadPartCommand({ Bucket: bucket, Key: 'mp', UploadId, PartNumber: 1, Body: 'part' }),
          ),
          'NoSuchUpload',
          404,
        );
        await expectS3Error(
          s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'mp', UploadId })),
          'NoSuchUpload',
          404,
        );
        await expectS3Error(
          s3.send(
            new CompleteMultipartUploadCommand({
              Bucket: bucket,
              Key: 'mp',
              UploadId,
              MultipartUpload: { Parts: [{ PartNumber: 1, ETag: '"0123456789abcdef0123456789abcdef"' }] },
            }),
          ),
          'NoSuchUpload',
          404,
        );
        await expectS3Error(
          s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'mp', UploadId })),
          'NoSuchUpload',
          404,
        );
      });
    });

    it('refuses to delete a bucket that holds objects with BucketNotEmpty (409)', async () => {
      await expectUnchanged(async () => {
        await expectS3Error(s3.send(new DeleteBucketCommand({ Bucket: bucket })), 'BucketNotEmpty', 409);
      });
    });

    it('answers BucketAlreadyOwnedByYou (409) to creating an existing bucket, keeping its objects', async () => {
      await expectUnchanged(async () => {
        await expectS3Error(
          s3.send(new CreateBucketCommand({ Bucket: bucket })),
          'BucketAlreadyOwnedByYou',
          409,
        );
      });
    });

    it.each(['Bad_Name', 'ab', 'a..b', '192.168.1.1', '-leading'])(
      'rejects the bucket name %s with InvalidBucketName (400)',
      async (name) => {
        const res = await signedRequest(gateway.endpoint, {
          method: 'PUT',
          path: `/${encodeURIComponent(name)}`,
        });
        expect({ status: res.status, code: res.code }).toEqual({ status: 400, code: 'InvalidBucketName' });
        const listed = await s3.send(new ListBucketsCommand({}));
        expect((listed.Buckets ?? []).map((b) => b.Name)).not.toContain(name);
      },
    );

    describe('completing multipart uploads', () => {
      let UploadId: string;
      const key = 'mp-target';
      const bodies = [patternBytes(5 * MIB, 5), Buffer.from('small 2'), Buffer.from('small 3')];
      /** Each part's ETag, as S3 computes it: what a client names in its completion list. */
      const etags = bodies.map((body) => singlePartEtag(body));
      /** The part numbers the gateway holds: through a function URL the 5 MiB part 1 gets the 413. */
      const stored: number[] = [];
      beforeAll(async () => {
        ({ UploadId } = (await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }))) as {
          UploadId: string;
        });
        const uploadPart = (n: number) =>
          s3.send(
            new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: n, Body: bodies[n - 1] }),
          );
        const first = await expectUploadOrCapError(gateway, () => uploadPart(1));
        if (first !== REFUSED_BY_CAP) {
          expect(first.ETag).toBe(etags[0]);
          stored.push(1);
        }
        for (const n of [2, 3]) {
          expect((await uploadPart(n)).ETag).toBe(etags[n - 1]);
          stored.push(n);
        }
        const listed = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId }));
        expect(listed.Parts?.map((p) => p.PartNumber)).toEqual(stored);
      });
      afterAll(async () => {
        await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId }));
      });

      /**
       * Part 1, the only one large enough to come before another, when the gateway holds it. Without it a
       * completion list that named it would fail for that reason alone, so the lists below leave it out.
       */
      const leadingPart = () => (stored.includes(1) ? [{ PartNumber: 1, ETag: etags[0] }] : []);

      const complete = (parts: { PartNumber: number; ETag: string }[]) =>
        s3.send(
          new CompleteMultipartUploadCommand({
            Bucket: bucket,
            Key: key,
            UploadId,
            MultipartUpload: { Parts: parts },
          }),
        );

      async function expectRefused(
        parts: { PartNumber: number; ETag: string }[],
        code: string,
      ): Promise<void> {
        const before = await bucketState(s3, bucket);
        await expectS3Error(complete(parts), code, 400);
        expect(await bucketState(s3, bucket)).toEqual(before);
        const listed = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId }));
        expect(listed.Parts?.map((p) => p.PartNumber)).toEqual(stored);
      }

      it('rejects a part whose ETag does not match with InvalidPart, keeping the upload', async () => {
        await expectRefused(
          [...leadingPart(), { PartNumber: 2, ETag: '"0123456789abcdef0123456789abcdef"' }],
          'InvalidPart',
        );
      });

      it('rejects a part that was never uploaded with InvalidPart', async () => {
        await expectRefused([...leadingPart(), { PartNumber: 7, ETag: etags[1] }], 'InvalidPart');
      });

      it('rejects parts out of ascending order with InvalidPartOrder', async () => {
        await expectRefused(
          [
            { PartNumber: 2, ETag: etags[1] },
            { PartNumber: 1, ETag: etags[0] },
          ],
          'InvalidPartOrder',
        );
      });

      it('rejects a part under 5 MiB that is not the last with EntityTooSmall', async () => {
        await expectRefused(
          [
            { PartNumber: 2, ETag: etags[1] },
            { PartNumber: 3, ETag: etags[2] },
          ],
          'EntityTooSmall',
        );
      });

      it('rejects a completion document that is not XML with MalformedXML', async () => {
        const before = await bucketState(s3, bucket);
        const res = await signedRequest(gateway.endpoint, {
          method: 'POST',
          path: `/${bucket}/${key}`,
          query: { uploadId: UploadId },
          body: '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>',
        });
        expect({ status: res.status, code: res.code }).toEqual({ status: 400, code: 'MalformedXML' });
        expect(await bucketState(s3, bucket)).toEqual(before);
      });
    });

    it('rejects a DeleteObjects document that is not XML with MalformedXML, deleting nothing', async () => {
      const body = '<Delete><Object><Key>existing</Key></Object>';
      await expectUnchanged(async () => {
        const res = await signedRequest(gateway.endpoint, {
          method: 'POST',
          path: `/${bucket}`,
          query: { delete: '' },
          headers: { 'content-md5': md5Base64(Buffer.from(body)) },
          body,
        });
        expect({ status: res.status, code: res.code }).toEqual({ status: 400, code: 'MalformedXML' });
      });
    });

    it('answers sub-resources it does not implement with NotImplemented (501)', async () => {
      await expectUnchanged(async () => {
        await expectS3Error(
          s3.send(
            new PutObjectTaggingCommand({
              Bucket: bucket,
              Key: 'existing',
              Tagging: { TagSet: [{ Key: 'k', Value: 'v' }] },
            }),
          ),
          'NotImplemented',
          501,
        );
        await expectS3Error(
          s3.send(
            new PutBucketPolicyCommand({ Bucket: bucket, Policy: '{"Version":"2012-10-17","Statement":[]}' }),
          ),
          'NotImplemented',
          501,
        );
      });
      await expectS3Error(
        s3.send(new GetObjectAclCommand({ Bucket: bucket, Key: 'existing' })),
        'NotImplemented',
        501,
      );
      await expectS3Error(s3.send(new GetBucketPolicyCommand({ Bucket: bucket })), 'NotImplemented', 501);
    });

    it('answers a range beyond the object with InvalidRange (416)', async () => {
      await expectS3Error(
        s3.send(
          new GetObjectCommand({ Bucket: bucket, Key: 'existing', Range: `bytes=${original.length}-` }),
        ),
        'InvalidRange',
        416,
      );
    });

    it("answers a part number beyond the object's parts with InvalidPartNumber (400)", async () => {
      await expectS3Error(
        s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'existing', PartNumber: 2 })),
        'InvalidPartNumber',
        400,
      );
      await expectStatus(
        s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'existing', PartNumber: 2 })),
        400,
      );
    });

    it('rejects a max-keys that is not a non-negative integer with InvalidArgument, on both list versions', async () => {
      const queries: Record<string, string>[] = [
        { 'list-type': '2', 'max-keys': '-1' },
        { 'list-type': '2', 'max-keys': 'ten' },
        { 'max-keys': '-5' },
      ];
      for (const query of queries) {
        const res = await signedRequest(gateway.endpoint, { method: 'GET', path: `/${bucket}`, query });
        expect({ query, status: res.status, code: res.code }).toEqual({
          query,
          status: 400,
          code: 'InvalidArgument',
        });
      }
    });

    it('rejects a continuation token it did not issue with InvalidArgument', async () => {
      await expectS3Error(
        s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: 'not a token!' })),
        'InvalidArgument',
        400,
      );
    });

    it('rejects an unknown encoding-type with InvalidArgument', async () => {
      const res = await signedRequest(gateway.endpoint, {
        method: 'GET',
        path: `/${bucket}`,
        query: { 'list-type': '2', 'encoding-type': 'base64' },
      });
      expect({ status: res.status, code: res.code }).toEqual({ status: 400, code: 'InvalidArgument' });
    });

    it('answers a copy from a missing source with NoSuchKey (404), creating nothing', async () => {
      await expectUnchanged(async () => {
        await expectS3Error(
          s3.send(
            new CopyObjectCommand({ Bucket: bucket, Key: 'copy-target', CopySource: `${bucket}/absent` }),
          ),
          'NoSuchKey',
          404,
        );
      });
    });

    it('rejects a copy-source range beyond the source object with InvalidArgument', async () => {
      const { UploadId } = await s3.send(
        new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'range-copy' }),
      );
      try {
        await expectS3Error(
          s3.send(
            new UploadPartCopyCommand({
              Bucket: bucket,
              Key: 'range-copy',
              UploadId,
              PartNumber: 1,
              CopySource: `${bucket}/existing`,
              CopySourceRange: `bytes=0-${original.length}`,
            }),
          ),
          'InvalidArgument',
          400,
        );
        const parts = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'range-copy', UploadId }));
        expect(parts.Parts ?? []).toEqual([]);
      } finally {
        await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'range-copy', UploadId }));
      }
    });

    it.each([0, 10001])('rejects part number %i with InvalidArgument', async (PartNumber) => {
      const { UploadId } = await s3.send(
        new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'numbered' }),
      );
      try {
        await expectS3Error(
          s3.send(
            new UploadPartCommand({ Bucket: bucket, Key: 'numbered', UploadId, PartNumber, Body: 'x' }),
          ),
          'InvalidArgument',
          400,
        );
        const parts = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'numbered', UploadId }));
        expect(parts.Parts ?? []).toEqual([]);
      } finally {
        await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'numbered', UploadId }));
      }
    });

    it('answers a method S3 does not define on objects with MethodNotAllowed (405)', async () => {
      await expectUnchanged(async () => {
        const res = await signedRequest(gateway.endpoint, {
          method: 'PATCH',
          path: `/${bucket}/existing`,
          body: 'x',
        });
        expect({ status: res.status, code: res.code }).toEqual({ status: 405, code: 'MethodNotAllowed' });
      });
    });

    it('requires Content-MD5 or a checksum on DeleteObjects, deleting nothing without one', async () => {
      const body = '<Delete><Object><Key>existing</Key></Object></Delete>';
      await expectUnchanged(async () => {
        const res = await signedRequest(gateway.endpoint, {
          method: 'POST',
          path: `/${bucket}`,
          query: { delete: '' },
          body,
        });
        expect({ status: res.status, code: res.code }).toEqual({ status: 400, code: 'InvalidRequest' });
      });
    });

    it('rejects user metadata over 2 KB with MetadataTooLarge', async () => {
      await expectUnchanged(async () => {
        await expectS3Error(
          s3.send(
            new PutObjectCommand({
              Bucket: bucket,
              Key: 'existing',
              Body: 'x',
              Metadata: { big: 'v'.repeat(2100) },
            }),
          ),
          'MetadataTooLarge',
          400,
        );
      });
    });

    it('rejects a key longer than 1024 bytes with KeyTooLongError', async () => {
      await expectUnchanged(async () => {
        await expectS3Error(
          s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k'.repeat(1025), Body: 'x' })),
          'KeyTooLongError',
          400,
        );
      });
    });

    it('answers a request for a specific object version with NotImplemented (501)', async () => {
      await expectS3Error(
        s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'existing', VersionId: '3HL4kqtJlcpXroDTDmJ' })),
        'NotImplemented',
        501,
      );
      await expectUnchanged(async () => {
        await expectS3Error(
          s3.send(
            new DeleteObjectCommand({ Bucket: bucket, Key: 'existing', VersionId: '3HL4kqtJlcpXroDTDmJ' }),
          ),
          'NotImplemented',
          501,
        );
      });
    });

    it('rejects user metadata in the gateway-reserved x-amz-meta-sealgate- namespace', async () => {
      const Metadata = { 'sealgate-x': 'spoofed' };
      await expectUnchanged(async () => {
        await expectS3Error(
          s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'existing', Body: 'x', Metadata })),
          'InvalidArgument',
          400,
        );
        await expectS3Error(
          s3.send(
            new PutObjectCommand({
              Bucket: bucket,
              Key: 'spoof',
              Body: 'x',
              Metadata: { 'Sealgate-Y': 'z' },
            }),
          ),
          'InvalidArgument',
          400,
        );
        await expectS3Error(
          s3.send(
            new CopyObjectCommand({
              Bucket: bucket,
              Key: 'existing',
              CopySource: `${bucket}/existing`,
              MetadataDirective: 'REPLACE',
              Metadata,
            }),
          ),
          'InvalidArgument',
          400,
        );
        await expectS3Error(
          s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'spoof', Metadata })),
          'InvalidArgument',
          400,
        );
      });
    });
  });
});

describe('paths on the filesystem backend', () => {
  let gateway: TestGateway;
  let s3: S3Client;
  let bucket: string;

  beforeAll(async () => {
    gateway = await startTestGateway({ backend: 'filesystem' });
    s3 = gateway.client();
    bucket = uniqueBucket('fs');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'inside', Body: 'inside' }));
  });
  afterAll(async () => {
    await gateway?.close();
  });

  function filesUnder(root: string): string[] {
    return readdirSync(root, { recursive: true, encoding: 'utf8' })
      .map((entry) => join(root, entry))
      .filter((path) => statSync(path).isFile())
      .sort();
  }

  /** Every place a name could land if `..` segments were followed from the bucket folder. */
  function escapeCandidates(name: string): string[] {
    const bucketDir = join(gateway.dataDir, 'store', bucket);
    return [0, 1, 2, 3, 4].map((up) => resolve(bucketDir, ...Array<string>(up).fill('..'), name));
  }

  it.each([
    ['../', 'up-one'],
    ['../../', 'up-two'],
    ['a/../../', 'mixed'],
    ['..%2F..%2F', 'encoded'],
    ['..%2f..%2f..%2f', 'encoded-lower'],
  ])('refuses a key that climbs out of the bucket (%s) and writes nothing anywhere', async (climb, tag) => {
    const name = `escape-${tag}-${bucket}`;
    const before = filesUnder(gateway.dataDir);
    const res = await signedRequest(gateway.endpoint, {
      method: 'PUT',
      path: `/${bucket}/${climb}${name}`,
      body: 'escaped',
    });
    expect({ status: res.status, code: res.code }).toEqual({ status: 400, code: 'InvalidArgument' });
    expect(filesUnder(gateway.dataDir)).toEqual(before);
    for (const candidate of escapeCandidates(name)) expect(existsSync(candidate), candidate).toBe(false);
    expect(existsSync(join(dirname(gateway.dataDir), name))).toBe(false);
  });

  it('refuses to read a file outside the bucket through a climbing key', async () => {
    for (const path of [`/${bucket}/../../sealgate.yaml`, `/${bucket}/..%2F..%2Fsealgate.yaml`]) {
      const res = await signedRequest(gateway.endpoint, { method: 'GET', path });
      expect({ status: res.status, code: res.code }).toEqual({ status: 400, code: 'InvalidArgument' });
      expect(res.body.toString()).not.toContain('access_key_id');
    }
  });

  it('refuses a bucket name of dot segments with InvalidBucketName', async () => {
    for (const path of ['/../escape-bucket', '/..', '/%2E%2E/sealgate.yaml']) {
      for (const method of ['GET', 'PUT']) {
        const res = await signedRequest(gateway.endpoint, {
          method,
          path,
          body: method === 'PUT' ? 'x' : undefined,
        });
        expect({ path, method, status: res.status, code: res.code }).toEqual({
          path,
          method,
          status: 400,
          code: 'InvalidBucketName',
        });
        expect(res.body.toString()).not.toContain('access_key_id');
      }
    }
    expect(existsSync(join(dirname(gateway.dataDir), 'escape-bucket'))).toBe(false);
  });

  it('keeps the objects inside the bucket readable after the attempts', async () => {
    expect((await getBytes(s3, bucket, 'inside')).toString()).toBe('inside');
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    expect(listed.Contents?.map((o) => o.Key)).toEqual(['inside']);
  });
});
