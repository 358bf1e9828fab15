/**
 * A {@link Backend} that keeps buckets and objects in a local folder, for the local mode and small setups.
 *
 * Layout under `root`:
 * ```
 * <root>/<bucket>/.bucket                       marks a bucket: JSON { "created": ISO-8601 }
 * <root>/<bucket>/<seg>/<seg>/<last>@obj        one object: header + data (format below)
 * <root>/.sealgate/tmp/                         files and folders being built, renamed into place when complete
 * <root>/.sealgate/uploads/<bucket>/<uploadId>/upload.json    key, metadata and initiation time of an upload
 * <root>/.sealgate/uploads/<bucket>/<uploadId>/part-00001     one uploaded part: header + data
 * ```
 * Bucket names never start with '.', so `.sealgate` cannot clash with a bucket. `tmp/` sits on the same file
 * system as the buckets, so publishing a finished file is one atomic rename(2): a crash mid-write never
 * leaves a partial object visible, and an object's data and metadata appear together. Files are fsync'd
 * before the rename; the directory entry itself is not (a power cut right after a write may lose that write,
 * never expose a torn one). Leftovers of a crash in `tmp/` are removed when they are a day old.
 *
 * Key → path: the key is split on '/'; each segment is percent-encoded (UTF-8 bytes other than ASCII letters,
 * digits, '-', '_' and a '.' that is not the first byte become `%XX`), so no encoded segment starts with '.',
 * contains '@', or is '.' or '..'. Directory segments become directories and the last segment becomes the
 * file `<encoded>@obj`; because '@' never survives encoding, the key `a` (file `a@obj`) and the key `a/b`
 * (directory `a`) coexist. An empty segment (`dir/`, `a//b`) is stored under the reserved name `.empty`.
 * Keys are still rejected with a 400 when they try to leave the bucket: a `.` or `..` segment, a leading '/',
 * a NUL byte.
 *
 * Object file format (also used for parts): the 4 bytes `SGOB`, a version byte (1), the length of the header
 * as a 4-byte big-endian integer, the header as UTF-8 JSON ({@link StoredHeader}), then the data. The header
 * space is reserved before the data streams in and filled once the MD5 is known (padded with spaces).
 *
 * Limits: keys up to 1024 UTF-8 bytes (S3's limit); each key segment at most 251 bytes once percent-encoded
 * (so 251 ASCII letters, or 27 three-byte characters), because file names are limited to 255 bytes;
 * the whole path (root, bucket, encoded key) must fit the platform's PATH_MAX (4096 bytes on Linux). The root
 * must be on a case-sensitive file system, or keys that differ only by case collide. Listing reads one
 * directory at a time into memory. `partNumber` reads count parts by position in the completed object.
 * Deleting a bucket concurrently with a write into it may drop that write.
 */
import { createHash, randomBytes, type Hash } from 'node:crypto';
import type { Dirent } from 'node:fs';
import {
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  rmdir,
  stat,
  unlink,
  writeFile,
  type FileHandle,
} from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';

import type {
  Backend,
  Body,
  ByteRange,
  ListedObject,
  ListObjectsInput,
  ListObjectsOutput,
  ObjectInfo,
  ObjectMetadata,
  PartInfo,
  UploadInfo,
} from '../core/backend.js';
import { errors } from '../core/errors.js';

export interface FilesystemBackendOptions {
  /** The backend's name from the config. */
  name: string;
  /** The folder that holds the buckets; created if missing. */
  root: string;
}

/** The JSON header in front of an object's or a part's data. */
interface StoredHeader {
  size: number;
  /** Quoted, as S3 returns it. */
  etag: string;
  lastModified: string;
  /** Objects only (parts carry none). */
  metadata?: ObjectMetadata;
  /** For an object completed from a multipart upload: the size of each part, in order. */
  parts?: number[];
}

interface UploadRecord {
  key: string;
  metadata: ObjectMetadata;
  initiated: string;
}

const MAGIC = Buffer.from('SGOB', 'latin1');
const FORMAT_VERSION = 1;
const PREFIX_LENGTH = MAGIC.length + 1 + 4;
/** A header longer than this is a corrupt file, not something to allocate for (10,000 part sizes fit easily). */
const MAX_HEADER_LENGTH = 1024 * 1024;
const OBJECT_SUFFIX = '@obj';
const EMPTY_SEGMENT = '.empty';
const BUCKET_MARKER = '.bucket';
const MAX_KEY_BYTES = 1024;
const MAX_FILE_NAME_BYTES = 255;
const MAX_ENCODED_SEGMENT = MAX_FILE_NAME_BYTES - OBJECT_SUFFIX.length;
const MAX_PATH_BYTES = 4095;
const IO_BUFFER_SIZE = 1024 * 1024;
const STALE_TMP_MS = 24 * 60 * 60 * 1000;
const MAX_PART_NUMBER = 10_000;
/** Same length as any ISO-8601 date this code writes, so the reserved header space always fits. */
const PLACEHOLDER_DATE = new Date(0).toISOString();
const UPLOAD_ID = /^[A-Za-z0-9_-]{1,64}$/;
const PART_FILE = /^part-(\d{5})$/;

