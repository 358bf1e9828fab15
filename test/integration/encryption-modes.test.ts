/**
 * Every encryption mode end to end through the S3 API, on the filesystem backend and on S3 (moto): one
 * bucket per mode (`plain`, `proxy`, `envelope`, and on S3 the native `sse-kms` and `sse-s3`), SSE-C on
 * top of any of them. Round trips at the chunk-size edges with every kind of range, multipart uploads with
 * uneven, out-of-order and non-contiguous parts, the copy matrix between every pair of forms, copies that
 * must not rewrite the ciphertext, listings, checksums, and a scan of every raw stored byte for anything
 * derived from the plaintext or the customer's key.
 *
 * The gateway runs as the plain Node server whatever SEALGATE_TEST_TARGET says: the multipart tests send
 * 5 MiB parts, above what a function URL can carry (test/integration/function-url.test.ts covers that edge).
 * Object data is random, not patterned: a pattern that repeats every 64 KiB would hide a chunk served from
 * the wrong index.
 */
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { objectPath } from '../../functions/adapters/filesystem/key-paths.js';
import { readObjectRecord } from '../../functions/adapters/filesystem/record-overrides.js';
import { checksumOf, md5Base64, md5Hex, multipartEtag, singlePartEtag } from '../support/digests.js';
import {
  GATEWAY_MODES,
  NATIVE_MODES,
  startEncryptionGateway,
  type EncryptionGateway,
  type ModeBucket,
} from '../support/encryption-gateway.js';
import type { BackendKind } from '../support/gateway.js';
import { useMoto } from '../support/moto.js';
import { bucketState, expectS3Error, expectStatus, streamOf } from '../support/s3-expect.js';

const KIB = 1024;
const MIB = 1024 * KIB;
const CHUNK = 64 * KIB;
const BACKENDS: BackendKind[] = ['filesystem', 's3'];
/** Around the 64 KiB chunk size: empty, one byte, one short of a chunk, exactly one, one over, several. */
const SIZES = [0, 1, 65535, 65536, 65537, 200000];
/** A multipart test takes a few seconds on moto; the default 60 s leaves too little margin for a slow run. */
const SLOW = 180_000;

/** An SSE-C customer key as a client holds it. */
interface CustomerKey {
  key: Buffer;
  base64: string;
  /** Base64 MD5 of the key, as S3 echoes it. */
  md5: string;
}

function customerKey(): CustomerKey {
  const key = randomBytes(32);
  return { key, base64: key.toString('base64'), md5: md5Base64(key) };
}

/** The key most SSE-C objects are written with, and a second one for copies and rotation. */
const KEY_A = customerKey();
const KEY_B = customerKey();

/** How an object is written: into a mode bucket, optionally under an SSE-C key. */
interface Form {
  bucket: ModeBucket;
  ssec?: CustomerKey;
  name: string;
}

function bucketsOf(backend: BackendKind): ModeBucket[] {
  return backend === 's3' ? [...GATEWAY_MODES, ...NATIVE_MODES] : [...GATEWAY_MODES];
}

/** Every mode bucket as it is, plus SSE-C over a `none` backend and over a gateway-encrypted one. */
function formsOf(backend: BackendKind, ssec: CustomerKey): Form[] {
  return [
    ...bucketsOf(backend).map((bucket) => ({ bucket, name: bucket })),
    { bucket: 'plain', ssec, name: 'sse-c@plain' },
    { bucket: 'envelope', ssec, name: 'sse-c@envelope' },
  ];
}

/** The request fields that send an SSE-C key for the object (none without a key). */
function ssecOf(key: CustomerKey | undefined) {
  return key ? { SSECustomerAlgorithm: 'AES256', SSECustomerKey: key.base64 } : {};
}

/** The request fields that send an SSE-C key for a copy's source. */
function copySourceSsecOf(key: CustomerKey | undefined) {
  return key ? { CopySourceSSECustomerAlgorithm: 'AES256', CopySourceSSECustomerKey: key.base64 } : {};
}

interface EncryptionFields {
  ServerSideEncryption?: string;
  SSEKMSKeyId?: string;
  SSECustomerAlgorithm?: string;
  SSECustomerKeyMD5?: string;
}

/** The encryption a response describes, as one comparable value. */
function echoOf(response: EncryptionFields) {
  return {
    sse: response.ServerSideEncryption,
    kmsKeyId: response.SSEKMSKeyId,
    ssecAlgorithm: response.SSECustomerAlgorithm,
    ssecKeyMd5: response.SSECustomerKeyMD5,
  };
}

/** What S3 answers for each form: SSE-C echoes the key's MD5; proxy reads as AES256, envelope as aws:kms. */
function expectedEcho(form: Form, kmsKeyArn: string) {
  const none = { sse: undefined, kmsKeyId: undefined, ssecAlgorithm: undefined, ssecKeyMd5: undefined };
  if (form.ssec) return { ...none, ssecAlgorithm: 'AES256', ssecKeyMd5: form.ssec.md5 };
  switch (form.bucket) {
    case 'plain':
      return none;
    case 'proxy':
    case 'sse-s3':
      return { ...none, sse: 'AES256' };
    case 'envelope':
    case 'sse-kms':
      return { ...none, sse: 'aws:kms', kmsKeyId: kmsKeyArn };
  }
}

/** Buckets whose objects (without SSE-C) the gateway encrypts itself, in its own format. */
function isGatewayMode(bucket: ModeBucket): boolean {
  return bucket === 'proxy' || bucket === 'envelope';
}

/** Buckets whose single-part objects (without SSE-C) carry the plaintext's MD5 as their ETag. */
const MD5_ETAG_BUCKETS: ModeBucket[] = ['plain', 'proxy', 'envelope'];

/** Single-part proxy objects list with their plaintext MD5 (encryption/listed-object.ts, listedView); plain ones anyway. */
function listedEtag(form: Form, data: Buffer): string | undefined {
  return !form.ssec && (form.bucket === 'proxy' || form.bucket === 'plain')
    ? singlePartEtag(data)
    : undefined;
}

/** Equal bytes, reported by length and the first differing offset (a whole-buffer diff is unreadable). */
function expectBytes(actual: Buffer, expected: Buffer, what = 'body'): void {
  let firstDifference = -1;
  if (!actual.equals(expected)) {
    const n = Math.min(actual.length, expected.length);
    firstDifference = n;
    for (let i = 0; i < n; i++) {
      if (actual[i] !== expected[i]) {
        firstDifference = i;
        break;
      }
    }
  }
  expect({ length: actual.length, firstDifference }, what).toEqual({
    length: expected.length,
    firstDifference: -1,
  });
}

