import { HeadObjectCommand, ListMultipartUploadsCommand, ListPartsCommand } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { crc32 } from 'node:zlib';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { functionUrlEmulatorOf } from '../../support/function-url-cap.js';
import {
  defaultTarget,
  startTestGateway,
  TEST_CREDENTIALS,
  type BackendKind,
  type GatewayTarget,
  type TestGateway,
} from '../../support/gateway.js';
import { startMoto, type MotoServer } from '../../support/moto.js';
import { expectS3Error } from '../../support/s3-expect.js';
import type { ClientDefinition, ClientDriver } from './client-driver.js';
import { hashTree, sha256File, sortedRecord, writeRandomFile, writeRandomTree } from './files.js';
import { ClientError } from './run-client.js';
import {
  modesByOperation,
  recordPayloadModes,
  uploadModes,
  type PayloadObservation,
} from './payload-modes.js';

export type Scheme = 'http' | 'https';

/**
 * Every client on both backends, over plain HTTP and over HTTPS: clients sign their payloads differently
 * over TLS (aws-cli switches from a signed sha256 to UNSIGNED-PAYLOAD, boto3 to an unsigned aws-chunked
 * body with a checksum trailer), so HTTPS is its own path through the gateway's signature and body
 * handling, not just another transport. Each driver's `uploadPayloadModes` says what it sends.
 */
export const CASES: { backend: BackendKind; scheme: Scheme }[] = [
  { backend: 'filesystem', scheme: 'http' },
  { backend: 's3', scheme: 'http' },
  { backend: 'filesystem', scheme: 'https' },
  { backend: 's3', scheme: 'https' },
];
export const SMALL_SIZE = 100_000;
/** Above every client's multipart threshold (aws-cli and boto3 8 MiB, s3cmd 15 MiB, rclone as configured). */
export const LARGE_SIZE = 40 * 1024 * 1024;
const TREE_FILES = 200;
const SMALL_KEY = 'small.bin';
const LARGE_KEY = 'large/forty-mib.bin';
const TREE_PREFIX = 'tree/';

/**
 * One case per backend, and between them both schemes: for the suites that repeat a flow under another
 * setting (gateway encryption, SSE-C), where the whole matrix would add minutes for little more coverage.
 */
export const PAIRED_CASES: typeof CASES = [
  { backend: 'filesystem', scheme: 'http' },
  { backend: 's3', scheme: 'https' },
];

export type GatewayEncryptionMode = 'aes256-gcm-proxy';

/** The backend's `encryption:` mapping for each mode (a fixed test key: nothing here is secret). */
const ENCRYPTION_YAML: Record<GatewayEncryptionMode, string> = {
  'aes256-gcm-proxy': `      mode: aes256-gcm-proxy\n      key: "${'5e'.repeat(32)}"\n      key_id: clients-1\n`,
};

export interface ConformanceOptions {
  /**
   * Run the flow against a backend the gateway encrypts in this mode (instead of `none`), on
   * {@link PAIRED_CASES}. Clients should not see a difference.
   */
  encryption?: GatewayEncryptionMode;
}

/**
 * The conformance sequence every client goes through, once per backend (the filesystem backend, and
 * the s3 backend on moto) and scheme (HTTP, and HTTPS with a throwaway certificate the client is told to
 * trust): mb, ls, cp up and down (small and multipart), sync up and down, presigned GET, rm and rb. Every
 * byte that comes back is compared with what went in by sha256, and the payload signing modes the
 * gateway saw on uploads are compared with the client's known ones.
 *
 * The steps share one bucket and run in order; a step that fails usually makes the later ones fail too,
 * so read the first failure.
 */
export function describeClientConformance(client: ClientDefinition, options: ConformanceOptions = {}): void {
  const all = options.encryption === undefined ? CASES : PAIRED_CASES;
  // The function URL emulator serves plain HTTP only, so a function-URL run takes the HTTP cases; the
  // HTTPS cases run on the plain server, in the plain-server run.
  const cases = defaultTarget() === 'function-url' ? all.filter((c) => c.scheme === 'http') : all;
  for (const { backend, scheme } of cases) describeCase(client, backend, scheme, options.encryption);
}

