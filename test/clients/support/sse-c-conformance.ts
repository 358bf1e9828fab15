import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  defaultTarget,
  startTestGateway,
  TEST_CREDENTIALS,
  type BackendKind,
  type GatewayTarget,
  type TestGateway,
} from '../../support/gateway.js';
import { startMoto, type MotoServer } from '../../support/moto.js';
import { LARGE_SIZE, PAIRED_CASES, SMALL_SIZE, type Scheme } from './conformance.js';
import { sha256File, writeRandomFile } from './files.js';
import { recordPayloadModes, type PayloadObservation } from './payload-modes.js';
import { ClientError } from './run-client.js';
import type { CustomerKeyFile, SseCClientDefinition, SseCDriver } from './sse-c-driver.js';

const PUT_KEY = 'put/small.bin';
const SMALL_KEY = 'cp/small.bin';
const LARGE_KEY = 'cp/forty-mib.bin';
const COPY_KEY = 'copy/small.bin';

/**
 * SSE-C through a real client, on the filesystem backend over HTTP and the S3 backend (moto) over HTTPS
 * (PAIRED_CASES; the full backend-by-scheme matrix doubles the runtime for little more coverage): the client
 * sends its customer key with every request (`x-amz-server-side-encryption-customer-*`), the gateway
 * encrypts under it, and every byte that comes back is compared by sha256. Plain HTTP works because the
 * gateway accepts SSE-C over HTTP from loopback, which is where the test gateway's clients are.
 *
 * The steps share one bucket and run in order (the refusal and copy steps read what the first step
 * stored); read the first failure.
 */
export function describeSseCConformance(client: SseCClientDefinition): void {
  // As in the main suite: a function-URL run takes the HTTP cases, the HTTPS ones run on the plain server.
  const cases =
    defaultTarget() === 'function-url' ? PAIRED_CASES.filter((c) => c.scheme === 'http') : PAIRED_CASES;
  for (const { backend, scheme } of cases) describeCase(client, backend, scheme);
}