export class FilesystemBackend implements Backend {
  readonly name: string;
  private readonly root: string;
  private readonly tmpDir: string;
  private readonly uploadsDir: string;
  private prepared: Promise<void> | undefined;

  constructor(options: FilesystemBackendOptions) {
    this.name = options.name;
    this.root = resolve(options.root);
    this.tmpDir = join(this.root, '.sealgate', 'tmp');
    this.uploadsDir = join(this.root, '.sealgate', 'uploads');
  }

  // --- buckets ---

  async listBuckets(): Promise<{ name: string; created: Date }[]> {
    await this.ready();
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
    await this.ready();
    // Built in tmp and renamed into place, so a bucket never exists without its marker.
    const staging = this.tmpPath();
    await mkdir(staging);
    try {
      await writeFile(join(staging, BUCKET_MARKER), JSON.stringify({ created: new Date().toISOString() }));
      await rename(staging, join(this.root, bucket));
    } catch (error) {
      await rm(staging, { recursive: true, force: true });
      if (hasCode(error, 'EEXIST', 'ENOTEMPTY', 'ENOTDIR')) throw errors.bucketAlreadyOwnedByYou(bucket);
      throw error;
    }
  }

  async deleteBucket(bucket: string): Promise<void> {
    await this.requireBucket(bucket);
    const dir = join(this.root, bucket);
    if (await containsObject(dir)) throw errors.bucketNotEmpty(bucket);
    // As in S3, uploads in progress do not keep a bucket alive: they are discarded with it.
    await this.discard(dir);
    await this.discard(join(this.uploadsDir, bucket));
  }

  async headBucket(bucket: string): Promise<{ created: Date } | undefined> {
    if (!isSafeBucketName(bucket)) return undefined;
    await this.ready();
    const created = await this.bucketCreated(bucket);
    return created && { created };
  }

  // --- objects ---

  async putObject(
    bucket: string,
    key: string,
    body: Body,
    size: number,
    metadata: ObjectMetadata,
  ): Promise<ObjectInfo> {
    const path = this.objectPath(bucket, key);
    await this.requireBucket(bucket);
    const header = await this.writeFile(path, (out, md5) => copyBody(body, size, out, md5), {
      size,
      metadata,
      etag: quotedMd5Placeholder(),
    });
    return toObjectInfo(key, header);
  }

