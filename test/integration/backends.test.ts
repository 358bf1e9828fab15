/**
 * One contract for every Backend, run against the filesystem backend (a temp folder) and the S3 backend
 * (moto on loopback), then the checks only one of them can show.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { HeadObjectCommand, ListPartsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { decodeSegment, encodeSegment } from '../../functions/adapters/filesystem/key-paths.js';
import { FilesystemBackend } from '../../functions/adapters/filesystem-backend.js';
import { completeMultipartUpload } from '../../functions/adapters/s3/multipart-uploads.js';
import { objectPath } from '../../functions/adapters/filesystem/key-paths.js';
import { openObjectFile } from '../../functions/adapters/filesystem/object-file.js';
import { overridePath } from '../../functions/adapters/filesystem/record-overrides.js';
import { StagingArea } from '../../functions/adapters/filesystem/staging-area.js';
import { S3Backend } from '../../functions/adapters/s3-backend.js';
import type { Backend, Body, ObjectMetadata } from '../../functions/core/backend.js';
import { S3Error } from '../../functions/core/errors.js';
import { countingProxy, type ProxyOptions, type SeenRequest } from '../support/counting-proxy.js';
import { startMoto, type MotoServer } from '../support/moto.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';

const MiB = 1024 * 1024;
/** S3 (and moto) reject parts under 5 MiB except the last. */
const PART_SIZE = 5 * MiB;

interface Subject {
  backend: Backend;
  /** Another instance over the same storage, as a second gateway process would have. */
  reopen(): Backend;
  /** Temporary files a failed write could have left behind; always empty for a backend that keeps none. */
  leftovers(): Promise<string[]>;
  close(): Promise<void>;
}

// --- helpers ---

async function* chunksOf(data: Uint8Array, chunkSize = 64 * 1024): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < data.length; offset += chunkSize) {
    yield data.subarray(offset, offset + chunkSize);
  }
}

async function* failingAfter(data: Uint8Array, bytes: number): AsyncGenerator<Uint8Array> {
  yield* chunksOf(data.subarray(0, bytes), 16 * 1024);
  await new Promise((resolve) => setTimeout(resolve, 20));
  throw new Error('the client went away');
}

/**
 * All of `data`, then a moment later a failure: as a body whose trailing checksum, arriving after the data,
 * turns out wrong. The pause lets every byte yielded so far reach a backend that does not hold any back.
 */
async function* failingAtEnd(data: Uint8Array): AsyncGenerator<Uint8Array> {
  yield* chunksOf(data, 16 * 1024);
  await new Promise((resolve) => setTimeout(resolve, 100));
  throw new Error('the trailer did not match');
}

async function collect(body: Body): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function md5(data: Uint8Array): string {
  return createHash('md5').update(data).digest('hex');
}

function metadata(overrides: Partial<ObjectMetadata> = {}): ObjectMetadata {
  return {
    headers: { 'content-type': 'application/octet-stream' },
    user: {},
    internal: {},
    ...overrides,
  };
}

async function s3Error(promise: Promise<unknown>): Promise<S3Error> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(S3Error);
  return error as S3Error;
}

