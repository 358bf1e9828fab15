/**
 * Encryption asked for through the S3 API (x-amz-server-side-encryption on writes, and a bucket's default
 * encryption), on both backends (moto for S3 and KMS): honoured where the backend's `on_request` says how,
 * refused with a message naming what to configure where it does not, echoed as S3 echoes it, and read back
 * by each object's own markers.
 */
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketEncryptionCommand,
  GetBucketEncryptionCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutBucketEncryptionCommand,
  PutObjectCommand,
  S3Client,
  ListPartsCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type S3Client as Client,
} from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createMotoKmsKey } from '../support/encryption-gateway.js';
import { startTestGateway, type BackendKind, type TestGateway } from '../support/gateway.js';
import { useMoto } from '../support/moto.js';
import { expectS3Error, getBytes, rejectionOf } from '../support/s3-expect.js';

const moto = useMoto();

/** A client of the gateway that sends `x-amz-server-side-encryption` on every request, where SDKs have no field. */
function sendingSse(gateway: TestGateway, value: string): Client {
  const client = gateway.client();
  client.middlewareStack.add(
    (next) => async (args) => {
      (args.request as { headers: Record<string, string> }).headers['x-amz-server-side-encryption'] = value;
      return next(args);
    },
    { step: 'build' },
  );
  return client;
}
const CONTEXT = { project: 'apollo', stage: 'test' };
const CONTEXT_HEADER = Buffer.from(JSON.stringify(CONTEXT)).toString('base64');

