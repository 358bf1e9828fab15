/**
 * aws-cli's `s3 cp --sse AES256` and `--sse aws:kms --sse-kms-key-id` against a backend whose `on_request`
 * honours them (a managed key for AES256, envelope encryption under moto's KMS for aws:kms), through the
 * target SEALGATE_TEST_TARGET names: what aws-cli asked for is what HEAD reports, and the bytes come back.
 */
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createMotoKmsKey } from '../support/encryption-gateway.js';
import { defaultTarget, startTestGateway, TEST_CREDENTIALS, type TestGateway } from '../support/gateway.js';
import { startMoto, type MotoServer } from '../support/moto.js';
import { awsCliRunner } from './drivers/aws-cli.js';
import { sha256File, writeRandomFile } from './support/files.js';

describe('aws-cli --sse and --sse-kms-key-id', () => {
  let moto: MotoServer;
  let gateway: TestGateway;
  let workDir: string;
  let aws: (...args: string[]) => Promise<string>;
  let kmsKey: string;
  const bucket = 'cli-sse';
  // Above aws-cli's 8 MiB multipart threshold: CreateMultipartUpload carries the SSE headers. A function
  // URL cannot carry its parts (DESIGN.md section 3), so that size runs on the plain server only.
  const sizes = defaultTarget() === 'function-url' ? [100_000] : [100_000, 10 * 1024 * 1024];

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'sealgate-cli-sse-'));
    moto = await startMoto();
    process.env.AWS_ACCESS_KEY_ID ??= 'testing';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'testing';
    kmsKey = await createMotoKmsKey(moto);
    gateway = await startTestGateway({
      encryptionYaml:
        `      mode: none\n      key: "${'6f'.repeat(32)}"\n      key_id: cli-managed\n      kms_endpoint: ${moto.endpoint}\n` +
        `      on_request:\n        aes256: aes256-gcm-proxy\n        aws_kms: aws-kms-envelope\n` +
        `        kms_key_ids: ["${kmsKey}"]\n`,
    });
    aws = await awsCliRunner({
      endpoint: gateway.endpoint,
      accessKeyId: TEST_CREDENTIALS.accessKeyId,
      secretAccessKey: TEST_CREDENTIALS.secretAccessKey,
      workDir,
    });
    await aws('s3api', 'create-bucket', '--bucket', bucket);
  });
  afterAll(async () => {
    await gateway?.close();
    await moto?.stop();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  for (const size of sizes) {
    it(`stores a ${size}-byte file as --sse AES256 and as --sse aws:kms with the key asked for`, async () => {
      const file = join(workDir, `up-${size}`);
      const sha = await writeRandomFile(file, size);
      const s3 = gateway.client();
      await aws('s3', 'cp', file, `s3://${bucket}/aes-${size}`, '--sse', 'AES256');
      const aes = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: `aes-${size}` }));
      expect([aes.ServerSideEncryption, aes.ContentLength]).toEqual(['AES256', size]);

      await aws(
        's3',
        'cp',
        file,
        `s3://${bucket}/kms-${size}`,
        '--sse',
        'aws:kms',
        '--sse-kms-key-id',
        kmsKey,
      );
      const kms = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: `kms-${size}` }));
      expect([kms.ServerSideEncryption, kms.SSEKMSKeyId, kms.ContentLength]).toEqual([
        'aws:kms',
        kmsKey,
        size,
      ]);
      if (size > 8 * 1024 * 1024) expect(kms.ETag).toMatch(/-\d+"$/);

      for (const key of [`aes-${size}`, `kms-${size}`]) {
        const down = join(workDir, `down-${key}`);
        await aws('s3', 'cp', `s3://${bucket}/${key}`, down);
        expect(await sha256File(down)).toBe(sha);
      }
    });
  }

  it("fails with the gateway's reason when the key is not one the config allows", async () => {
    const file = join(workDir, 'small');
    await writeRandomFile(file, 10);
    await expect(
      aws(
        's3',
        'cp',
        file,
        `s3://${bucket}/other`,
        '--sse',
        'aws:kms',
        '--sse-kms-key-id',
        'alias/not-allowed',
      ),
    ).rejects.toThrow(/InvalidArgument/);
  });
});
