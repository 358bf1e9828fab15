/**
 * Migrate jobs on the local server: a bucket moves between backends of different modes (proxy key A, proxy
 * key B, in clear) through copy, verify, flip and, when asked, cleanup; before the flip the source stays
 * authoritative and untouched, and a cancel leaves everything as it was; after the flip a cancel is
 * refused. Bad requests get a clear refusal and change nothing.
 */
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { FilesystemBackend } from '../../functions/adapters/filesystem-backend.js';
import type { LocalServer } from '../../functions/handlers/local-server.js';
import { admin } from '../support/admin.js';
import { TEST_CREDENTIALS } from '../support/gateway.js';
import { rawObject, startJobServer, waitForJob, writeAfterJob, type JobJson } from '../support/jobs.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';

const KEYS = { A: '3c'.repeat(32), B: '5d'.repeat(32) };
const CUSTOMER_KEY = Buffer.alloc(32, 0x4b);
const SSE_C = {
  SSECustomerAlgorithm: 'AES256',
  SSECustomerKey: CUSTOMER_KEY.toString('base64'),
  SSECustomerKeyMD5: createHash('md5').update(CUSTOMER_KEY).digest('base64'),
};
const MIB = 1024 * 1024;

const CONFIG = [
  'backends:',
  '  - name: main',
  '    type: filesystem',
  '    path: ./main',
  '    encryption: { mode: aes256-gcm-proxy, key: "${env:KEY_A}", key_id: key-a }',
  '  - name: sealed',
  '    type: filesystem',
  '    path: ./sealed',
  '    encryption: { mode: aes256-gcm-proxy, key: "${env:KEY_B}", key_id: key-b }',
  '  - name: clear',
  '    type: filesystem',
  '    path: ./clear',
  'default_backend: main',
  'credentials:',
  `  - access_key_id: ${TEST_CREDENTIALS.accessKeyId}`,
  '    secret_access_key: "${env:TEST_SECRET}"',
  '    admin: true',
  '',
].join('\n');

interface Written {
  body: Buffer;
  etag: string;
  sseC?: boolean;
}

