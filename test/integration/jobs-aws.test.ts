/**
 * Re-encrypt jobs as they run on AWS, here: the state machine definition extracted from the synthesized
 * stack, run by aws-local-stepfunctions with the real task code, against moto's S3, DynamoDB (the config
 * table, holding the job records and gates) and KMS. One bucket moves through every form: in clear, SSE-S3,
 * the proxy key A (with multipart and SSE-C objects), key B with A as legacy, KMS envelope, SSE-KMS and back
 * to a proxy key; each step is one job, and after each every object reads as written. Two gateway
 * instances share the table; writes racing a job's start on both must never land under the old settings.
 */
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createConfigTable } from '../../functions/adapters/dynamodb-config-table.js';
import { startLocalServer, type LocalServer } from '../../functions/handlers/local-server.js';
import { synth, synthesizedJobDefinition } from '../cdk/synth.js';
import { admin, capturingLogger } from '../support/admin.js';
import { TEST_CREDENTIALS } from '../support/gateway.js';
import {
  expectAllRead as expectAllReadOf,
  gatewayClient,
  objectWriter,
  startReencrypt,
  waitForJob,
  type Written,
} from '../support/jobs.js';
import { startMoto, type MotoServer } from '../support/moto.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';

const AWS = { region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
const KEYS = { A: '3c'.repeat(32), B: '5d'.repeat(32), C: '7e'.repeat(32) };
const MIB = 1024 * 1024;
const RELOAD_MS = 1000;

/** The stack the state machine definition is extracted from (its own config does not matter here). */
const STACK_CONFIG = `
backends:
  - name: aws
    type: s3
    region: us-east-1
default_backend: aws
buckets:
  - name: mixed
    backend: aws
credentials:
  - access_key_id: ${TEST_CREDENTIALS.accessKeyId}
    secret_access_key: \${secretsmanager:sealgate/admin}
    admin: true
`;

type Encryption = Record<string, unknown>;

// The local server runs in this process whatever SEALGATE_TEST_TARGET says: the function URL pass would
// run the same thing again.
describe.skipIf(process.env.SEALGATE_TEST_TARGET === 'function-url')(
  're-encrypt jobs on the synthesized state machine, against moto (S3, DynamoDB, KMS)',
  () => {
    let moto: MotoServer;
    let dir: TempDir;
    let a: LocalServer;
    let b: LocalServer;
    let raw: S3Client;
    let kmsKeys: string[];
    const clients: S3Client[] = [];
    const written = new Map<string, Written>();

    function document(encryption: Encryption): Record<string, unknown> {
      return {
        backends: [
          {
            name: 'aws',
            type: 's3',
            endpoint: moto.endpoint,
            region: 'us-east-1',
            access_key_id: 'testing',
            secret_access_key: '${env:MOTO_SECRET}',
            force_path_style: true,
            encryption: { ...encryption, kms_endpoint: moto.endpoint },
          },
          {
            name: 'vault',
            type: 's3',
            endpoint: moto.endpoint,
            region: 'us-east-1',
            access_key_id: 'testing',
            secret_access_key: '${env:MOTO_SECRET}',
            force_path_style: true,
            encryption: { mode: 'aws-kms-envelope', kms_key_id: kmsKeys[1], kms_endpoint: moto.endpoint },
          },
        ],
        default_backend: 'aws',
        buckets: [
          { name: 'mixed', backend: 'aws', backend_bucket: 'raw-mixed' },
          { name: 'race', backend: 'aws', backend_bucket: 'raw-race' },
        ],
        credentials: [
          {
            access_key_id: TEST_CREDENTIALS.accessKeyId,
            secret_access_key: '${env:TEST_SECRET}',
            admin: true,
          },
        ],
      };
    }

    const proxy = (key: keyof typeof KEYS, legacy?: keyof typeof KEYS): Encryption => ({
      mode: 'aes256-gcm-proxy',
      key: `\${env:KEY_${key}}`,
      key_id: `key-${key.toLowerCase()}`,
      ...(legacy && { legacy_key: `\${env:KEY_${legacy}}`, legacy_key_id: `key-${legacy.toLowerCase()}` }),
    });

    /** Applies the config through A and waits until both instances run it. */
    async function configure(encryption: Encryption): Promise<void> {
      const { json: current } = await admin(a.endpoint, 'GET', 'config');
      const applied = await admin(a.endpoint, 'POST', 'config/apply', {
        config: document(encryption),
        base_version: current!.version,
      });
      expect(applied.status, applied.text).toBe(200);
      const version = applied.json!.version as number;
      for (const server of [a, b]) {
        await server.reload();
        const { json } = await admin(server.endpoint, 'GET', 'config');
        expect(json!.version).toBe(version);
      }
    }

    function s3(server: LocalServer): S3Client {
      const client = gatewayClient(server.endpoint);
      clients.push(client);
      return client;
    }

    const { put, putMultipart } = objectWriter(() => s3(a), 'mixed', written);

    /** Every object reads as written, through both instances. */
    async function expectAllRead(): Promise<void> {
      for (const server of [a, b]) await expectAllReadOf(s3(server), 'mixed', written);
    }

    /** What moto holds for an object: the gateway's markers and S3's own encryption. */
    async function stored(key: string, bucket = 'raw-mixed') {
      const head = await raw.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      const markers: Record<string, string> = {};
      for (const [name, value] of Object.entries(head.Metadata ?? {})) {
        if (name.startsWith('sealgate-')) markers[name.slice('sealgate-'.length)] = value;
      }
      return { markers, sse: head.ServerSideEncryption, kmsKey: head.SSEKMSKeyId };
    }

    async function rawBody(key: string): Promise<Buffer> {
      const out = await raw.send(new GetObjectCommand({ Bucket: 'raw-mixed', Key: key }));
      return Buffer.from(await out.Body!.transformToByteArray());
    }

    async function reencrypt(strategy: 'full' | 'rewrap' = 'full', bucket = 'mixed') {
      const [job] = await startReencrypt(a.endpoint, [bucket], strategy);
      const done = await waitForJob(a.endpoint, job.id, 120_000);
      const { json: problems } = await admin(a.endpoint, 'GET', `jobs/${job.id}/failures`);
      expect(done.status, JSON.stringify(problems)).toBe('succeeded');
      return done;
    }

    const gatewayKeys = () => [...written.keys()].filter((key) => !written.get(key)!.sseC);

    beforeAll(async () => {
      moto = await startMoto();
      dir = await makeTempDir('sealgate-jobs-aws-');
      const dynamo = new DynamoDBClient({ endpoint: moto.endpoint, ...AWS });
      await createConfigTable(dynamo, 'sealgate-jobs-config');
      dynamo.destroy();
      const kms = new KMSClient({ endpoint: moto.endpoint, ...AWS });
      kmsKeys = [];
      for (const description of ['envelope key', 'sse-kms key']) {
        const key = await kms.send(new CreateKeyCommand({ Description: description }));
        kmsKeys.push(key.KeyMetadata!.Arn!);
      }
      kms.destroy();
      raw = new S3Client({ endpoint: moto.endpoint, forcePathStyle: true, ...AWS });
      for (const bucket of ['raw-mixed', 'raw-race'])
        await raw.send(new CreateBucketCommand({ Bucket: bucket }));
      const definition = synthesizedJobDefinition(synth(STACK_CONFIG));
      const seed = join(dir.path, 'seed.json');
      writeFileSync(seed, JSON.stringify(document({ mode: 'none' })));
      const start = (name: string, seedFile?: string) =>
        startLocalServer({
          host: '127.0.0.1',
          port: 0,
          dataDir: join(dir.path, name),
          configTable: 'sealgate-jobs-config',
          configFile: seedFile,
          aws: { endpoint: moto.endpoint, ...AWS },
          reloadIntervalMs: RELOAD_MS,
          env: {
            TEST_SECRET: TEST_CREDENTIALS.secretAccessKey,
            MOTO_SECRET: 'testing',
            KEY_A: KEYS.A,
            KEY_B: KEYS.B,
            KEY_C: KEYS.C,
            SEALGATE_JOB_PAGE_SIZE: '3',
            SEALGATE_JOB_WRITE_BOUND_MS: '1500',
          },
          logger: capturingLogger().logger,
          jobRunner: { definition, retryIntervalMs: 50 },
        });
      a = await start('a', seed);
      b = await start('b');
    }, 60_000);

    afterAll(async () => {
      for (const c of clients) c.destroy();
      raw?.destroy();
      await a?.close();
      await b?.close();
      await moto?.stop();
      await dir?.cleanup();
    });

    it('rotates the proxy key over plaintext, SSE-S3, legacy-key, multipart and SSE-C objects', async () => {
      await put('plain/small', 10, { contentType: 'text/plain', metadata: { colour: 'blue' } });
      await putMultipart('plain/multipart', [5 * MIB, 1000]);
      await configure({ mode: 'sse-s3' });
      await put('native/s3', 70_000, { metadata: { from: 'sse-s3' } });
      await configure(proxy('A'));
      await put('a/one', 1);
      await put('a/chunk', 65_536, { contentType: 'image/png' });
      await putMultipart('a/multipart', [5 * MIB, 100]);
      await put('customer/secret', 5000, { sseC: true });
      expect((await stored('native/s3')).sse).toBe('AES256');

      await configure(proxy('B', 'A'));
      const done = await reencrypt();
      expect(done.counters).toMatchObject({ objects: written.size, rewritten: written.size - 1, skipped: 1 });
      for (const key of gatewayKeys()) {
        expect((await stored(key)).markers, key).toMatchObject({
          enc: 'aes256-gcm-proxy',
          'key-id': 'key-b',
        });
      }
      expect((await stored('customer/secret')).markers.enc).toBe('sse-c');
      await configure(proxy('B'));
      await expectAllRead();
    });

    it('moves to KMS envelope by rewrap: the stored ciphertext stays, the data key is wrapped by KMS', async () => {
      const before = new Map<string, Buffer>();
      for (const key of gatewayKeys()) before.set(key, await rawBody(key));
      await configure({
        mode: 'aws-kms-envelope',
        kms_key_id: kmsKeys[0],
        legacy_key: '${env:KEY_B}',
        legacy_key_id: 'key-b',
      });
      await reencrypt('rewrap');
      for (const key of gatewayKeys()) {
        expect((await stored(key)).markers, key).toMatchObject({
          enc: 'aws-kms-envelope',
          'key-id': kmsKeys[0],
        });
        expect((await rawBody(key)).equals(before.get(key)!), `${key}: ciphertext unchanged`).toBe(true);
      }
      await configure({ mode: 'aws-kms-envelope', kms_key_id: kmsKeys[0] });
      await expectAllRead();
    });

    it('moves to SSE-KMS (native) and back to a proxy key (gateway-side): each a full rewrite', async () => {
      await configure({ mode: 'sse-kms', kms_key_id: kmsKeys[1] });
      await reencrypt();
      for (const key of gatewayKeys()) {
        const s = await stored(key);
        expect(s.markers.enc, key).toBe('sse-kms');
        expect(s.sse, key).toBe('aws:kms');
        expect(
          (await rawBody(key)).equals(written.get(key)!.body),
          `${key}: S3 holds it, encrypting itself`,
        ).toBe(true);
      }
      await expectAllRead();
      await configure(proxy('C'));
      await reencrypt();
      for (const key of gatewayKeys()) {
        expect((await stored(key)).markers, key).toMatchObject({
          enc: 'aes256-gcm-proxy',
          'key-id': 'key-c',
        });
      }
      await expectAllRead();
    });

    it('holds the gate on both instances: no write accepted around the start lands under the old key', async () => {
      await configure(proxy('A'));
      const answers = new Map<string, { status: number; body: Buffer }>();
      let stop = false;
      let refused = 0;
      const writer = async (server: LocalServer, name: string) => {
        const client = s3(server);
        for (let i = 0; !stop; i++) {
          // Each key sorts before the one written before it: it lands behind a listing that has begun.
          const key = `${name}/${String(99_999 - i).padStart(5, '0')}`;
          const body = randomBytes(100 + (i % 7) * 1000);
          try {
            await client.send(new PutObjectCommand({ Bucket: 'race', Key: key, Body: body }));
            answers.set(key, { status: 200, body });
          } catch (error) {
            const code = (error as { Code?: string }).Code;
            expect(code, String(error)).toBe('SlowDown');
            refused++;
          }
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      };
      // B's keys sort first, so the listing reaches them at once, while B may still run the old config.
      const writers = [writer(a, 'via-a'), writer(b, 'early-via-b')];
      await new Promise((resolve) => setTimeout(resolve, 300));
      // Rotate and start at once: B still runs key A as current for up to its reload interval.
      const { json: current } = await admin(a.endpoint, 'GET', 'config');
      await admin(a.endpoint, 'POST', 'config/apply', {
        config: document(proxy('B', 'A')),
        base_version: current!.version,
      });
      const [job] = await startReencrypt(a.endpoint, ['race']);
      await waitForJob(a.endpoint, job.id, 120_000);
      stop = true;
      await Promise.all(writers);
      expect(refused).toBeGreaterThan(0);
      const accepted = [...answers.keys()];
      expect(accepted.some((k) => k.startsWith('via-a/'))).toBe(true);
      expect(accepted.some((k) => k.startsWith('early-via-b/'))).toBe(true);
      await b.reload();
      const reader = s3(b);
      for (const [key, answer] of answers) {
        expect((await stored(key, 'raw-race')).markers['key-id'], key).toBe('key-b');
        const out = await reader.send(new GetObjectCommand({ Bucket: 'race', Key: key }));
        expect(Buffer.from(await out.Body!.transformToByteArray()).equals(answer.body), key).toBe(true);
      }
    });

    it('migrates the bucket to a KMS envelope backend, verifies, flips and deletes the source', async () => {
      await configure(proxy('C'));
      const start = await admin(a.endpoint, 'POST', 'buckets/mixed/migrate', {
        target_backend: 'vault',
        target_bucket: 'vault-mixed',
        delete_source: true,
      });
      expect(start.status, start.text).toBe(202);
      const id = (start.json as { id: string }).id;
      const done = await waitForJob(a.endpoint, id, 120_000);
      expect(done.status).toBe('succeeded');
      expect(done.counters).toMatchObject({
        objects: written.size,
        verified: written.size,
        deleted: written.size,
        failed: 0,
      });
      for (const server of [a, b]) await server.reload();
      for (const [key, w] of written) {
        const head = await raw.send(new HeadObjectCommand({ Bucket: 'vault-mixed', Key: key }));
        expect(head.Metadata?.['sealgate-enc'], key).toBe(w.sseC ? 'sse-c' : 'aws-kms-envelope');
      }
      const left = await raw.send(new ListObjectsV2Command({ Bucket: 'raw-mixed' }));
      expect(left.KeyCount).toBe(0);
      await expectAllRead();
    });
  },
);