  async headObject(
    bucket: string,
    key: string,
    partNumber?: number,
  ): Promise<ObjectInfo & { part?: ByteRange }> {
    const file = await this.openObject(bucket, key);
    await file.handle.close();
    const info = toObjectInfo(key, file.header);
    if (partNumber === undefined) return info;
    const part = partRange(file.header, partNumber);
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
      const info = toObjectInfo(key, file.header);
      let range: ByteRange | undefined;
      let length = info.size;
      if (select !== undefined) {
        range =
          'partNumber' in select ? partRange(file.header, select.partNumber) : checkRange(select, info.size);
        length = range ? range.end - range.start + 1 : 0; // no range: a zero-byte part
      }
      if (length === 0) {
        await file.handle.close();
        return { info, body: emptyBody(), range };
      }
      const start = file.dataOffset + (range?.start ?? 0);
      const body = file.handle.createReadStream({ start, end: start + length - 1 });
      return { info, body, range };
    } catch (error) {
      await file.handle.close();
      throw error;
    }
  }

  async deleteObject(bucket: string, key: string): Promise<void> {
    const path = this.objectPath(bucket, key);
    try {
      await unlink(path);
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
  ): Promise<ObjectInfo> {
    const path = this.objectPath(bucket, key);
    await this.requireBucket(bucket);
    // Reading through the handle opened first makes a copy onto itself (a metadata replace) safe.
    const from = await this.openObject(source.bucket, source.key);
    try {
      const size = from.header.size;
      const header = await this.writeFile(
        path,
        (out, md5) => copyRange(from.handle, from.dataOffset, size, out, md5),
        { size, metadata, etag: quotedMd5Placeholder() },
      );
      return toObjectInfo(key, header);
    } finally {
      await from.handle.close();
    }
  }

  async listObjects(bucket: string, input: ListObjectsInput): Promise<ListObjectsOutput> {
    await this.requireBucket(bucket);
    const { prefix, delimiter, after, maxKeys } = input;
    const output: ListObjectsOutput = { objects: [], commonPrefixes: [], isTruncated: false };
    // Only the subtree named by the prefix's complete segments can hold matching keys.
    const segments = prefix.split('/');
    segments.pop();
    const encoded = segments.map((segment) => encodeSegment(segment));
    if (encoded.some((name) => Buffer.byteLength(name) > MAX_ENCODED_SEGMENT)) return output;
    const start = join(this.root, bucket, ...encoded);
    const keyPrefix = segments.map((segment) => `${segment}/`).join('');

    let count = 0;
    let lastPrefix: string | undefined;
    for await (const entry of walk(start, keyPrefix, { prefix, delimiter: delimiter || undefined, after })) {
      let commonPrefix = entry.kind === 'prefix' ? entry.prefix : undefined;
      if (entry.kind === 'object' && delimiter) {
        const at = entry.key.indexOf(delimiter, prefix.length);
        if (at >= 0) {
          commonPrefix = entry.key.slice(0, at + delimiter.length);
          // A prefix at or before the marker was already returned (S3 rolls the keys after it into it).
          if (after !== undefined && compareKeys(commonPrefix, after) <= 0) continue;
        }
      }
      if (commonPrefix !== undefined && commonPrefix === lastPrefix) continue;
      if (count === maxKeys) {
        output.isTruncated = true;
        break;
      }
      if (commonPrefix !== undefined) {
        output.commonPrefixes.push(commonPrefix);
        lastPrefix = commonPrefix;
        output.last = commonPrefix;
      } else if (entry.kind === 'object') {
        const listed = await readListing(entry.key, entry.path);
        if (!listed) continue; // deleted since the directory was read
        output.objects.push(listed);
        output.last = entry.key;
      }
      count++;
    }
    return output;
  }

  // --- multipart uploads ---

  async createMultipartUpload(bucket: string, key: string, metadata: ObjectMetadata): Promise<string> {
    this.objectPath(bucket, key);
    await this.requireBucket(bucket);
    const uploadId = randomBytes(24).toString('base64url');
    const record: UploadRecord = { key, metadata, initiated: new Date().toISOString() };
    const staging = this.tmpPath();
    await mkdir(staging);
    try {
      await writeFile(join(staging, 'upload.json'), JSON.stringify(record));
      await mkdir(join(this.uploadsDir, bucket), { recursive: true });
      await rename(staging, join(this.uploadsDir, bucket, uploadId));
    } catch (error) {
      await rm(staging, { recursive: true, force: true });
      throw error;
    }
    return uploadId;
  }

  async uploadPart(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    body: Body,
    size: number,
  ): Promise<PartInfo> {
    checkPartNumber(partNumber);
    await this.readUpload(bucket, key, uploadId);
    const path = join(this.uploadsDir, bucket, uploadId, partFileName(partNumber));
    try {
      const header = await this.writeFile(path, (out, md5) => copyBody(body, size, out, md5), {
        size,
        etag: quotedMd5Placeholder(),
      });
      return { partNumber, etag: header.etag, size, lastModified: new Date(header.lastModified) };
    } catch (error) {
      // The upload folder vanished while the part streamed in: the upload was completed or aborted.
      if (hasCode(error, 'ENOENT')) throw errors.noSuchUpload(uploadId);
      throw error;
    }
  }

  async listParts(bucket: string, key: string, uploadId: string): Promise<PartInfo[]> {
    await this.readUpload(bucket, key, uploadId);
    const dir = join(this.uploadsDir, bucket, uploadId);
    const names = await readdir(dir).catch((error: unknown) => {
      if (hasCode(error, 'ENOENT')) throw errors.noSuchUpload(uploadId);
      throw error;
    });
    const parts: PartInfo[] = [];
    for (const name of names) {
      const match = PART_FILE.exec(name);
      if (!match) continue;
      const header = await readHeaderOf(join(dir, name));
      if (!header) continue;
      parts.push({
        partNumber: Number(match[1]),
        etag: header.etag,
        size: header.size,
        lastModified: new Date(header.lastModified),
      });
    }
    return parts.sort((a, b) => a.partNumber - b.partNumber);
  }

  async getUploadMetadata(bucket: string, key: string, uploadId: string): Promise<ObjectMetadata> {
    return (await this.readUpload(bucket, key, uploadId)).metadata;
  }

  async completeMultipartUpload(
    bucket: string,
    key: string,
    uploadId: string,
    parts: { partNumber: number; etag: string }[],
  ): Promise<ObjectInfo> {
    const path = this.objectPath(bucket, key);
    const upload = await this.readUpload(bucket, key, uploadId);
    const dir = join(this.uploadsDir, bucket, uploadId);
    if (parts.length === 0) throw errors.invalidPart('You must specify at least one part.');
    for (let i = 1; i < parts.length; i++) {
      if (parts[i].partNumber <= parts[i - 1].partNumber) throw errors.invalidPartOrder();
    }
    // Check every part before copying gigabytes, then check each again as it is copied (it may have been
    // replaced in between).
    const stored: StoredHeader[] = [];
    for (const part of parts) {
      const header = await readHeaderOf(join(dir, partFileName(part.partNumber)));
      if (!header || normalizeEtag(header.etag) !== normalizeEtag(part.etag)) {
        throw errors.invalidPart(
          `Part ${part.partNumber} could not be found, or its ETag does not match the one given.`,
        );
      }
      stored.push(header);
    }
    const partMd5s = stored.map((header) => Buffer.from(normalizeEtag(header.etag), 'hex'));
    const etag = `"${createHash('md5').update(Buffer.concat(partMd5s)).digest('hex')}-${parts.length}"`;
    const sizes = stored.map((header) => header.size);
    const size = sizes.reduce((sum, partSize) => sum + partSize, 0);

    const header = await this.writeFile(
      path,
      async (out) => {
        for (const [index, part] of parts.entries()) {
          const file = await openStored(join(dir, partFileName(part.partNumber))).catch((error: unknown) => {
            if (hasCode(error, 'ENOENT')) throw errors.invalidPart(`Part ${part.partNumber} was removed.`);
            throw error;
          });
          try {
            if (file.header.etag !== stored[index].etag) {
              throw errors.invalidPart(
                `Part ${part.partNumber} was replaced while the upload was completed.`,
              );
            }
            await copyRange(file.handle, file.dataOffset, file.header.size, out);
          } finally {
            await file.handle.close();
          }
        }
        return etag;
      },
      { size, metadata: upload.metadata, etag, parts: sizes },
    );
    // The object is published first, so a crash here leaves a completed object and a stale upload that a
    // retried Complete finishes again, never a lost upload.
    await this.discard(dir);
    return toObjectInfo(key, header);
  }

  async abortMultipartUpload(bucket: string, key: string, uploadId: string): Promise<void> {
    await this.readUpload(bucket, key, uploadId);
    const dir = join(this.uploadsDir, bucket, uploadId);
    if (!(await this.discard(dir))) throw errors.noSuchUpload(uploadId);
  }

  async listMultipartUploads(bucket: string, prefix: string): Promise<UploadInfo[]> {
    await this.requireBucket(bucket);
    const dir = join(this.uploadsDir, bucket);
    const ids = await readdir(dir).catch((error: unknown) => {
      if (hasCode(error, 'ENOENT')) return [];
      throw error;
    });
    const uploads: UploadInfo[] = [];
    for (const uploadId of ids) {
      if (!UPLOAD_ID.test(uploadId)) continue;
      const record = await readUploadRecord(join(dir, uploadId));
      if (!record || !record.key.startsWith(prefix)) continue;
      uploads.push({ key: record.key, uploadId, initiated: new Date(record.initiated) });
    }
    return uploads.sort((a, b) => compareKeys(a.key, b.key) || a.initiated.getTime() - b.initiated.getTime());
  }

  // --- internals ---

  /** Creates the internal folders once, and clears what crashed writes left in tmp long ago. */
  private ready(): Promise<void> {
    this.prepared ??= (async () => {
      await mkdir(this.tmpDir, { recursive: true });
      await mkdir(this.uploadsDir, { recursive: true });
      const cutoff = Date.now() - STALE_TMP_MS;
      for (const name of await readdir(this.tmpDir)) {
        const path = join(this.tmpDir, name);
        const info = await stat(path).catch(() => undefined);
        if (info && info.mtimeMs < cutoff)
          await rm(path, { recursive: true, force: true }).catch(() => undefined);
      }
    })().catch((error: unknown) => {
      this.prepared = undefined;
      throw error;
    });
    return this.prepared;
  }

  private tmpPath(): string {
    return join(this.tmpDir, randomBytes(12).toString('hex'));
  }

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
    await this.ready();
    if (!(await this.bucketCreated(bucket))) throw errors.noSuchBucket(bucket);
  }

  /** The file that holds `key`, after rejecting keys that cannot be stored safely. */
  private objectPath(bucket: string, key: string): string {
    if (!isSafeBucketName(bucket)) throw errors.noSuchBucket(bucket);
    const segments = keySegments(key);
    const names = segments.map((segment) => encodeSegment(segment));
    const tooLong = names.findIndex((name) => Buffer.byteLength(name) > MAX_ENCODED_SEGMENT);
    if (tooLong >= 0) {
      throw errors.invalidKey(
        `Key segment ${tooLong + 1} is too long for the filesystem backend: each '/'-separated segment may ` +
          `take at most ${MAX_ENCODED_SEGMENT} bytes once percent-encoded (non-ASCII characters take 3 per byte).`,
      );
    }
    names[names.length - 1] += OBJECT_SUFFIX;
    const path = join(this.root, bucket, ...names);
    if (Buffer.byteLength(path) > MAX_PATH_BYTES) {
      throw errors.invalidKey(
        'Key is too long for the filesystem backend: its encoded path exceeds PATH_MAX.',
      );
    }
    return path;
  }

  /**
   * Streams a file into tmp and renames it to `path`: `fill` writes the data (its MD5 computed on the way)
   * and returns the ETag if it is not that MD5. The header space is reserved up front from `draft`.
   */
  private async writeFile(
    path: string,
    fill: (out: BufferedWriter, md5: Hash) => Promise<string | undefined>,
    draft: Omit<StoredHeader, 'lastModified'>,
  ): Promise<StoredHeader> {
    await this.ready();
    const reserved = encodeHeader({ ...draft, lastModified: PLACEHOLDER_DATE });
    const tmp = this.tmpPath();
    const handle = await open(tmp, 'wx');
    let closed = false;
    try {
      const md5 = createHash('md5');
      const out = new BufferedWriter(handle, reserved.length);
      const etag = (await fill(out, md5)) ?? `"${md5.digest('hex')}"`;
      await out.flush();
      const header: StoredHeader = { ...draft, etag, lastModified: new Date().toISOString() };
      await writeFully(handle, encodeHeader(header, reserved.length), 0);
      await handle.datasync();
      closed = true;
      await handle.close();
      await this.publish(tmp, path);
      return header;
    } catch (error) {
      if (!closed) await handle.close().catch(() => undefined);
      await rm(tmp, { force: true }).catch(() => undefined);
      throw error;
    }
  }

  /** Renames a finished tmp file to `path`, creating its parent folders below the bucket's folder. */
  private async publish(tmp: string, path: string): Promise<void> {
    // A delete may prune a parent folder between our mkdir and the rename; a few tries cover that race.
    for (let attempt = 0; ; attempt++) {
      try {
        await rename(tmp, path);
        return;
      } catch (error) {
        if (!hasCode(error, 'ENOENT') || attempt === 3) throw error;
      }
      await this.makeParents(path);
    }
  }

  /**
   * Creates the folders between the bucket (or upload) folder and `path`, one level at a time and never the
   * bucket folder itself, so a write racing a bucket delete cannot resurrect the bucket without its marker.
   */
  private async makeParents(path: string): Promise<void> {
    const names = relative(this.root, path).split('/');
    const base = names[0] === '.sealgate' ? 4 : 1; // .sealgate/uploads/<bucket>/<uploadId>, or <bucket>
    let dir = join(this.root, ...names.slice(0, base));
    for (const name of names.slice(base, -1)) {
      dir = join(dir, name);
      await mkdir(dir).catch((error: unknown) => {
        if (hasCode(error, 'EEXIST')) return;
        // The bucket folder is gone: the bucket was deleted while the object streamed in.
        if (hasCode(error, 'ENOENT') && base === 1) throw errors.noSuchBucket(names[0]);
        throw error;
      });
    }
  }

  /** Removes the empty folders left above a deleted object, up to the bucket folder (best effort). */
  private async prune(bucket: string, path: string): Promise<void> {
    const bucketDir = join(this.root, bucket);
    for (let dir = join(path, '..'); dir.length > bucketDir.length; dir = join(dir, '..')) {
      try {
        await rmdir(dir);
      } catch {
        return;
      }
    }
  }

  /** Moves a folder into tmp (atomically out of sight), then deletes it. False if it did not exist. */
  private async discard(dir: string): Promise<boolean> {
    const trash = this.tmpPath();
    try {
      await rename(dir, trash);
    } catch (error) {
      if (hasCode(error, 'ENOENT')) return false;
      throw error;
    }
    await rm(trash, { recursive: true, force: true });
    return true;
  }

  private async openObject(bucket: string, key: string): Promise<StoredFile> {
    const path = this.objectPath(bucket, key);
    await this.ready();
    try {
      return await openStored(path);
    } catch (error) {
      if (!hasCode(error, 'ENOENT', 'ENOTDIR')) throw error;
      await this.requireBucket(bucket);
      throw errors.noSuchKey(key);
    }
  }

  private async readUpload(bucket: string, key: string, uploadId: string): Promise<UploadRecord> {
    if (!isSafeBucketName(bucket)) throw errors.noSuchBucket(bucket);
    if (!UPLOAD_ID.test(uploadId)) throw errors.noSuchUpload(uploadId);
    await this.ready();
    const record = await readUploadRecord(join(this.uploadsDir, bucket, uploadId));
    if (!record) {
      await this.requireBucket(bucket);
      throw errors.noSuchUpload(uploadId);
    }
    // S3 answers NoSuchUpload when the upload id belongs to another key.
    if (record.key !== key) throw errors.noSuchUpload(uploadId);
    return record;
  }
}

