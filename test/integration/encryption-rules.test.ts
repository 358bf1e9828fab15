/**
 * The encryption rules as a client and an operator meet them, on both backends: SSE-C validated and used as
 * S3 does it (errors, echoes, multipart), SSE-C refused over plain HTTP from elsewhere than this machine,
 * proxy key rotation with one legacy slot, tampering on the backend (always an error, never wrong bytes),
 * a broken stream when tampering is found mid-object, internal markers that clients can neither set nor see,
 * and `x-amz-server-side-encryption` on writes.
 *
 * Tampering is done on the stored form: on the filesystem backend by rewriting the object's file (its data,
 * then its record and footer kept consistent, see functions/adapters/filesystem/object-file.ts), on the S3
 * backend by rewriting the raw object on moto with the metadata (`x-amz-meta-sealgate-*`) chosen.
 */
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  AbortMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { FilesystemBackend } from '../../functions/adapters/filesystem-backend.js';
import { encodeTrailer, type StoredRecord } from '../../functions/adapters/filesystem/object-file.js';
import { readObjectRecord } from '../../functions/adapters/filesystem/record-overrides.js';
import { parseConfig } from '../../functions/core/config/schema.js';
import { segmentCiphertextLength } from '../../functions/core/crypto/index.js';
import { decodeLayout, encodeLayout } from '../../functions/core/encryption/layout-marker.js';
import { createGateway, type Gateway } from '../../functions/core/gateway.js';
import { jsonLogger } from '../../functions/core/logger.js';
import {
  OLD_PROXY_KEY,
  OLD_PROXY_KEY_ID,
  PROXY_KEY,
  PROXY_KEY_ID,
  startEncryptionGateway,
  type EncryptionGateway,
  type ModeBucket,
} from '../support/encryption-gateway.js';
import {
  TEST_CREDENTIALS,
  startTestGateway,
  type BackendKind,
  type TestGateway,
} from '../support/gateway.js';
import { useMoto } from '../support/moto.js';
import { expectS3Error, expectStatus, getBytes, patternBytes, rejectionOf } from '../support/s3-expect.js';
import { signHeaders, signedRequest, type RawResponse } from '../support/signed-request.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';

const BACKENDS: BackendKind[] = ['filesystem', 's3'];
const MIB = 1024 * 1024;
/** Plaintext bytes per chunk, stored bytes per full chunk, and the segment header (docs/FORMAT.md section 3). */
const CHUNK = 65536;
const STORED_CHUNK = CHUNK + 16;
const HEADER = 24;
/** S3's smallest part but the last. */
const PART = 5 * MIB;

/** Where chunk `i` of a single-part object starts in its stored bytes. */
const chunkAt = (i: number) => HEADER + i * STORED_CHUNK;

/** SSE-C customer keys as the SDK takes them (32 characters: the SDK sends their UTF-8 bytes). */
const CUSTOMER_KEY = 'sealgate-customer-key-0000000001';
const OTHER_CUSTOMER_KEY = 'sealgate-customer-key-0000000002';
const ssec = (key = CUSTOMER_KEY) => ({ SSECustomerAlgorithm: 'AES256', SSECustomerKey: key });
const copySourceSsec = (key = CUSTOMER_KEY) => ({
  CopySourceSSECustomerAlgorithm: 'AES256',
  CopySourceSSECustomerKey: key,
});

const md5 = (data: Uint8Array) => createHash('md5').update(data).digest();

/** The SSE-C headers of a raw request for the 32-byte `key`, each replaceable (undefined drops it). */
function customerKeyHeaders(
  key: Buffer = Buffer.from(CUSTOMER_KEY),
  change: Partial<Record<'algorithm' | 'key' | 'key-md5', string | undefined>> = {},
): Record<string, string> {
  const fields: Record<string, string | undefined> = {
    algorithm: 'AES256',
    key: key.toString('base64'),
    'key-md5': md5(key).toString('base64'),
    ...change,
  };
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(fields)) {
    if (value !== undefined) headers[`x-amz-server-side-encryption-customer-${name}`] = value;
  }
  return headers;
}

/**
 * These rules live in the core, whatever the edge: the gateways here are the plain Node server even when
 * the suite runs through the function URL emulator, whose payload cap no 5 MiB multipart part can pass
 * (test/support/function-url-cap.ts; the edges are tested in their own files).
 */
const TARGET = 'server';

/** The proxy backend's encryption in the main gateways: key B current, key A as the legacy slot. */
const PROXY_WITH_LEGACY =
  `      mode: aes256-gcm-proxy\n      key: "${PROXY_KEY}"\n      key_id: ${PROXY_KEY_ID}\n` +
  `      legacy_key: "${OLD_PROXY_KEY}"\n      legacy_key_id: ${OLD_PROXY_KEY_ID}\n`;

// --- the stored form of objects, read and rewritten behind the gateway's back ---

/** An object as its backend stores it. */
interface RawObject {
  data: Buffer;
  /** The gateway's markers (`enc`, `key-id`, `dk`, ...; on S3 also the backend's own layout record). */
  internal: Record<string, string>;
  /** Filesystem backend: the stored size of each part of a completed multipart object. */
  parts?: number[];
  /** Everything else the backend keeps, written back as it was. */
  rest: { record?: StoredRecord; user?: Record<string, string>; contentType?: string };
}

interface RawStore {
  read(key: string): Promise<RawObject>;
  write(key: string, object: RawObject): Promise<void>;
  /** Copies data and metadata as they are to another key (an object moved on the backend). */
  copy(from: string, to: string): Promise<void>;
}

type RawLocation = { folder: string } | { client: S3Client; bucket: string };

const INTERNAL_PREFIX = 'sealgate-';

function rawStore(location: RawLocation): RawStore {
  if ('folder' in location) {
    // Test keys are plain names, which the filesystem backend stores as `<key>@obj`.
    const path = (key: string) => join(location.folder, `${key}@obj`);
    const read: RawStore['read'] = async (key) => {
      // The record a reader gets: the file's own, or the one a metadata replace wrote beside it.
      const record = await readObjectRecord(path(key));
      if (!record) throw new Error(`no stored object ${key}`);
      return {
        data: readFileSync(path(key)).subarray(0, record.size),
        internal: { ...record.metadata!.internal },
        parts: record.parts,
        rest: { record },
      };
    };
    const write: RawStore['write'] = (key, object) => {
      const record: StoredRecord = {
        ...object.rest.record!,
        size: object.data.length,
        metadata: { ...object.rest.record!.metadata!, internal: object.internal },
      };
      if (object.parts) record.parts = object.parts;
      else delete record.parts;
      writeFileSync(path(key), Buffer.concat([object.data, encodeTrailer(record)]));
      return Promise.resolve();
    };
    return { read, write, copy: async (from, to) => write(to, await read(from)) };
  }
  const { client, bucket } = location;
  return {
    async read(key) {
      const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const internal: Record<string, string> = {};
      const user: Record<string, string> = {};
      for (const [name, value] of Object.entries(out.Metadata ?? {})) {
        if (name.toLowerCase().startsWith(INTERNAL_PREFIX)) {
          internal[name.toLowerCase().slice(INTERNAL_PREFIX.length)] = value;
        } else user[name] = value;
      }
      return {
        data: Buffer.from(await out.Body!.transformToByteArray()),
        internal,
        rest: { user, contentType: out.ContentType },
      };
    },
    async write(key, object) {
      const metadata = { ...object.rest.user };
      for (const [name, value] of Object.entries(object.internal)) metadata[INTERNAL_PREFIX + name] = value;
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: object.data,
          Metadata: metadata,
          ContentType: object.rest.contentType,
        }),
      );
    },
    async copy(from, to) {
      await client.send(new CopyObjectCommand({ Bucket: bucket, Key: to, CopySource: `${bucket}/${from}` }));
    },
  };
}

function modeStore(gateway: EncryptionGateway, bucket: ModeBucket): RawStore {
  return gateway.motoS3
    ? rawStore({ client: gateway.motoS3, bucket: gateway.storedAt(bucket) })
    : rawStore({ folder: gateway.storedAt(bucket) });
}