function describeCase(client: SseCClientDefinition, backend: BackendKind, scheme: Scheme): void {
  const gatewayTarget: GatewayTarget = scheme === 'https' ? 'server' : defaultTarget();
  /** A function URL cannot take multipart parts (the main suite asserts its 413): no 40 MiB object there. */
  const largeStored = gatewayTarget === 'server';
  const through = gatewayTarget === 'function-url' ? ' through the function URL' : '';
  describe(`${client.name} with SSE-C against the ${backend} backend over ${scheme}${through}`, () => {
    const bucket = `sealgate-${client.name}-ssec-${backend === 's3' ? 's3' : 'fs'}${scheme === 'https' ? '-tls' : ''}`;
    let moto: MotoServer | undefined;
    let gateway: TestGateway | undefined;
    let recorder: ReturnType<typeof recordPayloadModes> | undefined;
    let driver: SseCDriver;
    let workDir: string;
    let oldKey: CustomerKeyFile;
    let newKey: CustomerKeyFile;
    let small: { path: string; sha256: string };
    let large: { path: string; sha256: string };
    /** A fresh path to download into. */
    let downloadPath: (name: string) => string;

    beforeAll(async () => {
      workDir = await mkdtemp(join(tmpdir(), `sealgate-${client.name}-ssec-`));
      if (backend === 's3') moto = await startMoto();
      gateway = await startTestGateway({
        backend,
        s3Endpoint: moto?.endpoint,
        target: gatewayTarget,
        ...(scheme === 'https' && { tls: true }),
      });
      recorder = recordPayloadModes(Number(new URL(gateway.endpoint).port));
      await gateway.client().send(new CreateBucketCommand({ Bucket: bucket }));
      const driverDir = join(workDir, 'client');
      await mkdir(driverDir);
      await mkdir(join(workDir, 'down'));
      driver = await client.create({
        endpoint: gateway.endpoint,
        accessKeyId: TEST_CREDENTIALS.accessKeyId,
        secretAccessKey: TEST_CREDENTIALS.secretAccessKey,
        workDir: driverDir,
        caFile: gateway.caFile,
      });
      oldKey = await writeCustomerKey(join(workDir, 'old-key.bin'));
      newKey = await writeCustomerKey(join(workDir, 'new-key.bin'));
      const smallPath = join(workDir, 'up', 'small.bin');
      small = { path: smallPath, sha256: await writeRandomFile(smallPath, SMALL_SIZE) };
      const largePath = join(workDir, 'up', 'large.bin');
      large = { path: largePath, sha256: largeStored ? await writeRandomFile(largePath, LARGE_SIZE) : '' };
      let downloads = 0;
      downloadPath = (name) => join(workDir, 'down', `${++downloads}-${name}`);
    });

    afterAll(async () => {
      recorder?.stop();
      try {
        await gateway?.close();
      } finally {
        await moto?.stop();
        // Unset when beforeAll failed before creating it.
        if (workDir) await rm(workDir, { recursive: true, force: true });
      }
    });

    it("PutObject under a customer key, GetObject with it returns the same bytes, HeadObject shows the key's MD5", async () => {
      await driver.put(small.path, bucket, PUT_KEY, oldKey);
      const target = downloadPath('put.bin');
      await driver.get(bucket, PUT_KEY, target, oldKey);
      expect(await sha256File(target)).toBe(small.sha256);
      expect(await driver.head(bucket, PUT_KEY, oldKey)).toMatchObject({
        size: SMALL_SIZE,
        algorithm: 'AES256',
        keyMd5: oldKey.md5,
      });
    });

    it('cp uploads a small file under a customer key and downloads the same bytes with it', async () => {
      await driver.upload(small.path, bucket, SMALL_KEY, oldKey);
      const target = downloadPath('small.bin');
      await driver.download(bucket, SMALL_KEY, target, oldKey);
      expect(await sha256File(target)).toBe(small.sha256);
    });

    if (largeStored) {
      it('cp uploads a 40 MiB file under a customer key as a multipart upload and downloads the same bytes', async () => {
        const before = recorder!.observations().length;
        await driver.upload(large.path, bucket, LARGE_KEY, oldKey);
        const sent = recorder!.observations().slice(before);
        // The upload's key travels on CreateMultipartUpload and every part; on CompleteMultipartUpload only
        // if the client repeats it (S3 does not need it there, and the gateway must complete either way).
        expect(keysByOperation(sent)).toEqual({
          CreateMultipartUpload: ['target'],
          UploadPart: ['target'],
          CompleteMultipartUpload: client.keyOnCompleteMultipartUpload ? ['target'] : ['none'],
        });
        const head = await driver.head(bucket, LARGE_KEY, oldKey);
        expect(head).toMatchObject({ size: LARGE_SIZE, algorithm: 'AES256', keyMd5: oldKey.md5 });
        // A multipart object's ETag: the client really took the multipart path.
        expect(head.etag).toMatch(/^"[0-9a-f]{32}-\d+"$/);
        const target = downloadPath('large.bin');
        await driver.download(bucket, LARGE_KEY, target, oldKey);
        expect(await sha256File(target)).toBe(large.sha256);
      });
    }

    it('reads without the key are refused with 400 (InvalidRequest from GetObject)', async () => {
      await expectRefused(driver.get(bucket, PUT_KEY, downloadPath('no-key')), client.refusals.getWithoutKey);
      await expectRefused(
        driver.download(bucket, SMALL_KEY, downloadPath('no-key')),
        client.refusals.downloadWithoutKey,
      );
    });

    it('reads with another key are refused with 403 (AccessDenied from GetObject)', async () => {
      await expectRefused(
        driver.get(bucket, PUT_KEY, downloadPath('wrong-key'), newKey),
        client.refusals.getWithWrongKey,
      );
      await expectRefused(
        driver.download(bucket, SMALL_KEY, downloadPath('wrong-key'), newKey),
        client.refusals.downloadWithWrongKey,
      );
    });

    it('a copy that changes the key reads with the new key only, and leaves the source under the old one', async () => {
      const before = recorder!.observations().length;
      await driver.copy(bucket, PUT_KEY, COPY_KEY, oldKey, newKey);
      const copies = recorder!
        .observations()
        .slice(before)
        .filter((o) => o.operation === 'CopyObject');
      expect(copies.map((o) => o.customerKeys)).toEqual([['target', 'copy-source']]);

      expect(await driver.head(bucket, COPY_KEY, newKey)).toMatchObject({
        size: SMALL_SIZE,
        algorithm: 'AES256',
        keyMd5: newKey.md5,
      });
      const copied = downloadPath('copy.bin');
      await driver.download(bucket, COPY_KEY, copied, newKey);
      expect(await sha256File(copied)).toBe(small.sha256);
      await expectRefused(
        driver.get(bucket, COPY_KEY, downloadPath('copy-old-key'), oldKey),
        client.refusals.getWithWrongKey,
      );
      const source = downloadPath('source.bin');
      await driver.get(bucket, PUT_KEY, source, oldKey);
      expect(await sha256File(source)).toBe(small.sha256);
    });
  });
}

/** Writes a fresh random 32-byte customer key to `path`. */
async function writeCustomerKey(path: string): Promise<CustomerKeyFile> {
  const key = randomBytes(32);
  await writeFile(path, key, { mode: 0o600 });
  return { path, md5: createHash('md5').update(key).digest('base64') };
}

/**
 * For each operation among `observations`, whether its requests carried the object's customer key:
 * `['target']` when all did, `['none']` when none did, both when some did.
 */
function keysByOperation(observations: PayloadObservation[]): Record<string, string[]> {
  const byOperation: Record<string, Set<string>> = {};
  for (const { operation, customerKeys } of observations) {
    (byOperation[operation] ??= new Set()).add(customerKeys.includes('target') ? 'target' : 'none');
  }
  return Object.fromEntries(
    Object.entries(byOperation).map(([operation, kinds]) => [operation, [...kinds].sort()]),
  );
}

/** Asserts that a client command fails, and that its stderr says how. */
async function expectRefused(command: Promise<void>, stderr: RegExp): Promise<void> {
  const failure = await command.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(failure, 'the client command must fail').toBeInstanceOf(ClientError);
  const { exitCode, stderr: printed } = failure as ClientError;
  expect(exitCode, 'a non-zero exit status, not a timeout').toBeGreaterThan(0);
  expect(printed).toMatch(stderr);
}