// --- keys and file names ---

/** The key's '/'-separated segments, after the checks that keep every key inside its bucket's folder. */
function keySegments(key: string): string[] {
  if (key === '') throw errors.invalidKey('The object key must not be empty.');
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) throw errors.keyTooLong();
  // A lone UTF-16 surrogate does not survive the round trip through UTF-8.
  if (Buffer.from(key, 'utf8').toString('utf8') !== key)
    throw errors.invalidKey('The object key is not valid UTF-8.');
  if (key.includes('\0')) throw errors.invalidKey('The object key must not contain a NUL character.');
  if (key.startsWith('/')) throw errors.invalidKey("The object key must not start with '/'.");
  const segments = key.split('/');
  if (segments.some((segment) => segment === '.' || segment === '..')) {
    throw errors.invalidKey("The object key must not contain a '.' or '..' path segment.");
  }
  return segments;
}

const KEPT_BYTE = /^[A-Za-z0-9_-]$/;

function encodeSegment(segment: string): string {
  if (segment === '') return EMPTY_SEGMENT;
  let name = '';
  for (const byte of Buffer.from(segment, 'utf8')) {
    const char = String.fromCharCode(byte);
    const kept = byte < 0x80 && (KEPT_BYTE.test(char) || (char === '.' && name !== ''));
    name += kept ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return name;
}

/** The segment a file or folder name stands for; undefined for names this backend did not write. */
function decodeSegment(name: string): string | undefined {
  if (name === EMPTY_SEGMENT) return '';
  if (!/^(?:[A-Za-z0-9_.-]|%[0-9A-F]{2})+$/.test(name)) return undefined;
  const bytes = Buffer.from(
    name.replace(/%([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))),
    'latin1',
  );
  const segment = bytes.toString('utf8');
  return encodeSegment(segment) === name ? segment : undefined;
}

function isSafeBucketName(bucket: string): boolean {
  return /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,254}$/.test(bucket);
}