function binarySorted(keys: string[]): string[] {
  return [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/** S3's multipart ETag: the MD5 of the parts' binary MD5s, then '-' and the number of parts. */
function multipartEtag(parts: Uint8Array[]): string {
  const digests = parts.map((part) => createHash('md5').update(part).digest());
  return `"${createHash('md5').update(Buffer.concat(digests)).digest('hex')}-${parts.length}"`;
}

/** Uploads `parts` as parts 1..n of an upload; returns what CompleteMultipartUpload takes. */
async function uploadParts(
  backend: Backend,
  bucket: string,
  key: string,
  uploadId: string,
  parts: Uint8Array[],
): Promise<{ partNumber: number; etag: string }[]> {
  const uploaded: { partNumber: number; etag: string }[] = [];
  for (const [index, data] of parts.entries()) {
    const part = await backend.uploadPart(bucket, key, uploadId, index + 1, chunksOf(data), data.length);
    uploaded.push({ partNumber: part.partNumber, etag: part.etag });
  }
  return uploaded;
}

let bucketCounter = 0;
function bucketName(): string {
  bucketCounter++;
  return `contract-${bucketCounter}-${randomBytes(4).toString('hex')}`;
}

// --- the contract ---

function backendContract(name: string, open: () => Promise<Subject>): void {
  describe(`${name}: the Backend contract`, () => {
    let subject: Subject;
    let backend: Backend;

    beforeAll(async () => {
      subject = await open();
      backend = subject.backend;
    });
    afterAll(async () => {
      await subject?.close();
    });

    async function newBucket(): Promise<string> {
      const bucket = bucketName();
      await backend.createBucket(bucket);
      return bucket;
    }

    async function put(bucket: string, key: string, data: Uint8Array, meta = metadata()) {
      return backend.putObject(bucket, key, chunksOf(data), data.length, meta);
    }

    describe('buckets', () => {
      it('creates, lists, heads and deletes a bucket', async () => {
        const bucket = bucketName();
        expect(await backend.bucketExists(bucket)).toBe(false);
        await backend.createBucket(bucket);

        expect(await backend.bucketExists(bucket)).toBe(true);
        const listed = (await backend.listBuckets()).find((entry) => entry.name === bucket);
        expect(listed?.created).toBeInstanceOf(Date);
        expect(Math.abs(listed!.created.getTime() - Date.now())).toBeLessThan(5 * 60_000);

        await backend.deleteBucket(bucket);
        expect(await backend.bucketExists(bucket)).toBe(false);
        expect((await backend.listBuckets()).map((entry) => entry.name)).not.toContain(bucket);
      });

      it('answers BucketAlreadyOwnedByYou to creating a bucket twice', async () => {
        const bucket = await newBucket();
        const error = await s3Error(backend.createBucket(bucket));
        expect(error).toMatchObject({ code: 'BucketAlreadyOwnedByYou', status: 409 });
      });

      it('refuses to delete a bucket that holds an object, and deletes it once empty', async () => {
        const bucket = await newBucket();
        await put(bucket, 'deep/down/key', Buffer.from('x'));
        expect(await s3Error(backend.deleteBucket(bucket))).toMatchObject({
          code: 'BucketNotEmpty',
          status: 409,
        });
        await backend.deleteObject(bucket, 'deep/down/key');
        await backend.deleteBucket(bucket);
        expect(await backend.bucketExists(bucket)).toBe(false);
      });

      it('answers NoSuchBucket to deleting or using a bucket that does not exist', async () => {
        const bucket = bucketName();
        expect(await s3Error(backend.deleteBucket(bucket))).toMatchObject({
          code: 'NoSuchBucket',
          status: 404,
        });
        expect(await s3Error(backend.headObject(bucket, 'k'))).toMatchObject({ code: 'NoSuchBucket' });
        expect(await s3Error(backend.getObject(bucket, 'k'))).toMatchObject({ code: 'NoSuchBucket' });
        expect(await s3Error(put(bucket, 'k', Buffer.from('x')))).toMatchObject({ code: 'NoSuchBucket' });
        expect(await s3Error(backend.deleteObject(bucket, 'k'))).toMatchObject({ code: 'NoSuchBucket' });
        expect(await s3Error(backend.listObjects(bucket, { prefix: '', maxKeys: 10 }))).toMatchObject({
          code: 'NoSuchBucket',
        });
      });
    });

    describe('objects', () => {
      it('round-trips exact bytes with headers, user and internal metadata', async () => {
        const bucket = await newBucket();
        const data = randomBytes(300 * 1024 + 7);
        const meta: ObjectMetadata = {
          headers: {
            'content-type': 'text/plain; charset=utf-8',
            'cache-control': 'max-age=60',
            'content-disposition': 'attachment; filename="report.txt"',
            'content-encoding': 'identity',
            'content-language': 'en-GB',
            expires: 'Wed, 21 Oct 2037 07:28:00 GMT',
          },
          user: { colour: 'blue', 'owner-id': '42' },
          internal: { 'checksum-crc32': 'AAAAAA==', mode: 'none' },
        };
        const stored = await put(bucket, 'docs/report.txt', data, meta);
        expect(stored).toMatchObject({ key: 'docs/report.txt', size: data.length, etag: `"${md5(data)}"` });

        const head = await backend.headObject(bucket, 'docs/report.txt');
        expect(head).toMatchObject({ key: 'docs/report.txt', size: data.length, etag: `"${md5(data)}"` });
        expect(head.metadata).toEqual(meta);
        expect(head.partsCount).toBeUndefined();
        expect(Math.abs(head.lastModified.getTime() - Date.now())).toBeLessThan(5 * 60_000);

        const { info, body, range } = await backend.getObject(bucket, 'docs/report.txt');
        expect(range).toBeUndefined();
        expect(info.metadata).toEqual(meta);
        expect(info.etag).toBe(head.etag);
        expect((await collect(body)).equals(data)).toBe(true);
      });

      it('gives an opaque ETag unique to each write when asked, and stores the bytes the same', async () => {
        const bucket = await newBucket();
        const data = randomBytes(70_000);
        const etags: string[] = [];
        for (let i = 0; i < 2; i++) {
          const stored = await backend.putObject(bucket, 'sealed', chunksOf(data), data.length, metadata(), {
            opaqueEtag: true,
          });
          expect(stored.etag).toMatch(/^"[0-9a-f]{32}(-\d+)?"$/);
          expect((await backend.headObject(bucket, 'sealed')).etag).toBe(stored.etag);
          etags.push(stored.etag);
        }
        // S3 computes its own ETag whatever is asked; the filesystem backend then hashes nothing.
        if (name === 'filesystem') {
          expect(etags[0]).not.toBe(etags[1]);
          expect(etags).not.toContain(`"${md5(data)}"`);
        }
        expect((await collect((await backend.getObject(bucket, 'sealed')).body)).equals(data)).toBe(true);
      });

      it('stores an empty object', async () => {
        const bucket = await newBucket();
        const stored = await put(bucket, 'empty', Buffer.alloc(0));
        expect(stored.etag).toBe(`"${md5(Buffer.alloc(0))}"`);
        const { info, body } = await backend.getObject(bucket, 'empty');
        expect(info.size).toBe(0);
        expect((await collect(body)).length).toBe(0);
      });

      it('overwrites an object with a new version', async () => {
        const bucket = await newBucket();
        await put(bucket, 'k', Buffer.from('first version'));
        await put(bucket, 'k', Buffer.from('second'), metadata({ user: { v: '2' } }));
        const { info, body } = await backend.getObject(bucket, 'k');
        expect((await collect(body)).toString()).toBe('second');
        expect(info.metadata.user).toEqual({ v: '2' });
      });

      it('serves inclusive byte ranges', async () => {
        const bucket = await newBucket();
        const data = randomBytes(200_000);
        await put(bucket, 'ranged', data);
        for (const [start, end] of [
          [0, 0],
          [10, 19],
          [65_530, 131_080],
          [199_999, 199_999],
          [0, 199_999],
        ] as const) {
          const { info, body, range } = await backend.getObject(bucket, 'ranged', { start, end });
          expect(range).toEqual({ start, end });
          expect(info.size).toBe(data.length);
          expect((await collect(body)).equals(data.subarray(start, end + 1))).toBe(true);
        }
      });

      it('answers NoSuchKey for a key that does not exist', async () => {
        const bucket = await newBucket();
        const error = await s3Error(backend.getObject(bucket, 'missing/key'));
        expect(error).toMatchObject({ code: 'NoSuchKey', status: 404 });
        expect(await s3Error(backend.headObject(bucket, 'missing/key'))).toMatchObject({ code: 'NoSuchKey' });
      });

      it('deletes idempotently', async () => {
        const bucket = await newBucket();
        await put(bucket, 'gone', Buffer.from('x'));
        await backend.deleteObject(bucket, 'gone');
        await backend.deleteObject(bucket, 'gone');
        await backend.deleteObject(bucket, 'never/existed');
        expect(await s3Error(backend.headObject(bucket, 'gone'))).toMatchObject({ code: 'NoSuchKey' });
      });

      it('stores nothing when the body throws part-way, and the error is the body’s', async () => {
        const bucket = await newBucket();
        const data = randomBytes(256 * 1024);
        await expect(
          backend.putObject(bucket, 'broken', failingAfter(data, 100 * 1024), data.length, metadata()),
        ).rejects.toThrow('the client went away');
        expect(await s3Error(backend.headObject(bucket, 'broken'))).toMatchObject({ code: 'NoSuchKey' });
        expect(await subject.leftovers()).toEqual([]);
      });

      it('keeps the previous version when an overwrite fails part-way', async () => {
        const bucket = await newBucket();
        await put(bucket, 'stable', Buffer.from('original'));
        const data = randomBytes(64 * 1024);
        await expect(
          backend.putObject(bucket, 'stable', failingAfter(data, 1024), data.length, metadata()),
        ).rejects.toThrow('the client went away');
        expect((await collect((await backend.getObject(bucket, 'stable')).body)).toString()).toBe('original');
      });

      it('rejects a body shorter or longer than the size given, storing nothing', async () => {
        const bucket = await newBucket();
        const data = randomBytes(10_000);
        const short = await s3Error(backend.putObject(bucket, 'short', chunksOf(data), 10_001, metadata()));
        expect(short).toMatchObject({ code: 'IncompleteBody', status: 400 });
        const long = await s3Error(backend.putObject(bucket, 'long', chunksOf(data), 9_999, metadata()));
        expect(long).toMatchObject({ code: 'IncompleteBody', status: 400 });
        expect((await backend.listObjects(bucket, { prefix: '', maxKeys: 10 })).objects).toEqual([]);
        expect(await subject.leftovers()).toEqual([]);
      });

      it('stores nothing when the body throws after its last byte', async () => {
        const bucket = await newBucket();
        const data = randomBytes(100_000);
        await expect(
          backend.putObject(bucket, 'late-failure', failingAtEnd(data), data.length, metadata()),
        ).rejects.toThrow('the trailer did not match');
        expect(await s3Error(backend.headObject(bucket, 'late-failure'))).toMatchObject({
          code: 'NoSuchKey',
        });
        expect(await subject.leftovers()).toEqual([]);
      });
    });

    describe('markers known only after the body (late)', () => {
      it('stores late markers with the object, beside the metadata given up front', async () => {
        const bucket = await newBucket();
        const data = randomBytes(70_000);
        const meta = metadata({ user: { colour: 'green' }, internal: { mode: 'none' } });
        const late = vi.fn(() => ({ 'checksum-crc32': 'q0Bn5Q==' }));
        const stored = await backend.putObject(bucket, 'trailed', chunksOf(data), data.length, meta, {
          late,
        });
        expect(late).toHaveBeenCalledTimes(1);
        const expected: ObjectMetadata = {
          ...meta,
          internal: { mode: 'none', 'checksum-crc32': 'q0Bn5Q==' },
        };
        expect(stored).toMatchObject({ size: data.length, etag: `"${md5(data)}"`, metadata: expected });
        // The caller's metadata is left as it was given.
        expect(meta.internal).toEqual({ mode: 'none' });

        const head = await backend.headObject(bucket, 'trailed');
        expect(head.metadata).toEqual(expected);
        expect(head.etag).toBe(`"${md5(data)}"`);
        const { info, body } = await backend.getObject(bucket, 'trailed');
        expect(info.metadata).toEqual(expected);
        expect((await collect(body)).equals(data)).toBe(true);
      });

      it('stores late markers with an empty object', async () => {
        const bucket = await newBucket();
        await backend.putObject(bucket, 'empty', chunksOf(Buffer.alloc(0)), 0, metadata(), {
          late: () => ({ 'checksum-sha256': '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=' }),
        });
        const head = await backend.headObject(bucket, 'empty');
        expect(head.metadata.internal).toEqual({
          'checksum-sha256': '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=',
        });
        expect(head.size).toBe(0);
      });

      it('stores the object as given when late returns no markers', async () => {
        const bucket = await newBucket();
        const meta = metadata({ internal: { mode: 'none' } });
        const stored = await backend.putObject(bucket, 'plain', chunksOf(Buffer.from('x')), 1, meta, {
          late: () => ({}),
        });
        expect(stored.metadata).toEqual(meta);
        expect((await backend.headObject(bucket, 'plain')).metadata).toEqual(meta);
      });

      it('does not call late for a body that throws, and stores nothing', async () => {
        const bucket = await newBucket();
        const data = randomBytes(100_000);
        const late = vi.fn(() => ({ 'checksum-crc32': 'AAAAAA==' }));
        await expect(
          backend.putObject(bucket, 'broken', failingAfter(data, 30_000), data.length, metadata(), { late }),
        ).rejects.toThrow('the client went away');
        await expect(
          backend.putObject(bucket, 'broken', failingAtEnd(data), data.length, metadata(), { late }),
        ).rejects.toThrow('the trailer did not match');
        const empty = async function* (): AsyncGenerator<Uint8Array> {
          yield* [];
          throw new Error('the client went away');
        };
        await expect(backend.putObject(bucket, 'broken', empty(), 0, metadata(), { late })).rejects.toThrow(
          'the client went away',
        );
        expect(late).not.toHaveBeenCalled();
        expect(await s3Error(backend.headObject(bucket, 'broken'))).toMatchObject({ code: 'NoSuchKey' });
        expect(await subject.leftovers()).toEqual([]);
      });

      it('stores nothing when late itself throws', async () => {
        const bucket = await newBucket();
        const data = randomBytes(50_000);
        const late = () => {
          throw new Error('no checksum after all');
        };
        for (const body of [data, Buffer.alloc(0)]) {
          await expect(
            backend.putObject(bucket, 'refused', chunksOf(body), body.length, metadata(), { late }),
          ).rejects.toThrow('no checksum after all');
          expect(await s3Error(backend.headObject(bucket, 'refused'))).toMatchObject({ code: 'NoSuchKey' });
        }
        expect(await subject.leftovers()).toEqual([]);
      });
    });

    describe('copy', () => {
      it('copies bytes to another key with the metadata given', async () => {
        const bucket = await newBucket();
        const target = await newBucket();
        const data = randomBytes(100_000);
        await put(bucket, 'source', data, metadata({ user: { from: 'source' } }));
        const copyMeta = metadata({ user: { to: 'copy' }, internal: { marker: 'm1' } });
        const copied = await backend.copyObject({ bucket, key: 'source' }, target, 'dir/copy', copyMeta);
        expect(copied).toMatchObject({ key: 'dir/copy', size: data.length, etag: `"${md5(data)}"` });

        const { info, body } = await backend.getObject(target, 'dir/copy');
        expect(info.metadata).toEqual(copyMeta);
        expect((await collect(body)).equals(data)).toBe(true);
        expect((await backend.headObject(bucket, 'source')).metadata.user).toEqual({ from: 'source' });
      });

      it('replaces the metadata of an object copied onto itself', async () => {
        const bucket = await newBucket();
        const data = randomBytes(50_000);
        await put(bucket, 'self', data, metadata({ user: { version: '1' } }));
        const replaced = metadata({
          headers: { 'content-type': 'image/png' },
          user: { version: '2' },
          internal: { flag: 'on' },
        });
        await backend.copyObject({ bucket, key: 'self' }, bucket, 'self', replaced);
        const { info, body } = await backend.getObject(bucket, 'self');
        expect(info.metadata).toEqual(replaced);
        expect((await collect(body)).equals(data)).toBe(true);
      });

      it('answers NoSuchKey when the source does not exist', async () => {
        const bucket = await newBucket();
        const error = await s3Error(backend.copyObject({ bucket, key: 'nope' }, bucket, 'dest', metadata()));
        expect(error).toMatchObject({ code: 'NoSuchKey' });
      });
    });

    describe('listing', () => {
      // '～' (U+FF5E) sorts after '𝄞' (U+1D11E) in UTF-16 but before it in UTF-8, as S3 orders keys.
      const keys = [
        'a',
        'a/b',
        'a/c/d',
        'a/c/e',
        'a-b',
        'a0',
        'ab/c',
        'b',
        'sp ace+plus%',
        'z',
        'é',
        '日本/語',
        '～',
        '𝄞',
      ];
      let bucket: string;

      beforeAll(async () => {
        bucket = bucketName();
        await backend.createBucket(bucket);
        for (const key of keys) await put(bucket, key, Buffer.from(`data of ${key}`));
      });

      it('lists every key in UTF-8 binary order with size and ETag', async () => {
        const page = await backend.listObjects(bucket, { prefix: '', maxKeys: 1000 });
        expect(page.objects.map((object) => object.key)).toEqual(binarySorted(keys));
        expect(page.commonPrefixes).toEqual([]);
        expect(page.isTruncated).toBe(false);
        const first = page.objects.find((object) => object.key === 'a/b')!;
        expect(first.size).toBe(Buffer.byteLength('data of a/b'));
        expect(first.etag).toBe(`"${md5(Buffer.from('data of a/b'))}"`);
        expect(first.lastModified).toBeInstanceOf(Date);
      });

      it('rolls keys up into common prefixes with a delimiter', async () => {
        const page = await backend.listObjects(bucket, { prefix: '', delimiter: '/', maxKeys: 1000 });
        expect(page.objects.map((object) => object.key)).toEqual(
          binarySorted(['a', 'a-b', 'a0', 'b', 'sp ace+plus%', 'z', 'é', '～', '𝄞']),
        );
        expect(page.commonPrefixes).toEqual(['a/', 'ab/', '日本/']);
      });

      it('lists under a prefix, whole or partial segment', async () => {
        const under = await backend.listObjects(bucket, { prefix: 'a/', delimiter: '/', maxKeys: 1000 });
        expect(under.objects.map((object) => object.key)).toEqual(['a/b']);
        expect(under.commonPrefixes).toEqual(['a/c/']);

        const partial = await backend.listObjects(bucket, { prefix: 'a/c', maxKeys: 1000 });
        expect(partial.objects.map((object) => object.key)).toEqual(['a/c/d', 'a/c/e']);

        const nothing = await backend.listObjects(bucket, { prefix: 'nothing/here', maxKeys: 1000 });
        expect(nothing).toMatchObject({ objects: [], commonPrefixes: [], isTruncated: false });
      });

      it('rolls up on a delimiter other than /', async () => {
        const page = await backend.listObjects(bucket, { prefix: 'a', delimiter: '-', maxKeys: 1000 });
        expect(page.commonPrefixes).toEqual(['a-']);
        expect(page.objects.map((object) => object.key)).toEqual([
          'a',
          'a/b',
          'a/c/d',
          'a/c/e',
          'a0',
          'ab/c',
        ]);
      });

      it('starts strictly after the marker', async () => {
        const page = await backend.listObjects(bucket, { prefix: '', after: 'a0', maxKeys: 1000 });
        const sorted = binarySorted(keys);
        expect(page.objects.map((object) => object.key)).toEqual(sorted.slice(sorted.indexOf('a0') + 1));
      });

      it('pages through keys with maxKeys and last', async () => {
        const seen: string[] = [];
        let after: string | undefined;
        for (let pages = 0; pages < 20; pages++) {
          const page = await backend.listObjects(bucket, { prefix: '', after, maxKeys: 3 });
          expect(page.objects.length).toBeLessThanOrEqual(3);
          seen.push(...page.objects.map((object) => object.key));
          if (!page.isTruncated) break;
          expect(page.last).toBe(page.objects.at(-1)?.key);
          after = page.last;
        }
        expect(seen).toEqual(binarySorted(keys));
      });

      it('counts common prefixes toward maxKeys and resumes after a prefix', async () => {
        const entries: string[] = [];
        let after: string | undefined;
        for (let pages = 0; pages < 20; pages++) {
          const page = await backend.listObjects(bucket, { prefix: '', delimiter: '/', after, maxKeys: 2 });
          expect(page.objects.length + page.commonPrefixes.length).toBeLessThanOrEqual(2);
          entries.push(...page.objects.map((object) => object.key), ...page.commonPrefixes);
          if (!page.isTruncated) break;
          after = page.last;
        }
        expect(binarySorted(entries)).toEqual(
          binarySorted(['a', 'a/', 'a-b', 'a0', 'ab/', 'b', 'sp ace+plus%', 'z', 'é', '日本/', '～', '𝄞']),
        );
        expect(new Set(entries).size).toBe(entries.length);
      });

      it('reports truncation exactly at the boundary', async () => {
        const all = await backend.listObjects(bucket, { prefix: 'a/c/', maxKeys: 2 });
        expect(all).toMatchObject({ isTruncated: false, last: 'a/c/e' });
        const cut = await backend.listObjects(bucket, { prefix: 'a/c/', maxKeys: 1 });
        expect(cut).toMatchObject({ isTruncated: true, last: 'a/c/d' });
      });
    });

    describe('multipart uploads', () => {
      it('completes parts uploaded out of order, with a replaced part, into S3’s multipart ETag', async () => {
        const bucket = await newBucket();
        const meta = metadata({ user: { kind: 'multipart' }, internal: { parts: 'yes' } });
        const uploadId = await backend.createMultipartUpload(bucket, 'big/object', meta);

        const last = randomBytes(1000);
        const discarded = randomBytes(PART_SIZE);
        const first = randomBytes(PART_SIZE);
        const p2 = await backend.uploadPart(bucket, 'big/object', uploadId, 2, chunksOf(last), last.length);
        await backend.uploadPart(bucket, 'big/object', uploadId, 1, chunksOf(discarded), discarded.length);
        const p1 = await backend.uploadPart(bucket, 'big/object', uploadId, 1, chunksOf(first), first.length);
        expect(p1).toMatchObject({ partNumber: 1, etag: `"${md5(first)}"`, size: PART_SIZE });
        expect(p2).toMatchObject({ partNumber: 2, etag: `"${md5(last)}"`, size: 1000 });

        const parts = await backend.listParts(bucket, 'big/object', uploadId);
        expect(parts.map(({ partNumber, etag, size }) => ({ partNumber, etag, size }))).toEqual([
          { partNumber: 1, etag: `"${md5(first)}"`, size: PART_SIZE },
          { partNumber: 2, etag: `"${md5(last)}"`, size: 1000 },
        ]);

        const completed = await backend.completeMultipartUpload(bucket, 'big/object', uploadId, [
          { partNumber: 1, etag: p1.etag },
          { partNumber: 2, etag: p2.etag },
        ]);
        const expectedEtag = `"${createHash('md5')
          .update(Buffer.concat([Buffer.from(md5(first), 'hex'), Buffer.from(md5(last), 'hex')]))
          .digest('hex')}-2"`;
        expect(completed).toMatchObject({ key: 'big/object', size: PART_SIZE + 1000, etag: expectedEtag });
        expect(completed.partsCount).toBe(2);

        const head = await backend.headObject(bucket, 'big/object');
        expect(head).toMatchObject({ size: PART_SIZE + 1000, etag: expectedEtag, partsCount: 2 });
        expect(head.metadata).toEqual(meta);
        const whole = await collect((await backend.getObject(bucket, 'big/object')).body);
        expect(whole.equals(Buffer.concat([first, last]))).toBe(true);

        // partNumber reads return that part's byte range of the completed object.
        const part1 = await backend.headObject(bucket, 'big/object', 1);
        expect(part1.part).toEqual({ start: 0, end: PART_SIZE - 1 });
        const part2 = await backend.getObject(bucket, 'big/object', { partNumber: 2 });
        expect(part2.range).toEqual({ start: PART_SIZE, end: PART_SIZE + 999 });
        expect(part2.info).toMatchObject({ size: PART_SIZE + 1000, etag: expectedEtag });
        expect((await collect(part2.body)).equals(last)).toBe(true);
        const beyond = await s3Error(backend.getObject(bucket, 'big/object', { partNumber: 3 }));
        expect(beyond).toMatchObject({ code: 'InvalidPartNumber', status: 400 });

        // The upload is gone once completed.
        expect(await backend.listMultipartUploads(bucket, '')).toEqual([]);
        const after = await s3Error(backend.listParts(bucket, 'big/object', uploadId));
        expect(after).toMatchObject({ code: 'NoSuchUpload', status: 404 });
      });

      it('treats part 1 of a non-multipart object as the whole object, and other parts as unsatisfiable', async () => {
        const bucket = await newBucket();
        const data = randomBytes(4096);
        await put(bucket, 'single', data);
        const part1 = await backend.getObject(bucket, 'single', { partNumber: 1 });
        expect(part1.range).toEqual({ start: 0, end: 4095 });
        expect((await collect(part1.body)).equals(data)).toBe(true);
        expect((await backend.headObject(bucket, 'single', 1)).part).toEqual({ start: 0, end: 4095 });
        const part2 = await s3Error(backend.headObject(bucket, 'single', 2));
        expect(part2).toMatchObject({ code: 'InvalidPartNumber', status: 400 });
        const get2 = await s3Error(backend.getObject(bucket, 'single', { partNumber: 2 }));
        expect(get2).toMatchObject({ code: 'InvalidPartNumber', status: 400 });
      });

      it('lists uploads in progress by key and aborts them', async () => {
        const bucket = await newBucket();
        const first = await backend.createMultipartUpload(bucket, 'logs/b', metadata());
        const second = await backend.createMultipartUpload(bucket, 'logs/a', metadata());
        const other = await backend.createMultipartUpload(bucket, 'other', metadata());
        await backend.uploadPart(bucket, 'logs/b', first, 1, chunksOf(Buffer.from('part')), 4);

        const logs = await backend.listMultipartUploads(bucket, 'logs/');
        expect(logs.map(({ key, uploadId }) => ({ key, uploadId }))).toEqual([
          { key: 'logs/a', uploadId: second },
          { key: 'logs/b', uploadId: first },
        ]);
        expect(logs[0].initiated).toBeInstanceOf(Date);
        expect((await backend.listMultipartUploads(bucket, '')).map((upload) => upload.uploadId)).toContain(
          other,
        );

        await backend.abortMultipartUpload(bucket, 'logs/b', first);
        const remaining = await backend.listMultipartUploads(bucket, '');
        expect(remaining.map((upload) => upload.key)).toEqual(['logs/a', 'other']);
        const again = await s3Error(backend.abortMultipartUpload(bucket, 'logs/b', first));
        expect(again).toMatchObject({ code: 'NoSuchUpload' });
        const part = await s3Error(
          backend.uploadPart(bucket, 'logs/b', first, 2, chunksOf(Buffer.from('x')), 1),
        );
        expect(part).toMatchObject({ code: 'NoSuchUpload' });
        expect(await s3Error(backend.headObject(bucket, 'logs/b'))).toMatchObject({ code: 'NoSuchKey' });
      });

      it('answers NoSuchUpload for an upload id it never issued', async () => {
        const bucket = await newBucket();
        const error = await s3Error(backend.listParts(bucket, 'k', 'bm90LWFuLXVwbG9hZA'));
        expect(error).toMatchObject({ code: 'NoSuchUpload', status: 404 });
        const part = await s3Error(
          backend.uploadPart(bucket, 'k', 'bm90LWFuLXVwbG9hZA', 1, chunksOf(Buffer.from('x')), 1),
        );
        expect(part).toMatchObject({ code: 'NoSuchUpload' });
      });

      it('answers InvalidPart for a part that is missing or whose ETag does not match', async () => {
        const bucket = await newBucket();
        const uploadId = await backend.createMultipartUpload(bucket, 'k', metadata());
        const data = Buffer.from('only part');
        const p1 = await backend.uploadPart(bucket, 'k', uploadId, 1, chunksOf(data), data.length);

        const wrongEtag = await s3Error(
          backend.completeMultipartUpload(bucket, 'k', uploadId, [
            { partNumber: 1, etag: `"${md5(Buffer.from('other'))}"` },
          ]),
        );
        expect(wrongEtag).toMatchObject({ code: 'InvalidPart', status: 400 });
        const missing = await s3Error(
          backend.completeMultipartUpload(bucket, 'k', uploadId, [{ partNumber: 2, etag: p1.etag }]),
        );
        expect(missing).toMatchObject({ code: 'InvalidPart', status: 400 });

        // The upload survives a failed completion and completes once asked correctly.
        const done = await backend.completeMultipartUpload(bucket, 'k', uploadId, [
          { partNumber: 1, etag: p1.etag },
        ]);
        expect(done.size).toBe(data.length);
        expect((await collect((await backend.getObject(bucket, 'k')).body)).equals(data)).toBe(true);
      });

      it('stores no part when the part body throws', async () => {
        const bucket = await newBucket();
        const uploadId = await backend.createMultipartUpload(bucket, 'k', metadata());
        const data = randomBytes(100_000);
        await expect(
          backend.uploadPart(bucket, 'k', uploadId, 1, failingAfter(data, 40_000), data.length),
        ).rejects.toThrow('the client went away');
        expect(await backend.listParts(bucket, 'k', uploadId)).toEqual([]);
        expect(await subject.leftovers()).toEqual([]);
        await backend.abortMultipartUpload(bucket, 'k', uploadId);
      });

      it('lets another instance upload parts and complete, with the metadata the upload began with', async () => {
        const bucket = await newBucket();
        const meta = metadata({ user: { started: 'elsewhere' }, internal: { mode: 'none' } });
        const uploadId = await backend.createMultipartUpload(bucket, 'shared', meta);
        const other = subject.reopen();
        const data = Buffer.from('one part');
        const part = await other.uploadPart(bucket, 'shared', uploadId, 1, chunksOf(data), data.length);
        expect(await backend.listParts(bucket, 'shared', uploadId)).toMatchObject([
          { partNumber: 1, size: 8 },
        ]);
        const done = await other.completeMultipartUpload(bucket, 'shared', uploadId, [
          { partNumber: 1, etag: part.etag },
        ]);
        expect(done.metadata).toEqual(meta);
        expect((await backend.headObject(bucket, 'shared')).metadata).toEqual(meta);
      });
    });

    describe('markers known only at completion (late)', () => {
      it('adds late markers to the completed object, keeping its multipart ETag and its parts', async () => {
        const bucket = await newBucket();
        const meta = metadata({ user: { kind: 'multipart' }, internal: { mode: 'none' } });
        const first = randomBytes(PART_SIZE);
        const last = randomBytes(1000);
        const uploadId = await backend.createMultipartUpload(bucket, 'laid/out', meta);
        const parts = await uploadParts(backend, bucket, 'laid/out', uploadId, [first, last]);
        const late = { layout: 'segments-v1', 'layout-tag': 'tag' };
        const completed = await backend.completeMultipartUpload(bucket, 'laid/out', uploadId, parts, late);

        const expected: ObjectMetadata = { ...meta, internal: { mode: 'none', ...late } };
        const etag = multipartEtag([first, last]);
        expect(completed).toMatchObject({ size: PART_SIZE + 1000, etag, partsCount: 2, metadata: expected });
        expect(meta.internal).toEqual({ mode: 'none' });

        const head = await backend.headObject(bucket, 'laid/out');
        expect(head).toMatchObject({ size: PART_SIZE + 1000, etag, partsCount: 2 });
        expect(head.metadata).toEqual(expected);
        const whole = await backend.getObject(bucket, 'laid/out');
        expect(whole.info).toMatchObject({ etag, partsCount: 2, metadata: expected });
        expect((await collect(whole.body)).equals(Buffer.concat([first, last]))).toBe(true);

        // partNumber reads still find each part's bytes.
        expect((await backend.headObject(bucket, 'laid/out', 1)).part).toEqual({
          start: 0,
          end: PART_SIZE - 1,
        });
        const head2 = await backend.headObject(bucket, 'laid/out', 2);
        expect(head2).toMatchObject({
          etag,
          partsCount: 2,
          part: { start: PART_SIZE, end: PART_SIZE + 999 },
        });
        expect(head2.metadata).toEqual(expected);
        const part1 = await backend.getObject(bucket, 'laid/out', { partNumber: 1 });
        expect(part1.range).toEqual({ start: 0, end: PART_SIZE - 1 });
        expect((await collect(part1.body)).equals(first)).toBe(true);
        const part2 = await backend.getObject(bucket, 'laid/out', { partNumber: 2 });
        expect(part2.range).toEqual({ start: PART_SIZE, end: PART_SIZE + 999 });
        expect(part2.info).toMatchObject({ size: PART_SIZE + 1000, etag, partsCount: 2, metadata: expected });
        expect((await collect(part2.body)).equals(last)).toBe(true);
        expect(await s3Error(backend.getObject(bucket, 'laid/out', { partNumber: 3 }))).toMatchObject({
          code: 'InvalidPartNumber',
          status: 400,
        });
        expect(await s3Error(backend.headObject(bucket, 'laid/out', 3))).toMatchObject({
          code: 'InvalidPartNumber',
        });

        // Byte ranges across the part boundary are unaffected.
        const across = await backend.getObject(bucket, 'laid/out', {
          start: PART_SIZE - 5,
          end: PART_SIZE + 4,
        });
        expect(across.info.etag).toBe(etag);
        const expectedBytes = Buffer.concat([first.subarray(PART_SIZE - 5), last.subarray(0, 5)]);
        expect((await collect(across.body)).equals(expectedBytes)).toBe(true);
      });

      it('stores the upload’s metadata as it was when late is empty', async () => {
        const bucket = await newBucket();
        const meta = metadata({ internal: { mode: 'none' } });
        const uploadId = await backend.createMultipartUpload(bucket, 'plain', meta);
        const parts = await uploadParts(backend, bucket, 'plain', uploadId, [Buffer.from('only part')]);
        const done = await backend.completeMultipartUpload(bucket, 'plain', uploadId, parts, {});
        expect(done).toMatchObject({ etag: multipartEtag([Buffer.from('only part')]), partsCount: 1 });
        expect((await backend.headObject(bucket, 'plain')).metadata).toEqual(meta);
      });

      it('adds late markers to a one-part upload and still serves part 1', async () => {
        const bucket = await newBucket();
        const data = randomBytes(10_000);
        const uploadId = await backend.createMultipartUpload(bucket, 'one', metadata());
        const parts = await uploadParts(backend, bucket, 'one', uploadId, [data]);
        await backend.completeMultipartUpload(bucket, 'one', uploadId, parts, { layout: 'x' });
        const head = await backend.headObject(bucket, 'one', 1);
        expect(head).toMatchObject({
          etag: multipartEtag([data]),
          partsCount: 1,
          part: { start: 0, end: 9_999 },
        });
        expect(head.metadata.internal).toEqual({ layout: 'x' });
        const part = await backend.getObject(bucket, 'one', { partNumber: 1 });
        expect((await collect(part.body)).equals(data)).toBe(true);
      });
    });

    describe('listing with metadata', () => {
      let bucket: string;
      const single = metadata({ user: { colour: 'red' }, internal: { mode: 'none' } });
      const multi = metadata({ headers: { 'content-type': 'text/plain' }, user: {}, internal: {} });
      let multiEtag: string;

      beforeAll(async () => {
        bucket = bucketName();
        await backend.createBucket(bucket);
        await put(bucket, 'list/single', Buffer.from('single'), single);
        const uploadId = await backend.createMultipartUpload(bucket, 'list/multi', multi);
        const data = [randomBytes(PART_SIZE), Buffer.from('tail')];
        const parts = await uploadParts(backend, bucket, 'list/multi', uploadId, data);
        await backend.completeMultipartUpload(bucket, 'list/multi', uploadId, parts, { layout: 'l' });
        multiEtag = multipartEtag(data);
      });

      it('fills metadata and parts counts in when asked', async () => {
        const page = await backend.listObjects(bucket, { prefix: 'list/', maxKeys: 10, withMetadata: true });
        expect(page.objects.map((object) => object.key)).toEqual(['list/multi', 'list/single']);
        const [multiListed, singleListed] = page.objects;
        expect(multiListed).toMatchObject({ size: PART_SIZE + 4, etag: multiEtag, partsCount: 2 });
        expect(multiListed.metadata).toEqual({ ...multi, internal: { layout: 'l' } });
        expect(singleListed).toMatchObject({ size: 6, etag: `"${md5(Buffer.from('single'))}"` });
        expect(singleListed.metadata).toEqual(single);
        expect(singleListed.partsCount).toBeUndefined();
      });

      it('leaves metadata and parts counts out without the flag', async () => {
        const page = await backend.listObjects(bucket, { prefix: 'list/', maxKeys: 10 });
        expect(page.objects).toHaveLength(2);
        for (const object of page.objects) {
          expect(object.metadata).toBeUndefined();
          expect(object.partsCount).toBeUndefined();
        }
      });

      it('pages and rolls up as without metadata', async () => {
        const first = await backend.listObjects(bucket, { prefix: 'list/', maxKeys: 1, withMetadata: true });
        expect(first).toMatchObject({ isTruncated: true, last: 'list/multi' });
        expect(first.objects.map((object) => object.metadata?.internal)).toEqual([{ layout: 'l' }]);
        const rolled = await backend.listObjects(bucket, {
          prefix: '',
          delimiter: '/',
          maxKeys: 10,
          withMetadata: true,
        });
        expect(rolled).toMatchObject({ objects: [], commonPrefixes: ['list/'] });
      });
    });
  });
}

// --- the filesystem backend ---

let fsRoot: TempDir;

backendContract('filesystem', async () => {
  fsRoot = await makeTempDir();
  const root = join(fsRoot.path, 'root');
  return {
    backend: new FilesystemBackend({ name: 'local', root }),
    reopen: () => new FilesystemBackend({ name: 'local', root }),
    leftovers: () => readdir(join(root, '.sealgate', 'tmp')),
    close: () => fsRoot.cleanup(),
  };
});

describe('filesystem backend', () => {
  let outer: TempDir;
  let root: string;
  let backend: FilesystemBackend;
  const bucket = 'files';

  beforeAll(async () => {
    outer = await makeTempDir();
    root = join(outer.path, 'root');
    backend = new FilesystemBackend({ name: 'local', root });
    await backend.createBucket(bucket);
  });
  afterAll(async () => {
    await outer.cleanup();
  });

  const put = (key: string, data: string | Buffer) => {
    const bytes = Buffer.from(data);
    return backend.putObject(bucket, key, chunksOf(bytes), bytes.length, metadata());
  };
  const read = async (key: string) => (await collect((await backend.getObject(bucket, key)).body)).toString();

  describe('metadata replace (a copy onto itself)', () => {
    const key = 'replace/me';
    const path = () => objectPath(root, bucket, key);
    const inode = async () => (await stat(path(), { bigint: true })).ino;
    const overrides = async () =>
      (await readdir(join(root, bucket, 'replace'))).filter((n) => n.startsWith('@'));
    const replace = (user: Record<string, string>) =>
      backend.copyObject({ bucket, key }, bucket, key, metadata({ user }));
    const putVersion = async (data: Buffer, user: Record<string, string>) =>
      backend.putObject(bucket, key, chunksOf(data), data.length, metadata({ user }));

    it('writes a new record beside the file and leaves its data alone: same file, same bytes and ETag', async () => {
      const data = randomBytes(300_000);
      const first = await putVersion(data, { v: '1' });
      const before = await inode();
      const info = await replace({ v: '2' });
      expect(info.etag).toBe(first.etag);
      expect(info.lastModified.getTime()).toBeGreaterThanOrEqual(first.lastModified.getTime());
      expect(await inode()).toBe(before);
      const file = await openObjectFile(path());
      await file.handle.close();
      expect(file.record.metadata?.user).toEqual({ v: '1' });
      expect(await overrides()).toEqual([`@${before}`]);

      const { info: stored, body } = await backend.getObject(bucket, key);
      expect((await collect(body)).equals(data)).toBe(true);
      expect(stored).toMatchObject({ size: data.length, etag: first.etag, lastModified: info.lastModified });
      expect(stored.metadata.user).toEqual({ v: '2' });
      expect((await backend.headObject(bucket, key)).metadata.user).toEqual({ v: '2' });
      const listed = await backend.listObjects(bucket, {
        prefix: 'replace/',
        maxKeys: 10,
        withMetadata: true,
      });
      expect(listed.objects).toHaveLength(1);
      expect(listed.objects[0]).toMatchObject({ key, etag: first.etag, lastModified: info.lastModified });
      expect(listed.objects[0].metadata?.user).toEqual({ v: '2' });
    });

    it('lets a second replace supersede the first, in the same one override', async () => {
      await putVersion(randomBytes(1000), { v: '1' });
      await replace({ v: '2' });
      await replace({ v: '3' });
      expect((await backend.headObject(bucket, key)).metadata.user).toEqual({ v: '3' });
      expect(await overrides()).toEqual([`@${await inode()}`]);
    });

    it('loses its override to a later put, which removes it', async () => {
      await putVersion(randomBytes(1000), { v: '1' });
      await replace({ v: '2' });
      const data = randomBytes(2000);
      await putVersion(data, { v: 'put' });
      expect((await backend.headObject(bucket, key)).metadata.user).toEqual({ v: 'put' });
      expect(await read(key)).toBe(data.toString());
      expect(await overrides()).toEqual([]);
    });

    it('goes with the object when it is deleted, and the emptied folder is pruned', async () => {
      await putVersion(randomBytes(1000), { v: '1' });
      await replace({ v: '2' });
      await backend.deleteObject(bucket, key);
      await expect(readdir(join(root, bucket, 'replace'))).rejects.toMatchObject({ code: 'ENOENT' });
    });

    it('never applies an override written for another version of the file, even under its inode', async () => {
      await putVersion(randomBytes(1000), { v: '1' });
      await replace({ v: '2' });
      const old = await readFile(overridePath(path(), await inode()));
      await putVersion(randomBytes(1000), { v: 'put' });
      // As if the new file had been given the old one's inode number: its record is not the one the
      // override was written for.
      await writeFile(overridePath(path(), await inode()), old);
      expect((await backend.headObject(bucket, key)).metadata.user).toEqual({ v: 'put' });
    });

    it('refuses to serve an object whose override it did not write', async () => {
      await putVersion(randomBytes(1000), { v: '1' });
      await writeFile(overridePath(path(), await inode()), '{"base": 1}');
      await expect(backend.headObject(bucket, key)).rejects.toThrow(/malformed override/);
      await backend.deleteObject(bucket, key);
    });

    it('copies a replaced object to another key with its bytes and its new record', async () => {
      const data = randomBytes(100_000);
      const first = await putVersion(data, { v: '1' });
      await replace({ v: '2' });
      const copy = await backend.copyObject(
        { bucket, key },
        bucket,
        'replace/copy',
        metadata({ user: { v: 'c' } }),
      );
      expect(copy.etag).toBe(first.etag);
      const { info, body } = await backend.getObject(bucket, 'replace/copy');
      expect((await collect(body)).equals(data)).toBe(true);
      expect(info.metadata.user).toEqual({ v: 'c' });
      await backend.deleteObject(bucket, 'replace/copy');
    });
  });

  it('copies nothing by the kernel when the source file is not the version it opened (it falls back)', async () => {
    const staging = new StagingArea(join(root, '.sealgate', 'tmp'));
    await put('kernel/source', 'the version on disk');
    const path = objectPath(root, bucket, 'kernel/source');
    const opened = await openObjectFile(path);
    await opened.handle.close();
    const stale = { ...opened.record, etag: '"00000000000000000000000000000000"' };
    const target = objectPath(root, bucket, 'kernel/target');
    const result = await staging.writeObjectFileCopy(target, join(root, bucket), path, stale, {
      size: stale.size,
      etag: stale.etag,
      metadata: metadata(),
    });
    expect(result).toBeUndefined();
    await expect(backend.headObject(bucket, 'kernel/target')).rejects.toMatchObject({ code: 'NoSuchKey' });
  });

  it.each([
    ['../x', "'..'"],
    ['a/../../x', "'..'"],
    ['a/./b', "'.'"],
    ['..', "'..'"],
    ['/abs', "start with '/'"],
    ['nul\0byte', 'NUL'],
  ])('rejects the key %j, which would leave the bucket, with a 400 that says why', async (key, why) => {
    for (const attempt of [
      put(key, 'x'),
      backend.getObject(bucket, key),
      backend.deleteObject(bucket, key),
    ]) {
      const error = await s3Error(attempt);
      expect(error).toMatchObject({ code: 'InvalidArgument', status: 400 });
      expect(error.message).toContain(why);
    }
  });

  it('rejects keys over 1024 bytes with KeyTooLongError', async () => {
    const error = await s3Error(put('k'.repeat(1025), 'x'));
    expect(error).toMatchObject({ code: 'KeyTooLongError', status: 400 });
    await put(
      `${'k'.repeat(200)}/${'k'.repeat(200)}/${'k'.repeat(200)}/${'k'.repeat(200)}/${'k'.repeat(220)}`,
      'ok',
    );
  });

  it('rejects a key segment longer than the file-name limit once encoded, saying so', async () => {
    await put('s'.repeat(251), 'fits');
    const error = await s3Error(put('s'.repeat(252), 'x'));
    expect(error).toMatchObject({ code: 'InvalidArgument', status: 400 });
    expect(error.message).toMatch(/segment .* at most 251 bytes once percent-encoded/);
    // A 3-byte character takes 9 bytes encoded: 28 of them are 252.
    expect(await s3Error(put('語'.repeat(28), 'x'))).toMatchObject({ code: 'InvalidArgument' });
  });

  it('keeps the keys a and a/b side by side', async () => {
    await put('side', 'file');
    await put('side/by', 'nested');
    expect(await read('side')).toBe('file');
    expect(await read('side/by')).toBe('nested');
    await backend.deleteObject(bucket, 'side');
    expect(await read('side/by')).toBe('nested');
  });

  it('stores keys with empty segments: dir/ and a//b', async () => {
    await put('dir/', 'folder marker');
    await put('a//b', 'double slash');
    await put('a/b', 'single slash');
    expect(await read('dir/')).toBe('folder marker');
    expect(await read('a//b')).toBe('double slash');
    expect(await read('a/b')).toBe('single slash');
    const page = await backend.listObjects(bucket, { prefix: 'a/', maxKeys: 100 });
    expect(page.objects.map((object) => object.key)).toEqual(['a//b', 'a/b']);
    const dirs = await backend.listObjects(bucket, { prefix: 'dir', delimiter: '/', maxKeys: 100 });
    expect(dirs.commonPrefixes).toEqual(['dir/']);
  });

  it('stores keys with %, dots, reserved names and unicode under safe file names', async () => {
    const keys = ['100%/%2E%2E/x', '.hidden', '.empty', '.bucket', 'x@obj', 'ünï/cödé 🚀', 'a.b/..c'];
    for (const key of keys) await put(key, `value of ${key}`);
    for (const key of keys) expect(await read(key)).toBe(`value of ${key}`);
    const page = await backend.listObjects(bucket, { prefix: '', maxKeys: 1000 });
    for (const key of keys) expect(page.objects.map((object) => object.key)).toContain(key);
    expect(await backend.bucketExists(bucket)).toBe(true);
  });

  it('never writes outside its root', async () => {
    const attempts = ['../outside', '../../outside', 'a/../../../outside', '/outside', '%2e%2e/outside'];
    for (const key of attempts) await put(key, 'x').catch(() => undefined);
    expect(await readdir(outer.path)).toEqual(['root']);
    expect((await readdir(root)).sort()).toEqual(['.sealgate', bucket]);
  });

  it('writes one file per object: the data, then the JSON record, then a 9-byte footer', async () => {
    const data = Buffer.from('the data');
    await backend.putObject(bucket, 'layout/object', chunksOf(data), data.length, metadata(), {
      late: () => ({ 'checksum-crc32': 'late' }),
    });
    const file = await readFile(join(root, bucket, 'layout', 'object@obj'));
    const footer = file.subarray(file.length - 9);
    expect(footer.subarray(5).toString('latin1')).toBe('SGOB');
    expect(footer[4]).toBe(2); // the format version
    const length = footer.readUInt32BE(0);
    expect(file.length).toBe(data.length + length + 9);
    expect(file.subarray(0, data.length).equals(data)).toBe(true);
    const record = JSON.parse(file.subarray(data.length, data.length + length).toString()) as {
      size: number;
      etag: string;
      lastModified: string;
      metadata: ObjectMetadata;
    };
    expect(record).toMatchObject({ size: 8, etag: `"${md5(data)}"` });
    expect(new Date(record.lastModified).getTime()).not.toBeNaN();
    // The late marker is in the same file as the data: published by the same rename.
    expect(record.metadata.internal).toEqual({ 'checksum-crc32': 'late' });
  });

  it('refuses to serve an object file whose data no longer matches its record', async () => {
    await put('tampered/grown', 'original');
    await put('tampered/cut', 'original');
    await put('tampered/huge', 'original');
    const path = (name: string) => join(root, bucket, 'tampered', `${name}@obj`);
    const grown = await readFile(path('grown'));
    await writeFile(path('grown'), Buffer.concat([Buffer.from('x'), grown]));
    const cut = await readFile(path('cut'));
    await writeFile(path('cut'), cut.subarray(0, cut.length - 1));
    const huge = await readFile(path('huge'));
    huge.writeUInt32BE(0xffffffff, huge.length - 9);
    await writeFile(path('huge'), huge);

    await expect(backend.getObject(bucket, 'tampered/grown')).rejects.toThrow(
      /holds 9 bytes of data, its record says 8/,
    );
    await expect(backend.headObject(bucket, 'tampered/cut')).rejects.toThrow(/bad magic/);
    await expect(backend.headObject(bucket, 'tampered/huge')).rejects.toThrow(
      /record length 4294967295 exceeds/,
    );
  });

  it('maps every key segment to a safe file name and back', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (segment) => {
        const name = encodeSegment(segment);
        expect(name).not.toMatch(/^\.(?!empty$)|@|\/|\0/);
        expect(['.', '..']).not.toContain(name);
        expect(decodeSegment(name)).toBe(segment);
      }),
    );
    // Names it did not write (other spellings of a segment, stray files) are not taken for keys.
    for (const name of ['%61', '%2e', '.hidden', 'a%2', 'x@obj', '%C3']) {
      expect(decodeSegment(name)).toBeUndefined();
    }
  });

  it('prunes the folders a delete leaves empty', async () => {
    await put('prune/deep/er/key', 'x');
    await put('prune/keep', 'x');
    await backend.deleteObject(bucket, 'prune/deep/er/key');
    expect(await readdir(join(root, bucket, 'prune'))).toEqual(['keep@obj']);
  });

  it('ignores empty folders when listing and deleting a bucket', async () => {
    const other = 'lingering';
    await backend.createBucket(other);
    await mkdir(join(root, other, 'empty', 'folders'), { recursive: true });
    const page = await backend.listObjects(other, { prefix: '', delimiter: '/', maxKeys: 10 });
    expect(page).toMatchObject({ objects: [], commonPrefixes: [] });
    await backend.deleteBucket(other);
    expect(await backend.bucketExists(other)).toBe(false);
  });

  it('deletes a bucket with uploads in progress, discarding them, as S3 does', async () => {
    const other = 'with-uploads';
    await backend.createBucket(other);
    const uploadId = await backend.createMultipartUpload(other, 'k', metadata());
    await backend.deleteBucket(other);
    expect(await backend.bucketExists(other)).toBe(false);
    await backend.createBucket(other);
    expect(await backend.listMultipartUploads(other, '')).toEqual([]);
    expect(await s3Error(backend.listParts(other, 'k', uploadId))).toMatchObject({ code: 'NoSuchUpload' });
  });

  it('rejects an upload id that is not one of its own without touching the file system', async () => {
    const error = await s3Error(backend.abortMultipartUpload(bucket, 'k', '../../files'));
    expect(error).toMatchObject({ code: 'NoSuchUpload' });
    expect(await backend.bucketExists(bucket)).toBe(true);
  });

  it('answers NoSuchUpload when the upload belongs to another key', async () => {
    const uploadId = await backend.createMultipartUpload(bucket, 'mine', metadata());
    expect(await s3Error(backend.listParts(bucket, 'theirs', uploadId))).toMatchObject({
      code: 'NoSuchUpload',
    });
    await backend.abortMultipartUpload(bucket, 'mine', uploadId);
  });

  it('streams reads in chunks instead of one buffer', async () => {
    const data = randomBytes(3 * MiB);
    await backend.putObject(bucket, 'streamed', chunksOf(data, 1000), data.length, metadata());
    let chunks = 0;
    let largest = 0;
    const { body } = await backend.getObject(bucket, 'streamed');
    for await (const chunk of body) {
      chunks++;
      largest = Math.max(largest, chunk.byteLength);
    }
    expect(chunks).toBeGreaterThan(1);
    expect(largest).toBeLessThanOrEqual(MiB);
  });

  it('refuses native encryption on put, copy and multipart creation, storing nothing', async () => {
    const native = { algorithm: 'aws:kms', kmsKeyId: 'alias/anything' } as const;
    await put('native/source', 'x');
    const attempts = [
      backend.putObject(bucket, 'native/put', chunksOf(Buffer.from('x')), 1, metadata(), { native }),
      backend.copyObject({ bucket, key: 'native/source' }, bucket, 'native/copy', metadata(), {
        native: { algorithm: 'AES256' },
      }),
      backend.createMultipartUpload(bucket, 'native/multi', metadata(), { native }),
    ];
    for (const attempt of attempts) {
      const error = await s3Error(attempt);
      expect(error).toMatchObject({ code: 'InvalidRequest', status: 400 });
      expect(error.message).toContain('the filesystem backend cannot encrypt natively');
    }
    const page = await backend.listObjects(bucket, { prefix: 'native/', maxKeys: 10 });
    expect(page.objects.map((object) => object.key)).toEqual(['native/source']);
    expect(await backend.listMultipartUploads(bucket, 'native/')).toEqual([]);
  });

  it('stores late completion markers in the object’s record, beside its part sizes', async () => {
    const uploadId = await backend.createMultipartUpload(bucket, 'record/multi', metadata());
    const parts = await uploadParts(backend, bucket, 'record/multi', uploadId, [Buffer.from('abc')]);
    await backend.completeMultipartUpload(bucket, 'record/multi', uploadId, parts, { layout: 'l' });
    const file = await readFile(join(root, bucket, 'record', 'multi@obj'));
    const length = file.readUInt32BE(file.length - 9);
    const record = JSON.parse(file.subarray(3, 3 + length).toString()) as {
      metadata: ObjectMetadata;
      parts: number[];
    };
    expect(record.metadata.internal).toEqual({ layout: 'l' });
    expect(record.parts).toEqual([3]);
  });

  it('does not see folders without a bucket marker as buckets', async () => {
    await mkdir(join(root, 'stray-folder'));
    await writeFile(join(root, 'stray-file'), 'x');
    expect((await backend.listBuckets()).map((entry) => entry.name)).not.toContain('stray-folder');
    expect(await backend.bucketExists('stray-folder')).toBe(false);
    expect(await backend.bucketExists('../root')).toBe(false);
  });
});