const flip = (data: Buffer, offset: number, mask = 0x01) => {
  const copy = Buffer.from(data);
  copy[offset] ^= mask;
  return copy;
};

/** `value` (base64) with one bit flipped in the last bytes it decodes to (a wrap's or a seal's tag). */
const flipBase64Tail = (value: string) => {
  const bytes = Buffer.from(value, 'base64');
  return flip(bytes, bytes.length - 5).toString('base64');
};

// --- what a client gets for a GET ---

type Outcome =
  | { kind: 'error'; code: string; status: number | undefined; message: string }
  | { kind: 'broken'; received: Buffer; declared: number }
  | { kind: 'ok'; body: Buffer };

/** A GET through the SDK: an error answer, a body that broke off, or a complete body. */
async function getOutcome(
  s3: S3Client,
  bucket: string,
  key: string,
  extra: Partial<ConstructorParameters<typeof GetObjectCommand>[0]> = {},
): Promise<Outcome> {
  let body: Readable;
  let declared: number;
  try {
    const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...extra }));
    body = res.Body as Readable;
    declared = res.ContentLength ?? -1;
  } catch (error) {
    if (!(error instanceof S3ServiceException)) throw error;
    return {
      kind: 'error',
      code: error.name,
      status: error.$metadata.httpStatusCode,
      message: error.message,
    };
  }
  const pieces: Buffer[] = [];
  try {
    for await (const piece of body) pieces.push(Buffer.from(piece as Uint8Array));
  } catch {
    return { kind: 'broken', received: Buffer.concat(pieces), declared };
  }
  return { kind: 'ok', body: Buffer.concat(pieces) };
}

/** The clean S3 error a tampered object that fails before its first byte gets. */
function expectIntegrityError(outcome: Outcome): void {
  expect(outcome).toMatchObject({ kind: 'error', code: 'ObjectIntegrityError', status: 500 });
}

/**
 * For objects of several chunks: the same error, or a response that breaks off after genuine bytes only
 * (a prefix of the original, shorter than the Content-Length it announced). Never a complete response.
 */
function expectIntegrityFailure(outcome: Outcome, original: Buffer): void {
  if (outcome.kind === 'broken') {
    expect(outcome.received.length).toBeLessThan(outcome.declared);
    expect(outcome.received.equals(original.subarray(0, outcome.received.length))).toBe(true);
    return;
  }
  expectIntegrityError(outcome);
}

/** A raw response's `<Message>`. */
const messageOf = (res: RawResponse) =>
  /<Message>([^<]*)<\/Message>/.exec(res.body.toString('utf8'))?.[1] ?? '';

/**
 * A signed GET over node:http on its own connection, read to the end or until the connection breaks:
 * what arrived, and whether the response completed.
 */
async function streamedGet(
  endpoint: string,
  path: string,
): Promise<{ status: number; declared: number; received: Buffer; complete: boolean }> {
  const headers = await signHeaders(endpoint, { method: 'GET', path });
  const url = new URL(endpoint);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { hostname: url.hostname, port: Number(url.port), method: 'GET', path, headers, agent: false },
      (res) => {
        const pieces: Buffer[] = [];
        res.on('data', (piece: Buffer) => pieces.push(piece));
        // A broken transfer ends in 'aborted'/'error' and then 'close': 'close' reports it.
        res.on('error', () => undefined);
        res.on('close', () =>
          resolve({
            status: res.statusCode ?? 0,
            declared: Number(res.headers['content-length']),
            received: Buffer.concat(pieces),
            complete: res.complete,
          }),
        );
      },
    );
    let answered = false;
    req.on('response', () => (answered = true));
    // Once the response has started, a broken connection is the response's to report.
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
    req.end();
  });
}

const moto = useMoto();

