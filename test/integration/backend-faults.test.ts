/**
 * Backend faults during writes (test/support/faulty-backend.ts wraps the real filesystem backend): each
 * backend call of a PUT, a multipart completion and a copy fails before it reaches the backend, fails after
 * the backend did its work (the answer is lost, the change is not), or stalls. Whatever the fault, the
 * client gets a retryable error (5xx) or a success that was stored; the key then holds the old object or
 * the new one, whole, never a mix and never nothing; nothing half-built is left in the backend's `.sealgate/tmp/`;
 * and the server keeps serving. Run on aes256-gcm-proxy (the encrypting path) and on none.
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3ServiceException,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { parse as parseYaml } from 'yaml';

import { objectPath } from '../../functions/adapters/filesystem/key-paths.js';
import type { Backend } from '../../functions/core/backend.js';
import { admin } from '../support/admin.js';
import { FaultPlan, faultyBackend, type FaultKind } from '../support/faulty-backend.js';
import { startTestGateway, testConfigYaml, type TestGateway } from '../support/gateway.js';
import { startReencrypt, waitForJob } from '../support/jobs.js';

const KINDS: FaultKind[] = ['fail-before', 'fail-after', 'stall'];
const MIB = 2 ** 20;

const MODES = [
  [
    'aes256-gcm-proxy',
    `      mode: aes256-gcm-proxy\n      key: "${'3c'.repeat(32)}"\n      key_id: faults-1\n`,
  ],
  ['none', '      mode: none\n'],
] as const;

// It wraps the local server's backends, so it runs on the server target only; the function URL run
// (SEALGATE_TEST_TARGET=function-url) would repeat it unchanged.
describe.skipIf(process.env.SEALGATE_TEST_TARGET === 'function-url').each(MODES)(
  'backend faults under %s',
  (_mode, encryptionYaml) => {
    let gateway: TestGateway;
    let s3: S3Client;
    const plan = new FaultPlan();
    let n = 0;

    beforeAll(async () => {
      gateway = await startTestGateway({
        target: 'server',
        encryptionYaml,
        wrapBackend: (backend: Backend) => faultyBackend(backend, plan),
      });
      s3 = gateway.client();
      await s3.send(new CreateBucketCommand({ Bucket: 'faults' }));
    });
    afterAll(async () => {
      await gateway?.close();
    });

    async function read(key: string): Promise<Buffer> {
      const out = await s3.send(new GetObjectCommand({ Bucket: 'faults', Key: key }));
      return Buffer.from(await out.Body!.transformToByteArray());
    }

    /** Runs `write` under `fault`, and checks what the client was told against what the key holds. */
    async function underFault(
      fault: { method: keyof Backend; kind: FaultKind },
      key: string,
      before: Buffer,
      after: Buffer,
      write: () => Promise<unknown>,
    ): Promise<void> {
      plan.add({ ...fault, ms: 300 });
      let outcome: 'stored' | number;
      try {
        await write();
        outcome = 'stored';
      } catch (error) {
        expect(error).toBeInstanceOf(S3ServiceException);
        outcome = (error as S3ServiceException).$metadata.httpStatusCode ?? 0;
      }
      plan.clear();
      expect(plan.injected.at(-1)).toBe(`${fault.method}:${fault.kind}`);
      const held = await read(key);
      if (outcome === 'stored') {
        expect(held.equals(after), 'a success must have stored the new object').toBe(true);
      } else {
        // A failure the client may retry: never a 4xx that says the request itself was wrong.
        expect(outcome).toBeGreaterThanOrEqual(500);
        expect(held.equals(before) || held.equals(after), 'the key holds the old or the new object').toBe(
          true,
        );
        if (fault.kind === 'fail-before') expect(held.equals(before)).toBe(true);
      }
      if (fault.kind === 'stall') expect(outcome).toBe('stored');
      // The backend's staging folder exists (every write above went through it) and holds nothing.
      expect(await readdir(join(gateway.dataDir, 'store', '.sealgate', 'tmp'))).toEqual([]);
    }

    it.each(KINDS)('PutObject over an existing object, the backend write %s', async (kind) => {
      const key = `put-${n++}`;
      const before = randomBytes(70_000);
      const after = randomBytes(90_000);
      await s3.send(new PutObjectCommand({ Bucket: 'faults', Key: key, Body: before }));
      await underFault({ method: 'putObject', kind }, key, before, after, () =>
        s3.send(new PutObjectCommand({ Bucket: 'faults', Key: key, Body: after })),
      );
    });

    it.each(KINDS)(
      'CompleteMultipartUpload over an existing object, the backend completion %s',
      async (kind) => {
        const key = `multipart-${n++}`;
        const before = randomBytes(10_000);
        await s3.send(new PutObjectCommand({ Bucket: 'faults', Key: key, Body: before }));
        const parts = [randomBytes(5 * MIB), randomBytes(MIB / 2)];
        const after = Buffer.concat(parts);
        const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'faults', Key: key }));
        const etags: string[] = [];
        for (const [i, body] of parts.entries()) {
          const out = await s3.send(
            new UploadPartCommand({ Bucket: 'faults', Key: key, UploadId, PartNumber: i + 1, Body: body }),
          );
          etags.push(out.ETag!);
        }
        const complete = () =>
          s3.send(
            new CompleteMultipartUploadCommand({
              Bucket: 'faults',
              Key: key,
              UploadId,
              MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
            }),
          );
        await underFault({ method: 'completeMultipartUpload', kind }, key, before, after, complete);
        // A completion that failed before the backend completed leaves the upload to be completed again.
        if (kind === 'fail-before') {
          await complete();
          expect((await read(key)).equals(after)).toBe(true);
        }
      },
    );

    it.each(KINDS)('CopyObject over an existing object, the backend copy %s', async (kind) => {
      const key = `copy-${n++}`;
      const before = randomBytes(20_000);
      const after = randomBytes(30_000);
      await s3.send(new PutObjectCommand({ Bucket: 'faults', Key: key, Body: before }));
      await s3.send(new PutObjectCommand({ Bucket: 'faults', Key: `${key}-source`, Body: after }));
      // Proxy copies in one bucket re-wrap the key and copy the stored bytes on the backend (copyObject);
      // none copies are the backend's copyObject too.
      await underFault({ method: 'copyObject', kind }, key, before, after, () =>
        s3.send(new CopyObjectCommand({ Bucket: 'faults', Key: key, CopySource: `faults/${key}-source` })),
      );
    });

    it('keeps serving after every fault', async () => {
      const body = randomBytes(1000);
      await s3.send(new PutObjectCommand({ Bucket: 'faults', Key: 'after-all', Body: body }));
      expect((await read('after-all')).equals(body)).toBe(true);
    });
  },
);

