/**
 * Multipart uploads of the filesystem backend, one folder each:
 * ```
 * <root>/.sealgate/uploads/<bucket>/<uploadId>/upload.json    key, metadata and initiation time
 * <root>/.sealgate/uploads/<bucket>/<uploadId>/part-00001     one uploaded part, an object file (object-file.ts)
 * ```
 * Everything lives on disk, so any gateway process sharing the root can serve any request of an upload.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import type { Body, ObjectMetadata, PartInfo, UploadInfo } from '../../core/backend.js';
import { errors } from '../../core/errors.js';
import { hasCode } from './errno.js';
import { copyBody, copyRange } from './file-io.js';
import { compareKeys, isSafeBucketName } from './key-paths.js';
import { openObjectFile, readRecord, type StoredRecord } from './object-file.js';
import type { StagingArea } from './staging-area.js';

interface UploadRecord {
  key: string;
  metadata: ObjectMetadata;
  initiated: string;
}

export interface MultipartUploadsOptions {
  /** The `uploads/` folder. */
  dir: string;
  staging: StagingArea;
  /** Throws NoSuchBucket unless the bucket exists: tells a missing bucket from a missing upload. */
  requireBucket: (bucket: string) => Promise<void>;
}

const MAX_PART_NUMBER = 10_000;
/** What {@link MultipartUploads.create} issues; anything else is rejected before it reaches a path. */
const UPLOAD_ID = /^[A-Za-z0-9_-]{1,64}$/;
const PART_FILE = /^part-(\d{5})$/;
const UPLOAD_FILE = 'upload.json';

/** The multipart operations of the Backend interface, on folders under `uploads/`. */
export class MultipartUploads {
  private readonly dir: string;
  private readonly staging: StagingArea;
  private readonly requireBucket: (bucket: string) => Promise<void>;

  constructor(options: MultipartUploadsOptions) {
    this.dir = options.dir;
    this.staging = options.staging;
    this.requireBucket = options.requireBucket;
  }

  async create(bucket: string, key: string, metadata: ObjectMetadata): Promise<string> {
    await this.requireBucket(bucket);
    const uploadId = randomBytes(24).toString('base64url');
    const record: UploadRecord = { key, metadata, initiated: new Date().toISOString() };
    await mkdir(join(this.dir, bucket), { recursive: true });
    await this.staging.publishFolder(this.uploadDir(bucket, uploadId), (dir) =>
      writeFile(join(dir, UPLOAD_FILE), JSON.stringify(record)),
    );
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
    await this.read(bucket, key, uploadId);
    const dir = this.uploadDir(bucket, uploadId);
    try {
      const record = await this.staging.writeObjectFile(
        join(dir, partFileName(partNumber)),
        dir,
        async (out) => {
          const md5 = await copyBody(body, size, out);
          return { size, etag: `"${md5}"` };
        },
      );
      return { partNumber, etag: record.etag, size, lastModified: new Date(record.lastModified) };
    } catch (error) {
      // The upload folder vanished while the part streamed in: the upload was completed or aborted.
      if (hasCode(error, 'ENOENT')) throw errors.noSuchUpload(uploadId);
      throw error;
    }
  }

  async listParts(bucket: string, key: string, uploadId: string): Promise<PartInfo[]> {
    await this.read(bucket, key, uploadId);
    const dir = this.uploadDir(bucket, uploadId);
    const names = await readdir(dir).catch((error: unknown) => {
      if (hasCode(error, 'ENOENT')) throw errors.noSuchUpload(uploadId);
      throw error;
    });
    const parts: PartInfo[] = [];
    for (const name of names) {
      const match = PART_FILE.exec(name);
      if (!match) continue;
      const record = await readRecord(join(dir, name));
      if (!record) continue; // replaced or discarded since the folder was read
      parts.push({
        partNumber: Number(match[1]),
        etag: record.etag,
        size: record.size,
        lastModified: new Date(record.lastModified),
      });
    }
    return parts.sort((a, b) => a.partNumber - b.partNumber);
  }

