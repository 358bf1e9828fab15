/**
 * GetObjectAttributes on both backends, over a bucket that encrypts with a proxy key: every value is the
 * one clients see (plaintext size, the ETag and checksum they were given), never the stored ciphertext's.
 */
import { createHash, randomBytes } from 'node:crypto';

import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectAttributesCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { checksumOf } from '../support/digests.js';
import { startTestGateway, type BackendKind, type TestGateway } from '../support/gateway.js';
import { useMoto } from '../support/moto.js';
import { signedRequest } from '../support/signed-request.js';
import { expectS3Error, uniqueBucket } from '../support/s3-expect.js';

const BACKENDS: BackendKind[] = ['filesystem', 's3'];
const PROXY_YAML = `      mode: aes256-gcm-proxy\n      key: "${randomBytes(32).toString('hex')}"\n      key_id: k1\n`;
const CUSTOMER_KEY = randomBytes(32);
const SSE_C = {
  SSECustomerAlgorithm: 'AES256',
  SSECustomerKey: CUSTOMER_KEY.toString('base64'),
  SSECustomerKeyMD5: createHash('md5').update(CUSTOMER_KEY).digest('base64'),
};
const ALL = ['ETag', 'Checksum', 'ObjectParts', 'StorageClass', 'ObjectSize'] as const;

const moto = useMoto();

describe.each(BACKENDS)('GetObjectAttributes on the %s backend', (backend) => {
  let gateway: TestGateway;
  let s3: S3Client;
  let bucket: string;
  const data = randomBytes(70_000);

  beforeAll(async () => {
    gateway = await startTestGateway({ backend, s3Endpoint: moto.endpoint, encryptionYaml: PROXY_YAML });
    s3 = gateway.client();
    bucket = uniqueBucket();
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: 'single', Body: data, ChecksumAlgorithm: 'SHA256' }),
    );
  });
  afterAll(async () => {
    await gateway?.close();
  });

  it('answers the ETag, checksum, size and storage class a client was given', async () => {
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'single' }));
    const attributes = await s3.send(
      new GetObjectAttributesCommand({ Bucket: bucket, Key: 'single', ObjectAttributes: [...ALL] }),
    );
    expect(attributes.ETag).toBe(head.ETag!.replace(/"/g, ''));
    expect(attributes.ObjectSize).toBe(data.length);
    expect(attributes.StorageClass).toBe('STANDARD');
    expect(attributes.Checksum).toMatchObject({
      ChecksumSHA256: checksumOf('SHA256', data),
      ChecksumType: 'FULL_OBJECT',
    });
    expect(attributes.ObjectParts).toBeUndefined(); // not a multipart object
    expect(attributes.LastModified?.getTime()).toBe(head.LastModified?.getTime());
  });

  it('answers only the attributes asked for', async () => {
    const attributes = await s3.send(
      new GetObjectAttributesCommand({ Bucket: bucket, Key: 'single', ObjectAttributes: ['ObjectSize'] }),
    );
    expect(attributes.ObjectSize).toBe(data.length);
    expect(attributes.ETag).toBeUndefined();
    expect(attributes.Checksum).toBeUndefined();
  });

  it("gives a multipart object's part count and its multipart ETag", async () => {
    const key = 'parts';
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    // One part: a function URL carries no 5 MiB part, and the count shows as well.
    const bodies = [randomBytes(1234)];
    const Parts = [];
    for (const [i, Body] of bodies.entries()) {
      const part = await s3.send(
        new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: i + 1, Body }),
      );
      Parts.push({ PartNumber: i + 1, ETag: part.ETag });
    }
    const done = await s3.send(
      new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts } }),
    );
    const attributes = await s3.send(
      new GetObjectAttributesCommand({ Bucket: bucket, Key: key, ObjectAttributes: [...ALL], MaxParts: 1 }),
    );
    expect(attributes.ETag).toBe(done.ETag!.replace(/"/g, ''));
    expect(attributes.ObjectSize).toBe(1234);
    expect(attributes.ObjectParts?.TotalPartsCount).toBe(1);
    expect(attributes.ObjectParts?.Parts ?? []).toEqual([]); // S3 lists parts only with part checksums
  });

  it('needs the customer key for an SSE-C object, as GetObject does', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'ssec', Body: data, ...SSE_C }));
    await expectS3Error(
      s3.send(
        new GetObjectAttributesCommand({ Bucket: bucket, Key: 'ssec', ObjectAttributes: ['ObjectSize'] }),
      ),
      'InvalidRequest',
      400,
    );
    const attributes = await s3.send(
      new GetObjectAttributesCommand({
        Bucket: bucket,
        Key: 'ssec',
        ObjectAttributes: ['ObjectSize'],
        ...SSE_C,
      }),
    );
    expect(attributes.ObjectSize).toBe(data.length);
  });

  it('refuses a request without attributes, or with one S3 does not know, and a missing key', async () => {
    for (const value of [undefined, 'ObjectSize,Colour']) {
      const res = await signedRequest(gateway.endpoint, {
        method: 'GET',
        path: `/${bucket}/single`,
        query: { attributes: '' },
        headers: value === undefined ? {} : { 'x-amz-object-attributes': value },
      });
      expect({ value, status: res.status, code: res.code }).toEqual({
        value,
        status: 400,
        code: 'InvalidArgument',
      });
    }
    await expectS3Error(
      s3.send(new GetObjectAttributesCommand({ Bucket: bucket, Key: 'absent', ObjectAttributes: ['ETag'] })),
      'NoSuchKey',
      404,
    );
  });
});
