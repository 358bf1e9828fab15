/** Waiting on jobs through the admin API, and reading what a job left on the raw backend. */
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { expect } from 'vitest';

import type { Backend } from '../../functions/core/backend.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import {
  startLocalServer,
  type LocalServer,
  type LocalServerOptions,
} from '../../functions/handlers/local-server.js';
import { isFinished, type JobAnswer } from '../../functions/cli/job-progress.js';
import { admin, capturingLogger } from './admin.js';
import { registerConfigSecrets } from './leak-scan.js';
import { TEST_CREDENTIALS } from './gateway.js';

/** A job as the admin API answers it, with the fields the CLI reads typed and the rest open. */
export interface JobJson extends JobAnswer {
  [field: string]: unknown;
}

/** Polls the job until it has finished; fails after `ms`. */
export async function waitForJob(endpoint: string, id: string, ms = 60_000): Promise<JobJson> {
  const deadline = Date.now() + ms;
  for (;;) {
    const { status, json } = await admin(endpoint, 'GET', `jobs/${id}`);
    expect(status).toBe(200);
    const job = json as unknown as JobJson;
    if (isFinished(job)) return job;
    if (Date.now() > deadline)
      throw new Error(`job ${id} did not finish in ${ms} ms: ${JSON.stringify(job)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Starts re-encrypt jobs through the admin API; expects every bucket to start. */
export async function startReencrypt(
  endpoint: string,
  buckets: string[],
  strategy: 'full' | 'rewrap' = 'full',
): Promise<JobJson[]> {
  const { status, json } = await admin(endpoint, 'POST', 'jobs/reencrypt', { buckets, strategy });
  expect(json!.refused).toEqual([]);
  expect(status).toBe(202);
  return json!.jobs as JobJson[];
}

/** The stored bytes and internal markers of an object, read from the backend itself. */
export async function rawObject(
  backend: Backend,
  bucket: string,
  key: string,
): Promise<{ body: Buffer; internal: Record<string, string>; etag: string }> {
  const { info, body } = await backend.getObject(bucket, key);
  const pieces: Uint8Array[] = [];
  for await (const piece of body) pieces.push(piece);
  return { body: Buffer.concat(pieces), internal: info.metadata.internal, etag: info.etag };
}

/** The SSE-C headers of the one customer key the job suites use. */
export const CUSTOMER_KEY = Buffer.alloc(32, 0x4b);
export const SSE_C = {
  SSECustomerAlgorithm: 'AES256',
  SSECustomerKey: CUSTOMER_KEY.toString('base64'),
  SSECustomerKeyMD5: createHash('md5').update(CUSTOMER_KEY).digest('base64'),
};

/** What a suite wrote: the bytes and what S3 answered, to check every read against after each job. */
export interface Written {
  body: Buffer;
  etag: string;
  contentType?: string;
  metadata?: Record<string, string>;
  sseC?: boolean;
}

/** An S3 client for a gateway endpoint, with no retries (a 503 SlowDown is seen, not retried away). */
export function gatewayClient(endpoint: string): S3Client {
  return new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: TEST_CREDENTIALS,
    maxAttempts: 1,
  });
}

/** Writes random objects to one bucket and remembers each in `written`. */
export function objectWriter(client: () => S3Client, bucket: string, written: Map<string, Written>) {
  return {
    put: async (key: string, size: number, extra: Partial<Written> = {}): Promise<void> => {
      const body = randomBytes(size);
      const out = await client().send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: body,
          ContentType: extra.contentType,
          Metadata: extra.metadata,
          ...(extra.sseC && SSE_C),
        }),
      );
      written.set(key, { body, etag: out.ETag!, ...extra });
    },

    putMultipart: async (key: string, sizes: number[]): Promise<void> => {
      const s3 = client();
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
      const parts = [];
      const bodies = [];
      for (const [i, size] of sizes.entries()) {
        const body = randomBytes(size);
        bodies.push(body);
        const out = await s3.send(
          new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: i + 1, Body: body }),
        );
        parts.push({ PartNumber: i + 1, ETag: out.ETag });
      }
      const done = await s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          UploadId,
          MultipartUpload: { Parts: parts },
        }),
      );
      written.set(key, { body: Buffer.concat(bodies), etag: done.ETag! });
    },
  };
}

/** Every object reads with its bytes, ETag, content type and user metadata as written. */
export async function expectAllRead(
  client: S3Client,
  bucket: string,
  written: Map<string, Written>,
): Promise<void> {
  for (const [key, w] of written) {
    const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(w.sseC && SSE_C) }));
    const body = Buffer.from(await out.Body!.transformToByteArray());
    expect(body.equals(w.body), `${key}: same bytes`).toBe(true);
    expect(out.ETag, `${key}: same ETag`).toBe(w.etag);
    if (w.contentType) expect(out.ContentType).toBe(w.contentType);
    if (w.metadata) expect(out.Metadata).toEqual(w.metadata);
  }
}

/** The YAML lines of the admin credential every job suite signs with (its secret from `TEST_SECRET`). */
export const ADMIN_CREDENTIAL_YAML = [
  'credentials:',
  `  - access_key_id: ${TEST_CREDENTIALS.accessKeyId}`,
  '    secret_access_key: "${env:TEST_SECRET}"',
  '    admin: true',
];

/**
 * A local server for a job suite: on loopback, a free port, the data under `<dir>/data`, the config file
 * given, `TEST_SECRET` and `env` in its environment, quick retries of job tasks; `options` for the rest.
 */
export function startJobServer(
  dir: string,
  configFile: string,
  env: Record<string, string>,
  options: Partial<LocalServerOptions> = {},
): Promise<LocalServer> {
  registerConfigSecrets(readFileSync(configFile, 'utf8'));
  return startLocalServer({
    host: '127.0.0.1',
    port: 0,
    dataDir: join(dir, 'data'),
    configFile,
    env: { TEST_SECRET: TEST_CREDENTIALS.secretAccessKey, ...env },
    logger: capturingLogger().logger,
    ...options,
    jobRunner: { retryIntervalMs: 10, ...options.jobRunner },
  });
}

/**
 * The first write after a job ended, retried as an SDK retries SlowDown: an instance sees the lifted gate
 * on its next check of the store (at most 250 ms after a gated write, within the reload interval else).
 */
export async function writeAfterJob<T>(write: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (error) {
      if ((error as { Code?: string }).Code !== 'SlowDown' || attempt >= 20) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