describe.each(['filesystem', 's3'] as BackendKind[])(
  'encryption requested through the S3 API (%s)',
  (backend) => {
    let gateway: TestGateway;
    let s3: Client;
    let raw: S3Client | undefined;
    let keyA: string;
    let keyB: string;
    const suffix = randomBytes(3).toString('hex');
    const stored = (name: string) => `raw-${name}-${suffix}`;
    const names = backend === 's3' ? ['refusing', 'managed', 'native'] : ['refusing', 'managed'];

    beforeAll(async () => {
      process.env.AWS_ACCESS_KEY_ID ??= 'testing';
      process.env.AWS_SECRET_ACCESS_KEY ??= 'testing';
      keyA = await createMotoKmsKey(moto);
      keyB = await createMotoKmsKey(moto);
      const encryption: Record<string, string> = {
        refusing: '      mode: none\n',
        managed:
          `      mode: none\n      key: "${'3c'.repeat(32)}"\n      key_id: managed-1\n      kms_key_id: ${keyA}\n` +
          `      on_request:\n        aes256: aes256-gcm-proxy\n        aws_kms: aws-kms-envelope\n` +
          `        kms_key_ids: ["${keyB}"]\n`,
        native:
          `      mode: none\n      kms_key_id: ${keyA}\n      on_request:\n        aes256: sse-s3\n` +
          `        aws_kms: sse-kms\n        kms_key_ids: ["${keyB}"]\n`,
      };
      const where = (name: string, dataDir: string) =>
        backend === 's3'
          ? `    type: s3\n    endpoint: ${moto.endpoint}\n    region: us-east-1\n` +
            `    access_key_id: testing\n    secret_access_key: testing\n    force_path_style: true\n`
          : `    type: filesystem\n    path: ${dataDir}/be-${name}\n`;
      gateway = await startTestGateway({
        backend,
        s3Endpoint: moto.endpoint,
        backendsYaml: (dataDir) =>
          names
            .map(
              (n) =>
                `  - name: be-${n}\n${where(n, dataDir)}    encryption:\n${encryption[n]}` +
                `      kms_endpoint: ${moto.endpoint}\n`,
            )
            .join(''),
        extraYaml: `buckets:\n${names.map((n) => `  - name: ${n}-${suffix}\n    backend: be-${n}\n    backend_bucket: ${stored(n)}\n`).join('')}`,
      });
      s3 = gateway.client();
      if (backend === 's3') {
        raw = new S3Client({
          endpoint: moto.endpoint,
          region: 'us-east-1',
          forcePathStyle: true,
          credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
        });
        for (const n of names) await raw.send(new CreateBucketCommand({ Bucket: stored(n) }));
      } else {
        for (const n of names) await s3.send(new CreateBucketCommand({ Bucket: `${n}-${suffix}` }));
      }
    });
    afterAll(async () => {
      raw?.destroy();
      await gateway?.close();
    });

    const bucket = (name: string) => `${name}-${suffix}`;

    it('refuses what the backend is not configured to honour, naming what to set, and stores nothing', async () => {
      for (const [algorithm, field] of [
        ['AES256', 'on_request.aes256'],
        ['aws:kms', 'on_request.aws_kms'],
      ] as const) {
        const error = await rejectionOf(
          s3.send(
            new PutObjectCommand({
              Bucket: bucket('refusing'),
              Key: 'k',
              Body: 'x',
              ServerSideEncryption: algorithm,
            }),
          ),
        );
        expect([error.name, error.$metadata.httpStatusCode]).toEqual(['InvalidArgument', 400]);
        expect(error.message).toContain(field);
        expect(error.message).toContain('be-refusing');
      }
      await expectS3Error(
        s3.send(new HeadObjectCommand({ Bucket: bucket('refusing'), Key: 'k' })),
        'NotFound',
        404,
      );
    });

    it('AES256 is encrypted by the gateway under the managed key, and never stored in clear', async () => {
      const body = randomBytes(70_000);
      const put = await s3.send(
        new PutObjectCommand({
          Bucket: bucket('managed'),
          Key: 'aes',
          Body: body,
          ServerSideEncryption: 'AES256',
        }),
      );
      expect(put.ServerSideEncryption).toBe('AES256');
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket('managed'), Key: 'aes' }));
      expect([head.ServerSideEncryption, head.ContentLength]).toEqual(['AES256', body.length]);
      expect((await getBytes(s3, bucket('managed'), 'aes')).equals(body)).toBe(true);
      // An object asked for nothing on the same backend stays as its mode says: in clear.
      await s3.send(new PutObjectCommand({ Bucket: bucket('managed'), Key: 'plain', Body: 'clear' }));
      const plain = await s3.send(new HeadObjectCommand({ Bucket: bucket('managed'), Key: 'plain' }));
      expect(plain.ServerSideEncryption).toBeUndefined();
      if (raw) {
        const storedBytes = await getBytes(raw, stored('managed'), 'aes');
        expect(storedBytes.includes(body.subarray(0, 64))).toBe(false);
      }
    });

    it('aws:kms is envelope encryption under the configured key, or another key the config allows', async () => {
      const put = await s3.send(
        new PutObjectCommand({
          Bucket: bucket('managed'),
          Key: 'kms-a',
          Body: 'a',
          ServerSideEncryption: 'aws:kms',
        }),
      );
      expect([put.ServerSideEncryption, put.SSEKMSKeyId]).toEqual(['aws:kms', keyA]);
      const withB = await s3.send(
        new PutObjectCommand({
          Bucket: bucket('managed'),
          Key: 'kms-b',
          Body: 'b',
          ServerSideEncryption: 'aws:kms',
          SSEKMSKeyId: keyB,
          BucketKeyEnabled: true,
        }),
      );
      expect([withB.SSEKMSKeyId, withB.BucketKeyEnabled]).toEqual([keyB, true]);
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket('managed'), Key: 'kms-b' }));
      expect([head.ServerSideEncryption, head.SSEKMSKeyId, head.BucketKeyEnabled]).toEqual([
        'aws:kms',
        keyB,
        true,
      ]);
      expect((await getBytes(s3, bucket('managed'), 'kms-b')).toString()).toBe('b');

      const other = await rejectionOf(
        s3.send(
          new PutObjectCommand({
            Bucket: bucket('managed'),
            Key: 'kms-c',
            Body: 'c',
            ServerSideEncryption: 'aws:kms',
            SSEKMSKeyId: 'arn:aws:kms:us-east-1:123456789012:key/not-allowed',
          }),
        ),
      );
      expect(other.name).toBe('InvalidArgument');
      expect(other.message).toContain(keyB);
    });

    it('binds the encryption context into KMS, echoes it, and reads back without any SSE header', async () => {
      const put = await s3.send(
        new PutObjectCommand({
          Bucket: bucket('managed'),
          Key: 'ctx',
          Body: 'with context',
          ServerSideEncryption: 'aws:kms',
          SSEKMSEncryptionContext: CONTEXT_HEADER,
        }),
      );
      expect(JSON.parse(Buffer.from(put.SSEKMSEncryptionContext!, 'base64').toString())).toEqual(CONTEXT);
      expect((await getBytes(s3, bucket('managed'), 'ctx')).toString()).toBe('with context');
      // A GET that sends SSE-KMS headers is refused, as S3 refuses it (the SDK has no such GET field).
      await expectS3Error(
        sendingSse(gateway, 'aws:kms').send(new GetObjectCommand({ Bucket: bucket('managed'), Key: 'ctx' })),
        'InvalidArgument',
        400,
      );
      if (raw) {
        // The context is part of what KMS checks: the object's data key does not open under another one.
        await raw.send(
          new CopyObjectCommand({
            Bucket: stored('managed'),
            Key: 'ctx',
            CopySource: `${stored('managed')}/ctx`,
            MetadataDirective: 'REPLACE',
            Metadata: await changedContextMetadata(raw, stored('managed'), 'ctx'),
          }),
        );
        await expectS3Error(
          s3.send(new GetObjectCommand({ Bucket: bucket('managed'), Key: 'ctx' })),
          'ObjectIntegrityError',
          500,
        );
      }
    });

    it('refuses a malformed context, and a context or key with AES256', async () => {
      for (const extra of [
        { ServerSideEncryption: 'aws:kms' as const, SSEKMSEncryptionContext: 'not base64 json!' },
        { ServerSideEncryption: 'AES256' as const, SSEKMSEncryptionContext: CONTEXT_HEADER },
        { ServerSideEncryption: 'AES256' as const, SSEKMSKeyId: keyA },
      ]) {
        await expectS3Error(
          s3.send(new PutObjectCommand({ Bucket: bucket('managed'), Key: 'bad', Body: 'x', ...extra })),
          'InvalidArgument',
          400,
        );
      }
    });

    it('copies and multipart uploads take the encryption they ask for', async () => {
      await s3.send(new PutObjectCommand({ Bucket: bucket('managed'), Key: 'src', Body: 'copy me' }));
      const copy = await s3.send(
        new CopyObjectCommand({
          Bucket: bucket('managed'),
          Key: 'copied',
          CopySource: `${bucket('managed')}/src`,
          ServerSideEncryption: 'aws:kms',
          SSEKMSKeyId: keyB,
        }),
      );
      expect([copy.ServerSideEncryption, copy.SSEKMSKeyId]).toEqual(['aws:kms', keyB]);
      expect((await getBytes(s3, bucket('managed'), 'copied')).toString()).toBe('copy me');

      const created = await s3.send(
        new CreateMultipartUploadCommand({
          Bucket: bucket('managed'),
          Key: 'mpu',
          ServerSideEncryption: 'aws:kms',
          SSEKMSEncryptionContext: CONTEXT_HEADER,
        }),
      );
      expect([created.ServerSideEncryption, created.SSEKMSKeyId]).toEqual(['aws:kms', keyA]);
      expect(created.SSEKMSEncryptionContext).toBeDefined();
      // Parts and the completion take no SSE header (the SDK has no such field): the upload's encryption
      // is the one CreateMultipartUpload chose, and S3 refuses them the same way.
      const sending = sendingSse(gateway, 'aws:kms');
      const upload = { Bucket: bucket('managed'), Key: 'mpu', UploadId: created.UploadId };
      for (const refused of [
        () => sending.send(new UploadPartCommand({ ...upload, PartNumber: 1, Body: 'one part' })),
        () =>
          sending.send(
            new UploadPartCopyCommand({ ...upload, PartNumber: 1, CopySource: `${bucket('managed')}/src` }),
          ),
        () =>
          sending.send(
            new CompleteMultipartUploadCommand({
              ...upload,
              MultipartUpload: { Parts: [{ PartNumber: 1, ETag: '"0123456789abcdef0123456789abcdef"' }] },
            }),
          ),
      ]) {
        const error = await rejectionOf(refused());
        expect([error.name, error.$metadata.httpStatusCode]).toEqual(['InvalidArgument', 400]);
        expect(error.message).toMatch(
          /x-amz-server-side-encryption header is not supported.*CreateMultipartUpload/,
        );
      }
      expect(
        (await s3.send(new ListPartsCommand(upload))).Parts ?? [],
        'a refused part is not stored',
      ).toEqual([]);
      const part = await s3.send(
        new UploadPartCommand({
          Bucket: bucket('managed'),
          Key: 'mpu',
          UploadId: created.UploadId,
          PartNumber: 1,
          Body: 'one part',
        }),
      );
      await s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket('managed'),
          Key: 'mpu',
          UploadId: created.UploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
        }),
      );
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket('managed'), Key: 'mpu' }));
      expect([head.ServerSideEncryption, head.SSEKMSKeyId]).toEqual(['aws:kms', keyA]);
      expect((await getBytes(s3, bucket('managed'), 'mpu')).toString()).toBe('one part');
    });

    it("a bucket's default encryption applies to writes that ask for none, and goes with DeleteBucketEncryption", async () => {
      const name = bucket('managed');
      if (gateway.target === 'function-url') {
        // The emulator's function runs on the config it was deployed with: a read-only store says so.
        const refused = await rejectionOf(
          s3.send(
            new PutBucketEncryptionCommand({
              Bucket: name,
              ServerSideEncryptionConfiguration: {
                Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
              },
            }),
          ),
        );
        expect([refused.name, refused.$metadata.httpStatusCode]).toEqual(['NotImplemented', 501]);
        return;
      }
      await expectS3Error(
        s3.send(
          new PutBucketEncryptionCommand({
            Bucket: bucket('refusing'),
            ServerSideEncryptionConfiguration: {
              Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
            },
          }),
        ),
        'InvalidArgument',
        400,
      );
      await expectS3Error(
        s3.send(new GetBucketEncryptionCommand({ Bucket: bucket('refusing') })),
        'ServerSideEncryptionConfigurationNotFoundError',
        404,
      );

      await s3.send(
        new PutBucketEncryptionCommand({
          Bucket: name,
          ServerSideEncryptionConfiguration: {
            Rules: [
              {
                ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: keyB },
                BucketKeyEnabled: true,
              },
            ],
          },
        }),
      );
      const got = await s3.send(new GetBucketEncryptionCommand({ Bucket: name }));
      expect(got.ServerSideEncryptionConfiguration?.Rules).toEqual([
        {
          ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: keyB },
          BucketKeyEnabled: true,
        },
      ]);
      const put = await s3.send(new PutObjectCommand({ Bucket: name, Key: 'defaulted', Body: 'd' }));
      expect([put.ServerSideEncryption, put.SSEKMSKeyId, put.BucketKeyEnabled]).toEqual([
        'aws:kms',
        keyB,
        true,
      ]);
      // A request's own header still wins over the default.
      const own = await s3.send(
        new PutObjectCommand({ Bucket: name, Key: 'own', Body: 'o', ServerSideEncryption: 'AES256' }),
      );
      expect(own.ServerSideEncryption).toBe('AES256');

      await s3.send(new DeleteBucketEncryptionCommand({ Bucket: name }));
      await expectS3Error(
        s3.send(new GetBucketEncryptionCommand({ Bucket: name })),
        'ServerSideEncryptionConfigurationNotFoundError',
        404,
      );
      const after = await s3.send(new PutObjectCommand({ Bucket: name, Key: 'after', Body: 'a' }));
      expect(after.ServerSideEncryption).toBeUndefined();
      expect((await getBytes(s3, name, 'defaulted')).toString()).toBe('d');
    });

    if (backend === 's3') {
      it('a native on_request has S3 encrypt: AES256 as SSE-S3, aws:kms as SSE-KMS under the allowed key', async () => {
        const name = bucket('native');
        const aes = await s3.send(
          new PutObjectCommand({ Bucket: name, Key: 's3', Body: 'n', ServerSideEncryption: 'AES256' }),
        );
        expect(aes.ServerSideEncryption).toBe('AES256');
        const kms = await s3.send(
          new PutObjectCommand({
            Bucket: name,
            Key: 'kms',
            Body: 'k',
            ServerSideEncryption: 'aws:kms',
            SSEKMSKeyId: keyB,
          }),
        );
        expect(kms.ServerSideEncryption).toBe('aws:kms');
        const rawHead = await raw!.send(new HeadObjectCommand({ Bucket: stored('native'), Key: 'kms' }));
        expect([rawHead.ServerSideEncryption, rawHead.SSEKMSKeyId]).toEqual(['aws:kms', keyB]);
        expect((await getBytes(s3, name, 'kms')).toString()).toBe('k');
      });
    }
  },
);

/** The stored object's metadata with its `kms-context` marker naming another context. */
async function changedContextMetadata(
  raw: S3Client,
  bucket: string,
  key: string,
): Promise<Record<string, string>> {
  const head = await raw.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  const metadata = { ...head.Metadata };
  expect(metadata['sealgate-kms-context']).toBeDefined();
  metadata['sealgate-kms-context'] = Buffer.from(JSON.stringify({ project: 'other' })).toString('base64');
  return metadata;
}
