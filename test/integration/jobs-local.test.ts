/**
 * Re-encrypt jobs on the local server (file store, filesystem backend), run by the in-process runner on
 * the state machine definition the stack deploys: the key-rotation procedure end to end (write under
 * key A, rotate to B with A as legacy, re-encrypt, remove A), `rewrap` that moves no data, decryption
 * under `mode: none`, the write gate, cancel, crashes at every step of a page, and a restart mid-job.
 */
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { FileConfigStore } from '../../functions/adapters/file-config-store.js';
import { METRIC, useMetricsSink } from '../../functions/core/metrics.js';
import { FilesystemBackend } from '../../functions/adapters/filesystem-backend.js';
import {
  startLocalServer,
  type LocalServer,
  type LocalServerOptions,
} from '../../functions/handlers/local-server.js';
import { admin, capturingLogger } from '../support/admin.js';
import { TEST_CREDENTIALS } from '../support/gateway.js';
import {
  expectAllRead as expectAllReadOf,
  gatewayClient,
  objectWriter,
  rawObject,
  startReencrypt,
  waitForJob,
  writeAfterJob,
  type Written,
} from '../support/jobs.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';

const KEYS = { A: '3c'.repeat(32), B: '5d'.repeat(32), C: '7e'.repeat(32) };
const MIB = 1024 * 1024;

type KeyName = keyof typeof KEYS;

/** The config: one filesystem backend, `main`, in mode none or proxy under `key` with `legacy`. */
function configYaml(encryption: { key?: KeyName; legacy?: KeyName } = {}): string {
  const lines = ['backends:', '  - name: main', '    type: filesystem', '    path: ./store'];
  if (!encryption.key && encryption.legacy) {
    const legacy = encryption.legacy;
    lines.push(
      '    encryption:',
      '      mode: none',
      `      legacy_key: "\${env:KEY_${legacy}}"`,
      `      legacy_key_id: key-${legacy.toLowerCase()}`,
    );
  }
  if (encryption.key) {
    lines.push(
      '    encryption:',
      '      mode: aes256-gcm-proxy',
      `      key: "\${env:KEY_${encryption.key}}"`,
      `      key_id: key-${encryption.key.toLowerCase()}`,
    );
    if (encryption.legacy) {
      lines.push(
        `      legacy_key: "\${env:KEY_${encryption.legacy}}"`,
        `      legacy_key_id: key-${encryption.legacy.toLowerCase()}`,
      );
    }
  }
  lines.push(
    'default_backend: main',
    'credentials:',
    `  - access_key_id: ${TEST_CREDENTIALS.accessKeyId}`,
    '    secret_access_key: "${env:TEST_SECRET}"',
    '    admin: true',
  );
  return lines.join('\n') + '\n';
}