async function bodyOf(response: { Body?: { transformToByteArray(): Promise<Uint8Array> } }): Promise<Buffer> {
  return Buffer.from(await response.Body!.transformToByteArray());
}

/** docs/FORMAT.md section 3, computed here as a second opinion: 24 + P + 16 per chunk (at least one). */
function ciphertextLength(plaintextLength: number): number {
  return 24 + plaintextLength + 16 * Math.max(1, Math.ceil(plaintextLength / CHUNK));
}

interface RangeCase {
  header: string;
  start: number;
  end: number;
}

/**
 * The ranges every size is read with: first byte, last byte, a middle range (across a chunk boundary where
 * there is one), a suffix, a suffix longer than the object, an open range, and one past the end that S3
 * clips to the last byte.
 */
function rangesFor(size: number): RangeCase[] {
  const at = (header: string, start: number, end: number) => ({ header, start, end });
  const last = size - 1;
  const cases = [at('bytes=0-0', 0, 0), at(`bytes=${last}-${last}`, last, last)];
  if (size > CHUNK + 8) cases.push(at(`bytes=${CHUNK - 8}-${CHUNK + 7}`, CHUNK - 8, CHUNK + 7));
  if (size > 3 * CHUNK) cases.push(at('bytes=65000-140000', 65000, 140000));
  if (size >= 3) {
    const [from, to] = [Math.floor(size / 3), Math.floor((2 * size) / 3)];
    cases.push(at(`bytes=${from}-${to}`, from, to));
  }
  const suffix = Math.min(size, 70000);
  cases.push(at(`bytes=-${suffix}`, size - suffix, last));
  cases.push(at(`bytes=-${size + 100}`, 0, last));
  const half = Math.floor(size / 2);
  cases.push(at(`bytes=${half}-`, half, last));
  const nearEnd = Math.max(0, size - 3);
  cases.push(at(`bytes=${nearEnd}-${size + 5000}`, nearEnd, last));
  return cases;
}

/** Walks a folder recursively: every file's path. */
async function filesUnder(folder: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(path)));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

const moto = useMoto();

