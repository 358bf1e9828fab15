/**
 * One contract for every Backend, run against the filesystem backend (a temp folder) and the S3 backend
 * (moto on loopback), then the checks only one of them can show.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

import { HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { decodeSegment, encodeSegment } from '../../functions/adapters/filesystem/key-paths.js';
import { FilesystemBackend } from '../../functions/adapters/filesystem-backend.js';
import { S3Backend } from '../../functions/adapters/s3-backend.js';
import type { Backend, Body, ObjectMetadata } from '../../functions/core/backend.js';
import { S3Error } from '../../functions/core/errors.js';
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
        const stored = await backend.putObject(bucket, 'trailed', chunksOf(data), data.length, meta, late);
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
        await backend.putObject(bucket, 'empty', chunksOf(Buffer.alloc(0)), 0, metadata(), () => ({
          'checksum-sha256': '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=',
        }));
        const head = await backend.headObject(bucket, 'empty');
        expect(head.metadata.internal).toEqual({
          'checksum-sha256': '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=',
        });
        expect(head.size).toBe(0);
      });

      it('stores the object as given when late returns no markers', async () => {
        const bucket = await newBucket();
        const meta = metadata({ internal: { mode: 'none' } });
        const stored = await backend.putObject(
          bucket,
          'plain',
          chunksOf(Buffer.from('x')),
          1,
          meta,
          () => ({}),
        );
        expect(stored.metadata).toEqual(meta);
        expect((await backend.headObject(bucket, 'plain')).metadata).toEqual(meta);
      });

      it('does not call late for a body that throws, and stores nothing', async () => {
        const bucket = await newBucket();
        const data = randomBytes(100_000);
        const late = vi.fn(() => ({ 'checksum-crc32': 'AAAAAA==' }));
        await expect(
          backend.putObject(bucket, 'broken', failingAfter(data, 30_000), data.length, metadata(), late),
        ).rejects.toThrow('the client went away');
        await expect(
          backend.putObject(bucket, 'broken', failingAtEnd(data), data.length, metadata(), late),
        ).rejects.toThrow('the trailer did not match');
        const empty = async function* (): AsyncGenerator<Uint8Array> {
          yield* [];
          throw new Error('the client went away');
        };
        await expect(backend.putObject(bucket, 'broken', empty(), 0, metadata(), late)).rejects.toThrow(
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
            backend.putObject(bucket, 'refused', chunksOf(body), body.length, metadata(), late),
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
        expect(beyond).toMatchObject({ code: 'InvalidPartNumber', status: 416 });

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
        expect(part2).toMatchObject({ code: 'InvalidPartNumber', status: 416 });
        const get2 = await s3Error(backend.getObject(bucket, 'single', { partNumber: 2 }));
        expect(get2).toMatchObject({ code: 'InvalidPartNumber', status: 416 });
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
    await backend.putObject(bucket, 'layout/object', chunksOf(data), data.length, metadata(), () => ({
      'checksum-crc32': 'late',
    }));
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
      await counted.putObject(bucket, 'no-markers', chunksOf(data), data.length, meta, () => ({}));
      expect(proxy.requests).toEqual(['PUT /raw-view/no-markers']);

      proxy.requests.length = 0;
      await counted.putObject(bucket, 'markers', chunksOf(data), data.length, meta, () => ({
        'checksum-crc32': 'x',
      }));
      expect(proxy.requests).toEqual(['PUT /raw-view/markers', 'PUT /raw-view/markers copy-source']);
      const head = await raw.send(new HeadObjectCommand({ Bucket: bucket, Key: 'markers' }));
      expect(head.Metadata).toEqual({ colour: 'red', 'sealgate-checksum-crc32': 'x' });
      expect(head.ContentType).toBe('application/octet-stream');
    } finally {
      counted.close();
      await proxy.close();
    }
  });
});

/** A loopback HTTP proxy that records each request's method and path (and whether it is a copy). */
async function countingProxy(
  target: string,
): Promise<{ endpoint: string; requests: string[]; close(): Promise<void> }> {
  const upstream = new URL(target);
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    requests.push(`${req.method} ${path}${req.headers['x-amz-copy-source'] ? ' copy-source' : ''}`);
    const forward = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
