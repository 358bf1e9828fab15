/**
 * A {@link Backend} that keeps buckets and objects in a local folder, for the local mode and small setups.
 *
 * Layout under `root`:
 * ```
 * <root>/<bucket>/.bucket                  marks a bucket: JSON { "created": ISO-8601 }
 * <root>/<bucket>/<seg>/<seg>/<last>@obj   one object: data, record, footer (filesystem/object-file.ts)
 * <root>/<bucket>/<seg>/<seg>/@<inode>     a new record for the object file with that inode, written by a
 *                                          metadata replace (filesystem/record-overrides.ts)
 * <root>/.sealgate/tmp/                    where files and folders are built (filesystem/staging-area.ts)
 * <root>/.sealgate/uploads/                multipart uploads in progress (filesystem/multipart-uploads.ts)
 * ```
 * Keys map to paths as filesystem/key-paths.ts describes. Bucket names never start with '.', so `.sealgate`
 * cannot clash with a bucket. Every object, part, upload and bucket is built in `tmp/` and renamed into place,
 * so each appears whole or not at all. All state is on disk: processes sharing the root see the same buckets.
 *
 * It stores bytes as given: native (server-side) encryption is an S3 backend's, and asking this one for it is
 * refused rather than ignored (the config lets no such backend be built).
 *
 * Limits: those of key-paths.ts on keys; the root must be on a case-sensitive file system, or keys that differ
 * only by case collide. Listing reads one directory at a time into memory. `partNumber` reads count parts by
 * position in the completed object. Deleting a bucket concurrently with a write into it may drop that write.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

import type {
  Backend,
  Body,
  ByteRange,
  CompletedPart,
  ListObjectsInput,
  ListObjectsOutput,
  NativeEncryption,
  ObjectChecksum,
  ObjectInfo,
  ObjectMetadata,
  PartChecksumInput,
  PartInfo,
  UploadInfo,
  WriteOptions,
} from '../core/backend.js';
import { errors } from '../core/errors.js';
import { hasCode } from './filesystem/errno.js';
import { BufferedWriter, copyBody, copyRange, emptyBody } from './filesystem/file-io.js';
import { compareKeys, isSafeBucketName, objectPath } from './filesystem/key-paths.js';
import { containsObject, listObjects } from './filesystem/listing.js';
import { checkPartNumber, MultipartUploads } from './filesystem/multipart-uploads.js';
import type { StoredRecord } from './filesystem/object-file.js';
import {
  encodeOverride,
  openObject,
  overridePath,
  type StoredObject,
} from './filesystem/record-overrides.js';
import { StagingArea } from './filesystem/staging-area.js';

export interface FilesystemBackendOptions {
  /** The backend's name from the config. */
  name: string;
  /** The folder that holds the buckets; created if missing. */
  root: string;
}

const BUCKET_MARKER = '.bucket';
/** The size of the pieces an object's data is read in (see getObject). */
const READ_PIECE_BYTES = 256 * 1024;

export class FilesystemBackend implements Backend {
  readonly name: string;
  private readonly root: string;
  private readonly staging: StagingArea;
  private readonly uploads: MultipartUploads;

  constructor(options: FilesystemBackendOptions) {
    this.name = options.name;
    this.root = resolve(options.root);
    this.staging = new StagingArea(join(this.root, '.sealgate', 'tmp'));
    this.uploads = new MultipartUploads({
      dir: join(this.root, '.sealgate', 'uploads'),
      staging: this.staging,
      requireBucket: (bucket) => this.requireBucket(bucket),
    });
  }

  // --- buckets ---

  async listBuckets(): Promise<{ name: string; created: Date }[]> {
    await this.staging.ready();
    const buckets: { name: string; created: Date }[] = [];
    for (const entry of await readdir(this.root, { withFileTypes: true })) {
      if (!entry.isDirectory() || !isSafeBucketName(entry.name)) continue;
      const created = await this.bucketCreated(entry.name);
      if (created) buckets.push({ name: entry.name, created });
    }
    return buckets.sort((a, b) => compareKeys(a.name, b.name));
  }