// The local server runs in this process whatever SEALGATE_TEST_TARGET says: the function URL pass would
// run the same thing again.
describe.skipIf(process.env.SEALGATE_TEST_TARGET === 'function-url')(
  're-encrypt jobs on the local server',
  () => {
    let dir: TempDir;
    let server: LocalServer;
    let client: S3Client;
    let raw: FilesystemBackend;
    let configFile: string;
    const log = capturingLogger();
    const written = new Map<string, Written>();
    /** Set by a test to hold page tasks until it lets them go. */
    let pageGate: Promise<void> | undefined;
    /** Set by a test to crash a job page at a step. */
    let crashAt: ((step: string, key?: string) => boolean) | undefined;

    const options = (): LocalServerOptions => ({
      host: '127.0.0.1',
      port: 0,
      dataDir: join(dir.path, 'data'),
      configFile,
      env: {
        TEST_SECRET: TEST_CREDENTIALS.secretAccessKey,
        KEY_A: KEYS.A,
        KEY_B: KEYS.B,
        KEY_C: KEYS.C,
        SEALGATE_JOB_PAGE_SIZE: '4',
        SEALGATE_JOB_WRITE_BOUND_MS: '200',
      },
      reloadIntervalMs: 100,
      logger: log.logger,
      jobRunner: {
        retryIntervalMs: 10,
        beforeTask: async (event) => {
          if (event.task === 'page' && pageGate) await pageGate;
        },
      },
      onJobStep: (step, _jobId, key) => {
        if (crashAt?.(step, key)) throw new Error(`injected crash at ${step}${key ? ` (${key})` : ''}`);
      },
    });

    async function start(): Promise<void> {
      server = await startLocalServer(options());
      client?.destroy();
      client = gatewayClient(server.endpoint);
    }

    async function configure(encryption: Parameters<typeof configYaml>[0]): Promise<void> {
      writeFileSync(configFile, configYaml(encryption));
      await server.reload();
      const { json } = await admin(server.endpoint, 'GET', 'config');
      expect((json!.reload as { last_error: unknown }).last_error).toBeNull();
    }

    const writer = objectWriter(() => client, 'photos', written);
    const { put, putMultipart } = writer;
    const expectAllRead = () => expectAllReadOf(client, 'photos', written);

    async function markers(key: string): Promise<Record<string, string>> {
      return (await raw.headObject('photos', key)).metadata.internal;
    }

    beforeAll(async () => {
      dir = await makeTempDir('sealgate-jobs-');
      configFile = join(dir.path, 'sealgate.yaml');
      writeFileSync(configFile, configYaml());
      await start();
      raw = new FilesystemBackend({ name: 'raw', root: join(dir.path, 'store') });
      await client.send(new CreateBucketCommand({ Bucket: 'photos' }));
      // In clear, then under key A.
      await put('plain/empty', 0);
      await put('plain/small', 10, { contentType: 'text/plain', metadata: { colour: 'blue' } });
      await put('plain/chunks', 70_000);
      await putMultipart('plain/multipart', [5 * MIB, 1000]);
      await configure({ key: 'A' });
      await put('a/one', 1);
      await put('a/chunk', 65_536, { contentType: 'image/png', metadata: { camera: 'x100' } });
      await put('a/large', 300_000);
      await putMultipart('a/multipart', [5 * MIB, 5 * MIB, 100]);
      await put('customer/secret', 5000, { sseC: true });
    });

    afterAll(async () => {
      client?.destroy();
      await server?.close();
      await dir?.cleanup();
    });

    it('rotates key A to B: re-encrypt, then A is removed, and everything still reads as written', async () => {
      await configure({ key: 'B', legacy: 'A' });
      const [job] = await startReencrypt(server.endpoint, ['photos']);
      expect(job).toMatchObject({ bucket: 'photos', kind: 'reencrypt', strategy: 'full' });
      const done = await waitForJob(server.endpoint, job.id);
      expect(done.status).toBe('succeeded');
      expect(done.counters).toEqual({
        objects: written.size,
        bytes: [...written.values()].reduce((sum, w) => sum + w.body.length, 0),
        rewritten: written.size - 1,
        skipped: 1,
        failed: 0,
        total: written.size,
      });
      // 9 keys in pages of 4: three pages, then the sweep's three.
      expect(done.pages).toBe(6);
      for (const key of written.keys()) {
        const m = await markers(key);
        if (key === 'customer/secret') expect(m.enc).toBe('sse-c');
        else expect(m, key).toMatchObject({ enc: 'aes256-gcm-proxy', 'key-id': 'key-b', job: job.id });
      }
      const { json: failures } = await admin(server.endpoint, 'GET', `jobs/${job.id}/failures`);
      expect(failures!.problems).toEqual([
        expect.objectContaining({
          key: 'customer/secret',
          outcome: 'skipped',
          reason: expect.stringContaining('SSE-C') as unknown,
        }),
      ]);
      // The gate is lifted with the job.
      const { json: settings } = await admin(server.endpoint, 'GET', 'buckets/photos/settings');
      expect(settings!.write_gate).toBeNull();
      await configure({ key: 'B' });
      await expectAllRead();
    });

    it('rewraps under key C without moving data: the stored bytes stay, only the key id changes', async () => {
      await configure({ key: 'C', legacy: 'B' });
      const before = new Map<string, Buffer>();
      for (const key of written.keys()) before.set(key, (await rawObject(raw, 'photos', key)).body);
      const [job] = await startReencrypt(server.endpoint, ['photos'], 'rewrap');
      const done = await waitForJob(server.endpoint, job.id);
      expect(done).toMatchObject({
        status: 'succeeded',
        counters: { rewritten: written.size - 1, skipped: 1 },
      });
      for (const key of written.keys()) {
        const after = await rawObject(raw, 'photos', key);
        expect(after.body.equals(before.get(key)!), `${key}: ciphertext unchanged`).toBe(true);
        if (key !== 'customer/secret') expect(after.internal['key-id']).toBe('key-c');
      }
      await configure({ key: 'C' });
      await expectAllRead();
    });

    it('decrypts every object under mode none: the raw backend then holds the plaintext', async () => {
      await configure({ legacy: 'C' });
      const [job] = await startReencrypt(server.endpoint, ['photos']);
      const done = await waitForJob(server.endpoint, job.id);
      const { json: problems } = await admin(server.endpoint, 'GET', `jobs/${job.id}/failures`);
      expect(done.status, JSON.stringify(problems)).toBe('succeeded');
      for (const [key, w] of written) {
        if (w.sseC) continue;
        const stored = await rawObject(raw, 'photos', key);
        expect(stored.internal.enc, key).toBeUndefined();
        expect(stored.body.equals(w.body), `${key}: stored in clear`).toBe(true);
      }
      await expectAllRead();
    });

    it('holds the write gate while the job runs: writes get 503 SlowDown with Retry-After, reads pass', async () => {
      await configure({ key: 'A' });
      let release!: () => void;
      pageGate = new Promise((resolve) => (release = resolve));
      try {
        const [job] = await startReencrypt(server.endpoint, ['photos']);
        let rejections = 0;
        useMetricsSink({
          add: (name, _unit, value) => void (name === METRIC.writeGateRejections && (rejections += value)),
        });
        const refused = await client
          .send(new PutObjectCommand({ Bucket: 'photos', Key: 'late', Body: 'x' }))
          .then(
            () => undefined,
            (error: {
              Code: string;
              $metadata: { httpStatusCode: number };
              $response?: { headers: Record<string, string> };
            }) => error,
          );
        expect(refused?.Code).toBe('SlowDown');
        expect(refused?.$metadata.httpStatusCode).toBe(503);
        expect(refused?.$response?.headers['retry-after']).toBe('5');
        const deleted = await client
          .send(new DeleteObjectCommand({ Bucket: 'photos', Key: 'a/one' }))
          .catch((e: Error) => e);
        expect((deleted as { Code?: string }).Code).toBe('SlowDown');
        await client.send(new HeadObjectCommand({ Bucket: 'photos', Key: 'a/one' }));
        useMetricsSink(undefined);
        expect(rejections, 'each refused write is counted in the metrics').toBe(2);
        // A second job on the bucket is refused, naming the first.
        const second = await admin(server.endpoint, 'POST', 'jobs/reencrypt', {
          buckets: ['photos', 'nope'],
        });
        expect(second.status).toBe(409);
        expect(second.json!.refused).toEqual([
          expect.objectContaining({ bucket: 'photos', code: 'BucketBusy', job_id: job.id }),
          expect.objectContaining({ bucket: 'nope', code: 'NoSuchBucket' }),
        ]);
        // Nor does the bucket's route change under it.
        const { json: settings } = await admin(server.endpoint, 'GET', 'buckets/photos/settings');
        const moved = await admin(server.endpoint, 'PUT', 'buckets/photos/settings', {
          route: { backend: 'main', backend_bucket: 'elsewhere' },
          revision: settings!.revision,
        });
        expect(moved.status).toBe(409);
        expect(moved.json!.error).toMatchObject({ code: 'BucketBusy', job_id: job.id });
        release();
        expect((await waitForJob(server.endpoint, job.id)).status).toBe('succeeded');
        await writeAfterJob(() =>
          client.send(new PutObjectCommand({ Bucket: 'photos', Key: 'late', Body: 'x' })),
        );
        await client.send(new DeleteObjectCommand({ Bucket: 'photos', Key: 'late' }));
      } finally {
        pageGate = undefined;
        release();
      }
      await expectAllRead();
    });

    it('cancels a running job: it ends cancelled, lifts the gate, and what it rewrote reads the same', async () => {
      await configure({ key: 'B', legacy: 'A' });
      let release!: () => void;
      pageGate = new Promise((resolve) => (release = resolve));
      try {
        const [job] = await startReencrypt(server.endpoint, ['photos']);
        const cancel = await admin(server.endpoint, 'POST', `jobs/${job.id}/cancel`);
        expect(cancel.status).toBe(202);
        expect(cancel.json).toMatchObject({ status: 'cancelling', cancel_requested: true });
        release();
        const done = await waitForJob(server.endpoint, job.id);
        expect(done.status).toBe('cancelled');
        const again = await admin(server.endpoint, 'POST', `jobs/${job.id}/cancel`);
        expect(again.status).toBe(400);
        await writeAfterJob(() =>
          client.send(new PutObjectCommand({ Bucket: 'photos', Key: 'after-cancel', Body: 'x' })),
        );
        await client.send(new DeleteObjectCommand({ Bucket: 'photos', Key: 'after-cancel' }));
      } finally {
        pageGate = undefined;
        release();
      }
      await expectAllRead();
      // A new job finishes what the cancelled one left.
      const [rest] = await startReencrypt(server.endpoint, ['photos']);
      expect((await waitForJob(server.endpoint, rest.id)).status).toBe('succeeded');
    });

    it.each([
      ['after the listing', (step: string) => step === 'listed'],
      [
        'after an object was rewritten',
        (step: string, key?: string) => step === 'rewrote' && key === 'a/large',
      ],
      ['after the commit', (step: string) => step === 'committed'],
    ])('resumes a page that crashed %s: nothing lost, nothing counted twice', async (_, at) => {
      await configure({ key: 'C', legacy: 'B' });
      let crashes = 0;
      crashAt = (step, key) => {
        if (crashes < 2 && at(step, key)) {
          crashes++;
          return true;
        }
        return false;
      };
      try {
        const [job] = await startReencrypt(server.endpoint, ['photos']);
        const done = await waitForJob(server.endpoint, job.id);
        expect(crashes).toBe(2);
        const { json: problems } = await admin(server.endpoint, 'GET', `jobs/${job.id}/failures`);
        expect(done.status, JSON.stringify(problems)).toBe('succeeded');
        expect(done.counters).toMatchObject({
          objects: written.size,
          rewritten: written.size - 1,
          skipped: 1,
          failed: 0,
        });
        for (const key of written.keys()) {
          if (key !== 'customer/secret') expect((await markers(key))['key-id'], key).toBe('key-c');
        }
      } finally {
        crashAt = undefined;
      }
      // Back to B for the next case, so each one rewrites every object again.
      await configure({ key: 'B', legacy: 'C' });
      const [back] = await startReencrypt(server.endpoint, ['photos'], 'rewrap');
      expect((await waitForJob(server.endpoint, back.id)).status).toBe('succeeded');
      await expectAllRead();
    });

    it('fails a job whose page keeps failing once its retries are spent: the reason kept, the gate lifted', async () => {
      await configure({ key: 'B', legacy: 'A' });
      crashAt = (step) => step === 'listed';
      try {
        const [job] = await startReencrypt(server.endpoint, ['photos']);
        const done = await waitForJob(server.endpoint, job.id);
        expect(done.status).toBe('failed');
        expect(done.error).toContain('injected crash at listed');
      } finally {
        crashAt = undefined;
      }
      await writeAfterJob(() =>
        client.send(new PutObjectCommand({ Bucket: 'photos', Key: 'after-failure', Body: 'x' })),
      );
      await client.send(new DeleteObjectCommand({ Bucket: 'photos', Key: 'after-failure' }));
      // Nothing was rewritten: a new job does it all.
      const [again] = await startReencrypt(server.endpoint, ['photos']);
      expect((await waitForJob(server.endpoint, again.id)).status).toBe('succeeded');
      await expectAllRead();
    });

    it('goes on from its cursor after the server stops mid-job', async () => {
      await configure({ key: 'A', legacy: 'B' });
      let firstCommit!: () => void;
      const committed = new Promise<void>((resolve) => (firstCommit = resolve));
      crashAt = (step) => {
        if (step === 'committed' && !pageGate) {
          // Hold every later page: the server stops with the job between pages.
          pageGate = new Promise(() => undefined);
          firstCommit();
        }
        return false;
      };
      const [job] = await startReencrypt(server.endpoint, ['photos']);
      await committed;
      crashAt = undefined;
      await server.close();
      pageGate = undefined;
      const store = new FileConfigStore({ file: configFile, stateDir: join(dir.path, 'data', '.sealgate') });
      const stopped = await store.job(job.id);
      expect(stopped, JSON.stringify(stopped)).toMatchObject({
        status: 'running',
        pages: 1,
        counters: { objects: 4 },
      });
      await start();
      const done = await waitForJob(server.endpoint, job.id);
      expect(done.status).toBe('succeeded');
      expect(done.counters).toMatchObject({ objects: written.size, rewritten: written.size - 1, skipped: 1 });
      await configure({ key: 'A' });
      await expectAllRead();
    });
  },
);