describe.each(BACKENDS)('encryption rules on the %s backend', (backend) => {
  let gateway: EncryptionGateway;
  let s3: S3Client;

  beforeAll(async () => {
    gateway = await startEncryptionGateway({
      backend,
      moto,
      proxyEncryption: PROXY_WITH_LEGACY,
      target: TARGET,
    });
    s3 = gateway.client({ maxAttempts: 1 });
  });
  afterAll(async () => {
    await gateway?.close();
  });

  const head = (bucket: string, key: string, extra = {}) =>
    s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ...extra }));
  const put = (bucket: string, key: string, body: Buffer | string, extra = {}) =>
    s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ...extra }));
  const expectAbsent = (bucket: string, key: string) => expectStatus(head(bucket, key), 404);

  /** A completed multipart upload of `parts` (numbered from 1). */
  async function putMultipart(bucket: string, key: string, parts: Buffer[], extra = {}): Promise<void> {
    const { UploadId } = await s3.send(
      new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ...extra }),
    );
    const done: { ETag: string; PartNumber: number }[] = [];
    for (const [i, body] of parts.entries()) {
      const part = await s3.send(
        new UploadPartCommand({
          Bucket: bucket,
          Key: key,
          UploadId,
          PartNumber: i + 1,
          Body: body,
          ...extra,
        }),
      );
      done.push({ ETag: part.ETag!, PartNumber: i + 1 });
    }
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId,
        MultipartUpload: { Parts: done },
      }),
    );
  }

  describe('SSE-C: the customer key is validated as S3 validates it, and nothing is stored on a mistake', () => {
    const body = Buffer.from('never stored');
    const wrongMd5 = md5(Buffer.from('another key')).toString('base64');
    const cases: [string, Record<string, string>, string, RegExp][] = [
      [
        'an algorithm other than AES256',
        customerKeyHeaders(undefined, { algorithm: 'AES128' }),
        'InvalidEncryptionAlgorithmError',
        /valid value is AES256/,
      ],
      ['a missing key', customerKeyHeaders(undefined, { key: undefined }), 'InvalidRequest', /secret key/],
      ['a missing key MD5', customerKeyHeaders(undefined, { 'key-md5': undefined }), 'InvalidRequest', /MD5/],
      [
        'a missing algorithm',
        customerKeyHeaders(undefined, { algorithm: undefined }),
        'InvalidRequest',
        /encryption algorithm/,
      ],
      [
        'a key of 16 bytes',
        customerKeyHeaders(Buffer.alloc(16, 7)),
        'InvalidArgument',
        /secret key was invalid/,
      ],
      [
        'a key of 33 bytes',
        customerKeyHeaders(Buffer.alloc(33, 7)),
        'InvalidArgument',
        /secret key was invalid/,
      ],
      [
        'a key that is not base64',
        customerKeyHeaders(undefined, { key: '!!not base64 at all, not even close!!' }),
        'InvalidArgument',
        /secret key was invalid/,
      ],
      [
        'a key MD5 that does not match the key',
        customerKeyHeaders(undefined, { 'key-md5': wrongMd5 }),
        'InvalidArgument',
        /MD5 hash of the key did not match/,
      ],
      [
        'SSE-C together with x-amz-server-side-encryption',
        { ...customerKeyHeaders(), 'x-amz-server-side-encryption': 'AES256' },
        'InvalidArgument',
        /incompatible/,
      ],
    ];

    it.each(cases)('refuses a PutObject with %s', async (title, headers, code, message) => {
      const key = `ssec-invalid-${title.replace(/\W+/g, '-')}`;
      const res = await signedRequest(gateway.endpoint, {
        method: 'PUT',
        path: `/proxy/${key}`,
        headers,
        body,
      });
      expect({ status: res.status, code: res.code }).toEqual({ status: 400, code });
      expect(messageOf(res)).toMatch(message);
      await expectAbsent('proxy', key);
    });

    it('refuses the same mistakes on CreateMultipartUpload and on CopyObject, creating nothing', async () => {
      await put('plain', 'copy-source', 'a source');
      const create = await signedRequest(gateway.endpoint, {
        method: 'POST',
        path: '/proxy/ssec-invalid-upload',
        query: { uploads: '' },
        headers: customerKeyHeaders(undefined, { algorithm: 'aws:kms' }),
      });
      expect({ status: create.status, code: create.code }).toEqual({
        status: 400,
        code: 'InvalidEncryptionAlgorithmError',
      });
      const copy = await signedRequest(gateway.endpoint, {
        method: 'PUT',
        path: '/proxy/ssec-invalid-copy',
        headers: {
          'x-amz-copy-source': '/plain/copy-source',
          ...customerKeyHeaders(undefined, { 'key-md5': wrongMd5 }),
        },
      });
      expect({ status: copy.status, code: copy.code }).toEqual({ status: 400, code: 'InvalidArgument' });
      await expectAbsent('proxy', 'ssec-invalid-copy');
      await expectAbsent('proxy', 'ssec-invalid-upload');
    });

    it('accepts the same request with valid headers, and echoes the algorithm and the key MD5', async () => {
      const res = await signedRequest(gateway.endpoint, {
        method: 'PUT',
        path: '/proxy/ssec-valid-raw',
        headers: customerKeyHeaders(),
        body,
      });
      expect(res.status).toBe(200);
      expect(res.headers['x-amz-server-side-encryption-customer-algorithm']).toBe('AES256');
      expect(res.headers['x-amz-server-side-encryption-customer-key-md5']).toBe(
        md5(Buffer.from(CUSTOMER_KEY)).toString('base64'),
      );
      expect(res.headers['x-amz-server-side-encryption']).toBeUndefined();
      const read = await s3.send(new GetObjectCommand({ Bucket: 'proxy', Key: 'ssec-valid-raw', ...ssec() }));
      expect(Buffer.from(await read.Body!.transformToByteArray()).equals(body)).toBe(true);
    });
  });

  describe('SSE-C: reading and copying an SSE-C object', () => {
    const data = patternBytes(100_000, 3);

    beforeAll(async () => {
      await put('proxy', 'ssec-object', data, ssec());
      await put('plain', 'plain-object', 'plain bytes');
      await put('proxy', 'proxy-object', 'proxy bytes');
      await put('envelope', 'envelope-object', 'envelope bytes');
    });

    it('answers GET and HEAD without the customer key with 400 InvalidRequest', async () => {
      await expectS3Error(
        s3.send(new GetObjectCommand({ Bucket: 'proxy', Key: 'ssec-object' })),
        'InvalidRequest',
        400,
      );
      await expectStatus(head('proxy', 'ssec-object'), 400);
    });

    it('answers GET and HEAD with another customer key with 403 AccessDenied', async () => {
      await expectS3Error(
        s3.send(new GetObjectCommand({ Bucket: 'proxy', Key: 'ssec-object', ...ssec(OTHER_CUSTOMER_KEY) })),
        'AccessDenied',
        403,
      );
      await expectStatus(head('proxy', 'ssec-object', ssec(OTHER_CUSTOMER_KEY)), 403);
    });

    it('answers SSE-C headers on an object that is not SSE-C (plain, proxy, envelope, native) with 400 InvalidRequest', async () => {
      const objects: [string, string][] = [
        ['plain', 'plain-object'],
        ['proxy', 'proxy-object'],
        ['envelope', 'envelope-object'],
      ];
      if (gateway.buckets.includes('sse-kms')) {
        await put('sse-kms', 'native-object', 'native bytes');
        objects.push(['sse-kms', 'native-object']);
      }
      for (const [bucket, key] of objects) {
        await expectS3Error(
          s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...ssec() })),
          'InvalidRequest',
          400,
        );
        await expectStatus(head(bucket, key, ssec()), 400);
      }
    });

    it('serves the object with the right key, echoing the algorithm and key MD5, ranges included', async () => {
      const res = await s3.send(new GetObjectCommand({ Bucket: 'proxy', Key: 'ssec-object', ...ssec() }));
      expect(Buffer.from(await res.Body!.transformToByteArray()).equals(data)).toBe(true);
      expect(res.SSECustomerAlgorithm).toBe('AES256');
      expect(res.SSECustomerKeyMD5).toBe(md5(Buffer.from(CUSTOMER_KEY)).toString('base64'));
      expect(res.ServerSideEncryption).toBeUndefined();
      expect(res.ETag).toBe(`"${md5(data).toString('hex')}"`);
      const range = await s3.send(
        new GetObjectCommand({ Bucket: 'proxy', Key: 'ssec-object', Range: 'bytes=70000-70009', ...ssec() }),
      );
      expect(Buffer.from(await range.Body!.transformToByteArray()).equals(data.subarray(70000, 70010))).toBe(
        true,
      );
      const described = await head('proxy', 'ssec-object', ssec());
      expect(described.ContentLength).toBe(data.length);
      expect(described.SSECustomerKeyMD5).toBe(md5(Buffer.from(CUSTOMER_KEY)).toString('base64'));
    });

    it('refuses CopyObject from an SSE-C source without the copy-source key (400), and copies with it', async () => {
      await expectS3Error(
        s3.send(
          new CopyObjectCommand({ Bucket: 'proxy', Key: 'ssec-copy', CopySource: 'proxy/ssec-object' }),
        ),
        'InvalidRequest',
        400,
      );
      await expectS3Error(
        s3.send(
          new CopyObjectCommand({
            Bucket: 'proxy',
            Key: 'ssec-copy',
            CopySource: 'proxy/ssec-object',
            ...copySourceSsec(OTHER_CUSTOMER_KEY),
          }),
        ),
        'AccessDenied',
        403,
      );
      await expectAbsent('proxy', 'ssec-copy');
      // To a proxy object, then to SSE-C under another key (S3's way of rotating a customer key).
      await s3.send(
        new CopyObjectCommand({
          Bucket: 'proxy',
          Key: 'ssec-copy',
          CopySource: 'proxy/ssec-object',
          ...copySourceSsec(),
        }),
      );
      expect((await getBytes(s3, 'proxy', 'ssec-copy')).equals(data)).toBe(true);
      await s3.send(
        new CopyObjectCommand({
          Bucket: 'envelope',
          Key: 'ssec-rotated',
          CopySource: 'proxy/ssec-object',
          ...copySourceSsec(),
          ...ssec(OTHER_CUSTOMER_KEY),
        }),
      );
      await expectStatus(head('envelope', 'ssec-rotated', ssec()), 403);
      const rotated = await s3.send(
        new GetObjectCommand({ Bucket: 'envelope', Key: 'ssec-rotated', ...ssec(OTHER_CUSTOMER_KEY) }),
      );
      expect(Buffer.from(await rotated.Body!.transformToByteArray()).equals(data)).toBe(true);
    });
  });

  describe('SSE-C: multipart uploads', () => {
    const part1 = patternBytes(PART, 11);
    const part2 = patternBytes(70_000, 12);

    it('refuses parts under another key or none (400), takes the right one, and completes without the key', async () => {
      const key = 'ssec-multipart';
      const { UploadId } = await s3.send(
        new CreateMultipartUploadCommand({ Bucket: 'proxy', Key: key, ...ssec() }),
      );
      const upload = (PartNumber: number, Body: Buffer, extra = {}) =>
        s3.send(new UploadPartCommand({ Bucket: 'proxy', Key: key, UploadId, PartNumber, Body, ...extra }));
      const wrong = await rejectionOf(upload(1, part1, ssec(OTHER_CUSTOMER_KEY)));
      expect({ code: wrong.name, status: wrong.$metadata.httpStatusCode }).toEqual({
        code: 'InvalidRequest',
        status: 400,
      });
      await expectS3Error(upload(1, part1), 'InvalidRequest', 400);
      const first = await upload(1, part1, ssec());
      expect(first.SSECustomerKeyMD5).toBe(md5(Buffer.from(CUSTOMER_KEY)).toString('base64'));
      const second = await upload(2, part2, ssec());
      // Clients (aws-cli, boto3, SDK v3) send CompleteMultipartUpload without the customer key.
      await s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: 'proxy',
          Key: key,
          UploadId,
          MultipartUpload: {
            Parts: [
              { PartNumber: 1, ETag: first.ETag },
              { PartNumber: 2, ETag: second.ETag },
            ],
          },
        }),
      );
      const read = await getOutcome(s3, 'proxy', key, ssec());
      expect(read.kind).toBe('ok');
      expect(read.kind === 'ok' && read.body.equals(Buffer.concat([part1, part2]))).toBe(true);
      await expectS3Error(
        s3.send(new GetObjectCommand({ Bucket: 'proxy', Key: key })),
        'InvalidRequest',
        400,
      );
      await expectStatus(head('proxy', key, ssec(OTHER_CUSTOMER_KEY)), 403);
      const described = await head('proxy', key, ssec());
      expect(described.ContentLength).toBe(part1.length + part2.length);
      const firstPart = await head('proxy', key, { PartNumber: 1, ...ssec() });
      expect({ length: firstPart.ContentLength, parts: firstPart.PartsCount }).toEqual({
        length: part1.length,
        parts: 2,
      });
    });

    it('refuses SSE-C headers on the parts of an upload created without them (400)', async () => {
      const key = 'proxy-multipart-ssec-part';
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'proxy', Key: key }));
      await expectS3Error(
        s3.send(
          new UploadPartCommand({ Bucket: 'proxy', Key: key, UploadId, PartNumber: 1, Body: 'x', ...ssec() }),
        ),
        'InvalidRequest',
        400,
      );
    });

    it('refuses UploadPartCopy from an SSE-C source without its copy-source key (400), and copies with it', async () => {
      const source = patternBytes(3000, 13);
      await put('plain', 'ssec-part-source', source, ssec());
      const key = 'ssec-part-copy';
      const { UploadId } = await s3.send(
        new CreateMultipartUploadCommand({ Bucket: 'proxy', Key: key, ...ssec(OTHER_CUSTOMER_KEY) }),
      );
      const copyPart = (extra = {}) =>
        s3.send(
          new UploadPartCopyCommand({
            Bucket: 'proxy',
            Key: key,
            UploadId,
            PartNumber: 1,
            CopySource: 'plain/ssec-part-source',
            ...ssec(OTHER_CUSTOMER_KEY),
            ...extra,
          }),
        );
      await expectS3Error(copyPart(), 'InvalidRequest', 400);
      await expectS3Error(copyPart(copySourceSsec(OTHER_CUSTOMER_KEY)), 'AccessDenied', 403);
      const copied = await copyPart(copySourceSsec());
      await s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: 'proxy',
          Key: key,
          UploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: copied.CopyPartResult!.ETag }] },
        }),
      );
      const read = await getOutcome(s3, 'proxy', key, ssec(OTHER_CUSTOMER_KEY));
      expect(read.kind === 'ok' && read.body.equals(source)).toBe(true);
    });
  });

  describe('upload ids as ListMultipartUploads shows them', () => {
    it('refuses a listed id for adding to or completing an encrypted upload, and lets it list and abort', async () => {
      const key = 'resumed-from-a-listing';
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'envelope', Key: key }));
      expect(UploadId).toContain('~sg1~');
      const listed = await s3.send(new ListMultipartUploadsCommand({ Bucket: 'envelope', Prefix: key }));
      const bare = listed.Uploads?.[0]?.UploadId;
      expect(bare).toBeDefined();
      expect(bare).not.toBe(UploadId);
      await expectS3Error(
        s3.send(
          new UploadPartCommand({
            Bucket: 'envelope',
            Key: key,
            UploadId: bare,
            PartNumber: 1,
            Body: 'plain',
          }),
        ),
        'InvalidArgument',
        400,
      );
      await expectS3Error(
        s3.send(
          new CompleteMultipartUploadCommand({
            Bucket: 'envelope',
            Key: key,
            UploadId: bare,
            MultipartUpload: { Parts: [{ PartNumber: 1, ETag: '"0123456789abcdef0123456789abcdef"' }] },
          }),
        ),
        'InvalidArgument',
        400,
      );
      // Nothing was stored under the listed id: the upload still has no parts.
      const parts = await s3.send(new ListPartsCommand({ Bucket: 'envelope', Key: key, UploadId }));
      expect(parts.Parts ?? []).toEqual([]);
      await s3.send(new AbortMultipartUploadCommand({ Bucket: 'envelope', Key: key, UploadId: bare }));
      const after = await s3.send(new ListMultipartUploadsCommand({ Bucket: 'envelope', Prefix: key }));
      expect(after.Uploads ?? []).toEqual([]);
    });
  });

  describe('tampered objects: an error, never a successful response with wrong bytes', () => {
    let store: RawStore;
    const small = patternBytes(1000, 21);
    /** Four chunks: three full and one of 3,392 bytes. */
    const large = patternBytes(200_000, 22);
    let counter = 0;

    beforeAll(() => {
      store = modeStore(gateway, 'proxy');
    });

    /** A fresh proxy object holding `data`, its stored form changed by `tamper`; returns its key. */
    async function tampered(
      data: Buffer,
      tamper: (object: RawObject) => RawObject | void,
      bucket: ModeBucket = 'proxy',
      extra = {},
    ): Promise<string> {
      const key = `tamper-${++counter}`;
      await put(bucket, key, data, extra);
      const target = bucket === 'proxy' ? store : modeStore(gateway, bucket);
      const object = await target.read(key);
      await target.write(key, tamper(object) ?? object);
      return key;
    }

    const withData = (data: Buffer) => (object: RawObject) => ({ ...object, data });

    it.each([
      ['the magic', 0],
      ['the version', 3],
      ['the part number', 7],
      ['the salt', 12],
    ])('refuses a single-chunk object with a bit flipped in the header (%s)', async (_, offset) => {
      const key = await tampered(small, (o) => ({ ...o, data: flip(o.data, offset) }));
      expectIntegrityError(await getOutcome(s3, 'proxy', key));
    });

    it("refuses a single-chunk object with a bit flipped in its chunk's ciphertext, or in its tag", async () => {
      const inCiphertext = await tampered(small, (o) => ({ ...o, data: flip(o.data, HEADER + 500) }));
      expectIntegrityError(await getOutcome(s3, 'proxy', inCiphertext));
      const inTag = await tampered(small, (o) => ({ ...o, data: flip(o.data, o.data.length - 1, 0x80) }));
      expectIntegrityError(await getOutcome(s3, 'proxy', inTag));
    });

    it('refuses a single-chunk object that was truncated or had bytes appended', async () => {
      const cut = await tampered(small, (o) => ({ ...o, data: o.data.subarray(0, o.data.length - 10) }));
      expectIntegrityError(await getOutcome(s3, 'proxy', cut));
      const cutToHeader = await tampered(small, (o) => ({ ...o, data: o.data.subarray(0, HEADER + 10) }));
      expectIntegrityError(await getOutcome(s3, 'proxy', cutToHeader));
      const appended = await tampered(small, (o) => ({
        ...o,
        data: Buffer.concat([o.data, Buffer.alloc(16)]),
      }));
      expectIntegrityError(await getOutcome(s3, 'proxy', appended));
    });

    it('refuses a multi-chunk object with a bit flipped in a chunk or a tag, chunks swapped, or a chunk dropped', async () => {
      const flipped = await tampered(large, (o) => ({ ...o, data: flip(o.data, chunkAt(2) + 7) }));
      expectIntegrityFailure(await getOutcome(s3, 'proxy', flipped), large);
      const tag = await tampered(large, (o) => ({ ...o, data: flip(o.data, chunkAt(1) - 1) }));
      expectIntegrityFailure(await getOutcome(s3, 'proxy', tag), large);
      const swapped = await tampered(large, (o) =>
        withData(
          Buffer.concat([
            o.data.subarray(0, chunkAt(1)),
            o.data.subarray(chunkAt(2), chunkAt(3)),
            o.data.subarray(chunkAt(1), chunkAt(2)),
            o.data.subarray(chunkAt(3)),
          ]),
        )(o),
      );
      expectIntegrityFailure(await getOutcome(s3, 'proxy', swapped), large);
      const swappedFirst = await tampered(large, (o) =>
        withData(
          Buffer.concat([
            o.data.subarray(0, HEADER),
            o.data.subarray(chunkAt(1), chunkAt(2)),
            o.data.subarray(chunkAt(0), chunkAt(1)),
            o.data.subarray(chunkAt(2)),
          ]),
        )(o),
      );
      expectIntegrityError(await getOutcome(s3, 'proxy', swappedFirst));
      const dropped = await tampered(large, (o) =>
        withData(Buffer.concat([o.data.subarray(0, chunkAt(1)), o.data.subarray(chunkAt(2))]))(o),
      );
      expectIntegrityFailure(await getOutcome(s3, 'proxy', dropped), large);
    });

    it('refuses a multi-chunk object truncated at a chunk boundary, inside a chunk, or with bytes appended', async () => {
      const atBoundary = await tampered(large, (o) => withData(o.data.subarray(0, chunkAt(2)))(o));
      expectIntegrityFailure(await getOutcome(s3, 'proxy', atBoundary), large);
      const lastDropped = await tampered(large, (o) => withData(o.data.subarray(0, chunkAt(3)))(o));
      expectIntegrityFailure(await getOutcome(s3, 'proxy', lastDropped), large);
      const inside = await tampered(large, (o) => withData(o.data.subarray(0, chunkAt(1) + 1000))(o));
      expectIntegrityFailure(await getOutcome(s3, 'proxy', inside), large);
      const appended = await tampered(large, (o) =>
        withData(Buffer.concat([o.data, patternBytes(100, 9)]))(o),
      );
      expectIntegrityFailure(await getOutcome(s3, 'proxy', appended), large);
      const appendedChunk = await tampered(large, (o) =>
        withData(Buffer.concat([o.data, o.data.subarray(chunkAt(1), chunkAt(2))]))(o),
      );
      expectIntegrityFailure(await getOutcome(s3, 'proxy', appendedChunk), large);
    });

    describe('multipart objects', () => {
      const parts = [patternBytes(PART, 31), patternBytes(PART, 32), patternBytes(1000, 33)];
      const whole = Buffer.concat(parts);
      const stored = parts.map((p) => segmentCiphertextLength(p.length));

      async function multipartObject(key: string): Promise<RawObject> {
        await putMultipart('proxy', key, parts);
        expect((await getBytes(s3, 'proxy', key)).equals(whole)).toBe(true);
        return store.read(key);
      }

      it("refuses an object whose two equal-length parts' stored bytes were swapped", async () => {
        const key = 'tamper-part-swap';
        const object = await multipartObject(key);
        const [a, b] = [object.data.subarray(0, stored[0]), object.data.subarray(stored[0], 2 * stored[0])];
        await store.write(key, {
          ...object,
          data: Buffer.concat([b, a, object.data.subarray(2 * stored[0])]),
        });
        expectIntegrityError(await getOutcome(s3, 'proxy', key));
        // A range inside the second part reads the first part's segment there.
        expectIntegrityError(
          await getOutcome(s3, 'proxy', key, { Range: `bytes=${PART + 10}-${PART + 20}` }),
        );
      });

      it('refuses an object with a part dropped from both its body and its layout marker', async () => {
        const key = 'tamper-part-drop';
        const object = await multipartObject(key);
        const layout = decodeLayout(object.internal['layout']);
        expect(layout.partNumbers).toEqual([1, 2, 3]);
        const internal: Record<string, string> = {
          ...object.internal,
          layout: encodeLayout({
            partNumbers: [1, 3],
            lengths: [layout.lengths[0], layout.lengths[2]],
          }),
        };
        if (internal['part-sizes'] !== undefined) {
          // The S3 backend's own record of the parts, edited to match, as an attacker would.
          internal['part-sizes'] = `${stored[0]},${stored[2]}`;
          internal['multipart-etag'] = internal['multipart-etag'].replace(/-3"$/, '-2"');
        }
        await store.write(key, {
          ...object,
          data: Buffer.concat([object.data.subarray(0, stored[0]), object.data.subarray(2 * stored[0])]),
          internal,
          parts: object.parts && [object.parts[0], object.parts[2]],
        });
        expectIntegrityError(await getOutcome(s3, 'proxy', key));
        await expectStatus(head('proxy', key), 500);
      });

      it('refuses an object whose layout markers were removed (read as one part-0 segment)', async () => {
        const key = 'tamper-layout-removed';
        const object = await multipartObject(key);
        const internal = { ...object.internal };
        delete internal['layout'];
        delete internal['layout-tag'];
        await store.write(key, { ...object, internal });
        expectIntegrityError(await getOutcome(s3, 'proxy', key));
      });

      it("refuses an object with bytes appended to its last part, the backend's record of the parts edited to match", async () => {
        const key = 'tamper-multipart-appended';
        const object = await multipartObject(key);
        const internal: Record<string, string> = { ...object.internal };
        if (internal['part-sizes'] !== undefined) {
          internal['part-sizes'] = `${stored[0]},${stored[1]},${stored[2] + 100}`;
        }
        await store.write(key, {
          ...object,
          data: Buffer.concat([object.data, patternBytes(100, 34)]),
          internal,
          parts: object.parts && [object.parts[0], object.parts[1], object.parts[2] + 100],
        });
        expectIntegrityError(await getOutcome(s3, 'proxy', key));
      });

      it("refuses, with a 500 and no bytes, an object whose body no longer matches the backend's record of its parts", async () => {
        // Only the body and the gateway's layout marker edited: the backend's own record (filesystem: the
        // part sizes in the file's record; S3: the recorded part sizes) gives the change away first.
        const key = 'tamper-backend-record';
        const object = await multipartObject(key);
        const layout = decodeLayout(object.internal['layout']);
        await store.write(key, {
          ...object,
          data: Buffer.concat([object.data.subarray(0, stored[0]), object.data.subarray(2 * stored[0])]),
          internal: {
            ...object.internal,
            layout: encodeLayout({ partNumbers: [1, 3], lengths: [layout.lengths[0], layout.lengths[2]] }),
          },
        });
        expect(await getOutcome(s3, 'proxy', key)).toMatchObject({ kind: 'error', status: 500 });
        await expectStatus(head('proxy', key), 500);
      });
    });

    it('refuses ciphertext and metadata moved to another key (proxy, envelope), and answers a moved SSE-C object as a wrong key', async () => {
      await put('proxy', 'move-source', small);
      await store.copy('move-source', 'move-target');
      expectIntegrityError(await getOutcome(s3, 'proxy', 'move-target'));
      await expectStatus(head('proxy', 'move-target'), 500);

      const envelope = modeStore(gateway, 'envelope');
      await put('envelope', 'move-source', small);
      await envelope.copy('move-source', 'move-target');
      expectIntegrityError(await getOutcome(s3, 'envelope', 'move-target'));

      // SSE-C objects carry no key id: a wrap that fails under the customer's key is S3's wrong-key 403.
      await put('proxy', 'move-ssec-source', small, ssec());
      await store.copy('move-ssec-source', 'move-ssec-target');
      expect(await getOutcome(s3, 'proxy', 'move-ssec-target', ssec())).toMatchObject({
        kind: 'error',
        code: 'AccessDenied',
        status: 403,
      });
      // The originals are intact.
      expect((await getBytes(s3, 'proxy', 'move-source')).equals(small)).toBe(true);
      expect((await getBytes(s3, 'envelope', 'move-source')).equals(small)).toBe(true);
    });

    it('refuses an object whose wrapped data key (dk marker) was edited, in every gateway mode', async () => {
      for (const bucket of ['proxy', 'envelope'] as const) {
        const key = await tampered(
          small,
          (o) => ({ ...o, internal: { ...o.internal, dk: flipBase64Tail(o.internal['dk']) } }),
          bucket,
        );
        expectIntegrityError(await getOutcome(s3, bucket, key));
        await expectStatus(head(bucket, key), 500);
      }
      const ssecKey = await tampered(
        small,
        (o) => ({ ...o, internal: { ...o.internal, dk: flipBase64Tail(o.internal['dk']) } }),
        'proxy',
        ssec(),
      );
      expect(await getOutcome(s3, 'proxy', ssecKey, ssec())).toMatchObject({ kind: 'error', status: 403 });
    });

    it('refuses an object whose key-id marker names the legacy key (integrity) or an unknown key (mismatch)', async () => {
      const toLegacy = await tampered(small, (o) => {
        expect(o.internal['key-id']).toBe(PROXY_KEY_ID);
        return { ...o, internal: { ...o.internal, 'key-id': OLD_PROXY_KEY_ID } };
      });
      expectIntegrityError(await getOutcome(s3, 'proxy', toLegacy));
      const toUnknown = await tampered(small, (o) => ({
        ...o,
        internal: { ...o.internal, 'key-id': 'someone-else-2030' },
      }));
      const outcome = await getOutcome(s3, 'proxy', toUnknown);
      expect(outcome).toMatchObject({ kind: 'error', code: 'EncryptionKeyMismatch', status: 400 });
      expect(outcome.kind === 'error' && outcome.message).toContain('someone-else-2030');
    });

    it('refuses an object whose sealed values or encryption marker were edited', async () => {
      const sealed = await tampered(small, (o) => ({
        ...o,
        internal: { ...o.internal, sealed: flipBase64Tail(o.internal['sealed']) },
      }));
      expectIntegrityError(await getOutcome(s3, 'proxy', sealed));
      await expectStatus(head('proxy', sealed), 500);
      const unknownMode = await tampered(small, (o) => ({
        ...o,
        internal: { ...o.internal, enc: 'rot13' },
      }));
      expectIntegrityError(await getOutcome(s3, 'proxy', unknownMode));
      const asSsec = await tampered(small, (o) => ({ ...o, internal: { ...o.internal, enc: 'sse-c' } }));
      expect(await getOutcome(s3, 'proxy', asSsec, ssec())).toMatchObject({ kind: 'error', status: 403 });
    });

    it('refuses tampered SSE-C and envelope objects read with the right keys', async () => {
      const customer = await tampered(
        small,
        (o) => ({ ...o, data: flip(o.data, HEADER + 3) }),
        'proxy',
        ssec(),
      );
      expectIntegrityError(await getOutcome(s3, 'proxy', customer, ssec()));
      const envelope = await tampered(
        large,
        (o) => ({ ...o, data: flip(o.data, chunkAt(0) + 3) }),
        'envelope',
      );
      expectIntegrityError(await getOutcome(s3, 'envelope', envelope));
    });
  });

  describe('a failure found mid-stream', () => {
    it('breaks the connection after genuine bytes only: a flipped byte in chunk 20 of a 2 MiB object', async () => {
      const data = patternBytes(2 * MIB, 41);
      await put('proxy', 'stream-abort', data);
      const store = modeStore(gateway, 'proxy');
      const object = await store.read('stream-abort');
      expect(object.data.length).toBe(segmentCiphertextLength(data.length));
      await store.write('stream-abort', { ...object, data: flip(object.data, chunkAt(20) + 1234) });

      const res = await streamedGet(gateway.endpoint, '/proxy/stream-abort');
      expect(res.status).toBe(200);
      expect(res.declared).toBe(data.length);
      expect(res.complete).toBe(false);
      expect(res.received.length).toBeLessThan(res.declared);
      // Nothing of chunk 20 or later was released, and what was released is the original plaintext.
      expect(res.received.length).toBeLessThanOrEqual(20 * CHUNK);
      expect(res.received.equals(data.subarray(0, res.received.length))).toBe(true);

      // The untouched object, for contrast, streams to its end.
      await put('proxy', 'stream-intact', data);
      const intact = await streamedGet(gateway.endpoint, '/proxy/stream-intact');
      expect(intact.complete).toBe(true);
      expect(intact.received.equals(data)).toBe(true);
    });
  });

  describe('internal markers', () => {
    it('refuses x-amz-meta-sealgate-* on PutObject, CreateMultipartUpload and CopyObject (400 InvalidArgument)', async () => {
      const raw = await signedRequest(gateway.endpoint, {
        method: 'PUT',
        path: '/proxy/marker-spoof',
        headers: { 'x-amz-meta-sealgate-enc': 'none' },
        body: 'looks like plaintext',
      });
      expect({ status: raw.status, code: raw.code }).toEqual({ status: 400, code: 'InvalidArgument' });
      await expectS3Error(
        put('proxy', 'marker-spoof', 'x', { Metadata: { 'Sealgate-Dk': 'AAAA' } }),
        'InvalidArgument',
        400,
      );
      await expectS3Error(
        put('plain', 'marker-spoof', 'x', { Metadata: { 'sealgate-key-id': PROXY_KEY_ID } }),
        'InvalidArgument',
        400,
      );
      await expectS3Error(
        s3.send(
          new CreateMultipartUploadCommand({
            Bucket: 'proxy',
            Key: 'marker-spoof',
            Metadata: { 'sealgate-layout': '1:1' },
          }),
        ),
        'InvalidArgument',
        400,
      );
      await put('proxy', 'marker-copy-source', 'source');
      await expectS3Error(
        s3.send(
          new CopyObjectCommand({
            Bucket: 'proxy',
            Key: 'marker-spoof',
            CopySource: 'proxy/marker-copy-source',
            MetadataDirective: 'REPLACE',
            Metadata: { 'sealgate-enc': 'none' },
          }),
        ),
        'InvalidArgument',
        400,
      );
      await expectAbsent('proxy', 'marker-spoof');
      await expectAbsent('plain', 'marker-spoof');
    });

    it('shows no x-amz-meta-sealgate-* (nor any metadata not sent) on HEAD and GET, in every mode and form', async () => {
      const objects: { bucket: string; key: string; ssec: boolean }[] = [];
      for (const bucket of gateway.buckets) {
        await put(bucket, 'markers-hidden', 'some bytes', { Metadata: { color: 'blue' } });
        objects.push({ bucket, key: 'markers-hidden', ssec: false });
      }
      await put('envelope', 'markers-hidden-ssec', 'some bytes', { Metadata: { color: 'blue' }, ...ssec() });
      objects.push({ bucket: 'envelope', key: 'markers-hidden-ssec', ssec: true });
      await putMultipart('proxy', 'markers-hidden-mp', [patternBytes(PART, 51), patternBytes(10, 52)], {
        Metadata: { color: 'blue' },
      });
      objects.push({ bucket: 'proxy', key: 'markers-hidden-mp', ssec: false });
      await putMultipart('plain', 'markers-hidden-ssec-mp', [patternBytes(PART, 53), patternBytes(10, 54)], {
        Metadata: { color: 'blue' },
        ...ssec(),
      });
      objects.push({ bucket: 'plain', key: 'markers-hidden-ssec-mp', ssec: true });
      await s3.send(
        new CopyObjectCommand({
          Bucket: 'proxy',
          Key: 'markers-hidden-copy',
          CopySource: 'envelope/markers-hidden',
        }),
      );
      objects.push({ bucket: 'proxy', key: 'markers-hidden-copy', ssec: false });

      for (const { bucket, key, ssec: customer } of objects) {
        for (const method of ['HEAD', 'GET']) {
          const res = await signedRequest(gateway.endpoint, {
            method,
            path: `/${bucket}/${key}`,
            headers: customer ? customerKeyHeaders() : {},
          });
          expect(res.status, `${method} ${bucket}/${key}`).toBe(200);
          const meta = Object.keys(res.headers).filter((name) => name.startsWith('x-amz-meta-'));
          expect(meta, `${method} ${bucket}/${key}`).toEqual(['x-amz-meta-color']);
          expect(Object.keys(res.headers).filter((name) => name.includes('sealgate'))).toEqual([]);
        }
      }
    });
  });

  describe('x-amz-server-side-encryption on writes', () => {
    it('accepts the value that describes the bucket\u2019s mode, and answers with it', async () => {
      const accepted: [ModeBucket, Record<string, string>, string][] = [
        ['proxy', { ServerSideEncryption: 'AES256' }, 'AES256'],
        ['envelope', { ServerSideEncryption: 'aws:kms' }, 'aws:kms'],
        ['envelope', { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: gateway.kmsKeyArn }, 'aws:kms'],
      ];
      if (backend === 's3') {
        accepted.push(['sse-s3', { ServerSideEncryption: 'AES256' }, 'AES256']);
        accepted.push(['sse-kms', { ServerSideEncryption: 'aws:kms' }, 'aws:kms']);
        accepted.push([
          'sse-kms',
          { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: gateway.kmsKeyArn },
          'aws:kms',
        ]);
      }
      for (const [i, [bucket, extra, answer]] of accepted.entries()) {
        const key = `sse-accepted-${i}`;
        const res = await put(bucket, key, 'bytes', extra);
        expect(res.ServerSideEncryption, `${bucket} ${JSON.stringify(extra)}`).toBe(answer);
        const described = await head(bucket, key);
        expect(described.ServerSideEncryption).toBe(answer);
        if (answer === 'aws:kms') expect(described.SSEKMSKeyId).toBe(gateway.kmsKeyArn);
        expect((await getBytes(s3, bucket, key)).toString()).toBe('bytes');
      }
    });

    it('refuses a value that does not describe the mode, or another KMS key, with 400 InvalidArgument', async () => {
      const otherKey = gateway.kmsKeyArn.replace(/key\/.*$/, 'key/00000000-0000-0000-0000-000000000000');
      const refused: [ModeBucket, Record<string, string>][] = [
        ['plain', { ServerSideEncryption: 'AES256' }],
        ['plain', { ServerSideEncryption: 'aws:kms' }],
        ['proxy', { ServerSideEncryption: 'aws:kms' }],
        ['proxy', { ServerSideEncryption: 'aws:kms:dsse' }],
        ['envelope', { ServerSideEncryption: 'AES256' }],
        ['envelope', { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: otherKey }],
        ['envelope', { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: 'alias/aws/s3' }],
      ];
      if (backend === 's3') {
        refused.push(['sse-s3', { ServerSideEncryption: 'aws:kms' }]);
        refused.push(['sse-kms', { ServerSideEncryption: 'AES256' }]);
        refused.push(['sse-kms', { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: otherKey }]);
      }
      for (const [i, [bucket, extra]] of refused.entries()) {
        const key = `sse-refused-${i}`;
        const error = await rejectionOf(put(bucket, key, 'bytes', extra));
        expect(
          { code: error.name, status: error.$metadata.httpStatusCode },
          `${bucket} ${JSON.stringify(extra)}`,
        ).toEqual({ code: 'InvalidArgument', status: 400 });
        await expectAbsent(bucket, key);
      }
      await expectS3Error(
        s3.send(
          new CreateMultipartUploadCommand({
            Bucket: 'proxy',
            Key: 'sse-refused-mp',
            ServerSideEncryption: 'aws:kms',
          }),
        ),
        'InvalidArgument',
        400,
      );
    });
  });
});