describe.skipIf(process.env.SEALGATE_TEST_TARGET === 'function-url')(
  'a re-encrypt job under backend faults',
  () => {
    let gateway: TestGateway;
    let s3: S3Client;
    const plan = new FaultPlan();
    const written = new Map<string, Buffer>();
    const proxyYaml = `      mode: aes256-gcm-proxy\n      key: "${'6f'.repeat(32)}"\n      key_id: faults-job\n`;

    beforeAll(async () => {
      gateway = await startTestGateway({
        target: 'server',
        encryptionYaml: '      mode: none\n',
        wrapBackend: (backend: Backend) => faultyBackend(backend, plan),
        jobRunner: { retryIntervalMs: 20 },
        // A job waits for writes begun before its gate to end (the write bound, 30 s unless told).
        serverEnv: { SEALGATE_JOB_WRITE_BOUND_MS: '200' },
      });
      s3 = gateway.client();
      await s3.send(new CreateBucketCommand({ Bucket: 'faults-job' }));
      for (let i = 0; i < 30; i++) {
        const body = randomBytes(3000 + i);
        await s3.send(new PutObjectCommand({ Bucket: 'faults-job', Key: `k${i}`, Body: body }));
        written.set(`k${i}`, body);
      }
    });
    afterAll(async () => {
      await gateway?.close();
    });

    it('retries the pages whose backend calls failed, and ends with every object encrypted and whole', async () => {
      // The backend goes to aes256-gcm-proxy: every plaintext object is the job's to encrypt.
      const { json: current } = await admin(gateway.endpoint, 'GET', 'config');
      const text = testConfigYaml(gateway.dataDir, { encryptionYaml: proxyYaml });
      const applied = await admin(gateway.endpoint, 'POST', 'config/apply', {
        config: parseYaml(text) as unknown,
        base_version: current!.version,
        text,
      });
      expect(applied.status, applied.text).toBe(200);

      for (const fault of [
        { method: 'getObject', kind: 'fail-before' },
        { method: 'putObject', kind: 'fail-before' },
        { method: 'putObject', kind: 'fail-after' },
        { method: 'listObjects', kind: 'fail-before' },
        { method: 'putObject', kind: 'stall', ms: 200 },
      ] as const) {
        plan.add(fault);
      }
      const [job] = await startReencrypt(gateway.endpoint, ['faults-job']);
      const done = await waitForJob(gateway.endpoint, job.id);
      expect(done.status, JSON.stringify(done)).toBe('succeeded');
      // Every fault was met, so the job went through each of them.
      expect(plan.injected).toEqual(
        expect.arrayContaining([
          'getObject:fail-before',
          'putObject:fail-before',
          'putObject:fail-after',
          'listObjects:fail-before',
          'putObject:stall',
        ]),
      );
      for (const [key, body] of written) {
        const stored = await readFile(objectPath(join(gateway.dataDir, 'store'), 'faults-job', key));
        expect(stored.subarray(0, 4).toString('latin1'), `${key} at rest`).toBe('SGE\x01');
        const out = await s3.send(new GetObjectCommand({ Bucket: 'faults-job', Key: key }));
        expect(Buffer.from(await out.Body!.transformToByteArray()).equals(body), key).toBe(true);
      }
    });
  },
);