  async createBucket(bucket: string): Promise<void> {
    if (!isSafeBucketName(bucket)) throw errors.invalidBucketName(bucket);
    try {
      // Built in tmp and renamed into place, so a bucket never exists without its marker.
      await this.staging.publishFolder(join(this.root, bucket), (dir) =>
        writeFile(join(dir, BUCKET_MARKER), JSON.stringify({ created: new Date().toISOString() })),
      );
    } catch (error) {
      if (hasCode(error, 'EEXIST', 'ENOTEMPTY', 'ENOTDIR')) throw errors.bucketAlreadyOwnedByYou(bucket);
      throw error;
    }
  }

  async deleteBucket(bucket: string): Promise<void> {
    await this.requireBucket(bucket);
    const dir = join(this.root, bucket);
    if (await containsObject(dir)) throw errors.bucketNotEmpty(bucket);
    // As in S3, uploads in progress do not keep a bucket alive: they are discarded with it.
    await this.staging.discard(dir);
    await this.uploads.discardAll(bucket);
  }

  async bucketExists(bucket: string): Promise<boolean> {
    if (!isSafeBucketName(bucket)) return false;
    await this.staging.ready();
    return (await this.bucketCreated(bucket)) !== undefined;
  }

  // --- objects ---

  async putObject(
    bucket: string,
    key: string,
    body: Body,
    size: number,
    metadata: ObjectMetadata,
    options: WriteOptions = {},
  ): Promise<ObjectInfo> {
    refuseNative(options.native);
    const { late } = options;
    const path = objectPath(this.root, bucket, key);
    await this.requireBucket(bucket);
    const record = await this.writeObject(bucket, path, async (out) => {
      const md5 = await copyBody(body, size, out, options.opaqueEtag);
      // Asked only now that the body has passed whole; the record is written after the data, so the late
      // markers land in the same file, published by the same rename.
      const stored = late ? { ...metadata, internal: { ...metadata.internal, ...late() } } : metadata;
      return { size, etag: `"${md5}"`, metadata: stored };
    });
    return toObjectInfo(key, record);
  }

  async headObject(
    bucket: string,
    key: string,
    partNumber?: number,
  ): Promise<ObjectInfo & { part?: ByteRange }> {
    const file = await this.openObject(bucket, key);
    await file.handle.close();
    const info = toObjectInfo(key, file.record);
    if (partNumber === undefined) return info;
    const part = partRange(file.record, partNumber);
    return part ? { ...info, part } : info;
  }

  async getObject(
    bucket: string,
    key: string,
    select?: ByteRange | { partNumber: number },
  ): Promise<{ info: ObjectInfo; body: Body; range?: ByteRange }> {
    // The open handle pins this version of the object: a concurrent overwrite (a rename) does not change
    // what this read returns.
    const file = await this.openObject(bucket, key);
    try {
      const info = toObjectInfo(key, file.record);
      let range: ByteRange | undefined;
      let length = info.size;
      if (select !== undefined) {
        range =
          'partNumber' in select ? partRange(file.record, select.partNumber) : checkRange(select, info.size);
        length = range ? range.end - range.start + 1 : 0; // no range: a zero-byte part
      }
      if (length === 0) {
        await file.handle.close();
        return { info, body: emptyBody(), range };
      }
      // The data starts at byte 0 of the file; the stream closes the handle when it ends or is destroyed.
      const start = range?.start ?? 0;
      // Read in pieces of 256 KiB rather than the default 64 KiB: a quarter of the read calls, and a
      // decrypting reader then finds most 64 KiB chunks whole in one piece (stored chunks are 16 bytes
      // longer, so 64 KiB pieces split every one of them). A ranged read takes no more than it asked for.
      const body = file.handle.createReadStream({
        start,
        end: start + length - 1,
        highWaterMark: Math.min(READ_PIECE_BYTES, length),
      });
      return { info, body, range };
    } catch (error) {
      await file.handle.close();
      throw error;
    }
  }