describe('SSE-C over plain HTTP, at the core', () => {
  const endpoint = 'http://127.0.0.1:9000';
  const remote = '203.0.113.9';
  let dir: TempDir;
  let gateway: Gateway;

  beforeAll(async () => {
    dir = await makeTempDir();
    const config = parseConfig({
      backends: [{ name: 'local', type: 'filesystem', path: dir.path }],
      credentials: [
        {
          access_key_id: TEST_CREDENTIALS.accessKeyId,
          secret_access_key: TEST_CREDENTIALS.secretAccessKey,
          admin: true,
        },
      ],
    });
    gateway = createGateway({
      config,
      backends: new Map([['local', new FilesystemBackend({ name: 'local', root: dir.path })]]),
      logger: jsonLogger('silent'),
    });
    const created = await call('PUT', '/ssec-http', {}, undefined, { secure: true, sourceIp: remote });
    expect(created.status).toBe(200);
  });
  afterAll(async () => {
    await dir?.cleanup();
  });

  /** A SigV4-signed request handed to the core as an adapter would, with the connection facts given. */
  async function call(
    method: string,
    path: string,
    headers: Record<string, string>,
    body: Buffer | undefined,
    connection: { secure: boolean; sourceIp?: string },
  ): Promise<{ status: number; code?: string; message?: string; headers: Headers; body: Buffer }> {
    const signed = await signHeaders(endpoint, { method, path, headers, body });
    const response = await gateway.handle(
      new Request(`${endpoint}${path}`, { method, headers: signed, body }),
      {
        rawPath: path,
        rawQuery: '',
        ...connection,
      },
    );
    const text = Buffer.from(await response.arrayBuffer());
    return {
      status: response.status,
      code: /<Code>([^<]*)<\/Code>/.exec(text.toString())?.[1],
      message: /<Message>([^<]*)<\/Message>/.exec(text.toString())?.[1],
      headers: response.headers,
      body: text,
    };
  }

  const body = Buffer.from('customer-encrypted bytes');

  it('refuses SSE-C over plain HTTP from a non-loopback address (400 InvalidRequest), storing nothing', async () => {
    const res = await call('PUT', '/ssec-http/remote-http', customerKeyHeaders(), body, {
      secure: false,
      sourceIp: remote,
    });
    expect({ status: res.status, code: res.code }).toEqual({ status: 400, code: 'InvalidRequest' });
    expect(res.message).toMatch(/secure connection/);
    const after = await call('HEAD', '/ssec-http/remote-http', {}, undefined, {
      secure: true,
      sourceIp: remote,
    });
    expect(after.status).toBe(404);
    // An unknown source address is not loopback either.
    const unknown = await call('PUT', '/ssec-http/remote-http', customerKeyHeaders(), body, {
      secure: false,
    });
    expect({ status: unknown.status, code: unknown.code }).toEqual({ status: 400, code: 'InvalidRequest' });
  });

  it('accepts SSE-C over TLS from the same address, and refuses reading it back over plain HTTP', async () => {
    const res = await call('PUT', '/ssec-http/remote-tls', customerKeyHeaders(), body, {
      secure: true,
      sourceIp: remote,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-amz-server-side-encryption-customer-key-md5')).toBe(
      md5(Buffer.from(CUSTOMER_KEY)).toString('base64'),
    );
    const read = await call('GET', '/ssec-http/remote-tls', customerKeyHeaders(), undefined, {
      secure: true,
      sourceIp: remote,
    });
    expect(read.status).toBe(200);
    expect(read.body.equals(body)).toBe(true);
    const overHttp = await call('GET', '/ssec-http/remote-tls', customerKeyHeaders(), undefined, {
      secure: false,
      sourceIp: remote,
    });
    expect({ status: overHttp.status, code: overHttp.code }).toEqual({ status: 400, code: 'InvalidRequest' });
    expect(overHttp.message).toMatch(/secure connection/);
    expect(overHttp.body.includes(body)).toBe(false);
  });

  it.each(['127.0.0.1', '127.0.0.2', '::1', '::ffff:127.0.0.1'])(
    'accepts SSE-C over plain HTTP from loopback (%s)',
    async (sourceIp) => {
      const key = `/ssec-http/loopback-${sourceIp.replace(/[^0-9a-f]/g, '-')}`;
      const res = await call('PUT', key, customerKeyHeaders(), body, { secure: false, sourceIp });
      expect(res.status).toBe(200);
      const read = await call('GET', key, customerKeyHeaders(), undefined, { secure: false, sourceIp });
      expect(read.status).toBe(200);
      expect(read.body.equals(body)).toBe(true);
    },
  );

  it('lets requests without SSE-C through over plain HTTP from anywhere', async () => {
    const res = await call('PUT', '/ssec-http/plain-http', {}, body, { secure: false, sourceIp: remote });
    expect(res.status).toBe(200);
  });
});

describe.each(BACKENDS)('proxy key rotation on the %s backend', (backend) => {
  // Key A (the older generation) and key B. The `rot` bucket lives on a backend whose storage outlives each
  // gateway: a folder of this test's own, or a moto bucket (the test gateways' own data folders do not).
  const keyA = `      key: "${OLD_PROXY_KEY}"\n      key_id: ${OLD_PROXY_KEY_ID}\n`;
  const keyB = `      key: "${PROXY_KEY}"\n      key_id: ${PROXY_KEY_ID}\n`;
  const legacyA = `      legacy_key: "${OLD_PROXY_KEY}"\n      legacy_key_id: ${OLD_PROXY_KEY_ID}\n`;
  const rawBucket = `rot-${Math.random().toString(36).slice(2, 10)}`;
  let dir: TempDir;
  let motoS3: S3Client | undefined;
  let store: RawStore;
  let running: TestGateway | undefined;

  const small = patternBytes(1000, 61);
  const large = patternBytes(200_000, 62);
  const parts = [patternBytes(PART, 63), patternBytes(5000, 64)];

  beforeAll(async () => {
    dir = await makeTempDir();
    if (backend === 's3') {
      motoS3 = new S3Client({
        endpoint: moto.endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
      });
      store = rawStore({ client: motoS3, bucket: rawBucket });
    } else {
      store = rawStore({ folder: join(dir.path, rawBucket) });
    }
  });
  afterAll(async () => {
    await running?.close();
    motoS3?.destroy();
    await dir?.cleanup();
  });

  /** Stops the running gateway and starts one whose `rot` backend has `encryption` (6-space lines). */
  async function restart(encryption: string): Promise<S3Client> {
    await running?.close();
    const where =
      backend === 's3'
        ? `    type: s3\n    endpoint: ${moto.endpoint}\n    region: us-east-1\n` +
          `    access_key_id: testing\n    secret_access_key: testing\n    force_path_style: true\n`
        : `    type: filesystem\n    path: ${dir.path}\n`;
    running = await startTestGateway({
      target: TARGET,
      backend,
      s3Endpoint: moto.endpoint,
      backendsYaml: `  - name: rot\n${where}    encryption:\n${encryption}`,
      extraYaml: `buckets:\n  - name: rot\n    backend: rot\n    backend_bucket: ${rawBucket}\n`,
    });
    return running.client({ maxAttempts: 1 });
  }

  const keyIdOf = async (key: string) => (await store.read(key)).internal['key-id'];

  async function expectReads(s3: S3Client, key: string, data: Buffer): Promise<void> {
    expect((await getBytes(s3, 'rot', key)).equals(data), key).toBe(true);
  }

  it('writes under key A', async () => {
    const s3 = await restart(`      mode: aes256-gcm-proxy\n${keyA}`);
    await s3.send(new CreateBucketCommand({ Bucket: 'rot' }));
    await s3.send(new PutObjectCommand({ Bucket: 'rot', Key: 'old-small', Body: small }));
    await s3.send(new PutObjectCommand({ Bucket: 'rot', Key: 'old-large', Body: large }));
    await s3.send(new PutObjectCommand({ Bucket: 'rot', Key: 'old-rewrapped', Body: large }));
    const { UploadId } = await s3.send(
      new CreateMultipartUploadCommand({ Bucket: 'rot', Key: 'old-multipart' }),
    );
    const etags: string[] = [];
    for (const [i, Body] of parts.entries()) {
      const out = await s3.send(
        new UploadPartCommand({ Bucket: 'rot', Key: 'old-multipart', UploadId, PartNumber: i + 1, Body }),
      );
      etags.push(out.ETag!);
    }
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'rot',
        Key: 'old-multipart',
        UploadId,
        MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
      }),
    );
    for (const key of ['old-small', 'old-large', 'old-rewrapped', 'old-multipart']) {
      expect(await keyIdOf(key), key).toBe(OLD_PROXY_KEY_ID);
    }
  });

  it('with key B current and A legacy: reads the old objects, writes new ones under B, re-wraps copies under B', async () => {
    const s3 = await restart(`      mode: aes256-gcm-proxy\n${keyB}${legacyA}`);
    await expectReads(s3, 'old-small', small);
    await expectReads(s3, 'old-large', large);
    await expectReads(s3, 'old-multipart', Buffer.concat(parts));
    // The sealed ETag opens under the legacy key too.
    expect((await s3.send(new HeadObjectCommand({ Bucket: 'rot', Key: 'old-small' }))).ETag).toBe(
      `"${md5(small).toString('hex')}"`,
    );

    await s3.send(new PutObjectCommand({ Bucket: 'rot', Key: 'new-small', Body: small }));
    expect(await keyIdOf('new-small')).toBe(PROXY_KEY_ID);

    await s3.send(new CopyObjectCommand({ Bucket: 'rot', Key: 'copied-small', CopySource: 'rot/old-small' }));
    expect(await keyIdOf('copied-small')).toBe(PROXY_KEY_ID);
    await s3.send(
      new CopyObjectCommand({ Bucket: 'rot', Key: 'copied-multipart', CopySource: 'rot/old-multipart' }),
    );
    expect(await keyIdOf('copied-multipart')).toBe(PROXY_KEY_ID);
    // A copy onto itself that names the encryption is legal in S3, and re-wraps in place.
    await s3.send(
      new CopyObjectCommand({
        Bucket: 'rot',
        Key: 'old-rewrapped',
        CopySource: 'rot/old-rewrapped',
        ServerSideEncryption: 'AES256',
      }),
    );
    expect(await keyIdOf('old-rewrapped')).toBe(PROXY_KEY_ID);
    // Re-wrapping leaves the body alone (docs/FORMAT.md: rotation is a metadata rewrite).
    expect((await store.read('copied-small')).data.equals((await store.read('old-small')).data)).toBe(true);
    await expectReads(s3, 'copied-small', small);
    await expectReads(s3, 'copied-multipart', Buffer.concat(parts));
    await expectReads(s3, 'old-rewrapped', large);
    expect(await keyIdOf('old-small')).toBe(OLD_PROXY_KEY_ID);
  });

  it('with key B only: old objects get 400 EncryptionKeyMismatch naming both key ids (HEAD too); re-wrapped ones read', async () => {
    const s3 = await restart(`      mode: aes256-gcm-proxy\n${keyB}`);
    for (const key of ['old-small', 'old-large', 'old-multipart']) {
      const outcome = await getOutcome(s3, 'rot', key);
      expect(outcome, key).toMatchObject({ kind: 'error', code: 'EncryptionKeyMismatch', status: 400 });
      const message = outcome.kind === 'error' ? outcome.message : '';
      expect(message).toContain(`"${OLD_PROXY_KEY_ID}"`);
      expect(message).toContain(`"${PROXY_KEY_ID}"`);
      await expectStatus(s3.send(new HeadObjectCommand({ Bucket: 'rot', Key: key })), 400);
    }
    await expectReads(s3, 'new-small', small);
    await expectReads(s3, 'copied-small', small);
    await expectReads(s3, 'copied-multipart', Buffer.concat(parts));
    await expectReads(s3, 'old-rewrapped', large);
    // A listing does not fail for objects it cannot open: their sizes are still the plaintext's.
    const listing = await s3.send(new ListObjectsV2Command({ Bucket: 'rot' }));
    const sizes = new Map((listing.Contents ?? []).map((o) => [o.Key, o.Size]));
    expect(sizes.get('old-small')).toBe(small.length);
    expect(sizes.get('old-multipart')).toBe(parts[0].length + parts[1].length);
  });

  it('with mode none and A as legacy: old objects read, new writes are plaintext', async () => {
    const s3 = await restart(`      mode: none\n${legacyA}`);
    await expectReads(s3, 'old-small', small);
    await expectReads(s3, 'old-multipart', Buffer.concat(parts));
    await s3.send(new PutObjectCommand({ Bucket: 'rot', Key: 'plain-new', Body: small }));
    const stored = await store.read('plain-new');
    expect(stored.internal['enc']).toBeUndefined();
    expect(stored.internal['dk']).toBeUndefined();
    expect(stored.data.equals(small)).toBe(true);
    await expectReads(s3, 'plain-new', small);
    // Objects under B are now under a key this backend does not hold.
    const outcome = await getOutcome(s3, 'rot', 'new-small');
    expect(outcome).toMatchObject({ kind: 'error', code: 'EncryptionKeyMismatch', status: 400 });
    expect(outcome.kind === 'error' && outcome.message).toContain(`"${PROXY_KEY_ID}"`);
  });
});