function partFileName(partNumber: number): string {
  return `part-${String(partNumber).padStart(5, '0')}`;
}

function checkPartNumber(partNumber: number): void {
  if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_PART_NUMBER) {
    throw errors.invalidArgument(
      'Part number must be an integer between 1 and 10000, inclusive',
      'partNumber',
      String(partNumber),
    );
  }
}

/** S3 orders keys by their UTF-8 bytes. */
function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

// --- the stored file format ---

interface StoredFile {
  handle: FileHandle;
  header: StoredHeader;
  dataOffset: number;
}

function quotedMd5Placeholder(): string {
  return `"${'0'.repeat(32)}"`;
}

/** Encodes a header; with `length`, pads it with spaces to exactly that many bytes (the reserved space). */
function encodeHeader(header: StoredHeader, length?: number): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const jsonLength = length === undefined ? json.length : length - PREFIX_LENGTH;
  if (json.length > jsonLength) throw new Error('object header outgrew its reserved space');
  const out = Buffer.alloc(PREFIX_LENGTH + jsonLength, 0x20);
  MAGIC.copy(out, 0);
  out.writeUInt8(FORMAT_VERSION, MAGIC.length);
  out.writeUInt32BE(jsonLength, MAGIC.length + 1);
  json.copy(out, PREFIX_LENGTH);
  return out;
}