  async deleteObject(bucket: string, key: string): Promise<void> {
    const path = objectPath(this.root, bucket, key);
    try {
      const { ino } = await stat(path, { bigint: true });
      await unlink(path);
      // Best effort, as when a write replaces the file (staging-area.ts): one left behind is never applied.
      await unlink(overridePath(path, ino)).catch(() => undefined);
    } catch (error) {
      if (!hasCode(error, 'ENOENT', 'ENOTDIR')) throw error;
      await this.requireBucket(bucket);
      return;
    }
    await this.prune(bucket, path);
  }

  async copyObject(
    source: { bucket: string; key: string },
    bucket: string,
    key: string,
    metadata: ObjectMetadata,
    options: Pick<WriteOptions, 'native'> = {},
  ): Promise<ObjectInfo> {
    refuseNative(options.native);
    const path = objectPath(this.root, bucket, key);
    await this.requireBucket(bucket);
    // Reading through the handle opened first makes a copy onto itself (a metadata replace) safe.
    const from = await this.openObject(source.bucket, source.key);
    try {
      // A single-part source's ETag is the MD5 of its data, so the copy's is the same and its data need not
      // pass through here: onto itself (a metadata replace), only a new record is written beside the file;
      // elsewhere, the kernel copies the file. Either way the cost does not grow with the object's size.
      if (from.record.parts === undefined) {
        const draft = { size: from.record.size, etag: from.record.etag, metadata };
        const sourcePath = objectPath(this.root, source.bucket, source.key);
        if (sourcePath === path) {
          const record: StoredRecord = { ...draft, lastModified: new Date().toISOString() };
          await this.orMissingBucket(bucket, () =>
            this.staging.writeFile(
              overridePath(path, from.stamp.ino),
              join(this.root, bucket),
              encodeOverride(from, record),
            ),
          );
          return toObjectInfo(key, record);
        }
        const copied = await this.orMissingBucket(bucket, () =>
          this.staging.writeObjectFileCopy(path, join(this.root, bucket), sourcePath, from.written, draft),
        );
        if (copied) return toObjectInfo(key, copied);
      }
      const record = await this.writeObject(bucket, path, async (out) => {
        const md5 = createHash('md5');
        await copyRange(from.handle, 0, from.record.size, out, md5);
        // A copy is a new single-part object, as S3's CopyObject makes: its ETag is the MD5 of its bytes.
        return { size: from.record.size, etag: `"${md5.digest('hex')}"`, metadata };
      });
      return toObjectInfo(key, record);
    } finally {
      await from.handle.close();
    }
  }

  async listObjects(bucket: string, input: ListObjectsInput): Promise<ListObjectsOutput> {
    await this.requireBucket(bucket);
    return listObjects(join(this.root, bucket), input);
  }

  // --- multipart uploads ---

  async createMultipartUpload(
    bucket: string,
    key: string,
    metadata: ObjectMetadata,
    options: Pick<WriteOptions, 'native'> = {},
  ): Promise<string> {
    refuseNative(options.native);
    objectPath(this.root, bucket, key); // rejects a key that could never be completed, before any part streams
    return this.uploads.create(bucket, key, metadata);
  }

  uploadPart(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    body: Body,
    size: number,
    options: { checksum?: PartChecksumInput; opaqueEtag?: boolean } = {},
  ): Promise<PartInfo> {
    return this.uploads.uploadPart(bucket, key, uploadId, partNumber, body, size, options);
  }

  listParts(bucket: string, key: string, uploadId: string): Promise<PartInfo[]> {
    return this.uploads.listParts(bucket, key, uploadId);
  }

  async completeMultipartUpload(
    bucket: string,
    key: string,
    uploadId: string,
    parts: CompletedPart[],
    late?: Record<string, string>,
    checksum?: ObjectChecksum,
  ): Promise<ObjectInfo> {
    const path = objectPath(this.root, bucket, key);
    const base = join(this.root, bucket);
    const record = await this.orMissingBucket(bucket, () =>
      this.uploads.complete(bucket, key, uploadId, parts, { path, base }, late, checksum),
    );
    return toObjectInfo(key, record);
  }

  abortMultipartUpload(bucket: string, key: string, uploadId: string): Promise<void> {
    return this.uploads.abort(bucket, key, uploadId);
  }

  listMultipartUploads(bucket: string, prefix: string): Promise<UploadInfo[]> {
    return this.uploads.list(bucket, prefix);
  }

