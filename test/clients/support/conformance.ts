import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startTestGateway,
  TEST_CREDENTIALS,
  type BackendKind,
  type TestGateway,
} from '../../support/gateway.js';
import { startMoto, type MotoServer } from '../../support/moto.js';
import type { ClientDefinition, ClientDriver } from './client-driver.js';
import { hashTree, sha256File, sortedRecord, writeRandomFile, writeRandomTree } from './files.js';

const BACKENDS: BackendKind[] = ['filesystem', 's3'];
const SMALL_SIZE = 100_000;
/** Above every client's multipart threshold (aws-cli and boto3 8 MiB, s3cmd 15 MiB, rclone as configured). */
const LARGE_SIZE = 40 * 1024 * 1024;
const TREE_FILES = 200;
const SMALL_KEY = 'small.bin';
const LARGE_KEY = 'large/forty-mib.bin';
const TREE_PREFIX = 'tree/';

/**
 * The conformance sequence every client goes through, once per backend (the filesystem backend, and
 * the s3 backend on moto): mb, ls, cp up and down (small and multipart), sync up and down, presigned
 * GET, rm and rb. Every byte that comes back is compared with what went in by sha256.
 *
 * The steps share one bucket and run in order; a step that fails usually makes the later ones fail too,
 * so read the first failure.
 */
export function describeClientConformance(client: ClientDefinition): void {
  describe.each(BACKENDS)(`${client.name} against the %s backend`, (backend) => {
    const bucket = `sealgate-${client.name}-${backend === 's3' ? 's3' : 'fs'}`;
    let moto: MotoServer | undefined;
    let gateway: TestGateway | undefined;
    let driver: ClientDriver;
    let workDir: string;
    let smallSha256: string;
    let largeSha256: string;
    let treeHashes: Map<string, string>;

    beforeAll(async () => {
      workDir = await mkdtemp(join(tmpdir(), `sealgate-${client.name}-`));
      if (backend === 's3') moto = await startMoto();
      gateway = await startTestGateway({ backend, s3Endpoint: moto?.endpoint });
      const driverDir = join(workDir, 'client');
      await mkdir(driverDir);
      await mkdir(join(workDir, 'down'));
      driver = await client.create({
        endpoint: gateway.endpoint,
        accessKeyId: TEST_CREDENTIALS.accessKeyId,
        secretAccessKey: TEST_CREDENTIALS.secretAccessKey,
        workDir: driverDir,
      });
      smallSha256 = await writeRandomFile(join(workDir, 'up', 'small.bin'), SMALL_SIZE);
      largeSha256 = await writeRandomFile(join(workDir, 'up', 'large.bin'), LARGE_SIZE);
      treeHashes = await writeRandomTree(join(workDir, 'tree-up'), TREE_FILES);
    });

    afterAll(async () => {
      try {
        await gateway?.close();
      } finally {
        await moto?.stop();
        // Unset when beforeAll failed before creating it.
        if (workDir) await rm(workDir, { recursive: true, force: true });
      }
    });

    it('mb creates a bucket that ls lists', async () => {
      await driver.makeBucket(bucket);
      expect(await driver.listBuckets()).toContain(bucket);
    });

    it('cp uploads a small file and downloads the same bytes', async () => {
      await driver.upload(join(workDir, 'up', 'small.bin'), bucket, SMALL_KEY);
      await driver.download(bucket, SMALL_KEY, join(workDir, 'down', 'small.bin'));
      expect(await sha256File(join(workDir, 'down', 'small.bin'))).toBe(smallSha256);
    });

    it('cp uploads a 40 MiB file as a multipart upload and downloads the same bytes', async () => {
      await driver.upload(join(workDir, 'up', 'large.bin'), bucket, LARGE_KEY);
      // A multipart object's ETag is `"<md5 of the part md5s>-<part count>"`: this proves the client
      // really took the multipart path rather than one PutObject.
      const head = await gateway!.client().send(new HeadObjectCommand({ Bucket: bucket, Key: LARGE_KEY }));
      expect(head.ContentLength).toBe(LARGE_SIZE);
      expect(head.ETag).toMatch(/^"[0-9a-f]{32}-\d+"$/);
      await driver.download(bucket, LARGE_KEY, join(workDir, 'down', 'large.bin'));
      expect(await sha256File(join(workDir, 'down', 'large.bin'))).toBe(largeSha256);
    });

    it(`sync uploads a folder of ${TREE_FILES} files and ls lists every key`, async () => {
      await driver.syncUp(join(workDir, 'tree-up'), bucket, TREE_PREFIX);
      const expected = [...treeHashes.keys()].map((path) => TREE_PREFIX + path).sort();
      expect((await driver.listKeys(bucket, TREE_PREFIX)).sort()).toEqual(expected);
      const all = await driver.listKeys(bucket, '');
      expect(all).toContain(SMALL_KEY);
      expect(all).toContain(LARGE_KEY);
      expect(all).toHaveLength(TREE_FILES + 2);
    });

    it('sync downloads the folder into a fresh folder with the same bytes', async () => {
      const target = join(workDir, 'tree-down');
      await mkdir(target);
      await driver.syncDown(bucket, TREE_PREFIX, target);
      expect(sortedRecord(await hashTree(target))).toEqual(sortedRecord(treeHashes));
    });

    it('a presigned GET URL returns the object, and the same URL with a changed signature is refused', async () => {
      const url = await driver.presignGet(bucket, SMALL_KEY, 600);
      expect(url).toContain(client.presignSignature === 'v4' ? 'X-Amz-Signature=' : 'Signature=');
      const response = await fetch(url);
      const body = Buffer.from(await response.arrayBuffer());
      expect(response.status, body.toString()).toBe(200);
      expect(createHash('sha256').update(body).digest('hex')).toBe(smallSha256);

      const refused = await fetch(forgeSignature(url));
      expect(refused.status).toBe(403);
      expect(await refused.text()).toContain('<Code>SignatureDoesNotMatch</Code>');
    });

    it('rm deletes single objects and whole prefixes, then rb deletes the empty bucket', async () => {
      await driver.remove(bucket, SMALL_KEY);
      await driver.remove(bucket, LARGE_KEY);
      await driver.removePrefix(bucket, TREE_PREFIX);
      expect(await driver.listKeys(bucket, '')).toEqual([]);
      await driver.removeBucket(bucket);
      expect(await driver.listBuckets()).not.toContain(bucket);
    });
  });
}

/** The same URL with one bit of its signature (SigV4 hex or SigV2 base64) flipped. */
function forgeSignature(url: string): string {
  return url.replace(/([?&](?:X-Amz-Signature|Signature)=)([^&]+)/, (_, name: string, value: string) => {
    if (name.includes('X-Amz')) return name + value.slice(0, -1) + (value.endsWith('0') ? '1' : '0');
    const bytes = Buffer.from(decodeURIComponent(value), 'base64');
    bytes[0] = bytes[0] ^ 1;
    return name + encodeURIComponent(bytes.toString('base64'));
  });
}