async function openStored(path: string): Promise<StoredFile> {
  const handle = await open(path, 'r');
  try {
    const prefix = await readExactly(handle, PREFIX_LENGTH, 0);
    if (!prefix || !prefix.subarray(0, MAGIC.length).equals(MAGIC)) throw corrupt(path, 'bad magic');
    if (prefix.readUInt8(MAGIC.length) !== FORMAT_VERSION) throw corrupt(path, 'unknown format version');
    const length = prefix.readUInt32BE(MAGIC.length + 1);
    if (length > MAX_HEADER_LENGTH)
      throw corrupt(path, `header length ${length} exceeds ${MAX_HEADER_LENGTH}`);
    const json = await readExactly(handle, length, PREFIX_LENGTH);
    if (!json) throw corrupt(path, 'truncated header');
    const header = parseHeader(json.toString('utf8'));
    if (!header) throw corrupt(path, 'malformed header');
    return { handle, header, dataOffset: PREFIX_LENGTH + length };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

function parseHeader(text: string): StoredHeader | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const header = value as Partial<StoredHeader> | null;
  if (
    !header ||
    !Number.isSafeInteger(header.size) ||
    typeof header.etag !== 'string' ||
    typeof header.lastModified !== 'string'
  ) {
    return undefined;
  }
  if (header.parts !== undefined) {
    const parts = header.parts as unknown;
    if (!Array.isArray(parts) || !parts.every((size) => Number.isSafeInteger(size))) return undefined;
    if ((parts as number[]).reduce((sum, size) => sum + size, 0) !== header.size) return undefined;
  }
  return header as StoredHeader;
}

function corrupt(path: string, why: string): Error {
  return new Error(`corrupt object file ${path}: ${why}`);
}

/** The header of a stored file, or undefined if the file is gone. */
async function readHeaderOf(path: string): Promise<StoredHeader | undefined> {
  try {
    const file = await openStored(path);
    await file.handle.close();
    return file.header;
  } catch (error) {
    if (hasCode(error, 'ENOENT', 'ENOTDIR')) return undefined;
    throw error;
  }
}

async function readListing(key: string, path: string): Promise<ListedObject | undefined> {
  const header = await readHeaderOf(path);
  return header && { key, size: header.size, etag: header.etag, lastModified: new Date(header.lastModified) };
}

async function readUploadRecord(dir: string): Promise<UploadRecord | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, 'upload.json'), 'utf8')) as UploadRecord;
  } catch (error) {
    if (hasCode(error, 'ENOENT', 'ENOTDIR')) return undefined;
    throw error;
  }
}

