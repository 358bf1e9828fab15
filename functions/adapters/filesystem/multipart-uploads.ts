/**
 * Multipart uploads of the filesystem backend, one folder each:
 * ```
 * <root>/.sealgate/uploads/<bucket>/<uploadId>/upload.json    key, metadata and initiation time
 * <root>/.sealgate/uploads/<bucket>/<uploadId>/part-00001/<stamp>   one uploaded part, an object file
 *                                                                   (object-file.ts)
 * ```
 * Everything lives on disk, so any gateway process sharing the root can serve any request of an upload.
 *
 * A part sent again under the same number replaces the earlier one, as in S3, whatever the order the two
 * requests finish in: each part file is named with the time its request arrived (its stamp), in its part
 * number's folder, and the newest stamp there is the part. A request that finishes after a newer one of the
 * same number leaves a file that is never read, and removes it. (Uploads begun before stamps hold a part as
 * the file `part-00001`, which any stamped part of its number supersedes.)
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import type {
  Body,
  CompletedPart,
  ObjectChecksum,
  ObjectMetadata,
  PartChecksumInput,
  PartInfo,
  UploadInfo,
} from '../../core/backend.js';
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
/** A part number's folder (or, written before stamps, its one file). */
const PART_FILE = /^part-(\d{5})$/;
const STAMP = /^\d{15}\.\d{6}\.[0-9a-f]{8}$/;
/** Orders the stamps of one process that fall in the same millisecond. */
let stampSequence = 0;
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
    options: { checksum?: PartChecksumInput; opaqueEtag?: boolean } = {},
  ): Promise<PartInfo> {
    const { checksum } = options;
    checkPartNumber(partNumber);
    // Stamped on arrival, before the body streams in: the order requests were sent in, not finished in.
    const stamp = newStamp();
    await this.read(bucket, key, uploadId);
    const dir = this.uploadDir(bucket, uploadId);
    const folder = join(dir, partFolderName(partNumber));
    // A part of this number written before stamps is a file where its folder now goes: this one supersedes it.
    if ((await stat(folder).catch(() => undefined))?.isFile()) await rm(folder, { force: true });
    try {
      const record = await this.staging.writeObjectFile(join(folder, stamp), dir, async (out) => {
        const md5 = await copyBody(body, size, out, options.opaqueEtag);
        const kept = checksum && {
          algorithm: checksum.algorithm,
          value: checksum.value ?? checksum.computed(),
        };
        return { size, etag: `"${md5}"`, ...(kept && { checksum: kept }) };
      });
      await dropSuperseded(folder);
      return partInfo(partNumber, record);
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
    for (const [partNumber, name] of await currentParts(dir, names)) {
      const record = await readRecord(join(dir, name));
      if (!record) continue; // replaced or discarded since the folder was read
      parts.push(partInfo(partNumber, record));
    }
    return parts.sort((a, b) => a.partNumber - b.partNumber);
  }

  /**
   * Joins the named parts into the object file at `path` (in the bucket folder `base`), with the metadata the
   * upload was created with and the `late` markers added to its internal ones (in the same record, so
   * published by the same rename), and the object's `checksum` in its record, then removes the upload.
   */
  async complete(
    bucket: string,
    key: string,
    uploadId: string,
    parts: CompletedPart[],
    target: { path: string; base: string },
    late: Record<string, string> = {},
    checksum?: ObjectChecksum,
  ): Promise<StoredRecord> {
    const upload = await this.read(bucket, key, uploadId);
    const dir = this.uploadDir(bucket, uploadId);
    if (parts.length === 0) throw errors.invalidPart('You must specify at least one part.');
    for (let i = 1; i < parts.length; i++) {
      if (parts[i].partNumber <= parts[i - 1].partNumber) throw errors.invalidPartOrder();
    }
    // Check every part before copying gigabytes, then check each again as it is copied (it may have been
    // replaced in between).
    const current = await currentParts(
      dir,
      await readdir(dir).catch((error: unknown) => {
        if (hasCode(error, 'ENOENT')) throw errors.noSuchUpload(uploadId);
        throw error;
      }),
    );
    const stored: StoredRecord[] = [];
    const files: string[] = [];
    for (const part of parts) {
      const name = current.get(part.partNumber);
      files.push(name ?? '');
      const record = name === undefined ? undefined : await readRecord(join(dir, name));
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
        const file = await openObjectFile(join(dir, files[index])).catch((error: unknown) => {
          if (hasCode(error, 'ENOENT')) {
            throw errors.invalidPart(`Part ${part.partNumber} was removed or replaced.`);
          }
          throw error;
        });
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
      return { size, etag, metadata, parts: sizes, ...(checksum && { checksum }) };
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

function partInfo(partNumber: number, record: StoredRecord): PartInfo {
  const part: PartInfo = {
    partNumber,
    etag: record.etag,
    size: record.size,
    lastModified: new Date(record.lastModified),
  };
  if (record.checksum) part.checksum = { algorithm: record.checksum.algorithm, value: record.checksum.value };
  return part;
}

function partFolderName(partNumber: number): string {
  return `part-${String(partNumber).padStart(5, '0')}`;
}

/** A stamp that sorts after every earlier one as text: milliseconds, a sequence, then random bytes. */
function newStamp(): string {
  stampSequence = (stampSequence + 1) % 1_000_000;
  const millis = String(Date.now()).padStart(15, '0');
  return `${millis}.${String(stampSequence).padStart(6, '0')}.${randomBytes(4).toString('hex')}`;
}

/** The newest stamped part file in a part number's folder, if any. */
async function newestIn(folder: string): Promise<string | undefined> {
  const names = await readdir(folder).catch((error: unknown) => {
    if (hasCode(error, 'ENOENT', 'ENOTDIR')) return [] as string[];
    throw error;
  });
  return names
    .filter((name) => STAMP.test(name))
    .sort()
    .pop();
}

/**
 * Each part number's current file (relative to the upload folder `dir`, whose entries are `names`): the
 * newest stamp in its folder, or the unstamped file of an upload begun before stamps.
 */
async function currentParts(dir: string, names: string[]): Promise<Map<number, string>> {
  const current = new Map<number, string>();
  for (const name of names) {
    const match = PART_FILE.exec(name);
    if (!match) continue;
    const newest = await newestIn(join(dir, name));
    if (newest !== undefined) current.set(Number(match[1]), join(name, newest));
    else if (await readRecord(join(dir, name)).then(Boolean, () => false))
      current.set(Number(match[1]), name);
  }
  return current;
}

/** Removes the files in a part number's folder that a newer one superseded (best effort: never read). */
async function dropSuperseded(folder: string): Promise<void> {
  const newest = await newestIn(folder);
  const names = await readdir(folder).catch(() => [] as string[]);
  for (const name of names) {
    if (STAMP.test(name) && name !== newest)
      await rm(join(folder, name), { force: true }).catch(() => undefined);
  }
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
