/**
 * aws-cli v2's s3api commands for the S3 calls the gateway answers on every bucket: ListObjectVersions,
 * GetObjectAttributes and GetBucketEncryption (aws-cli 2.9 does not page ListBuckets), against a bucket that encrypts with a proxy key
 * (so sizes shown must be plaintext sizes), through the target SEALGATE_TEST_TARGET names.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestGateway, TEST_CREDENTIALS, type TestGateway } from '../support/gateway.js';
import { awsCliRunner } from './drivers/aws-cli.js';

const PROXY_YAML = `      mode: aes256-gcm-proxy\n      key: "${randomBytes(32).toString('hex')}"\n      key_id: k1\n`;

describe('aws-cli s3api on an encrypting bucket', () => {
  let gateway: TestGateway;
  let workDir: string;
  let aws: (...args: string[]) => Promise<string>;
  const bucket = `cli-${randomBytes(4).toString('hex')}`;
  const json = async (...args: string[]) =>
    JSON.parse(await aws(...args, '--output', 'json')) as Record<string, unknown>;

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'sealgate-s3api-'));
    gateway = await startTestGateway({ encryptionYaml: PROXY_YAML });
    aws = await awsCliRunner({
      endpoint: gateway.endpoint,
      accessKeyId: TEST_CREDENTIALS.accessKeyId,
      secretAccessKey: TEST_CREDENTIALS.secretAccessKey,
      workDir,
    });
    await aws('s3api', 'create-bucket', '--bucket', bucket);
    for (const [key, size] of [
      ['a/1', 10],
      ['a/2', 20],
      ['b', 30],
    ] as const) {
      const file = join(workDir, `body-${size}`);
      await writeFile(file, randomBytes(size));
      await aws('s3api', 'put-object', '--bucket', bucket, '--key', key, '--body', file);
    }
  });
  afterAll(async () => {
    await gateway?.close();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('lists every object as its null version with its plaintext size (list-object-versions)', async () => {
    const out = await json('s3api', 'list-object-versions', '--bucket', bucket);
    const versions = out.Versions as { Key: string; VersionId: string; IsLatest: boolean; Size: number }[];
    expect(versions.map((v) => [v.Key, v.VersionId, v.IsLatest, v.Size])).toEqual([
      ['a/1', 'null', true, 10],
      ['a/2', 'null', true, 20],
      ['b', 'null', true, 30],
    ]);
  });

  it('pages versions as aws-cli pages them, one key a page', async () => {
    const out = await json('s3api', 'list-object-versions', '--bucket', bucket, '--page-size', '1');
    expect((out.Versions as { Key: string }[]).map((v) => v.Key)).toEqual(['a/1', 'a/2', 'b']);
  });

  it('answers get-object-attributes with the size and ETag a client sees', async () => {
    const head = await json('s3api', 'head-object', '--bucket', bucket, '--key', 'b');
    const out = await json(
      's3api',
      'get-object-attributes',
      '--bucket',
      bucket,
      '--key',
      'b',
      '--object-attributes',
      'ETag',
      'ObjectSize',
      'StorageClass',
    );
    expect(out).toMatchObject({
      ObjectSize: 30,
      StorageClass: 'STANDARD',
      ETag: String(head.ETag).replace(/"/g, ''),
    });
  });

  it("reports the backend's mode as the bucket's default encryption (get-bucket-encryption)", async () => {
    const out = await json('s3api', 'get-bucket-encryption', '--bucket', bucket);
    expect(out.ServerSideEncryptionConfiguration).toEqual({
      Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' }, BucketKeyEnabled: false }],
    });
  });
});