function describeCase(
  client: ClientDefinition,
  backend: BackendKind,
  scheme: Scheme,
  encryption: GatewayEncryptionMode | undefined,
): void {
  const gatewayTarget: GatewayTarget = scheme === 'https' ? 'server' : defaultTarget();
  /**
   * What becomes of the 40 MiB upload. Through a function URL it cannot be stored: every client's
   * multipart parts are 5 MiB or more, and no part that size fits in the invoke payload (DESIGN.md
   * section 3).
   */
  const largeOutcome: 'stored' | 'payload-too-large' =
    gatewayTarget === 'function-url' ? 'payload-too-large' : 'stored';
  const largeStored = largeOutcome === 'stored';
  const through = gatewayTarget === 'function-url' ? ' through the function URL' : '';
  const mode = encryption === undefined ? '' : ` in ${encryption} mode`;
  describe(`${client.name} against the ${backend} backend${mode} over ${scheme}${through}`, () => {
    const bucket =
      `sealgate-${client.name}-${backend === 's3' ? 's3' : 'fs'}` +
      (encryption === undefined ? '' : '-enc') +
      (scheme === 'https' ? '-tls' : '');
    let moto: MotoServer | undefined;
    let gateway: TestGateway | undefined;
    let recorder: ReturnType<typeof recordPayloadModes> | undefined;
    let driver: ClientDriver;
    let ca: Buffer | undefined;
    let workDir: string;
    let smallSha256: string;
    let largeSha256: string;
    let treeHashes: Map<string, string>;

    beforeAll(async () => {
      workDir = await mkdtemp(join(tmpdir(), `sealgate-${client.name}-`));
      if (backend === 's3') moto = await startMoto();
      gateway = await startTestGateway({
        backend,
        s3Endpoint: moto?.endpoint,
        target: gatewayTarget,
        ...(scheme === 'https' && { tls: true }),
        ...(encryption !== undefined && { encryptionYaml: ENCRYPTION_YAML[encryption] }),
      });
      recorder = recordPayloadModes(Number(new URL(gateway.endpoint).port));
      ca = gateway.caFile === undefined ? undefined : await readFile(gateway.caFile);
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
      smallSha256 = await writeRandomFile(join(workDir, 'up', 'small.bin'), SMALL_SIZE);
      largeSha256 = await writeRandomFile(join(workDir, 'up', 'large.bin'), LARGE_SIZE);
      treeHashes = await writeRandomTree(join(workDir, 'tree-up'), TREE_FILES);
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

    if (scheme === 'https') {
      it("verifies the certificate: without the test CA it refuses the gateway's", async () => {
        const untrusting = await client.create({
          endpoint: gateway!.endpoint,
          accessKeyId: TEST_CREDENTIALS.accessKeyId,
          secretAccessKey: TEST_CREDENTIALS.secretAccessKey,
          workDir: await mkdtemp(join(workDir, 'client-without-ca-')),
        });
        // The Python clients report OpenSSL's "certificate verify failed", rclone Go's "certificate signed by
        // unknown authority": anything else (a refused connection, a signature error) is another failure.
        await expect(untrusting.listBuckets()).rejects.toThrow(
          /certificate verify failed|certificate signed by unknown authority/,
        );
      });
    }

    it('mb creates a bucket that ls lists', async () => {
      await driver.makeBucket(bucket);
      expect(await driver.listBuckets()).toContain(bucket);
    });

    it('cp uploads a small file and downloads the same bytes', async () => {
      await driver.upload(join(workDir, 'up', 'small.bin'), bucket, SMALL_KEY);
      await driver.download(bucket, SMALL_KEY, join(workDir, 'down', 'small.bin'));
      expect(await sha256File(join(workDir, 'down', 'small.bin'))).toBe(smallSha256);
    });

    if (largeOutcome === 'stored') {
      it('cp uploads a 40 MiB file as a multipart upload and downloads the same bytes', async () => {
        await driver.upload(join(workDir, 'up', 'large.bin'), bucket, LARGE_KEY);
        // A multipart object's ETag is `"<md5 of the part md5s>-<part count>"`: this proves the client
        // really took the multipart path rather than one PutObject.
        const head = await gateway!.client().send(new HeadObjectCommand({ Bucket: bucket, Key: LARGE_KEY }));
        expect(head.ContentLength).toBe(LARGE_SIZE);
        expect(head.ETag).toMatch(/^"[0-9a-f]{32}-\d+"$/);
        if (client.multipartChecksum !== undefined) {
          const checked = await gateway!
            .client()
            .send(new HeadObjectCommand({ Bucket: bucket, Key: LARGE_KEY, ChecksumMode: 'ENABLED' }));
          const file = await readFile(join(workDir, 'up', 'large.bin'));
          expect([checked.ChecksumCRC32, checked.ChecksumType]).toEqual([
            compositeCrc32(file, client.multipartChecksum.partSize),
            client.multipartChecksum.type,
          ]);
        }
        await driver.download(bucket, LARGE_KEY, join(workDir, 'down', 'large.bin'));
        expect(await sha256File(join(workDir, 'down', 'large.bin'))).toBe(largeSha256);
      });
    } else {
      it('cp of a 40 MiB file fails with the function URL 413 on its parts, and stores nothing', async () => {
        const failure = await driver.upload(join(workDir, 'up', 'large.bin'), bucket, LARGE_KEY).then(
          () => undefined,
          (error: unknown) => error,
        );
        expect(failure, 'the upload must fail through the function URL').toBeInstanceOf(ClientError);
        expect((failure as ClientError).stderr).toMatch(client.payloadTooLargeError);
        // The function never ran for a part: the emulator answered every UploadPart itself.
        const invoked = functionUrlEmulatorOf(gateway!).invocations.map((i) => i.event.rawQueryString);
        expect(invoked.filter((query) => /(^|&)partNumber=/.test(query))).toEqual([]);
        const s3 = gateway!.client();
        await expectS3Error(
          s3.send(new HeadObjectCommand({ Bucket: bucket, Key: LARGE_KEY })),
          'NotFound',
          404,
        );
        // A client may leave its upload open (s3cmd prints how to resume it), but it holds no part.
        const open = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: LARGE_KEY }));
        for (const { UploadId } of open.Uploads ?? []) {
          const parts = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: LARGE_KEY, UploadId }));
          expect(parts.Parts ?? []).toEqual([]);
        }
      });
    }

    it(`sync uploads a folder of ${TREE_FILES} files and ls lists every key`, async () => {
      await driver.syncUp(join(workDir, 'tree-up'), bucket, TREE_PREFIX);
      const expected = [...treeHashes.keys()].map((path) => TREE_PREFIX + path).sort();
      expect((await driver.listKeys(bucket, TREE_PREFIX)).sort()).toEqual(expected);
      const all = await driver.listKeys(bucket, '');
      const others = largeStored ? [SMALL_KEY, LARGE_KEY] : [SMALL_KEY];
      expect(all.filter((key) => !key.startsWith(TREE_PREFIX)).sort()).toEqual(others.sort());
      expect(all).toHaveLength(TREE_FILES + others.length);
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
      expect(new URL(url).protocol).toBe(`${scheme}:`);
      const response = await download(url, ca);
      expect(response.status, response.body.toString()).toBe(200);
      expect(createHash('sha256').update(response.body).digest('hex')).toBe(smallSha256);

      const refused = await download(forgeSignature(url), ca);
      expect(refused.status).toBe(403);
      expect(refused.body.toString()).toContain('<Code>SignatureDoesNotMatch</Code>');
    });

    it('rm deletes single objects and whole prefixes, then rb deletes the empty bucket', async () => {
      await driver.remove(bucket, SMALL_KEY);
      if (largeStored) await driver.remove(bucket, LARGE_KEY);
      await driver.removePrefix(bucket, TREE_PREFIX);
      expect(await driver.listKeys(bucket, '')).toEqual([]);
      await driver.removeBucket(bucket);
      expect(await driver.listBuckets()).not.toContain(bucket);
    });

    it(`signs its uploads over ${scheme} as ${client.name} is known to`, () => {
      const seen: PayloadObservation[] = recorder!.observations();
      if (process.env.SEALGATE_TEST_LOG === '1') {
        console.log(`${client.name} over ${scheme} (${backend}):`, JSON.stringify(modesByOperation(seen)));
      }
      const message =
        `the modes seen, by operation: ${JSON.stringify(modesByOperation(seen))}. A newer ${client.name} ` +
        'may sign differently: then check that the gateway verifies the new mode and update uploadPayloadModes';
      expect(uploadModes(seen), message).toEqual([...client.uploadPayloadModes[scheme]].sort());
    });
  });
}

/**
 * S3's COMPOSITE CRC32 of `data` uploaded in parts of `partSize`: the CRC32 of the parts' big-endian
 * CRC32s joined, in base64, with `-<part count>`. Computed with Node's zlib, apart from the gateway's code.
 */
function compositeCrc32(data: Buffer, partSize: number): string {
  const digests: Buffer[] = [];
  for (let start = 0; start < data.length; start += partSize) {
    const digest = Buffer.alloc(4);
    digest.writeUInt32BE(crc32(data.subarray(start, start + partSize)));
    digests.push(digest);
  }
  const whole = Buffer.alloc(4);
  whole.writeUInt32BE(crc32(Buffer.concat(digests)));
  return `${whole.toString('base64')}-${digests.length}`;
}

/** GETs a URL with Node's client (trusting `ca` for https) and resolves with the status and whole body. */
function download(url: string, ca: Buffer | undefined): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const onResponse = (response: IncomingMessage) => {
      const pieces: Buffer[] = [];
      response.on('data', (piece: Buffer) => pieces.push(piece));
      response.once('error', reject);
      response.once('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(pieces) }));
    };
    const request = url.startsWith('https:') ? httpsGet(url, { ca }, onResponse) : httpGet(url, onResponse);
    request.once('error', reject);
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