function toObjectInfo(key: string, header: StoredHeader): ObjectInfo {
  const info: ObjectInfo = {
    key,
    size: header.size,
    etag: header.etag,
    lastModified: new Date(header.lastModified),
    metadata: header.metadata ?? { headers: {}, user: {}, internal: {} },
  };
  if (header.parts) info.partsCount = header.parts.length;
  return info;
}

/** S3's `partNumber` read: the byte range of that part; part 1 of a non-multipart object is all of it. */
function partRange(header: StoredHeader, partNumber: number): ByteRange | undefined {
  checkPartNumber(partNumber);
  const sizes = header.parts ?? [header.size];
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

function normalizeEtag(etag: string): string {
  return etag.replace(/^"|"$/g, '').toLowerCase();
}

// --- streaming I/O ---

/** Coalesces small chunks into large writes at increasing positions, holding at most one buffer. */
class BufferedWriter {
  private readonly buffer = Buffer.allocUnsafe(IO_BUFFER_SIZE);
  private used = 0;

  constructor(
    private readonly handle: FileHandle,
    private position: number,
  ) {}

  async write(chunk: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < chunk.byteLength) {
      const n = Math.min(chunk.byteLength - offset, this.buffer.length - this.used);
      this.buffer.set(chunk.subarray(offset, offset + n), this.used);
      this.used += n;
      offset += n;
      if (this.used === this.buffer.length) await this.flush();
    }
  }

  async flush(): Promise<void> {
    if (this.used === 0) return;
    await writeFully(this.handle, this.buffer.subarray(0, this.used), this.position);
    this.position += this.used;
    this.used = 0;
  }
}

/** Copies exactly `size` bytes of a body; more or fewer is S3's IncompleteBody. */
async function copyBody(body: Body, size: number, out: BufferedWriter, md5: Hash): Promise<undefined> {
  if (!Number.isSafeInteger(size) || size < 0) throw errors.incompleteBody();
  let received = 0;
  for await (const chunk of body) {
    received += chunk.byteLength;
    if (received > size) throw errors.incompleteBody();
    md5.update(chunk);
    await out.write(chunk);
  }
  if (received !== size) throw errors.incompleteBody();
  return undefined;
}

/** Copies `length` bytes from `from` at `offset`, through one reused buffer. */
async function copyRange(
  from: FileHandle,
  offset: number,
  length: number,
  out: BufferedWriter,
  md5?: Hash,
): Promise<undefined> {
  const buffer = Buffer.allocUnsafe(Math.min(IO_BUFFER_SIZE, Math.max(length, 1)));
  for (let done = 0; done < length;) {
    const { bytesRead } = await from.read(buffer, 0, Math.min(buffer.length, length - done), offset + done);
    if (bytesRead === 0) throw new Error('stored file is shorter than its header says');
    const chunk = buffer.subarray(0, bytesRead);
    md5?.update(chunk);
    await out.write(chunk);
    done += bytesRead;
  }
  return undefined;
}