// The local server runs in this process whatever SEALGATE_TEST_TARGET says: the function URL pass would
// run the same thing again.
describe.skipIf(process.env.SEALGATE_TEST_TARGET === 'function-url')(
  'migrate jobs on the local server',
  () => {
    let dir: TempDir;
    let server: LocalServer;
    let client: S3Client;
    const written = new Map<string, Written>();
    /** Set by a test to hold page tasks (of the job it names, once `when` holds) until it lets them go. */
    let hold: { when: () => Promise<boolean>; until: Promise<void> } | undefined;

    const backend = (name: string) => new FilesystemBackend({ name, root: join(dir.path, name) });

    async function migrate(body: Record<string, unknown>, bucket = 'photos') {
      return admin(server.endpoint, 'POST', `buckets/${bucket}/migrate`, body);
    }

    async function route(): Promise<unknown> {
      const { json } = await admin(server.endpoint, 'GET', 'buckets/photos/settings');
      return json?.route ?? null;
    }

    async function expectAllRead(): Promise<void> {
      for (const [key, w] of written) {
        const out = await client.send(
          new GetObjectCommand({ Bucket: 'photos', Key: key, ...(w.sseC && SSE_C) }),
        );
        expect(Buffer.from(await out.Body!.transformToByteArray()).equals(w.body), `${key}: same bytes`).toBe(
          true,
        );
        expect(out.ETag, `${key}: same ETag`).toBe(w.etag);
      }
    }

    beforeAll(async () => {
      dir = await makeTempDir('sealgate-migrate-');
      const configFile = join(dir.path, 'sealgate.yaml');
      writeFileSync(configFile, CONFIG);
      server = await startJobServer(
        dir.path,
        configFile,
        {
          KEY_A: KEYS.A,
          KEY_B: KEYS.B,
          SEALGATE_JOB_PAGE_SIZE: '2',
          SEALGATE_JOB_WRITE_BOUND_MS: '100',
        },
        {
          reloadIntervalMs: 100,
          jobRunner: {
            beforeTask: async (event) => {
              if (event.task === 'page' && hold && (await hold.when())) await hold.until;
            },
          },
        },
      );
      client = new S3Client({
        endpoint: server.endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: TEST_CREDENTIALS,
        maxAttempts: 1,
      });
      await client.send(new CreateBucketCommand({ Bucket: 'photos' }));
      for (const [key, size] of [
        ['one', 1],
        ['empty', 0],
        ['chunks', 200_000],
      ] as const) {
        const body = randomBytes(size);
        const out = await client.send(
          new PutObjectCommand({ Bucket: 'photos', Key: key, Body: body, Metadata: { source: 'test' } }),
        );
        written.set(key, { body, etag: out.ETag! });
      }
      const body = randomBytes(3000);
      const out = await client.send(
        new PutObjectCommand({ Bucket: 'photos', Key: 'customer', Body: body, ...SSE_C }),
      );
      written.set('customer', { body, etag: out.ETag!, sseC: true });
      const { UploadId } = await client.send(
        new CreateMultipartUploadCommand({ Bucket: 'photos', Key: 'parts' }),
      );
      const bodies = [randomBytes(5 * MIB), randomBytes(10)];
      const parts = [];
      for (const [i, part] of bodies.entries()) {
        const up = await client.send(
          new UploadPartCommand({ Bucket: 'photos', Key: 'parts', UploadId, PartNumber: i + 1, Body: part }),
        );
        parts.push({ PartNumber: i + 1, ETag: up.ETag });
      }
      const done = await client.send(
        new CompleteMultipartUploadCommand({
          Bucket: 'photos',
          Key: 'parts',
          UploadId,
          MultipartUpload: { Parts: parts },
        }),
      );
      written.set('parts', { body: Buffer.concat(bodies), etag: done.ETag! });
    });

    afterAll(async () => {
      client?.destroy();
      await server?.close();
      await dir?.cleanup();
    });

    it('refuses what it cannot do, with the reason, and starts nothing', async () => {
      const unknown = await migrate({ target_backend: 'nowhere' });
      expect(unknown.status).toBe(400);
      expect((unknown.json!.error as { message: string }).message).toContain('no backend "nowhere"');
      const same = await migrate({ target_backend: 'main' });
      expect(same.status).toBe(400);
      expect(same.text).toContain('already');
      await backend('clear').createBucket('occupied');
      await backend('clear').putObject(
        'occupied',
        'x',
        (async function* () {
          yield Buffer.from('x');
        })(),
        1,
        { headers: {}, user: {}, internal: {} },
      );
      const occupied = await migrate({ target_backend: 'clear', target_bucket: 'occupied' });
      expect(occupied.status).toBe(400);
      expect(occupied.text).toContain('holds objects already');
      expect(
        (await admin(server.endpoint, 'POST', 'buckets/nope/migrate', { target_backend: 'clear' })).status,
      ).toBe(400);
      expect((await admin(server.endpoint, 'GET', 'jobs')).json!.jobs).toEqual([]);
      expect(await route()).toBeNull();
    });

    it('moves the bucket from proxy key A to proxy key B: copy, verify, flip; the source is kept', async () => {
      const start = await migrate({ target_backend: 'sealed' });
      expect(start.status, start.text).toBe(202);
      const job = start.json as unknown as JobJson;
      expect(job).toMatchObject({
        kind: 'migrate',
        target_backend: 'sealed',
        source_backend: 'main',
        target_bucket: 'photos',
      });
      const done = await waitForJob(server.endpoint, job.id);
      expect(done.status).toBe('succeeded');
      expect(done.counters).toMatchObject({
        objects: written.size,
        rewritten: written.size,
        failed: 0,
        verified: written.size,
      });
      expect(await route()).toEqual({ backend: 'sealed', backend_bucket: 'photos' });
      for (const key of written.keys()) {
        const target = await rawObject(backend('sealed'), 'photos', key);
        const source = await rawObject(backend('main'), 'photos', key);
        if (key === 'customer') {
          expect(target.body.equals(source.body)).toBe(true);
          expect(target.internal.enc).toBe('sse-c');
        } else {
          expect(target.internal['key-id'], key).toBe('key-b');
          expect(source.internal['key-id'], `${key} stays on the source`).toBe('key-a');
        }
      }
      await expectAllRead();
    });

    it('cancels before the flip: the route stays, the source stays authoritative', async () => {
      let release!: () => void;
      hold = { when: async () => true, until: new Promise((resolve) => (release = resolve)) };
      try {
        const start = await migrate({ target_backend: 'clear' });
        expect(start.status, start.text).toBe(202);
        const id = (start.json as unknown as JobJson).id;
        // Writes wait while it runs; reads pass.
        const write = await client
          .send(new PutObjectCommand({ Bucket: 'photos', Key: 'one', Body: 'x' }))
          .catch((e: { Code?: string }) => e);
        expect((write as { Code?: string }).Code).toBe('SlowDown');
        expect((await admin(server.endpoint, 'POST', `jobs/${id}/cancel`)).status).toBe(202);
        release();
        expect((await waitForJob(server.endpoint, id)).status).toBe('cancelled');
      } finally {
        hold = undefined;
        release();
      }
      expect(await route()).toEqual({ backend: 'sealed', backend_bucket: 'photos' });
      await expectAllRead();
    });

    it('moves into clear storage and deletes the source; a cancel after the flip is refused', async () => {
      let release!: () => void;
      let jobId = '';
      hold = {
        when: async () => jobId !== '' && (await server.jobs.job(jobId)).flippedAt !== undefined,
        until: new Promise((resolve) => (release = resolve)),
      };
      try {
        const start = await migrate({
          target_backend: 'clear',
          target_bucket: 'photos-in-clear',
          delete_source: true,
        });
        expect(start.status, start.text).toBe(202);
        jobId = (start.json as unknown as JobJson).id;
        for (let i = 0; i < 200 && (await server.jobs.job(jobId)).flippedAt === undefined; i++) {
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
        const refused = await admin(server.endpoint, 'POST', `jobs/${jobId}/cancel`);
        expect(refused.status).toBe(400);
        expect(refused.text).toContain('only before its flip');
        release();
        const done = await waitForJob(server.endpoint, jobId);
        expect(done.status).toBe('succeeded');
        expect(done.counters).toMatchObject({ verified: written.size, deleted: written.size });
      } finally {
        hold = undefined;
        release();
      }
      expect(await route()).toEqual({ backend: 'clear', backend_bucket: 'photos-in-clear' });
      expect((await backend('sealed').listObjects('photos', { prefix: '', maxKeys: 10 })).objects).toEqual(
        [],
      );
      for (const [key, w] of written) {
        const stored = await rawObject(backend('clear'), 'photos-in-clear', key);
        if (!w.sseC) expect(stored.body.equals(w.body), `${key}: in clear`).toBe(true);
      }
      await expectAllRead();
      await writeAfterJob(() =>
        client.send(new PutObjectCommand({ Bucket: 'photos', Key: 'after', Body: 'written after the move' })),
      );
      expect((await rawObject(backend('clear'), 'photos-in-clear', 'after')).body.toString()).toBe(
        'written after the move',
      );
    });
  },
);
