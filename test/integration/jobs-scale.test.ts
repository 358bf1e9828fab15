/**
 * A re-encrypt job over a bucket of 20,000 small objects on the local server: pages of 1,000 keys, exact
 * counters, and executions that continue as new (here every 8 page tasks, as a long job on Step Functions
 * does before its 25,000-event history limit).
 */
import { CreateBucketCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { FilesystemBackend } from '../../functions/adapters/filesystem-backend.js';
import type { LocalServer } from '../../functions/handlers/local-server.js';
import { admin } from '../support/admin.js';
import { TEST_CREDENTIALS } from '../support/gateway.js';
import { startJobServer, startReencrypt, waitForJob } from '../support/jobs.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';

const OBJECTS = 20_000;
const KEY = '3c'.repeat(32);

function configYaml(encrypted: boolean): string {
  return [
    'backends:',
    '  - name: main',
    '    type: filesystem',
    '    path: ./store',
    ...(encrypted
      ? ['    encryption:', '      mode: aes256-gcm-proxy', '      key: "${env:KEY}"', '      key_id: key-1']
      : []),
    'default_backend: main',
    'credentials:',
    `  - access_key_id: ${TEST_CREDENTIALS.accessKeyId}`,
    '    secret_access_key: "${env:TEST_SECRET}"',
    '    admin: true',
    '',
  ].join('\n');
}

// The local server runs in this process whatever SEALGATE_TEST_TARGET says: the function URL pass would
// run the same thing again.
describe.skipIf(process.env.SEALGATE_TEST_TARGET === 'function-url')(
  `a re-encrypt job over ${OBJECTS} objects`,
  () => {
    let dir: TempDir;
    let server: LocalServer;
    let client: S3Client;
    let raw: FilesystemBackend;
    let configFile: string;

    beforeAll(async () => {
      dir = await makeTempDir('sealgate-jobs-scale-');
      configFile = join(dir.path, 'sealgate.yaml');
      writeFileSync(configFile, configYaml(false));
      server = await startJobServer(
        dir.path,
        configFile,
        {
          KEY,
          SEALGATE_JOB_WRITE_BOUND_MS: '100',
          SEALGATE_JOB_CONCURRENCY: '16',
        },
        {
          jobRunner: { iterationsPerExecution: 8 },
        },
      );
      client = new S3Client({
        endpoint: server.endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: TEST_CREDENTIALS,
      });
      await client.send(new CreateBucketCommand({ Bucket: 'many' }));
      // Written straight into the backend, in clear: the job is what is measured, not 20,000 PUTs.
      raw = new FilesystemBackend({ name: 'raw', root: join(dir.path, 'store') });
      const metadata = { headers: {}, user: {}, internal: {} };
      for (let start = 0; start < OBJECTS; start += 200) {
        await Promise.all(
          Array.from({ length: 200 }, (_, i) => {
            const body = Buffer.from(`object ${start + i}`);
            return raw.putObject(
              'many',
              key(start + i),
              (async function* () {
                yield body;
              })(),
              body.length,
              metadata,
            );
          }),
        );
      }
    }, 120_000);

    afterAll(async () => {
      client?.destroy();
      await server?.close();
      await dir?.cleanup();
    });

    function key(i: number): string {
      return `k/${String(i).padStart(6, '0')}`;
    }

    it('encrypts every object in pages of 1,000, counting each once, over executions that continue as new', async () => {
      writeFileSync(configFile, configYaml(true));
      await server.reload();
      const [job] = await startReencrypt(server.endpoint, ['many']);
      const done = await waitForJob(server.endpoint, job.id, 300_000);
      expect(done.status).toBe('succeeded');
      expect(done.counters).toEqual({
        objects: OBJECTS,
        bytes: Array.from({ length: OBJECTS }, (_, i) => `object ${i}`.length).reduce((a, b) => a + b, 0),
        rewritten: OBJECTS,
        skipped: 0,
        failed: 0,
        total: OBJECTS,
      });
      // 20 pages, then the sweep's 20 (which looks only at what was stored around the gate).
      expect(done.pages).toBe(40);
      expect(server.jobRunner.executionsOf(job.id)).toBeGreaterThanOrEqual(5);
      for (const i of [0, 1, 999, 1000, 12_345, OBJECTS - 1]) {
        expect((await raw.headObject('many', key(i))).metadata.internal['key-id']).toBe('key-1');
        const out = await client.send(new GetObjectCommand({ Bucket: 'many', Key: key(i) }));
        expect(await out.Body!.transformToString()).toBe(`object ${i}`);
      }
      const sample = randomBytes(2).readUInt16BE() % OBJECTS;
      expect((await raw.headObject('many', key(sample))).metadata.internal.enc).toBe('aes256-gcm-proxy');
      const { json } = await admin(server.endpoint, 'GET', 'posture', undefined, {
        query: { count: 'true', limit: '30000' },
      });
      const bucket = (
        json!.buckets as { name: string; objects: { current: number; plaintext: number } }[]
      ).find((b) => b.name === 'many')!;
      expect(bucket.objects).toMatchObject({ current: OBJECTS, plaintext: 0 });
    }, 300_000);
  },
);
