/**
 * aws-kms-envelope when KMS fails: a proxy in front of moto's KMS passes its calls, answers every one with
 * AccessDeniedException (a key policy or grant that no longer allows the gateway), or drops the
 * connection (KMS unreachable). Writes then fail with a clear error and store nothing; reads fail with a
 * clear error and never serve ciphertext; and nothing is ever written unencrypted as a fallback (the raw
 * backend is scanned for every body the test sent).
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { countingProxy } from '../support/counting-proxy.js';
import { createMotoKmsKey } from '../support/encryption-gateway.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { startMoto, type MotoServer } from '../support/moto.js';
import { rejectionOf } from '../support/s3-expect.js';

type KmsState = 'up' | 'denying' | 'down';

async function filesUnder(folder: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(folder, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) found.push(join(entry.parentPath, entry.name));
  }
  return found;
}

describe('aws-kms-envelope when KMS denies or is unreachable', () => {
  let moto: MotoServer;
  let proxy: Awaited<ReturnType<typeof countingProxy>>;
  let gateway: TestGateway;
  let s3: S3Client;
  let state: KmsState = 'up';
  const sent: Buffer[] = [];
  const stored = randomBytes(100_000);

  beforeAll(async () => {
    process.env.AWS_ACCESS_KEY_ID ??= 'testing';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'testing';
    moto = await startMoto();
    proxy = await countingProxy(moto.endpoint, {
      intercept: (_req, res) => {
        if (state === 'up') return false;
        if (state === 'down') {
          res.socket?.destroy();
          return true;
        }
        res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(
          JSON.stringify({ __type: 'AccessDeniedException', message: 'not allowed by the key policy' }),
        );
        return true;
      },
    });
    const keyArn = await createMotoKmsKey(moto);
    gateway = await startTestGateway({
      encryptionYaml: `      mode: aws-kms-envelope\n      kms_key_id: ${keyArn}\n      kms_endpoint: ${proxy.endpoint}\n`,
    });
    s3 = gateway.client();
    await s3.send(new CreateBucketCommand({ Bucket: 'sealed' }));
    sent.push(stored);
    await s3.send(new PutObjectCommand({ Bucket: 'sealed', Key: 'stored', Body: stored }));
  });
  afterAll(async () => {
    await gateway?.close();
    await proxy?.close();
    await moto?.stop();
  });

  it.each(['denying', 'down'] as const)('refuses a write while KMS is %s, storing nothing', async (kms) => {
    state = kms;
    try {
      const body = randomBytes(50_000);
      sent.push(body);
      const error = await rejectionOf(
        s3.send(new PutObjectCommand({ Bucket: 'sealed', Key: `new-${kms}`, Body: body })),
      );
      if (kms === 'denying') {
        expect(error.$metadata.httpStatusCode).toBe(403);
        expect(error.name).toBe('AccessDenied');
        expect(error.message).toMatch(/KMS/);
      } else {
        // Unreachable is the client's to retry: a 5xx, not a refusal.
        expect(error.$metadata.httpStatusCode).toBeGreaterThanOrEqual(500);
      }
    } finally {
      state = 'up';
    }
    const missing = await rejectionOf(
      s3.send(new HeadObjectCommand({ Bucket: 'sealed', Key: `new-${kms}` })),
    );
    expect(missing.$metadata.httpStatusCode).toBe(404);
  });

  it.each(['denying', 'down'] as const)('refuses a read while KMS is %s, serving no byte', async (kms) => {
    state = kms;
    try {
      const error = await rejectionOf(
        s3.send(new GetObjectCommand({ Bucket: 'sealed', Key: 'stored' })).then(async (out) => {
          // A success would have to carry the plaintext; anything else it carried is a failure of the test.
          const bytes = Buffer.from(await out.Body!.transformToByteArray());
          throw new Error(`the read succeeded with ${bytes.length} bytes while KMS was ${kms}`);
        }),
      );
      expect(error.$metadata.httpStatusCode).toBe(kms === 'denying' ? 403 : 500);
      if (kms === 'denying') expect(error.message).toMatch(/KMS/);
    } finally {
      state = 'up';
    }
    const out = await s3.send(new GetObjectCommand({ Bucket: 'sealed', Key: 'stored' }));
    expect(Buffer.from(await out.Body!.transformToByteArray()).equals(stored)).toBe(true);
  });

  it('never wrote a body it was sent in clear, nor any part of one', async () => {
    const files = await filesUnder(join(gateway.dataDir, 'store'));
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const bytes = await readFile(file);
      for (const body of sent) {
        // 32 bytes from the start and from the middle of every body: random, so found only if stored in clear.
        for (const at of [0, Math.floor(body.length / 2)]) {
          expect(bytes.includes(body.subarray(at, at + 32)), `${file} holds plaintext`).toBe(false);
        }
      }
    }
  });
});
