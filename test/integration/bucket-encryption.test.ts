/**
 * GetBucketEncryption reports a bucket's posture truthfully: its backend's mode as the gateway's
 * configuration sets it, until PutBucketEncryption sets a default the backend can honour
 * (test/integration/sse-requests.test.ts covers defaults in full).
 */
import { randomBytes } from 'node:crypto';

import {
  CreateBucketCommand,
  DeleteBucketEncryptionCommand,
  GetBucketEncryptionCommand,
  HeadBucketCommand,
  PutBucketEncryptionCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestGateway, type BackendKind, type TestGateway } from '../support/gateway.js';
import { useMoto } from '../support/moto.js';
import { expectS3Error, uniqueBucket } from '../support/s3-expect.js';

const KMS_KEY = 'arn:aws:kms:us-east-1:123456789012:key/0b1e8f3c-0000-4000-8000-000000000001';
const PROXY = `      mode: aes256-gcm-proxy\n      key: "${randomBytes(32).toString('hex')}"\n      key_id: k1\n`;

interface Case {
  backend: BackendKind;
  encryption: string | undefined;
  /** What GetBucketEncryption answers: the default rule, or undefined for S3's not-found error. */
  rule?: { SSEAlgorithm: string; KMSMasterKeyID?: string; BucketKeyEnabled: boolean };
}

const CASES: [string, Case][] = [
  ['filesystem, none', { backend: 'filesystem', encryption: undefined }],
  ['filesystem, aes256-gcm-proxy', { backend: 'filesystem', encryption: PROXY, rule: aes256() }],
  ['s3, none', { backend: 's3', encryption: undefined }],
  ['s3, aes256-gcm-proxy', { backend: 's3', encryption: PROXY, rule: aes256() }],
  ['s3, sse-s3', { backend: 's3', encryption: '      mode: sse-s3\n', rule: aes256() }],
  [
    's3, sse-kms with Bucket Keys',
    {
      backend: 's3',
      encryption: `      mode: sse-kms\n      kms_key_id: ${KMS_KEY}\n      bucket_key_enabled: true\n`,
      rule: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: KMS_KEY, BucketKeyEnabled: true },
    },
  ],
];

function aes256(): Case['rule'] {
  return { SSEAlgorithm: 'AES256', BucketKeyEnabled: false };
}

const moto = useMoto();

describe.each(CASES)('bucket encryption (%s)', (_, { backend, encryption, rule }) => {
  let gateway: TestGateway;
  let s3: S3Client;
  let bucket: string;

  beforeAll(async () => {
    gateway = await startTestGateway({ backend, s3Endpoint: moto.endpoint, encryptionYaml: encryption });
    s3 = gateway.client();
    bucket = uniqueBucket();
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });
  afterAll(async () => {
    await gateway?.close();
  });

  it('reports the posture new objects get', async () => {
    const answer = s3.send(new GetBucketEncryptionCommand({ Bucket: bucket }));
    if (!rule) {
      await expectS3Error(answer, 'ServerSideEncryptionConfigurationNotFoundError', 404);
      return;
    }
    const { ServerSideEncryptionConfiguration: config } = await answer;
    expect(config?.Rules).toEqual([
      {
        ApplyServerSideEncryptionByDefault: {
          SSEAlgorithm: rule.SSEAlgorithm,
          ...(rule.KMSMasterKeyID && { KMSMasterKeyID: rule.KMSMasterKeyID }),
        },
        BucketKeyEnabled: rule.BucketKeyEnabled,
      },
    ]);
  });

  it('takes an AES256 default where the backend can honour AES256, refuses it elsewhere, and deletes it', async () => {
    const put = s3.send(
      new PutBucketEncryptionCommand({
        Bucket: bucket,
        ServerSideEncryptionConfiguration: {
          Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
      }),
    );
    if (rule?.SSEAlgorithm !== 'AES256') {
      // mode none and sse-kms take no AES256 writes unless on_request says how.
      await expectS3Error(put, 'InvalidArgument', 400);
      await expect(put).rejects.toThrow(/on_request\.aes256/);
    } else if (gateway.target === 'function-url') {
      // The emulator's function runs on the config it was deployed with: a read-only store says so.
      await expectS3Error(put, 'NotImplemented', 501);
      return;
    } else {
      await put;
      const { ServerSideEncryptionConfiguration: config } = await s3.send(
        new GetBucketEncryptionCommand({ Bucket: bucket }),
      );
      expect(config?.Rules?.[0]?.ApplyServerSideEncryptionByDefault).toEqual({ SSEAlgorithm: 'AES256' });
    }
    await s3.send(new DeleteBucketEncryptionCommand({ Bucket: bucket }));
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
  });

  it('answers NoSuchBucket for a bucket that does not exist', async () => {
    await expectS3Error(
      s3.send(new GetBucketEncryptionCommand({ Bucket: uniqueBucket() })),
      'NoSuchBucket',
      404,
    );
  });
});