describe.each(BACKENDS)('encryption modes on the %s backend', (backend) => {
  let gateway: EncryptionGateway;
  let s3: S3Client;
  let kmsKeyArn: string;
  const buckets = bucketsOf(backend);

  /** Every object the tests store, by bucket: its plaintext size and (where listings show it) its MD5 ETag. */
  const stored = new Map<ModeBucket, Map<string, { size: number; etag?: string }>>();
  function remember(bucket: ModeBucket, key: string, size: number, etag?: string): void {
    if (!stored.has(bucket)) stored.set(bucket, new Map());
    stored.get(bucket)!.set(key, { size, etag });
  }

  beforeAll(async () => {
    gateway = await startEncryptionGateway({ backend, moto, target: 'server' });
    s3 = gateway.client();
    kmsKeyArn = gateway.kmsKeyArn;
  });
  afterAll(async () => {
    await gateway?.close();
  });

  /** What the backend holds for an object: the stored body and the gateway's internal markers. */
  async function rawObject(
    bucket: ModeBucket,
    key: string,
  ): Promise<{ body: Buffer; internal: Record<string, string> }> {
    if (gateway.motoS3) {
      const res = await gateway.motoS3.send(
        new GetObjectCommand({ Bucket: gateway.storedAt(bucket), Key: key }),
      );
      const internal: Record<string, string> = {};
      for (const [name, value] of Object.entries(res.Metadata ?? {})) {
        if (name.startsWith('sealgate-')) internal[name.slice('sealgate-'.length)] = value;
      }
      return { body: await bodyOf(res), internal };
    }
    // functions/adapters/filesystem/object-file.ts: the data, then the file's record (or the record a
    // metadata replace wrote beside it, filesystem/record-overrides.ts).
    const folder = gateway.storedAt(bucket);
    const path = objectPath(dirname(folder), basename(folder), key);
    const file = await readFile(path);
    const record = await readObjectRecord(path);
    if (!record) throw new Error(`no stored object ${key}`);
    return { body: file.subarray(0, record.size), internal: record.metadata?.internal ?? {} };
  }

  /**
   * What the backend holds for a single-part object: the plaintext itself for `none` and the native modes
   * (the backend encrypts those, moto does not), else one part-0 segment of the ciphertext format, at the
   * length docs/FORMAT.md gives, marked with its mode.
   */
  async function expectStoredForm(form: Form, key: string, data: Buffer): Promise<void> {
    const raw = await rawObject(form.bucket, key);
    if (!form.ssec && !isGatewayMode(form.bucket)) {
      expectBytes(raw.body, data, 'stored body');
      expect(raw.internal['enc']).toBe(form.bucket === 'plain' ? undefined : form.bucket);
      return;
    }
    expect(raw.internal['enc']).toBe(
      form.ssec ? 'sse-c' : form.bucket === 'proxy' ? 'aes256-gcm-proxy' : 'aws-kms-envelope',
    );
    expect(raw.body.length).toBe(ciphertextLength(data.length));
    // "SGE", version 1, part number 0.
    expect(raw.body.subarray(0, 8).toString('hex')).toBe('5347450100000000');
  }

  /**
   * Reads an object whole and with every range of {@link rangesFor}, checking bytes, Content-Length,
   * Content-Range, the ETag and the encryption echo of each answer.
   */
  async function expectReads(form: Form, key: string, data: Buffer, etag: string): Promise<void> {
    const request = { Bucket: form.bucket, Key: key, ...ssecOf(form.ssec) };
    const full = await s3.send(new GetObjectCommand(request));
    expect(full.$metadata.httpStatusCode).toBe(200);
    expect(full.ContentLength).toBe(data.length);
    expect(full.ContentRange).toBeUndefined();
    expect(full.ETag).toBe(etag);
    expect(echoOf(full)).toEqual(expectedEcho(form, kmsKeyArn));
    expectBytes(await bodyOf(full), data);
    if (data.length === 0) {
      await expectS3Error(
        s3.send(new GetObjectCommand({ ...request, Range: 'bytes=0-0' })),
        'InvalidRange',
        416,
      );
      await expectS3Error(
        s3.send(new GetObjectCommand({ ...request, Range: 'bytes=0-' })),
        'InvalidRange',
        416,
      );
      return;
    }
    for (const range of rangesFor(data.length)) {
      const got = await s3.send(new GetObjectCommand({ ...request, Range: range.header }));
      expect({ range: range.header, status: got.$metadata.httpStatusCode }).toEqual({
        range: range.header,
        status: 206,
      });
      expect(got.ContentLength).toBe(range.end - range.start + 1);
      expect(got.ContentRange).toBe(`bytes ${range.start}-${range.end}/${data.length}`);
      expect(got.ETag).toBe(etag);
      expectBytes(await bodyOf(got), data.subarray(range.start, range.end + 1), range.header);
    }
  }

  describe('single-part round trips', () => {
    describe.each(buckets)('in the %s bucket', (bucket) => {
      const form: Form = { bucket, name: bucket };
      it.each(SIZES)('stores %i bytes and serves them whole and in every kind of range', async (size) => {
        const key = `single/${size}`;
        const data = randomBytes(size);
        const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: data }));
        expect(echoOf(put)).toEqual(expectedEcho(form, kmsKeyArn));
        if (MD5_ETAG_BUCKETS.includes(bucket)) expect(put.ETag).toBe(singlePartEtag(data));
        remember(bucket, key, size, listedEtag(form, data));

        const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        expect(head.ContentLength).toBe(size);
        expect(head.ETag).toBe(put.ETag);
        expect(echoOf(head)).toEqual(expectedEcho(form, kmsKeyArn));
        await expectStoredForm(form, key, data);
        await expectReads(form, key, data, put.ETag!);
      });

      it('answers PartNumber=1 of a single-part object with the whole object as a 206, and refuses part 2', async () => {
        const key = 'single/part-one';
        const data = randomBytes(70000);
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: data }));
        remember(bucket, key, data.length, listedEtag(form, data));
        const whole = `bytes 0-${data.length - 1}/${data.length}`;
        const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, PartNumber: 1 }));
        expect(got.$metadata.httpStatusCode).toBe(206);
        expect(got.ContentLength).toBe(data.length);
        expect(got.ContentRange).toBe(whole);
        expectBytes(await bodyOf(got), data);
        const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, PartNumber: 1 }));
        expect(head.$metadata.httpStatusCode).toBe(206);
        expect(head.ContentLength).toBe(data.length);
        expect(head.ContentRange).toBe(whole);
        await expectS3Error(
          s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, PartNumber: 2 })),
          'InvalidPartNumber',
          400,
        );
      });
    });
  });

  describe('SSE-C round trips', () => {
    describe.each(buckets)('in the %s bucket', (bucket) => {
      const form: Form = { bucket, ssec: KEY_A, name: `sse-c@${bucket}` };
      it.each(SIZES)('stores %i bytes under a customer key and serves them only with it', async (size) => {
        const key = `ssec/${size}`;
        const data = randomBytes(size);
        const put = await s3.send(
          new PutObjectCommand({ Bucket: bucket, Key: key, Body: data, ...ssecOf(KEY_A) }),
        );
        expect(echoOf(put)).toEqual(expectedEcho(form, kmsKeyArn));
        remember(bucket, key, size);

        const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ...ssecOf(KEY_A) }));
        expect(head.ContentLength).toBe(size);
        expect(head.ETag).toBe(put.ETag);
        expect(echoOf(head)).toEqual(expectedEcho(form, kmsKeyArn));
        await expectStoredForm(form, key, data);
        await expectReads(form, key, data, put.ETag!);

        await expectS3Error(
          s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...ssecOf(KEY_B) })),
          'AccessDenied',
          403,
        );
        await expectS3Error(
          s3.send(new GetObjectCommand({ Bucket: bucket, Key: key })),
          'InvalidRequest',
          400,
        );
      });
    });
  });

  describe('multipart uploads with uneven parts, out of order, completed with parts 1, 2 and 5', () => {
    const forms = formsOf(backend, KEY_A);
    it.each(forms)(
      'serves the completed object whole, in ranges across part boundaries and part by part ($name)',
      async (form) => {
        const { bucket } = form;
        const key = `mp/${form.name}`;
        const ssec = ssecOf(form.ssec);
        const echo = expectedEcho(form, kmsKeyArn);
        // Part 3 is uploaded but left out of the completion; the object is parts 1, 2 and 5.
        const parts = new Map<number, Buffer>([
          [1, randomBytes(5 * MIB + 1)],
          [2, randomBytes(5 * MIB)],
          [3, randomBytes(1000)],
          [5, randomBytes(7)],
        ]);
        const kept = [1, 2, 5];
        const data = Buffer.concat(kept.map((n) => parts.get(n)!));
        const created = await s3.send(
          new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ...ssec }),
        );
        expect(echoOf(created)).toEqual(echo);
        const uploadId = created.UploadId!;

        const etags = new Map<number, string>();
        for (const n of [5, 3, 1, 2]) {
          const part = await s3.send(
            new UploadPartCommand({
              Bucket: bucket,
              Key: key,
              UploadId: uploadId,
              PartNumber: n,
              Body: parts.get(n),
              ...ssec,
            }),
          );
          // Every UploadPart echoes the upload's encryption, native ones included, as S3's do.
          expect(echoOf(part)).toEqual(echo);
          expect(part.ChecksumCRC32).toBe(checksumOf('CRC32', parts.get(n)!));
          // Every part's ETag is the MD5 of the bytes sent, in every form (s3cmd compares them).
          expect(part.ETag).toBe(`"${md5Hex(parts.get(n)!)}"`);
          etags.set(n, part.ETag!);
        }

        const listed = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
        expect(listed.Parts?.map((p) => [p.PartNumber, p.Size])).toEqual(
          [...parts.keys()].sort((a, b) => a - b).map((n) => [n, parts.get(n)!.length]),
        );
        // ListParts shows the backend's part ETags: for a gateway-encrypted upload they are over ciphertext,
        // because the plaintext MD5 is answered by UploadPart but never stored.
        const gatewayEncrypted = form.ssec !== undefined || isGatewayMode(form.bucket);
        for (const p of listed.Parts ?? []) {
          if (gatewayEncrypted) expect(p.ETag).not.toBe(etags.get(p.PartNumber!));
          else expect(p.ETag).toBe(etags.get(p.PartNumber!));
        }

        const completed = await s3.send(
          new CompleteMultipartUploadCommand({
            Bucket: bucket,
            Key: key,
            UploadId: uploadId,
            MultipartUpload: { Parts: kept.map((n) => ({ PartNumber: n, ETag: etags.get(n) })) },
          }),
        );
        expect(completed.ETag).toMatch(/^"[0-9a-f]{32}-3"$/);
        if (bucket === 'plain' && !form.ssec) {
          expect(completed.ETag).toBe(multipartEtag(kept.map((n) => parts.get(n)!)));
        }
        // S3 echoes SSE-C on completion only when the request carries the key, which clients do not send.
        if (!form.ssec) expect(echoOf(completed)).toEqual(echo);
        remember(bucket, key, data.length);

        const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ...ssec }));
        expect(head.ContentLength).toBe(data.length);
        expect(head.ETag).toBe(completed.ETag);
        expect(echoOf(head)).toEqual(echo);

        const full = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...ssec }));
        expect(full.ContentLength).toBe(data.length);
        expect(full.ETag).toBe(completed.ETag);
        expect(echoOf(full)).toEqual(echo);
        expectBytes(await bodyOf(full), data);

        const second = parts.get(1)!.length;
        const third = second + parts.get(2)!.length;
        const last = data.length - 1;
        const ranges: [string, number, number][] = [
          [`bytes=${second - 10}-${second + 9}`, second - 10, second + 9],
          [`bytes=${third - 4}-${third + 2}`, third - 4, third + 2],
          [`bytes=${5 * MIB - 3}-${third + 3}`, 5 * MIB - 3, third + 3],
          [`bytes=${third + 2}-${third + 5}`, third + 2, third + 5],
          ['bytes=-20', last - 19, last],
          [`bytes=${second - 1}-`, second - 1, last],
        ];
        for (const [header, start, end] of ranges) {
          const got = await s3.send(
            new GetObjectCommand({ Bucket: bucket, Key: key, Range: header, ...ssec }),
          );
          expect({ header, status: got.$metadata.httpStatusCode }).toEqual({ header, status: 206 });
          expect(got.ContentLength).toBe(end - start + 1);
          expect(got.ContentRange).toBe(`bytes ${start}-${end}/${data.length}`);
          expectBytes(await bodyOf(got), data.subarray(start, end + 1), header);
        }

        // On S3 the parts of an object the gateway did not encrypt are moto's to number, and moto numbers a
        // completed object's parts as they were uploaded (part 3 answers with the part left out of the
        // completion). Parts 1 and 2 mean the same either way; part 3 (uploaded as 5) is checked where the
        // gateway itself knows the layout.
        const partsKnownToGateway =
          backend === 'filesystem' || form.ssec !== undefined || isGatewayMode(bucket);
        let offset = 0;
        for (const [i, n] of kept.entries()) {
          if (i === 2 && !partsKnownToGateway) break;
          const length = parts.get(n)!.length;
          const contentRange = `bytes ${offset}-${offset + length - 1}/${data.length}`;
          const got = await s3.send(
            new GetObjectCommand({ Bucket: bucket, Key: key, PartNumber: i + 1, ...ssec }),
          );
          expect({ part: i + 1, status: got.$metadata.httpStatusCode }).toEqual({ part: i + 1, status: 206 });
          expect(got.ContentLength).toBe(length);
          expect(got.ContentRange).toBe(contentRange);
          expect(got.PartsCount).toBe(3);
          expectBytes(await bodyOf(got), parts.get(n)!, `part ${i + 1}`);
          const headPart = await s3.send(
            new HeadObjectCommand({ Bucket: bucket, Key: key, PartNumber: i + 1, ...ssec }),
          );
          expect(headPart.$metadata.httpStatusCode).toBe(206);
          expect(headPart.ContentLength).toBe(length);
          expect(headPart.ContentRange).toBe(contentRange);
          expect(headPart.PartsCount).toBe(3);
          offset += length;
        }
        if (partsKnownToGateway) {
          await expectS3Error(
            s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, PartNumber: 4, ...ssec })),
            'InvalidPartNumber',
            400,
          );
        }
      },
      SLOW,
    );
  });

  describe('SSE-C multipart completion', () => {
    it.each(['plain', 'proxy'] as const)(
      'completes an SSE-C upload in %s whose CompleteMultipartUpload carries the key',
      async (bucket) => {
        const key = 'mp/ssec-complete-with-key';
        const data = randomBytes(70000);
        const { UploadId } = await s3.send(
          new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ...ssecOf(KEY_A) }),
        );
        const part = await s3.send(
          new UploadPartCommand({
            Bucket: bucket,
            Key: key,
            UploadId,
            PartNumber: 1,
            Body: data,
            ...ssecOf(KEY_A),
          }),
        );
        const completed = await s3.send(
          new CompleteMultipartUploadCommand({
            Bucket: bucket,
            Key: key,
            UploadId,
            MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
            ...ssecOf(KEY_A),
          }),
        );
        expect(completed.ETag).toMatch(/^"[0-9a-f]{32}-1"$/);
        // CompleteMultipartUpload's answer has no SSE-C fields in S3's API; nothing else is echoed either.
        expect(echoOf(completed)).toEqual(expectedEcho({ bucket: 'plain', name: '' }, kmsKeyArn));
        remember(bucket, key, data.length);
        const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...ssecOf(KEY_A) }));
        expect(got.ETag).toBe(completed.ETag);
        expectBytes(await bodyOf(got), data);
      },
    );
  });

  describe('CopyObject between every pair of forms', () => {
    const sources = formsOf(backend, KEY_A);
    const destinations = formsOf(backend, KEY_B);
    const data = new Map<string, Buffer>();
    const multipartSource = randomBytes(70000);

    beforeAll(async () => {
      for (const source of sources) {
        const bytes = randomBytes(70000);
        await s3.send(
          new PutObjectCommand({
            Bucket: source.bucket,
            Key: `copy-source/${source.name}`,
            Body: bytes,
            ...ssecOf(source.ssec),
          }),
        );
        data.set(source.name, bytes);
        remember(source.bucket, `copy-source/${source.name}`, bytes.length, listedEtag(source, bytes));
      }
      // A multipart object of one part: small, and still a layout with its tag.
      const { UploadId } = await s3.send(
        new CreateMultipartUploadCommand({ Bucket: 'proxy', Key: 'copy-source/multipart' }),
      );
      const part = await s3.send(
        new UploadPartCommand({
          Bucket: 'proxy',
          Key: 'copy-source/multipart',
          UploadId,
          PartNumber: 1,
          Body: multipartSource,
        }),
      );
      await s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: 'proxy',
          Key: 'copy-source/multipart',
          UploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
        }),
      );
      remember('proxy', 'copy-source/multipart', multipartSource.length);
    });

    /** Copies, then checks the result's ETag against HEAD, the echo, and the destination's bytes. */
    async function expectCopy(
      from: { bucket: ModeBucket; key: string; ssec?: CustomerKey },
      to: Form,
      key: string,
      bytes: Buffer,
    ): Promise<string> {
      const copied = await s3.send(
        new CopyObjectCommand({
          Bucket: to.bucket,
          Key: key,
          CopySource: `${from.bucket}/${from.key}`,
          ...copySourceSsecOf(from.ssec),
          ...ssecOf(to.ssec),
        }),
      );
      const echo = expectedEcho(to, kmsKeyArn);
      expect(echoOf(copied)).toEqual(echo);
      const head = await s3.send(new HeadObjectCommand({ Bucket: to.bucket, Key: key, ...ssecOf(to.ssec) }));
      expect(copied.CopyObjectResult?.ETag).toBe(head.ETag);
      expect(head.ContentLength).toBe(bytes.length);
      expect(echoOf(head)).toEqual(echo);
      const got = await s3.send(new GetObjectCommand({ Bucket: to.bucket, Key: key, ...ssecOf(to.ssec) }));
      expect(echoOf(got)).toEqual(echo);
      expectBytes(await bodyOf(got), bytes);
      const ranged = await s3.send(
        new GetObjectCommand({
          Bucket: to.bucket,
          Key: key,
          Range: `bytes=${CHUNK - 5}-${CHUNK + 4}`,
          ...ssecOf(to.ssec),
        }),
      );
      expectBytes(
        await bodyOf(ranged),
        bytes.subarray(CHUNK - 5, CHUNK + 5),
        'range across the chunk boundary',
      );
      return head.ETag!;
    }

    const pairs = sources.flatMap((src) =>
      destinations.map((dst) => ({ src, dst, name: `${src.name} to ${dst.name}` })),
    );
    it.each(pairs)('copies $name', async ({ src, dst }) => {
      const bytes = data.get(src.name)!;
      const key = `copy/${src.name}/${dst.name}`;
      const etag = await expectCopy(
        { bucket: src.bucket, key: `copy-source/${src.name}`, ssec: src.ssec },
        dst,
        key,
        bytes,
      );
      if (!dst.ssec && MD5_ETAG_BUCKETS.includes(dst.bucket)) expect(etag).toBe(singlePartEtag(bytes));
      await expectStoredForm(dst, key, bytes);
      remember(dst.bucket, key, bytes.length, listedEtag(dst, bytes));
    });

    it.each(destinations)('copies a multipart proxy object into $name', async (dst) => {
      const key = `copy/multipart/${dst.name}`;
      await expectCopy({ bucket: 'proxy', key: 'copy-source/multipart' }, dst, key, multipartSource);
      // Gateway-encrypted to gateway-encrypted keeps the body and so its layout; anything else rewrites it
      // as a single-part object.
      const keepsLayout = dst.ssec !== undefined || dst.bucket === 'proxy' || dst.bucket === 'envelope';
      remember(
        dst.bucket,
        key,
        multipartSource.length,
        keepsLayout ? undefined : listedEtag(dst, multipartSource),
      );
    });

    it(
      'builds an encrypted multipart upload from ranges of an encrypted and an SSE-C source (UploadPartCopy)',
      async () => {
        const sourceA = randomBytes(5 * MIB + 300000);
        await s3.send(new PutObjectCommand({ Bucket: 'proxy', Key: 'upc/source-a', Body: sourceA }));
        remember('proxy', 'upc/source-a', sourceA.length, singlePartEtag(sourceA));
        const sourceB = randomBytes(200000);
        await s3.send(
          new PutObjectCommand({ Bucket: 'envelope', Key: 'upc/source-b', Body: sourceB, ...ssecOf(KEY_A) }),
        );
        remember('envelope', 'upc/source-b', sourceB.length);

        const key = 'upc/assembled';
        const { UploadId } = await s3.send(
          new CreateMultipartUploadCommand({ Bucket: 'envelope', Key: key }),
        );
        const rangeA: [number, number] = [100000, 100000 + 5 * MIB - 1];
        const rangeB: [number, number] = [65530, 140000];
        const partA = await s3.send(
          new UploadPartCopyCommand({
            Bucket: 'envelope',
            Key: key,
            UploadId,
            PartNumber: 1,
            CopySource: 'proxy/upc/source-a',
            CopySourceRange: `bytes=${rangeA[0]}-${rangeA[1]}`,
          }),
        );
        expect(echoOf(partA)).toEqual(expectedEcho({ bucket: 'envelope', name: 'envelope' }, kmsKeyArn));
        const partB = await s3.send(
          new UploadPartCopyCommand({
            Bucket: 'envelope',
            Key: key,
            UploadId,
            PartNumber: 2,
            CopySource: 'envelope/upc/source-b',
            CopySourceRange: `bytes=${rangeB[0]}-${rangeB[1]}`,
            ...copySourceSsecOf(KEY_A),
          }),
        );
        const expected = [
          sourceA.subarray(rangeA[0], rangeA[1] + 1),
          sourceB.subarray(rangeB[0], rangeB[1] + 1),
        ];
        const listed = await s3.send(new ListPartsCommand({ Bucket: 'envelope', Key: key, UploadId }));
        expect(listed.Parts?.map((p) => [p.PartNumber, p.Size])).toEqual([
          [1, expected[0].length],
          [2, expected[1].length],
        ]);
        const completed = await s3.send(
          new CompleteMultipartUploadCommand({
            Bucket: 'envelope',
            Key: key,
            UploadId,
            MultipartUpload: {
              Parts: [
                { PartNumber: 1, ETag: partA.CopyPartResult?.ETag },
                { PartNumber: 2, ETag: partB.CopyPartResult?.ETag },
              ],
            },
          }),
        );
        expect(completed.ETag).toMatch(/^"[0-9a-f]{32}-2"$/);
        const whole = Buffer.concat(expected);
        remember('envelope', key, whole.length);
        const got = await s3.send(new GetObjectCommand({ Bucket: 'envelope', Key: key }));
        expectBytes(await bodyOf(got), whole);
        const boundary = expected[0].length;
        const across = await s3.send(
          new GetObjectCommand({
            Bucket: 'envelope',
            Key: key,
            Range: `bytes=${boundary - 7}-${boundary + 6}`,
          }),
        );
        expectBytes(
          await bodyOf(across),
          whole.subarray(boundary - 7, boundary + 7),
          'range across the parts',
        );
      },
      SLOW,
    );

    it('builds an SSE-C multipart upload from a range of an SSE-C source under another key (UploadPartCopy)', async () => {
      const source = randomBytes(200000);
      await s3.send(
        new PutObjectCommand({ Bucket: 'plain', Key: 'upc/ssec-source', Body: source, ...ssecOf(KEY_A) }),
      );
      remember('plain', 'upc/ssec-source', source.length);
      const key = 'upc/ssec-assembled';
      const { UploadId } = await s3.send(
        new CreateMultipartUploadCommand({ Bucket: 'proxy', Key: key, ...ssecOf(KEY_B) }),
      );
      const part = await s3.send(
        new UploadPartCopyCommand({
          Bucket: 'proxy',
          Key: key,
          UploadId,
          PartNumber: 1,
          CopySource: 'plain/upc/ssec-source',
          CopySourceRange: 'bytes=1000-131072',
          ...copySourceSsecOf(KEY_A),
          ...ssecOf(KEY_B),
        }),
      );
      expect(echoOf(part)).toEqual(
        expectedEcho({ bucket: 'proxy', ssec: KEY_B, name: 'sse-c@proxy' }, kmsKeyArn),
      );
      await s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: 'proxy',
          Key: key,
          UploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.CopyPartResult?.ETag }] },
        }),
      );
      const expected = source.subarray(1000, 131073);
      remember('proxy', key, expected.length);
      const got = await s3.send(new GetObjectCommand({ Bucket: 'proxy', Key: key, ...ssecOf(KEY_B) }));
      expectBytes(await bodyOf(got), expected);
      await expectS3Error(
        s3.send(new GetObjectCommand({ Bucket: 'proxy', Key: key, ...ssecOf(KEY_A) })),
        'AccessDenied',
        403,
      );
    });
  });

  describe('copies that keep the ciphertext', () => {
    it('copies proxy to proxy in one bucket by re-wrapping the data key: the stored body is byte-identical', async () => {
      const data = randomBytes(150000);
      await s3.send(new PutObjectCommand({ Bucket: 'proxy', Key: 'keep/source', Body: data }));
      remember('proxy', 'keep/source', data.length, singlePartEtag(data));
      const copied = await s3.send(
        new CopyObjectCommand({ Bucket: 'proxy', Key: 'keep/copy', CopySource: 'proxy/keep/source' }),
      );
      expect(copied.CopyObjectResult?.ETag).toBe(singlePartEtag(data));
      remember('proxy', 'keep/copy', data.length, singlePartEtag(data));

      const source = await rawObject('proxy', 'keep/source');
      const copy = await rawObject('proxy', 'keep/copy');
      expect(source.body.length).toBe(ciphertextLength(data.length));
      expect(copy.body.length).toBe(ciphertextLength(data.length));
      expectBytes(copy.body, source.body, 'stored ciphertext');
      expect(copy.internal['enc']).toBe('aes256-gcm-proxy');
      expect(copy.internal['key-id']).toBe(source.internal['key-id']);
      expect(copy.internal['dk']).toMatch(/^[A-Za-z0-9+/]+=*$/);
      expect(copy.internal['dk']).not.toBe(source.internal['dk']);
      expectBytes(
        Buffer.from(
          await (
            await s3.send(new GetObjectCommand({ Bucket: 'proxy', Key: 'keep/copy' }))
          ).Body!.transformToByteArray(),
        ),
        data,
      );
    });

    it.each(GATEWAY_MODES)(
      'rotates an SSE-C key by copying the object onto itself in the %s bucket, without rewriting its body',
      async (bucket) => {
        const key = 'keep/rotated';
        const data = randomBytes(150000);
        const put = await s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: data,
            Metadata: { colour: 'teal' },
            ...ssecOf(KEY_A),
          }),
        );
        const before = await rawObject(bucket, key);
        const rotated = await s3.send(
          new CopyObjectCommand({
            Bucket: bucket,
            Key: key,
            CopySource: `${bucket}/${key}`,
            MetadataDirective: 'COPY',
            ...copySourceSsecOf(KEY_A),
            ...ssecOf(KEY_B),
          }),
        );
        expect(echoOf(rotated)).toEqual(expectedEcho({ bucket, ssec: KEY_B, name: '' }, kmsKeyArn));
        remember(bucket, key, data.length);

        const after = await rawObject(bucket, key);
        expect(after.body.length).toBe(ciphertextLength(data.length));
        expectBytes(after.body, before.body, 'stored ciphertext');
        expect(after.internal['enc']).toBe('sse-c');
        expect(after.internal['dk']).not.toBe(before.internal['dk']);

        const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ...ssecOf(KEY_B) }));
        expect(head.ETag).toBe(put.ETag);
        expect(head.Metadata).toEqual({ colour: 'teal' });
        expect(head.SSECustomerKeyMD5).toBe(KEY_B.md5);
        const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...ssecOf(KEY_B) }));
        expectBytes(await bodyOf(got), data);
        await expectS3Error(
          s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...ssecOf(KEY_A) })),
          'AccessDenied',
          403,
        );
        await expectStatus(
          s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ...ssecOf(KEY_A) })),
          403,
        );
      },
    );
  });

  describe('checksums', () => {
    const forms: Form[] = [
      { bucket: 'proxy', name: 'proxy' },
      { bucket: 'envelope', name: 'envelope' },
      { bucket: 'plain', ssec: KEY_A, name: 'sse-c@plain' },
    ];
    const cases = forms.flatMap((form) =>
      (['CRC32', 'SHA256'] as const).flatMap((algorithm) =>
        (['header', 'trailer'] as const).map((sent) => ({
          form,
          algorithm,
          sent,
          name: `${algorithm} in a ${sent}, ${form.name}`,
        })),
      ),
    );
    it.each(cases)(
      'returns the plaintext checksum the SDK computed ($name)',
      async ({ form, algorithm, sent }) => {
        const data = randomBytes(100000);
        const key = `sum/${algorithm}/${sent}`;
        const expected = checksumOf(algorithm, data);
        const field = algorithm === 'CRC32' ? 'ChecksumCRC32' : 'ChecksumSHA256';
        const put = await s3.send(
          new PutObjectCommand({
            Bucket: form.bucket,
            Key: key,
            // A Buffer body goes whole with the checksum in a header; a stream goes aws-chunked with a trailer.
            ...(sent === 'header' ? { Body: data } : { Body: streamOf(data), ContentLength: data.length }),
            ChecksumAlgorithm: algorithm,
            ...ssecOf(form.ssec),
          }),
        );
        expect(put[field]).toBe(expected);
        remember(form.bucket, key, data.length, listedEtag(form, data));

        const head = await s3.send(
          new HeadObjectCommand({
            Bucket: form.bucket,
            Key: key,
            ChecksumMode: 'ENABLED',
            ...ssecOf(form.ssec),
          }),
        );
        expect(head[field]).toBe(expected);
        const got = await s3.send(
          new GetObjectCommand({
            Bucket: form.bucket,
            Key: key,
            ChecksumMode: 'ENABLED',
            ...ssecOf(form.ssec),
          }),
        );
        expect(got[field]).toBe(expected);
        expectBytes(await bodyOf(got), data);
      },
    );
  });

  describe('checksums through copies', () => {
    const destinations = formsOf(backend, KEY_B);
    const data = randomBytes(100000);
    const sha256 = checksumOf('SHA256', data);
    beforeAll(async () => {
      await s3.send(
        new PutObjectCommand({
          Bucket: 'proxy',
          Key: 'sum/copy-source',
          Body: data,
          ChecksumAlgorithm: 'SHA256',
        }),
      );
      remember('proxy', 'sum/copy-source', data.length, singlePartEtag(data));
    });
    it.each(destinations)(
      'keeps the source checksum when a proxy object is copied into $name',
      async (dst) => {
        const key = 'sum/copied';
        await s3.send(
          new CopyObjectCommand({
            Bucket: dst.bucket,
            Key: key,
            CopySource: 'proxy/sum/copy-source',
            ...ssecOf(dst.ssec),
          }),
        );
        remember(dst.bucket, key, data.length, listedEtag(dst, data));
        const head = await s3.send(
          new HeadObjectCommand({
            Bucket: dst.bucket,
            Key: key,
            ChecksumMode: 'ENABLED',
            ...ssecOf(dst.ssec),
          }),
        );
        expect(head.ChecksumSHA256).toBe(sha256);
        const got = await s3.send(
          new GetObjectCommand({
            Bucket: dst.bucket,
            Key: key,
            ChecksumMode: 'ENABLED',
            ...ssecOf(dst.ssec),
          }),
        );
        expect(got.ChecksumSHA256).toBe(sha256);
        expectBytes(await bodyOf(got), data);
      },
    );
  });

  describe('raw stored bytes', () => {
    /** 64 bytes, repeated: any leaked run of 31 bytes or more contains one of the windows checked below. */
    const PHRASE = Buffer.from('SEALGATE RAW-SCAN MARKER: if you can read this, it leaked. 0123\n');
    /** The phrase of the SSE-C object on the `none` backend, which must stay apart from the plain control. */
    const PHRASE_C = Buffer.from('SEALGATE CUSTOMER-KEY MARKER: sealed under SSE-C, not here. 45\n');
    const SCAN_KEY = customerKey();
    const repeated = (phrase: Buffer, length: number) =>
      Buffer.concat(Array.from({ length: Math.ceil(length / phrase.length) }, () => phrase)).subarray(
        0,
        length,
      );
    const TEXT = repeated(PHRASE, 3300 * PHRASE.length);
    const TEXT_C = repeated(PHRASE_C, 3300 * PHRASE_C.length);
    const MP_PARTS = [repeated(PHRASE, 5 * MIB), repeated(PHRASE, 1000)];

    interface Needle {
      name: string;
      bytes: Buffer;
    }
    /** The four 16-byte windows of a 64-byte period start at 0, 16, 32 and 48: a run of ≥ 31 bytes holds one. */
    function windowsOf(phrase: Buffer, name: string): Needle[] {
      return [0, 16, 32, 48].map((at) => ({
        name: `${name}[${at}..${at + 15}]`,
        bytes: phrase.subarray(at, at + 16),
      }));
    }
    function digestsOf(data: Buffer, name: string): Needle[] {
      const md5 = createHash('md5').update(data).digest();
      const sha256 = createHash('sha256').update(data).digest();
      return [
        { name: `MD5 of ${name} (hex)`, bytes: Buffer.from(md5Hex(data)) },
        { name: `MD5 of ${name} (base64)`, bytes: Buffer.from(md5.toString('base64')) },
        { name: `MD5 of ${name} (binary)`, bytes: md5 },
        { name: `SHA-256 of ${name} (base64)`, bytes: Buffer.from(sha256.toString('base64')) },
        { name: `SHA-256 of ${name} (hex)`, bytes: Buffer.from(sha256.toString('hex')) },
        { name: `SHA-256 of ${name} (binary)`, bytes: sha256 },
        { name: `CRC32 of ${name} (base64)`, bytes: Buffer.from(checksumOf('CRC32', data)) },
      ];
    }
    const KEY_NEEDLES: Needle[] = [
      { name: 'the customer key (binary)', bytes: SCAN_KEY.key },
      { name: 'the customer key (base64)', bytes: Buffer.from(SCAN_KEY.base64) },
      { name: 'the customer key MD5 (base64)', bytes: Buffer.from(SCAN_KEY.md5) },
      {
        name: 'the customer key MD5 (hex)',
        bytes: Buffer.from(Buffer.from(SCAN_KEY.md5, 'base64').toString('hex')),
      },
    ];

    /**
     * Every raw byte a backend keeps for a mode bucket: on the filesystem every file under the backend's
     * folder (objects with their records and footers, uploads in progress, staging); on S3 every object's
     * body and its metadata as moto's HeadObject describes it, and the uploads in progress with their parts.
     */
    async function rawBlobs(bucket: ModeBucket): Promise<{ where: string; bytes: Buffer }[]> {
      const out: { where: string; bytes: Buffer }[] = [];
      const moto3 = gateway.motoS3;
      if (!moto3) {
        const root = dirname(gateway.storedAt(bucket));
        for (const path of await filesUnder(root))
          out.push({ where: path.slice(root.length), bytes: await readFile(path) });
        return out;
      }
      const Bucket = gateway.storedAt(bucket);
      // The SDK's own request metadata ($metadata) is not the backend's.
      const json = (value: object) =>
        Buffer.from(
          JSON.stringify(value, (name, field: unknown) => (name === '$metadata' ? undefined : field)),
        );
      let token: string | undefined;
      do {
        const page = await moto3.send(new ListObjectsV2Command({ Bucket, ContinuationToken: token }));
        out.push({ where: `listing of ${Bucket}`, bytes: json(page) });
        for (const object of page.Contents ?? []) {
          const got = await moto3.send(new GetObjectCommand({ Bucket, Key: object.Key }));
          out.push({ where: `${object.Key} (body)`, bytes: await bodyOf(got) });
          const head = await moto3.send(
            new HeadObjectCommand({ Bucket, Key: object.Key, ChecksumMode: 'ENABLED' }),
          );
          out.push({ where: `${object.Key} (metadata)`, bytes: json(head) });
        }
        token = page.NextContinuationToken;
      } while (token);
      const uploads = await moto3.send(new ListMultipartUploadsCommand({ Bucket }));
      out.push({ where: `uploads of ${Bucket}`, bytes: json(uploads) });
      for (const upload of uploads.Uploads ?? []) {
        const parts = await moto3.send(
          new ListPartsCommand({ Bucket, Key: upload.Key, UploadId: upload.UploadId }),
        );
        out.push({ where: `${upload.Key} (upload ${upload.UploadId})`, bytes: json(parts) });
      }
      return out;
    }

    async function findings(bucket: ModeBucket, needles: Needle[]): Promise<string[]> {
      const found: string[] = [];
      for (const blob of await rawBlobs(bucket)) {
        for (const needle of needles) {
          if (blob.bytes.includes(needle.bytes)) found.push(`${needle.name} in ${bucket}:${blob.where}`);
        }
      }
      return found;
    }

    async function putText(bucket: ModeBucket, key: string, text: Buffer, ssec?: CustomerKey): Promise<void> {
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: text,
          ChecksumAlgorithm: 'SHA256',
          ...ssecOf(ssec),
        }),
      );
      remember(bucket, key, text.length, listedEtag({ bucket, ssec, name: '' }, text));
    }

    /** A multipart object of MP_PARTS, and an upload left in progress (its part staged on the backend). */
    async function multipartText(bucket: ModeBucket, key: string, ssec?: CustomerKey): Promise<void> {
      const { UploadId } = await s3.send(
        new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ...ssecOf(ssec) }),
      );
      const etags: string[] = [];
      for (const [i, body] of MP_PARTS.entries()) {
        const part = await s3.send(
          new UploadPartCommand({
            Bucket: bucket,
            Key: key,
            UploadId,
            PartNumber: i + 1,
            Body: body,
            ...ssecOf(ssec),
          }),
        );
        etags.push(part.ETag!);
      }
      await s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          UploadId,
          MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
        }),
      );
      remember(bucket, key, MP_PARTS[0].length + MP_PARTS[1].length);
      const pending = await s3.send(
        new CreateMultipartUploadCommand({ Bucket: bucket, Key: `${key}-pending`, ...ssecOf(ssec) }),
      );
      await s3.send(
        new UploadPartCommand({
          Bucket: bucket,
          Key: `${key}-pending`,
          UploadId: pending.UploadId,
          PartNumber: 1,
          Body: TEXT,
          ChecksumAlgorithm: 'SHA256',
          ...ssecOf(ssec),
        }),
      );
    }

    beforeAll(async () => {
      await putText('plain', 'scan/control', TEXT);
      await putText('plain', 'scan/ssec', TEXT_C, SCAN_KEY);
      for (const bucket of ['proxy', 'envelope'] as const) {
        await putText(bucket, 'scan/put', TEXT);
        await s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: 'scan/stream',
            Body: streamOf(TEXT),
            ContentLength: TEXT.length,
            ChecksumAlgorithm: 'SHA256',
          }),
        );
        remember(bucket, 'scan/stream', TEXT.length, listedEtag({ bucket, name: bucket }, TEXT));
        await putText(bucket, 'scan/ssec', TEXT, SCAN_KEY);
        await s3.send(
          new CopyObjectCommand({ Bucket: bucket, Key: 'scan/copied', CopySource: 'plain/scan/control' }),
        );
        remember(bucket, 'scan/copied', TEXT.length, listedEtag({ bucket, name: bucket }, TEXT));
        await multipartText(bucket, 'scan/multipart');
      }
      await multipartText('proxy', 'scan/multipart-ssec', SCAN_KEY);
    }, SLOW);

    it('finds the phrase in the plain bucket, so the scan can fail (control)', async () => {
      const found = await findings('plain', windowsOf(PHRASE, 'phrase'));
      expect(found).toContainEqual(expect.stringContaining('scan/control'));
      const got = await s3.send(new GetObjectCommand({ Bucket: 'proxy', Key: 'scan/multipart' }));
      expectBytes(await bodyOf(got), Buffer.concat(MP_PARTS), 'the scanned multipart object reads back');
    });

    it('reaches stored bodies, their metadata and uploads in progress (what the scan must cover)', async () => {
      const blobs = await rawBlobs('proxy');
      const scanned = blobs.reduce((sum, blob) => sum + blob.bytes.length, 0);
      // At least the ciphertext of the scan objects written to this backend.
      const written = [TEXT, TEXT, TEXT, TEXT, Buffer.concat(MP_PARTS), Buffer.concat(MP_PARTS)];
      expect(scanned).toBeGreaterThan(written.reduce((sum, text) => sum + ciphertextLength(text.length), 0));
      const blob = (pattern: RegExp) => blobs.find((b) => pattern.test(b.where));
      if (backend === 'filesystem') {
        // The object file holds the data, then its record with the markers: the record is scanned too.
        expect(blob(/\/scan\/put@obj$/)?.bytes.includes('"sealed"')).toBe(true);
        expect(blob(/\/\.sealgate\/uploads\//)).toBeDefined();
      } else {
        expect(blob(/^scan\/put \(metadata\)$/)?.bytes.includes('sealgate-sealed')).toBe(true);
        expect(blob(/^scan\/multipart-pending \(upload /)).toBeDefined();
      }
    });

    it.each(['proxy', 'envelope'] as const)(
      'keeps no plaintext, plaintext digest, checksum or customer key in the %s backend',
      async (bucket) => {
        const needles = [
          ...windowsOf(PHRASE, 'phrase'),
          ...digestsOf(TEXT, 'the text'),
          ...MP_PARTS.flatMap((part, i) => digestsOf(part, `multipart part ${i + 1}`)),
          ...digestsOf(Buffer.concat(MP_PARTS), 'the multipart object'),
          {
            name: 'the multipart ETag of the plaintext',
            bytes: Buffer.from(multipartEtag(MP_PARTS).slice(1, -1)),
          },
          ...KEY_NEEDLES,
        ];
        expect(await findings(bucket, needles)).toEqual([]);
      },
      SLOW,
    );

    it('keeps an SSE-C object on the none backend sealed: no phrase, digest, checksum or key', async () => {
      const needles = [
        ...windowsOf(PHRASE_C, 'customer phrase'),
        ...digestsOf(TEXT_C, 'the customer text'),
        ...KEY_NEEDLES,
      ];
      expect(await findings('plain', needles)).toEqual([]);
    });
  });

  describe('listings', () => {
    it.each(buckets)(
      'lists every object in %s with its plaintext size, and MD5 ETags where S3 shows them',
      async (bucket) => {
        const want = [...(stored.get(bucket) ?? new Map()).entries()]
          .map(([key, { size }]) => [key, size] as const)
          .sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
        expect(want.length).toBeGreaterThan(0);
        const listed = await bucketState(s3, bucket);
        expect(listed.map((o) => [o.key, o.size])).toEqual(want);
        for (const object of listed) {
          const etag = stored.get(bucket)!.get(object.key)!.etag;
          if (etag !== undefined)
            expect({ key: object.key, etag: object.etag }).toEqual({ key: object.key, etag });
        }
      },
    );
  });
});