  // --- internals ---

  private async bucketCreated(bucket: string): Promise<Date | undefined> {
    try {
      const marker = JSON.parse(await readFile(join(this.root, bucket, BUCKET_MARKER), 'utf8')) as unknown;
      const created = (marker as { created?: unknown } | null)?.created;
      if (typeof created === 'string' && !Number.isNaN(Date.parse(created))) return new Date(created);
      throw new Error(`corrupt bucket marker in ${join(this.root, bucket)}`);
    } catch (error) {
      if (hasCode(error, 'ENOENT', 'ENOTDIR')) return undefined;
      throw error;
    }
  }

  private async requireBucket(bucket: string): Promise<void> {
    if (!isSafeBucketName(bucket)) throw errors.noSuchBucket(bucket);
    await this.staging.ready();
    if (!(await this.bucketCreated(bucket))) throw errors.noSuchBucket(bucket);
  }

  /** Writes an object file into the bucket's folder. */
  private writeObject(
    bucket: string,
    path: string,
    fill: (out: BufferedWriter) => Promise<Omit<StoredRecord, 'lastModified'>>,
  ): Promise<StoredRecord> {
    return this.orMissingBucket(bucket, () =>
      this.staging.writeObjectFile(path, join(this.root, bucket), fill),
    );
  }

  /** Runs a write, answering NoSuchBucket if it failed because the bucket was deleted while it ran. */
  private async orMissingBucket<T>(bucket: string, write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (error) {
      if (hasCode(error, 'ENOENT')) await this.requireBucket(bucket);
      throw error;
    }
  }

  /** Removes the empty folders left above a deleted object, up to the bucket folder (best effort). */
  private async prune(bucket: string, path: string): Promise<void> {
    const bucketDir = join(this.root, bucket);
    for (let dir = join(path, '..'); dir.length > bucketDir.length; dir = join(dir, '..')) {
      try {
        await rmdir(dir);
      } catch {
        return; // not empty, or already gone: either way the folders above stay
      }
    }
  }

  private async openObject(bucket: string, key: string): Promise<StoredObject> {
    const path = objectPath(this.root, bucket, key);
    try {
      return await openObject(path);
    } catch (error) {
      if (!hasCode(error, 'ENOENT', 'ENOTDIR')) throw error;
      await this.requireBucket(bucket);
      throw errors.noSuchKey(key);
    }
  }
}

/** @throws S3Error InvalidRequest for any native encryption request: this backend stores bytes as given. */
function refuseNative(native: NativeEncryption | undefined): void {
  if (native) {
    throw errors.invalidRequest(
      `Server-side encryption (${native.algorithm}) was asked of a backend that cannot do it: the filesystem ` +
        'backend cannot encrypt natively; only S3 backends can.',
    );
  }
}

function toObjectInfo(key: string, record: StoredRecord): ObjectInfo {
  const info: ObjectInfo = {
    key,
    size: record.size,
    etag: record.etag,
    lastModified: new Date(record.lastModified),
    metadata: record.metadata ?? { headers: {}, user: {}, internal: {} },
  };
  if (record.parts) info.partsCount = record.parts.length;
  if (record.checksum && 'type' in record.checksum) info.checksum = record.checksum;
  return info;
}

/** S3's `partNumber` read: the byte range of that part; part 1 of a non-multipart object is all of it. */
function partRange(record: StoredRecord, partNumber: number): ByteRange | undefined {
  checkPartNumber(partNumber);
  const sizes = record.parts ?? [record.size];
  if (partNumber > sizes.length) throw errors.invalidPartNumber();
  const start = sizes.slice(0, partNumber - 1).reduce((sum, size) => sum + size, 0);
  const size = sizes[partNumber - 1];
  return size === 0 ? undefined : { start, end: start + size - 1 };
}

function checkRange(range: ByteRange, size: number): ByteRange {
  const valid =
    Number.isSafeInteger(range.start) &&
    Number.isSafeInteger(range.end) &&
    range.start >= 0 &&
    range.start <= range.end &&
    range.end < size;
  if (!valid) throw errors.invalidRange(size);
  return range;
}