async function readExactly(
  handle: FileHandle,
  length: number,
  position: number,
): Promise<Buffer | undefined> {
  const buffer = Buffer.alloc(length);
  for (let done = 0; done < length;) {
    const { bytesRead } = await handle.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) return undefined;
    done += bytesRead;
  }
  return buffer;
}

async function writeFully(handle: FileHandle, data: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < data.byteLength;) {
    const { bytesWritten } = await handle.write(data, done, data.byteLength - done, position + done);
    done += bytesWritten;
  }
}

async function* emptyBody(): AsyncGenerator<Uint8Array> {}

// --- listing ---

type WalkEntry = { kind: 'object'; key: string; path: string } | { kind: 'prefix'; prefix: string };

interface WalkOptions {
  prefix: string;
  delimiter: string | undefined;
  after: string | undefined;
}

/**
 * Yields the objects under `dir` (whose keys start with `keyPrefix`) in UTF-8 binary key order, skipping
 * subtrees that hold no key matching the prefix or after the marker. A subtree whose every key rolls up
 * into one common prefix is yielded as that prefix without being read.
 *
 * Order: a folder's keys all start with `<keyPrefix><name>/` and no sibling file's key does, so sorting a
 * folder's entries by that string (files by their key) and expanding folders in place yields sorted keys.
 */
async function* walk(dir: string, keyPrefix: string, options: WalkOptions): AsyncGenerator<WalkEntry> {
  const { prefix, delimiter, after } = options;
  for (const entry of await sortedEntries(dir, keyPrefix)) {
    const path = join(dir, entry.fsName);
    if (entry.kind === 'object') {
      if (!entry.sortKey.startsWith(prefix)) continue;
      if (after !== undefined && compareKeys(entry.sortKey, after) <= 0) continue;
      yield { kind: 'object', key: entry.sortKey, path };
      continue;
    }
    const subtree = entry.sortKey; // every key below starts with this
    if (!subtree.startsWith(prefix)) continue;
    if (after !== undefined && compareKeys(subtree, after) < 0 && !after.startsWith(subtree)) continue;
    const at = delimiter === undefined ? -1 : subtree.indexOf(delimiter, prefix.length);
    if (delimiter !== undefined && at >= 0) {
      const commonPrefix = subtree.slice(0, at + delimiter.length);
      if (after !== undefined && compareKeys(commonPrefix, after) <= 0) continue;
      if (await containsObject(path)) yield { kind: 'prefix', prefix: commonPrefix };
      continue;
    }
    yield* walk(path, subtree, options);
  }
}

interface DirEntry {
  kind: 'object' | 'folder';
  fsName: string;
  /** An object's key, or the key prefix shared by everything in a folder. */
  sortKey: string;
}

async function sortedEntries(dir: string, keyPrefix: string): Promise<DirEntry[]> {
  let dirents: Dirent[];
  try {
    dirents = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if (hasCode(error, 'ENOENT', 'ENOTDIR')) return [];
    throw error;
  }
  const entries: (DirEntry & { bytes: Buffer })[] = [];
  for (const dirent of dirents) {
    let entry: DirEntry | undefined;
    if (dirent.isFile() && dirent.name.endsWith(OBJECT_SUFFIX)) {
      const segment = decodeSegment(dirent.name.slice(0, -OBJECT_SUFFIX.length));
      if (segment !== undefined)
        entry = { kind: 'object', fsName: dirent.name, sortKey: keyPrefix + segment };
    } else if (dirent.isDirectory()) {
      const segment = decodeSegment(dirent.name);
      if (segment !== undefined)
        entry = { kind: 'folder', fsName: dirent.name, sortKey: `${keyPrefix}${segment}/` };
    }
    if (entry) entries.push({ ...entry, bytes: Buffer.from(entry.sortKey, 'utf8') });
  }
  return entries.sort((a, b) => Buffer.compare(a.bytes, b.bytes));
}

/** Whether a folder holds at least one object file, at any depth (empty folders may linger after deletes). */
async function containsObject(dir: string): Promise<boolean> {
  let dirents: Dirent[];
  try {
    dirents = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if (hasCode(error, 'ENOENT', 'ENOTDIR')) return false;
    throw error;
  }
  if (dirents.some((dirent) => dirent.isFile() && dirent.name.endsWith(OBJECT_SUFFIX))) return true;
  for (const dirent of dirents) {
    if (dirent.isDirectory() && (await containsObject(join(dir, dirent.name)))) return true;
  }
  return false;
}

function hasCode(error: unknown, ...codes: string[]): boolean {
  return error instanceof Error && codes.includes((error as NodeJS.ErrnoException).code ?? '');
}