  /**
   * Joins the named parts into the object file at `path` (in the bucket folder `base`), with the metadata the
   * upload was created with and the `late` markers added to its internal ones (in the same record, so
   * published by the same rename), then removes the upload.
   */
  async complete(
    bucket: string,
    key: string,
    uploadId: string,
    parts: { partNumber: number; etag: string }[],
    target: { path: string; base: string },
    late: Record<string, string> = {},
  ): Promise<StoredRecord> {
    const upload = await this.read(bucket, key, uploadId);
    const dir = this.uploadDir(bucket, uploadId);
    if (parts.length === 0) throw errors.invalidPart('You must specify at least one part.');
    for (let i = 1; i < parts.length; i++) {
      if (parts[i].partNumber <= parts[i - 1].partNumber) throw errors.invalidPartOrder();
    }
    // Check every part before copying gigabytes, then check each again as it is copied (it may have been
    // replaced in between).
    const stored: StoredRecord[] = [];
    for (const part of parts) {
      const record = await readRecord(join(dir, partFileName(part.partNumber)));
      if (!record || normalizeEtag(record.etag) !== normalizeEtag(part.etag)) {
        throw errors.invalidPart(
          `Part ${part.partNumber} could not be found, or its ETag does not match the one given.`,
        );
      }
      stored.push(record);
    }
    // S3's multipart ETag: the MD5 of the parts' binary MD5s, then '-' and the number of parts.
    const partMd5s = stored.map((record) => Buffer.from(normalizeEtag(record.etag), 'hex'));
    const etag = `"${createHash('md5').update(Buffer.concat(partMd5s)).digest('hex')}-${parts.length}"`;
    const sizes = stored.map((record) => record.size);
    const size = sizes.reduce((sum, partSize) => sum + partSize, 0);

    const record = await this.staging.writeObjectFile(target.path, target.base, async (out) => {
      for (const [index, part] of parts.entries()) {
        const file = await openObjectFile(join(dir, partFileName(part.partNumber))).catch(
          (error: unknown) => {
            if (hasCode(error, 'ENOENT')) throw errors.invalidPart(`Part ${part.partNumber} was removed.`);
            throw error;
          },
        );
        try {
          if (file.record.etag !== stored[index].etag) {
            throw errors.invalidPart(`Part ${part.partNumber} was replaced while the upload was completed.`);
          }
          await copyRange(file.handle, 0, file.record.size, out);
        } finally {
          await file.handle.close();
        }
      }
      const metadata = { ...upload.metadata, internal: { ...upload.metadata.internal, ...late } };
      return { size, etag, metadata, parts: sizes };
    });
    // The object is published first, so a crash here leaves a completed object and a stale upload that a
    // retried Complete finishes again, never a lost upload.
    await this.staging.discard(dir);
    return record;
  }

  async abort(bucket: string, key: string, uploadId: string): Promise<void> {
    await this.read(bucket, key, uploadId);
    if (!(await this.staging.discard(this.uploadDir(bucket, uploadId)))) throw errors.noSuchUpload(uploadId);
  }

  /** Uploads in progress whose key starts with `prefix`, ordered by key then initiation. */
  async list(bucket: string, prefix: string): Promise<UploadInfo[]> {
    await this.requireBucket(bucket);
    const dir = join(this.dir, bucket);
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

  /** Discards every upload of a bucket (S3 drops them with the bucket). */
  async discardAll(bucket: string): Promise<void> {
    await this.staging.discard(join(this.dir, bucket));
  }

  private uploadDir(bucket: string, uploadId: string): string {
    return join(this.dir, bucket, uploadId);
  }

  private async read(bucket: string, key: string, uploadId: string): Promise<UploadRecord> {
    if (!isSafeBucketName(bucket)) throw errors.noSuchBucket(bucket);
    if (!UPLOAD_ID.test(uploadId)) throw errors.noSuchUpload(uploadId);
    const record = await readUploadRecord(this.uploadDir(bucket, uploadId));
    if (!record) {
      await this.requireBucket(bucket);
      throw errors.noSuchUpload(uploadId);
    }
    // S3 answers NoSuchUpload when the upload id belongs to another key.
    if (record.key !== key) throw errors.noSuchUpload(uploadId);
    return record;
  }
}

/**
 * @throws S3Error InvalidArgument unless `partNumber` is an integer from 1 to 10,000 (S3's range).
 */
export function checkPartNumber(partNumber: number): void {
  if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_PART_NUMBER) {
    throw errors.invalidArgument(
      'Part number must be an integer between 1 and 10000, inclusive',
      'partNumber',
      String(partNumber),
    );
  }
}

function partFileName(partNumber: number): string {
  return `part-${String(partNumber).padStart(5, '0')}`;
}

function normalizeEtag(etag: string): string {
  return etag.replace(/^"|"$/g, '').toLowerCase();
}

async function readUploadRecord(dir: string): Promise<UploadRecord | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, UPLOAD_FILE), 'utf8')) as UploadRecord;
  } catch (error) {
    if (hasCode(error, 'ENOENT', 'ENOTDIR')) return undefined;
    throw error;
  }
}