// --- the S3 backend, against moto ---

let moto: MotoServer | undefined;
const motoClients: S3Backend[] = [];

function motoBackend(endpoint: string): S3Backend {
  const backend = new S3Backend({
    name: 'moto',
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
  motoClients.push(backend);
  return backend;
}

backendContract('s3 (moto)', async () => {
  moto = await startMoto();
  const endpoint = moto.endpoint;
  return {
    backend: motoBackend(endpoint),
    reopen: () => motoBackend(endpoint),
    leftovers: async () => [],
    close: async () => {
      for (const client of motoClients) client.close();
      await moto?.stop();
    },
  };
});

describe('s3 backend', () => {
  let server: MotoServer;
  let backend: S3Backend;
  let raw: S3Client;
  const bucket = 'raw-view';

  beforeAll(async () => {
    server = await startMoto();
    backend = new S3Backend({
      name: 'moto',
      endpoint: server.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    raw = new S3Client({
      endpoint: server.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    await backend.createBucket(bucket);
  });
  afterAll(async () => {
    backend?.close();
    raw?.destroy();
    await server?.stop();
  });

  it('stores internal metadata as x-amz-meta-sealgate-* and user metadata as is', async () => {
    const data = Buffer.from('marked');
    await backend.putObject(
      bucket,
      'marked',
      chunksOf(data),
      data.length,
      metadata({ user: { colour: 'red' }, internal: { 'checksum-crc32': 'x' } }),
    );
    const head = await raw.send(new HeadObjectCommand({ Bucket: bucket, Key: 'marked' }));
    expect(head.Metadata).toEqual({ colour: 'red', 'sealgate-checksum-crc32': 'x' });
  });

  it('reads sealgate-* metadata written behind its back as internal, never as user metadata', async () => {
    await raw.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: 'direct',
        Body: 'x',
        Metadata: { 'sealgate-mode': 'none', a: 'b' },
      }),
    );
    const info = await backend.headObject(bucket, 'direct');
    expect(info.metadata.user).toEqual({ a: 'b' });
    expect(info.metadata.internal).toEqual({ mode: 'none' });
  });

  it('refuses user metadata named like an internal marker', async () => {
    const error = await s3Error(
      backend.putObject(
        bucket,
        'spoof',
        chunksOf(Buffer.from('x')),
        1,
        metadata({ user: { 'sealgate-mode': 'x' } }),
      ),
    );
    expect(error).toMatchObject({ code: 'InvalidArgument', status: 400 });
  });

  it('passes S3’s EntityTooSmall through for a part under 5 MiB that is not the last', async () => {
    const uploadId = await backend.createMultipartUpload(bucket, 'small-parts', metadata());
    const a = await backend.uploadPart(bucket, 'small-parts', uploadId, 1, chunksOf(Buffer.from('aaaa')), 4);
    const b = await backend.uploadPart(bucket, 'small-parts', uploadId, 2, chunksOf(Buffer.from('bbbb')), 4);
    const error = await s3Error(
      backend.completeMultipartUpload(bucket, 'small-parts', uploadId, [
        { partNumber: 1, etag: a.etag },
        { partNumber: 2, etag: b.etag },
      ]),
    );
    expect(error).toMatchObject({ code: 'EntityTooSmall', status: 400 });
    await backend.abortMultipartUpload(bucket, 'small-parts', uploadId);
  });

  it('answers BucketAlreadyOwnedByYou in us-east-1, where S3 itself answers 200', async () => {
    expect(await s3Error(backend.createBucket(bucket))).toMatchObject({ code: 'BucketAlreadyOwnedByYou' });
  });

  it('follows the PutObject with one CopyObject onto itself only when late markers arrive', async () => {
    const proxy = await countingProxy(server.endpoint);
    const counted = new S3Backend({
      name: 'moto',
      endpoint: proxy.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    try {
      const data = Buffer.from('counted');
      const meta = metadata({ user: { colour: 'red' } });
      await counted.putObject(bucket, 'no-markers', chunksOf(data), data.length, meta, { late: () => ({}) });
      expect(proxy.requests).toEqual(['PUT /raw-view/no-markers']);

      proxy.requests.length = 0;
      await counted.putObject(bucket, 'markers', chunksOf(data), data.length, meta, {
        late: () => ({ 'checksum-crc32': 'x' }),
      });
      expect(proxy.requests).toEqual(['PUT /raw-view/markers', 'PUT /raw-view/markers copy-source']);
      const head = await raw.send(new HeadObjectCommand({ Bucket: bucket, Key: 'markers' }));
      expect(head.Metadata).toEqual({ colour: 'red', 'sealgate-checksum-crc32': 'x' });
      expect(head.ContentType).toBe('application/octet-stream');
    } finally {
      counted.close();
      await proxy.close();
    }
  });

  it('describes a client listing from the HEADs of the versions it listed before: one request a page', async () => {
    const { proxy, backend: counted, close } = await proxied();
    const prefix = 'described/';
    const page = (reuseDescriptions: boolean) =>
      counted.listObjects(bucket, { prefix, maxKeys: 100, withMetadata: true, reuseDescriptions });
    const heads = () => proxy.requests.filter((r) => r.startsWith('HEAD ')).length;
    try {
      for (const name of ['a', 'b', 'c']) {
        const data = Buffer.from(`object ${name}`);
        await counted.putObject(
          bucket,
          prefix + name,
          chunksOf(data),
          data.length,
          metadata({ user: { name } }),
        );
      }
      proxy.requests.length = 0;
      const first = await page(true);
      expect(heads()).toBe(3);
      proxy.requests.length = 0;
      const again = await page(true);
      expect(proxy.requests).toEqual([`GET /${bucket}/`]);
      expect(again.objects).toEqual(first.objects);

      // A changed object is another version: it alone is headed again, and shows as it is now.
      const data = Buffer.from('object b, rewritten');
      await counted.putObject(
        bucket,
        `${prefix}b`,
        chunksOf(data),
        data.length,
        metadata({ user: { name: 'b2' } }),
      );
      proxy.requests.length = 0;
      const changed = await page(true);
      expect(heads()).toBe(1);
      expect(changed.objects[1]).toMatchObject({ key: `${prefix}b`, size: data.length });
      expect(changed.objects[1].metadata?.user).toEqual({ name: 'b2' });

      // Listings for jobs read every object as it is now.
      proxy.requests.length = 0;
      await page(false);
      expect(heads()).toBe(3);
    } finally {
      await close();
    }
  });

  /** An S3Backend that reaches moto through a {@link countingProxy}. */
  async function proxied(options?: ProxyOptions) {
    const proxy = await countingProxy(server.endpoint, options);
    const via = new S3Backend({
      name: 'moto',
      endpoint: proxy.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    return {
      proxy,
      backend: via,
      close: async () => {
        via.close();
        await proxy.close();
      },
    };
  }

  /** The `x-amz-server-side-encryption*` headers of a request. */
  function sseHeaders(request: SeenRequest): Record<string, string> {
    return Object.fromEntries(
      Object.entries(request.headers)
        .filter(([name]) => name.startsWith('x-amz-server-side-encryption'))
        .map(([name, value]) => [name, String(value)]),
    );
  }

  describe('copies above the single-copy limit', () => {
    // The limit lowered from CopyObject's 5 GiB to 6 MiB, in 5 MiB ranges: a 12 MiB source takes three.
    const limited = () =>
      new S3Backend({
        name: 'moto-limited',
        endpoint: server.endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
        copyLimits: { maxCopyBytes: 6 * 1024 * 1024, partBytes: 5 * 1024 * 1024 },
      });

    it('copies by UploadPartCopy ranges: the same bytes, the new metadata, a multipart ETag', async () => {
      const copier = limited();
      try {
        const data = randomBytes(12 * 1024 * 1024 + 7);
        await backend.putObject(
          bucket,
          'large/source',
          chunksOf(data),
          data.length,
          metadata({ user: { v: '1' } }),
        );
        const info = await copier.copyObject(
          { bucket, key: 'large/source' },
          bucket,
          'large/copy',
          metadata({ user: { v: '2' }, internal: { 'key-id': 'k2' } }),
        );
        expect(info).toMatchObject({ size: data.length, partsCount: 3 });
        expect(info.etag).toMatch(/^"[0-9a-f]{32}-3"$/);
        const { info: read, body } = await backend.getObject(bucket, 'large/copy');
        expect((await collect(body)).equals(data)).toBe(true);
        expect(read.metadata.user).toEqual({ v: '2' });
        expect(read.metadata.internal['key-id']).toBe('k2');
        // Onto itself: S3's metadata replace, for sources of any size.
        await copier.copyObject(
          { bucket, key: 'large/copy' },
          bucket,
          'large/copy',
          metadata({ user: { v: '3' } }),
        );
        const again = await backend.getObject(bucket, 'large/copy');
        expect((await collect(again.body)).equals(data)).toBe(true);
        expect(again.info.metadata.user).toEqual({ v: '3' });
        // Small sources still take one CopyObject.
        const small = Buffer.from('small');
        await backend.putObject(bucket, 'large/small', chunksOf(small), small.length, metadata());
        const one = await copier.copyObject(
          { bucket, key: 'large/small' },
          bucket,
          'large/small-copy',
          metadata(),
        );
        expect(one.etag).toBe(`"${md5(small)}"`);
      } finally {
        copier.close();
      }
    });

    it('aborts its upload when a range fails: no upload and no copy are left behind', async () => {
      // S3 failing every copy of the second range (the SDK's retries included).
      const proxy = await countingProxy(server.endpoint, {
        intercept: (req, res) => {
          if (req.headers['x-amz-copy-source-range'] !== 'bytes=5242880-7340031') return false;
          res.writeHead(500, { 'content-type': 'application/xml' });
          res.end(
            '<?xml version="1.0"?><Error><Code>InternalError</Code><Message>injected</Message></Error>',
          );
          return true;
        },
      });
      const copier = new S3Backend({
        name: 'moto-failing',
        endpoint: proxy.endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
        copyLimits: { maxCopyBytes: 6 * 1024 * 1024, partBytes: 5 * 1024 * 1024 },
      });
      try {
        const data = randomBytes(7 * 1024 * 1024);
        await backend.putObject(bucket, 'large/failing', chunksOf(data), data.length, metadata());
        const failed = await copier
          .copyObject({ bucket, key: 'large/failing' }, bucket, 'large/failed-copy', metadata())
          .then(
            () => undefined,
            (error: unknown) => error,
          );
        expect(failed).toBeDefined();
        expect(proxy.requests.some((r) => r.startsWith('DELETE'))).toBe(true);
        expect(await backend.listMultipartUploads(bucket, 'large/')).toEqual([]);
        await expect(backend.headObject(bucket, 'large/failed-copy')).rejects.toMatchObject({
          code: 'NoSuchKey',
        });
      } finally {
        copier.close();
        await proxy.close();
      }
    });
  });

  describe('native encryption', () => {
    // moto 5.2 takes any key id without checking that KMS holds such a key, and echoes it back.
    const KMS_KEY = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const kms = { algorithm: 'aws:kms', kmsKeyId: KMS_KEY, bucketKeyEnabled: true } as const;

    it('asks S3 for SSE-KMS with the key and Bucket Keys given, and reports what S3 answers', async () => {
      const data = Buffer.from('under kms');
      const stored = await backend.putObject(bucket, 'native/kms', chunksOf(data), data.length, metadata(), {
        native: kms,
      });
      expect(stored.native).toEqual(kms);
      const rawHead = await raw.send(new HeadObjectCommand({ Bucket: bucket, Key: 'native/kms' }));
      expect(rawHead).toMatchObject({
        ServerSideEncryption: 'aws:kms',
        SSEKMSKeyId: KMS_KEY,
        BucketKeyEnabled: true,
      });
      expect((await backend.headObject(bucket, 'native/kms')).native).toEqual(kms);
      const { info, body } = await backend.getObject(bucket, 'native/kms');
      expect(info.native).toEqual(kms);
      expect((await collect(body)).equals(data)).toBe(true);
      const ranged = await backend.getObject(bucket, 'native/kms', { start: 0, end: 4 });
      expect(ranged.info.native).toEqual(kms);
      await collect(ranged.body);
    });

    it('asks S3 for SSE-S3 (AES256) and reports it', async () => {
      const data = Buffer.from('under s3 keys');
      const stored = await backend.putObject(bucket, 'native/s3', chunksOf(data), data.length, metadata(), {
        native: { algorithm: 'AES256' },
      });
      expect(stored.native).toEqual({ algorithm: 'AES256' });
      expect((await backend.headObject(bucket, 'native/s3')).native).toEqual({ algorithm: 'AES256' });
    });

    it('reports no native encryption for an object S3 says it did not encrypt', async () => {
      const data = Buffer.from('plain');
      const stored = await backend.putObject(bucket, 'native/none', chunksOf(data), data.length, metadata());
      expect(stored.native).toBeUndefined();
      expect((await backend.headObject(bucket, 'native/none')).native).toBeUndefined();
    });

    it('asks for the same encryption on the self-copy that stores late markers', async () => {
      const { proxy, backend: via, close } = await proxied();
      try {
        const data = Buffer.from('trailed under kms');
        const stored = await via.putObject(bucket, 'native/late', chunksOf(data), data.length, metadata(), {
          native: kms,
          late: () => ({ 'checksum-crc32': 'x' }),
        });
        expect(stored.native).toEqual(kms);
        const [putRequest, copyRequest] = proxy.seen;
        const expectedHeaders = {
          'x-amz-server-side-encryption': 'aws:kms',
          'x-amz-server-side-encryption-aws-kms-key-id': KMS_KEY,
          'x-amz-server-side-encryption-bucket-key-enabled': 'true',
        };
        expect(sseHeaders(putRequest)).toEqual(expectedHeaders);
        expect(copyRequest.headers['x-amz-copy-source']).toBeDefined();
        expect(sseHeaders(copyRequest)).toEqual(expectedHeaders);
        const head = await backend.headObject(bucket, 'native/late');
        expect(head.native).toEqual(kms);
        expect(head.metadata.internal).toEqual({ 'checksum-crc32': 'x' });
      } finally {
        await close();
      }
    });

    it('encrypts a multipart upload as created, sending no SSE header with its parts', async () => {
      const { proxy, backend: via, close } = await proxied();
      try {
        const native = { algorithm: 'aws:kms', kmsKeyId: KMS_KEY } as const;
        const uploadId = await via.createMultipartUpload(bucket, 'native/multi', metadata(), { native });
        const data = [randomBytes(PART_SIZE), Buffer.from('tail')];
        const parts = await uploadParts(via, bucket, 'native/multi', uploadId, data);
        const done = await via.completeMultipartUpload(bucket, 'native/multi', uploadId, parts);
        expect(done.native).toEqual(native);
        expect((await backend.headObject(bucket, 'native/multi')).native).toEqual(native);

        const create = proxy.seen.find((request) => request.query.has('uploads'))!;
        expect(sseHeaders(create)).toEqual({
          'x-amz-server-side-encryption': 'aws:kms',
          'x-amz-server-side-encryption-aws-kms-key-id': KMS_KEY,
        });
        const partRequests = proxy.seen.filter((request) => request.query.has('partNumber'));
        expect(partRequests).toHaveLength(2);
        for (const request of partRequests) expect(sseHeaders(request)).toEqual({});
      } finally {
        await close();
      }
    });

    it('keeps a multipart object’s encryption through the copy that adds late markers', async () => {
      const { proxy, backend: via, close } = await proxied();
      try {
        const uploadId = await via.createMultipartUpload(bucket, 'native/multi-late', metadata(), {
          native: { algorithm: 'aws:kms', kmsKeyId: KMS_KEY },
        });
        const data = [randomBytes(PART_SIZE), Buffer.from('tail')];
        const parts = await uploadParts(via, bucket, 'native/multi-late', uploadId, data);
        const done = await via.completeMultipartUpload(bucket, 'native/multi-late', uploadId, parts, {
          layout: 'l',
        });
        expect(done.native).toMatchObject({ algorithm: 'aws:kms', kmsKeyId: KMS_KEY });
        const copy = proxy.seen.find((request) => request.headers['x-amz-copy-source'] !== undefined)!;
        expect(sseHeaders(copy)).toMatchObject({
          'x-amz-server-side-encryption': 'aws:kms',
          'x-amz-server-side-encryption-aws-kms-key-id': KMS_KEY,
        });
        const head = await backend.headObject(bucket, 'native/multi-late');
        expect(head).toMatchObject({ etag: multipartEtag(data), partsCount: 2 });
        expect(head.native).toMatchObject({ algorithm: 'aws:kms', kmsKeyId: KMS_KEY });
      } finally {
        await close();
      }
    });

    it('copies with the encryption asked for, whatever the source’s', async () => {
      const data = Buffer.from('copied');
      await backend.putObject(bucket, 'native/source', chunksOf(data), data.length, metadata(), {
        native: { algorithm: 'AES256' },
      });
      const source = { bucket, key: 'native/source' };
      const toKms = await backend.copyObject(source, bucket, 'native/copy-kms', metadata(), { native: kms });
      expect(toKms.native).toEqual(kms);
      expect((await backend.headObject(bucket, 'native/copy-kms')).native).toEqual(kms);
      const toS3 = await backend.copyObject(
        { bucket, key: 'native/copy-kms' },
        bucket,
        'native/copy-s3',
        metadata(),
        {
          native: { algorithm: 'AES256' },
        },
      );
      expect(toS3.native).toEqual({ algorithm: 'AES256' });
      expect((await backend.headObject(bucket, 'native/copy-s3')).native).toEqual({ algorithm: 'AES256' });
    });
  });

  describe('the recorded multipart layout', () => {
    it('records the multipart ETag and part sizes as its own markers, which the core never sees', async () => {
      const data = [randomBytes(PART_SIZE), randomBytes(PART_SIZE), Buffer.from('tail')];
      const uploadId = await backend.createMultipartUpload(bucket, 'layout/recorded', metadata());
      const parts = await uploadParts(backend, bucket, 'layout/recorded', uploadId, data);
      const done = await backend.completeMultipartUpload(bucket, 'layout/recorded', uploadId, parts, {
        layout: 'l',
      });
      const etag = multipartEtag(data);
      expect(done.etag).toBe(etag);
      const rawHead = await raw.send(new HeadObjectCommand({ Bucket: bucket, Key: 'layout/recorded' }));
      // A run of equal sizes is written once with its count.
      expect(rawHead.Metadata).toEqual({
        'sealgate-layout': 'l',
        'sealgate-multipart-etag': etag,
        'sealgate-part-sizes': `${PART_SIZE}*2,4`,
      });
      // The copy made it a single-part object to S3 (moto too): only the recorded ETag is the multipart one.
      expect(rawHead.ETag).not.toBe(etag);
      const head = await backend.headObject(bucket, 'layout/recorded', 3);
      expect(head).toMatchObject({
        etag,
        partsCount: 3,
        part: { start: 2 * PART_SIZE, end: 2 * PART_SIZE + 3 },
      });
      expect(head.metadata.internal).toEqual({ layout: 'l' });
    });

    it('serves parts from the recorded sizes when S3 refuses part numbers after the copy, as AWS does', async () => {
      // AWS S3 holds a copied object as one part: partNumber 1 is all of it, any other is 416.
      const {
        proxy,
        backend: via,
        close,
      } = await proxied({
        intercept: (req, res) => {
          const url = new URL(req.url ?? '', 'http://proxy');
          const partNumber = url.searchParams.get('partNumber');
          if (partNumber === null || url.searchParams.has('uploadId')) return false;
          if (partNumber !== '1') {
            res.writeHead(416, { 'content-type': 'application/xml' });
            res.end(
              req.method === 'HEAD'
                ? undefined
                : '<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidPartNumber</Code>' +
                    '<Message>The requested partnumber is not satisfiable</Message></Error>',
            );
            return true;
          }
          url.searchParams.delete('partNumber');
          req.url = `${url.pathname}${url.search}`;
          return false;
        },
      });
      try {
        const data = [randomBytes(PART_SIZE), Buffer.from('the last part')];
        const uploadId = await via.createMultipartUpload(bucket, 'layout/aws', metadata());
        const parts = await uploadParts(via, bucket, 'layout/aws', uploadId, data);
        await via.completeMultipartUpload(bucket, 'layout/aws', uploadId, parts, { layout: 'l' });
        const etag = multipartEtag(data);

        proxy.seen.length = 0;
        const head2 = await via.headObject(bucket, 'layout/aws', 2);
        expect(head2).toMatchObject({ etag, partsCount: 2, part: { start: PART_SIZE, end: PART_SIZE + 12 } });
        expect(proxy.seen.some((request) => request.query.get('partNumber') === '2')).toBe(true);
        const get2 = await via.getObject(bucket, 'layout/aws', { partNumber: 2 });
        expect(get2.range).toEqual({ start: PART_SIZE, end: PART_SIZE + 12 });
        expect((await collect(get2.body)).toString()).toBe('the last part');
        const get1 = await via.getObject(bucket, 'layout/aws', { partNumber: 1 });
        expect(get1.range).toEqual({ start: 0, end: PART_SIZE - 1 });
        expect((await collect(get1.body)).equals(data[0])).toBe(true);
        expect((await via.headObject(bucket, 'layout/aws', 1)).part).toEqual({
          start: 0,
          end: PART_SIZE - 1,
        });
        expect(await s3Error(via.getObject(bucket, 'layout/aws', { partNumber: 3 }))).toMatchObject({
          code: 'InvalidPartNumber',
        });
        // An object without a recorded layout still gets S3's refusal.
        await via.putObject(bucket, 'layout/single', chunksOf(Buffer.from('x')), 1, metadata());
        expect(await s3Error(via.headObject(bucket, 'layout/single', 2))).toMatchObject({
          code: 'InvalidPartNumber',
        });
      } finally {
        await close();
      }
    });

    it('follows CompleteMultipartUpload with one CopyObject onto itself only when late markers arrive', async () => {
      const { proxy, backend: via, close } = await proxied();
      try {
        for (const [key, late] of [
          ['layout/no-late', undefined],
          ['layout/empty-late', {}],
          ['layout/late', { layout: 'l' }],
        ] as const) {
          const uploadId = await via.createMultipartUpload(bucket, key, metadata());
          const parts = await uploadParts(via, bucket, key, uploadId, [Buffer.from('one part')]);
          proxy.requests.length = 0;
          await via.completeMultipartUpload(bucket, key, uploadId, parts, late);
          const path = `/${bucket}/${key}`;
          expect(proxy.requests).toEqual(
            late?.layout
              ? [`GET ${path}`, `POST ${path}`, `HEAD ${path}`, `PUT ${path} copy-source`]
              : [`POST ${path}`, `HEAD ${path}`],
          );
        }
      } finally {
        await close();
      }
    });

    it('refuses late markers for an object over CopyObject’s 5 GiB before completing the upload', async () => {
      const sent: string[] = [];
      const fakeS3 = (sizes: number[]) =>
        ({
          send: async (command: object) => {
            sent.push(command.constructor.name);
            if (command instanceof ListPartsCommand) {
              const Parts = sizes.map((Size, index) => ({ PartNumber: index + 1, ETag: `"${index}"`, Size }));
              return { Parts, IsTruncated: false };
            }
            throw new Error(`not faked: ${command.constructor.name}`);
          },
        }) as unknown as S3Client;
      const complete = (sizes: number[]) =>
        completeMultipartUpload(
          fakeS3(sizes),
          bucket,
          'huge',
          'upload',
          sizes.map((_, index) => ({ partNumber: index + 1, etag: String(index) })),
          { layout: 'l' },
        );

      const error = await s3Error(complete([5 * 1024 ** 3, 1]));
      expect(error).toMatchObject({ code: 'EntityTooLarge', status: 400 });
      expect(error.message).toContain('5 GiB');
      expect(sent).toEqual(['ListPartsCommand']);

      // Exactly 5 GiB can be copied: the completion goes ahead.
      sent.length = 0;
      await expect(complete([5 * 1024 ** 3 - PART_SIZE, PART_SIZE])).rejects.toThrow(
        'not faked: CompleteMultipartUploadCommand',
      );

      // Markers S3 would refuse as too much metadata are refused before completing too.
      sent.length = 0;
      const distinct = Array.from({ length: 400 }, (_, index) => PART_SIZE + index);
      expect(await s3Error(complete(distinct))).toMatchObject({ code: 'MetadataTooLarge', status: 400 });
      expect(sent).toEqual(['ListPartsCommand']);
    });

    it('refuses internal markers named like its layout markers, and objects whose layout record is broken', async () => {
      const error = await backend
        .putObject(
          bucket,
          'layout/spoof',
          chunksOf(Buffer.from('x')),
          1,
          metadata({ internal: { 'part-sizes': '1' } }),
        )
        .catch((reason: unknown) => reason);
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toMatch(/"part-sizes" is reserved by the S3 backend/);
      expect(await s3Error(backend.headObject(bucket, 'layout/spoof'))).toMatchObject({ code: 'NoSuchKey' });

      await raw.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: 'layout/broken',
          Body: 'x',
          Metadata: { 'sealgate-multipart-etag': `"${'a'.repeat(32)}-2"`, 'sealgate-part-sizes': '1' },
        }),
      );
      await expect(backend.headObject(bucket, 'layout/broken')).rejects.toThrow(
        /malformed multipart layout record/,
      );
    });
  });

  describe('listing with metadata', () => {
    it('heads each listed object, at most 16 at a time, and only when asked', async () => {
      const {
        proxy,
        backend: via,
        close,
      } = await proxied({
        delay: (req) => (req.method === 'HEAD' ? 30 : 0),
      });
      try {
        const listed = 'listed-heads';
        await via.createBucket(listed);
        for (let i = 0; i < 40; i++) {
          const key = `k${String(i).padStart(2, '0')}`;
          await via.putObject(
            listed,
            key,
            chunksOf(Buffer.from(key)),
            3,
            metadata({ user: { n: String(i) } }),
          );
        }
        proxy.seen.length = 0;
        const plain = await via.listObjects(listed, { prefix: '', maxKeys: 100 });
        expect(plain.objects).toHaveLength(40);
        expect(proxy.seen.filter((request) => request.method === 'HEAD')).toEqual([]);

        const page = await via.listObjects(listed, { prefix: '', maxKeys: 100, withMetadata: true });
        expect(page.objects.map((object) => object.metadata?.user.n)).toEqual(
          Array.from({ length: 40 }, (_, i) => String(i)),
        );
        expect(proxy.seen.filter((request) => request.method === 'HEAD')).toHaveLength(40);
        expect(proxy.maxInFlight()).toBeLessThanOrEqual(16);
        expect(proxy.maxInFlight()).toBeGreaterThan(1);
      } finally {
        await close();
      }
    });

    it('drops an object deleted between the listing and its HEAD', async () => {
      const listed = 'listed-gone';
      const { backend: via, close } = await proxied({
        intercept: (req, res) => {
          if (req.method !== 'HEAD' || req.url !== `/${listed}/gone`) return false;
          res.writeHead(404);
          res.end();
          return true;
        },
      });
      try {
        await via.createBucket(listed);
        for (const key of ['before', 'gone', 'later']) {
          await via.putObject(listed, key, chunksOf(Buffer.from(key)), key.length, metadata());
        }
        const page = await via.listObjects(listed, { prefix: '', maxKeys: 100, withMetadata: true });
        expect(page.objects.map((object) => object.key)).toEqual(['before', 'later']);
        expect(page.last).toBe('later');
      } finally {
        await close();
      }
    });
  });
});

/** One request as the proxy saw it. */
