/**
 * A {@link Backend} on AWS S3 or any S3-compatible store, through one SDK v3 client.
 *
 * - Bodies stream both ways: writes send the body as a Node stream with an explicit Content-Length (the
 *   SDK never buffers it, and never retries a streaming request), reads hand back the response stream.
 *   The SDK's own checksums are off unless an operation requires one: the gateway verifies integrity itself.
 * - Metadata: `user` is stored as S3 user metadata as is, `internal` as user metadata named `sealgate-<name>`
 *   (so `x-amz-meta-sealgate-*` on the backend); reads split them back, so user metadata never shows a
 *   `sealgate-` name. `headers` map to Content-Type, Cache-Control, Content-Disposition, Content-Encoding,
 *   Content-Language and Expires (sent verbatim). Names are lower-case, as HTTP returns them.
 * - SDK errors become the core's S3 errors at this boundary; unknown ones pass through unchanged.
 * - Markers known only after the body (`putObject`'s `late`: a checksum that arrived in an aws-chunked
 *   trailer) cannot ride on the PutObject, whose metadata travels in headers before the body. When there are
 *   any, the PutObject is followed by one CopyObject of the object onto itself (MetadataDirective REPLACE,
 *   If-Match on the ETag just written) carrying the full metadata: one extra request, only for uploads whose
 *   checksum arrives in a trailer. Between the two requests the object is visible without those markers; if
 *   the copy fails, the object stays so and the write reports the failure (a retried PUT replaces it).
 * - No state is kept between requests beyond a cache of bucket creation dates: an upload's metadata lives
 *   in S3 (given to CreateMultipartUpload), so any gateway instance can serve any request of an upload.
 *
 * Differences a caller may notice: S3 gives an object stored without Content-Type a default one
 * (`binary/octet-stream` or `application/octet-stream`); `lastModified` returned by a write is this
 * process's clock (PutObject and UploadPart do not return S3's); CopyObject copies at most 5 GiB.
 */
import { Readable } from 'node:stream';

import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type BucketLocationConstraint,
  type GetObjectCommandOutput,
  type HeadObjectCommandOutput,
} from '@aws-sdk/client-s3';

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
import { errors, S3Error } from '../core/errors.js';
import type { Logger } from '../core/logger.js';

export interface S3BackendOptions {
  /** The backend's name from the config. */
  name: string;
  /** For S3-compatible stores; AWS's regional endpoint when absent. */
  endpoint?: string;
  region: string;
  /** The SDK's default credential chain when absent. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  forcePathStyle?: boolean;
  /** Receives the SDK's warnings and errors (without it the SDK writes them to the console). */
  logger?: Logger;
}

const INTERNAL_PREFIX = 'sealgate-';
/** CopyObject's limit; larger copies need UploadPartCopy. */
const MAX_COPY_BYTES = 5 * 1024 ** 3;
const CONTENT_RANGE = /^bytes (\d+)-(\d+)\/(\d+)$/;

interface ErrorContext {
  bucket: string;
  key?: string;
  uploadId?: string;
}

export class S3Backend implements Backend {
  readonly name: string;
  private readonly client: S3Client;
  private readonly region: string;
  /** Bucket creation dates: HeadBucket does not return them and ListBuckets is too heavy to call per request. */
  private readonly created = new Map<string, Date>();

  constructor(options: S3BackendOptions) {
    this.name = options.name;
    this.region = options.region;
    this.client = new S3Client({
      region: options.region,
      endpoint: options.endpoint,
      forcePathStyle: options.forcePathStyle,
      credentials: options.credentials,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      logger: options.logger && sdkLogger(options.logger),
    });
  }

  /** Closes the client's connections (for tests and shutdown). */
  close(): void {
    this.client.destroy();
  }

  // --- buckets ---

  async listBuckets(): Promise<{ name: string; created: Date }[]> {
    const buckets: { name: string; created: Date }[] = [];
    let token: string | undefined;
    do {
      const out = await this.client.send(new ListBucketsCommand({ ContinuationToken: token }));
      for (const bucket of out.Buckets ?? []) {
        if (bucket.Name === undefined) continue;
        const created = bucket.CreationDate ?? new Date(0);
        this.created.set(bucket.Name, created);
        buckets.push({ name: bucket.Name, created });
      }
      token = out.ContinuationToken;
    } while (token);
    return buckets;
  }

  async createBucket(bucket: string): Promise<void> {
    // In us-east-1 S3 answers 200 to creating a bucket you already own, so ask first to answer as elsewhere.
    const status = await this.bucketStatus(bucket);
    if (status === 'exists') throw errors.bucketAlreadyOwnedByYou(bucket);
    if (status === 'forbidden') throw errors.bucketAlreadyExists(bucket);
    const location = this.region === 'us-east-1' ? undefined : (this.region as BucketLocationConstraint);
    await this.call({ bucket }, () =>
      this.client.send(
        new CreateBucketCommand({
          Bucket: bucket,
          CreateBucketConfiguration: location ? { LocationConstraint: location } : undefined,
        }),
      ),
    );
    this.created.delete(bucket);
  }

  async deleteBucket(bucket: string): Promise<void> {
    await this.call({ bucket }, () => this.client.send(new DeleteBucketCommand({ Bucket: bucket })));
    this.created.delete(bucket);
  }

  async headBucket(bucket: string): Promise<{ created: Date } | undefined> {
    if ((await this.bucketStatus(bucket)) === 'missing') return undefined;
    return { created: await this.creationDate(bucket) };
  }

  // --- objects ---

  async putObject(
    bucket: string,
    key: string,
    body: Body,
    size: number,
    metadata: ObjectMetadata,
    late?: () => Record<string, string>,
  ): Promise<ObjectInfo> {
    const s3Metadata = toS3Metadata(metadata);
    let markers: Record<string, string> = {};
    const out = await this.sendStreaming(
      { bucket, key },
      body,
      size,
      (stream, abortSignal) =>
        this.client.send(
          withExpires(
            new PutObjectCommand({
              Bucket: bucket,
              Key: key,
              Body: stream,
              ContentLength: size,
              Metadata: s3Metadata,
              ...toS3Headers(metadata.headers),
            }),
            metadata.headers,
          ),
          { abortSignal },
        ),
      late &&
        (() => {
          markers = late();
        }),
    );
    const etag = out.ETag ?? '';
    if (Object.keys(markers).length === 0) return { key, size, etag, lastModified: new Date(), metadata };
    const full: ObjectMetadata = { ...metadata, internal: { ...metadata.internal, ...markers } };
    return { key, size, ...(await this.replaceMetadata(bucket, key, etag, full)), metadata: full };
  }

  async headObject(
    bucket: string,
    key: string,
    partNumber?: number,
  ): Promise<ObjectInfo & { part?: ByteRange }> {
    if (partNumber === undefined) {
      const out = await this.head(bucket, key);
      return objectInfo(key, out, out.ContentLength);
    }
    let out: HeadObjectCommandOutput | undefined;
    try {
      out = await this.head(bucket, key, partNumber);
    } catch (error) {
      // A store without partNumber support may fail outright (moto answers 500 for a part it lacks).
      if ((httpStatus(error) ?? 0) < 500) throw error;
    }
    const range = parseContentRange(out?.ContentRange);
    if (out && range) {
      return { ...objectInfo(key, out, range.total), part: { start: range.start, end: range.end } };
    }
    // The store ignored PartNumber (moto does for multipart objects): find the part's range from the lengths.
    const whole = await this.head(bucket, key);
    const info = objectInfo(key, whole, whole.ContentLength);
    const part = await this.partRangeByLengths(bucket, key, info, partNumber);
    return part ? { ...info, part } : info;
  }

  async getObject(
    bucket: string,
    key: string,
    select?: ByteRange | { partNumber: number },
  ): Promise<{ info: ObjectInfo; body: Body; range?: ByteRange }> {
    const partNumber = select && 'partNumber' in select ? select.partNumber : undefined;
    const byteRange = select && !('partNumber' in select) ? select : undefined;
    const out = await this.get(bucket, key, {
      PartNumber: partNumber,
      Range: byteRange && `bytes=${byteRange.start}-${byteRange.end}`,
    });
    const range = parseContentRange(out.ContentRange);
    if (select === undefined || range) {
      const info = objectInfo(key, out, range ? range.total : out.ContentLength);
      return { info, body: responseBody(out), range: range && { start: range.start, end: range.end } };
    }
    if (partNumber === undefined) {
      throw new Error('the S3 backend answered a ranged GET without Content-Range');
    }
    // The store ignored PartNumber and sent the whole object: drop it and ask for the part's bytes by range,
    // of the same version (If-Match).
    destroyBody(out);
    const head = await this.headObject(bucket, key, partNumber);
    const { part, ...info } = head;
    if (!part) return { info, body: emptyBody() };
    const ranged = await this.get(bucket, key, {
      Range: `bytes=${part.start}-${part.end}`,
      IfMatch: info.etag,
    });
    return { info, body: responseBody(ranged), range: part };
  }

  async deleteObject(bucket: string, key: string): Promise<void> {
    await this.call({ bucket, key }, () =>
      this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })),
    );
  }

  async copyObject(
    source: { bucket: string; key: string },
    bucket: string,
    key: string,
    metadata: ObjectMetadata,
  ): Promise<ObjectInfo> {
    // The source's size comes from a HEAD; If-Match on that ETag makes the copy take exactly that version.
    for (let attempt = 0; ; attempt++) {
      const head = await this.head(source.bucket, source.key);
      const size = head.ContentLength ?? 0;
      if (size > MAX_COPY_BYTES) {
        throw errors.invalidRequest(
          'The specified copy source is larger than the maximum allowable size for a copy source: 5368709120',
        );
      }
      try {
        const out = await this.call({ bucket, key }, () =>
          this.client.send(copyCommand(source, head.ETag, bucket, key, metadata)),
        );
        const etag = out.CopyObjectResult?.ETag ?? '';
        const info: ObjectInfo = {
          key,
          size,
          etag,
          lastModified: out.CopyObjectResult?.LastModified ?? new Date(),
          metadata,
        };
        const partsCount = partsCountOf(etag);
        if (partsCount) info.partsCount = partsCount;
        return info;
      } catch (error) {
        // The source changed between the HEAD and the copy: take the new version.
        if (errorName(error) === 'PreconditionFailed' && attempt < 2) continue;
        if (error instanceof S3Error && error.code === 'NoSuchKey') throw errors.noSuchKey(source.key);
        throw error;
      }
    }
  }

  async listObjects(bucket: string, input: ListObjectsInput): Promise<ListObjectsOutput> {
    const output: ListObjectsOutput = { objects: [], commonPrefixes: [], isTruncated: false };
    let token: string | undefined;
    // S3 returns at most 1000 entries a page: page on until maxKeys are collected.
    for (let wanted = input.maxKeys; ;) {
      const out = await this.call({ bucket }, () =>
        this.client.send(
          new ListObjectsV2Command({
            Bucket: bucket,
            Prefix: input.prefix || undefined,
            Delimiter: input.delimiter || undefined,
            StartAfter: token ? undefined : input.after,
            ContinuationToken: token,
            MaxKeys: wanted,
            // Keys may hold characters XML 1.0 cannot carry; URL encoding brings them through.
            EncodingType: 'url',
          }),
        ),
      );
      const objects: ListedObject[] = (out.Contents ?? []).map((object) => ({
        key: urlDecode(object.Key ?? ''),
        size: object.Size ?? 0,
        etag: object.ETag ?? '',
        lastModified: object.LastModified ?? new Date(0),
      }));
      const prefixes = (out.CommonPrefixes ?? []).map((prefix) => urlDecode(prefix.Prefix ?? ''));
      output.objects.push(...objects);
      output.commonPrefixes.push(...prefixes);
      for (const last of [objects.at(-1)?.key, prefixes.at(-1)]) {
        if (last !== undefined && (output.last === undefined || compareKeys(last, output.last) > 0)) {
          output.last = last;
        }
      }
      wanted -= objects.length + prefixes.length;
      output.isTruncated = out.IsTruncated === true;
      token = out.NextContinuationToken;
      if (!output.isTruncated || !token || wanted <= 0) return output;
    }
  }

  // --- multipart uploads ---

  async createMultipartUpload(bucket: string, key: string, metadata: ObjectMetadata): Promise<string> {
    const out = await this.call({ bucket, key }, () =>
      this.client.send(
        withExpires(
          new CreateMultipartUploadCommand({
            Bucket: bucket,
            Key: key,
            Metadata: toS3Metadata(metadata),
            ...toS3Headers(metadata.headers),
          }),
          metadata.headers,
        ),
      ),
    );
    if (!out.UploadId) throw new Error('the S3 backend returned no UploadId');
    return out.UploadId;
  }

  async uploadPart(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    body: Body,
    size: number,
  ): Promise<PartInfo> {
    try {
      const out = await this.sendStreaming({ bucket, key, uploadId }, body, size, (stream, abortSignal) =>
        this.client.send(
          new UploadPartCommand({
            Bucket: bucket,
            Key: key,
            UploadId: uploadId,
            PartNumber: partNumber,
            Body: stream,
            ContentLength: size,
          }),
          { abortSignal },
        ),
      );
      return { partNumber, etag: out.ETag ?? '', size, lastModified: new Date() };
    } catch (error) {
      // Some stores answer a part for an unknown upload with a bare 5xx (moto does): name it if that is why.
      if ((httpStatus(error) ?? 0) >= 500 && !(await this.uploadExists(bucket, key, uploadId))) {
        throw errors.noSuchUpload(uploadId);
      }
      throw error;
    }
  }

  async listParts(bucket: string, key: string, uploadId: string): Promise<PartInfo[]> {
    const parts: PartInfo[] = [];
    let marker: string | undefined;
    for (;;) {
      const out = await this.call({ bucket, key, uploadId }, () =>
        this.client.send(
          new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumberMarker: marker }),
        ),
      );
      for (const part of out.Parts ?? []) {
        parts.push({
          partNumber: part.PartNumber ?? 0,
          etag: part.ETag ?? '',
          size: part.Size ?? 0,
          lastModified: part.LastModified ?? new Date(0),
        });
      }
      marker = out.NextPartNumberMarker;
      if (!out.IsTruncated || !marker) break;
    }
    return parts.sort((a, b) => a.partNumber - b.partNumber);
  }

  async completeMultipartUpload(
    bucket: string,
    key: string,
    uploadId: string,
    parts: { partNumber: number; etag: string }[],
  ): Promise<ObjectInfo> {
    await this.call({ bucket, key, uploadId }, () =>
      this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts.map((part) => ({ PartNumber: part.partNumber, ETag: part.etag })) },
        }),
      ),
    );
    // CompleteMultipartUpload returns neither the size nor the metadata.
    const head = await this.head(bucket, key);
    return objectInfo(key, head, head.ContentLength);
  }

  async abortMultipartUpload(bucket: string, key: string, uploadId: string): Promise<void> {
    await this.call({ bucket, key, uploadId }, () =>
      this.client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId })),
    );
  }

  async listMultipartUploads(bucket: string, prefix: string): Promise<UploadInfo[]> {
    const uploads: UploadInfo[] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      const out = await this.call({ bucket }, () =>
        this.client.send(
          new ListMultipartUploadsCommand({
            Bucket: bucket,
            Prefix: prefix || undefined,
            KeyMarker: keyMarker,
            UploadIdMarker: uploadIdMarker,
          }),
        ),
      );
      for (const upload of out.Uploads ?? []) {
        if (upload.Key === undefined || upload.UploadId === undefined) continue;
        uploads.push({
          key: upload.Key,
          uploadId: upload.UploadId,
          initiated: upload.Initiated ?? new Date(0),
        });
      }
      keyMarker = out.NextKeyMarker;
      uploadIdMarker = out.NextUploadIdMarker;
      if (!out.IsTruncated || (!keyMarker && !uploadIdMarker)) break;
    }
    return uploads.sort((a, b) => compareKeys(a.key, b.key) || a.initiated.getTime() - b.initiated.getTime());
  }

  // --- internals ---

  /** Runs an SDK call, turning the errors S3 names into the core's. */
  private async call<T>(context: ErrorContext, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw translate(error, context);
    }
  }

  /**
   * Gives the object just written `metadata` by copying it onto itself (S3 changes metadata no other way).
   * If-Match on the ETag the write returned: if another write replaced or deleted the object in between,
   * that write is the later one and keeps its own metadata.
   */
  private async replaceMetadata(
    bucket: string,
    key: string,
    etag: string,
    metadata: ObjectMetadata,
  ): Promise<{ etag: string; lastModified: Date }> {
    try {
      const out = await this.call({ bucket, key }, () =>
        this.client.send(copyCommand({ bucket, key }, etag, bucket, key, metadata)),
      );
      return {
        etag: out.CopyObjectResult?.ETag ?? etag,
        lastModified: out.CopyObjectResult?.LastModified ?? new Date(),
      };
    } catch (error) {
      const superseded =
        errorName(error) === 'PreconditionFailed' || (error instanceof S3Error && error.code === 'NoSuchKey');
      if (superseded) return { etag, lastModified: new Date() };
      throw error;
    }
  }

  private async uploadExists(bucket: string, key: string, uploadId: string): Promise<boolean> {
    try {
      await this.client.send(
        new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MaxParts: 1 }),
      );
      return true;
    } catch (error) {
      if (errorName(error) === 'NoSuchUpload') return false;
      throw error;
    }
  }

  private async bucketStatus(bucket: string): Promise<'exists' | 'missing' | 'forbidden'> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: bucket }));
      return 'exists';
    } catch (error) {
      const status = httpStatus(error);
      if (status === 404) return 'missing';
      if (status === 403) return 'forbidden';
      throw error;
    }
  }

  private async creationDate(bucket: string): Promise<Date> {
    const cached = this.created.get(bucket);
    if (cached) return cached;
    let token: string | undefined;
    do {
      // Prefix narrows the listing where the store supports it; the exact match is checked either way.
      const out = await this.client.send(
        new ListBucketsCommand({ Prefix: bucket, ContinuationToken: token }),
      );
      const found = out.Buckets?.find((entry) => entry.Name === bucket);
      if (found) {
        const created = found.CreationDate ?? new Date(0);
        this.created.set(bucket, created);
        return created;
      }
      token = out.ContinuationToken;
    } while (token);
    return new Date(0); // a bucket another account owns but lets us use: S3 does not tell when it was made
  }

  /** HeadObject, with S3's bodiless 404 told apart into NoSuchBucket and NoSuchKey. */
  private async head(bucket: string, key: string, partNumber?: number): Promise<HeadObjectCommandOutput> {
    try {
      return await this.client.send(
        new HeadObjectCommand({ Bucket: bucket, Key: key, PartNumber: partNumber }),
      );
    } catch (error) {
      const status = httpStatus(error);
      if (status === 404) {
        if ((await this.bucketStatus(bucket)) === 'missing') throw errors.noSuchBucket(bucket);
        throw errors.noSuchKey(key);
      }
      if (status === 416 && partNumber !== undefined) throw errors.invalidPartNumber();
      throw translate(error, { bucket, key });
    }
  }

  private async get(
    bucket: string,
    key: string,
    options: { PartNumber?: number; Range?: string; IfMatch?: string },
  ): Promise<GetObjectCommandOutput> {
    try {
      return await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...options }));
    } catch (error) {
      if (httpStatus(error) === 416 && options.PartNumber !== undefined) throw errors.invalidPartNumber();
      if (errorName(error) === 'InvalidRange') {
        throw errors.invalidRange(Number((error as { ActualObjectSize?: unknown }).ActualObjectSize) || 0);
      }
      throw translate(error, { bucket, key });
    }
  }

  /** A part's range from the lengths of the parts before it (HeadObject with PartNumber gives each length). */
  private async partRangeByLengths(
    bucket: string,
    key: string,
    info: ObjectInfo,
    partNumber: number,
  ): Promise<ByteRange | undefined> {
    const count = info.partsCount ?? 1;
    if (partNumber > count) throw errors.invalidPartNumber();
    if (count === 1) return info.size > 0 ? { start: 0, end: info.size - 1 } : undefined;
    let start = 0;
    for (let number = 1; number < partNumber; number++) {
      start += (await this.head(bucket, key, number)).ContentLength ?? 0;
    }
    const length = (await this.head(bucket, key, partNumber)).ContentLength ?? 0;
    return length > 0 ? { start, end: start + length - 1 } : undefined;
  }

  /**
   * Sends PutObject/UploadPart with `body` as a stream of exactly `size` bytes. If the body fails or yields
   * another length, the request is aborted (S3 then stores nothing) and that failure is what the caller sees.
   * `ended` runs once the body has ended whole; if it throws, that aborts the request too.
   *
   * The last chunk is held back until the body has ended and `ended` has run: once S3 holds all `size` bytes
   * it stores the object whatever the client does next, so a failure at the very end (a trailing checksum
   * that does not match) must come before the last byte is sent. For the same reason an empty body is read
   * to its end before the request goes out.
   * The stream never emits 'error': the SDK does not listen for it, and an unhandled one would crash the process.
   */
  private async sendStreaming<Output>(
    context: ErrorContext,
    body: Body,
    size: number,
    send: (stream: Readable, abortSignal: AbortSignal) => Promise<Output>,
    ended?: () => void,
  ): Promise<Output> {
    const abort = new AbortController();
    const outcome: { failure?: unknown } = {};
    async function* exactly(): AsyncGenerator<Uint8Array> {
      try {
        let sent = 0;
        let held: Uint8Array | undefined;
        for await (const chunk of body) {
          if (chunk.byteLength === 0) continue;
          sent += chunk.byteLength;
          if (sent > size) throw errors.incompleteBody();
          if (held) yield held;
          held = chunk;
        }
        if (sent !== size) throw errors.incompleteBody();
        ended?.();
        if (held) yield held;
      } catch (error) {
        outcome.failure = error;
        abort.abort();
      }
    }
    if (size === 0) {
      // Nothing to stream, so nothing to hold back: read the body (and run `ended`) first, failing before S3
      // sees a request it would complete at once. The generator yields nothing here: one step runs it out.
      await exactly().next();
      if ('failure' in outcome) throw outcome.failure;
    }
    const stream = Readable.from(size === 0 ? [] : exactly(), { objectMode: false });
    try {
      return await send(stream, abort.signal);
    } catch (error) {
      if ('failure' in outcome) throw outcome.failure;
      throw translate(error, context);
    } finally {
      stream.destroy(); // releases the caller's body if the request failed before reading all of it
    }
  }
}

/** The SDK's logger shape over the gateway's: its debug and info chatter is dropped. */
function sdkLogger(logger: Logger) {
  const text = (content: unknown[]) =>
    content.map((item) => (item instanceof Error ? item.message : String(item)));
  return {
    trace: () => undefined,
    debug: () => undefined,
    info: () => undefined,
    warn: (...content: unknown[]) => logger.warn(`s3 client: ${text(content).join(' ')}`),
    error: (...content: unknown[]) => logger.error(`s3 client: ${text(content).join(' ')}`),
  };
}

// --- metadata ---

function toS3Metadata(metadata: ObjectMetadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(metadata.user)) {
    // Read back, such a name would pass for one of the gateway's markers.
    if (name.toLowerCase().startsWith(INTERNAL_PREFIX)) {
      throw errors.invalidArgument(
        `User metadata names starting with "${INTERNAL_PREFIX}" are reserved for the gateway.`,
        `x-amz-meta-${name}`,
        value,
      );
    }
    out[name] = value;
  }
  for (const [name, value] of Object.entries(metadata.internal)) out[INTERNAL_PREFIX + name] = value;
  return out;
}

function fromS3Metadata(
  stored: Record<string, string> | undefined,
): Pick<ObjectMetadata, 'user' | 'internal'> {
  const user: Record<string, string> = {};
  const internal: Record<string, string> = {};
  for (const [name, value] of Object.entries(stored ?? {})) {
    const lower = name.toLowerCase();
    if (lower.startsWith(INTERNAL_PREFIX)) internal[lower.slice(INTERNAL_PREFIX.length)] = value;
    else user[lower] = value;
  }
  return { user, internal };
}

/** The stored headers as SDK input; Expires goes verbatim through {@link withExpires} instead of as a Date. */
function toS3Headers(headers: Record<string, string>) {
  return {
    ContentType: headers['content-type'],
    CacheControl: headers['cache-control'],
    ContentDisposition: headers['content-disposition'],
    ContentEncoding: headers['content-encoding'],
    ContentLanguage: headers['content-language'],
  };
}

type CommandWithHeaders = PutObjectCommand | CopyObjectCommand | CreateMultipartUploadCommand;

/** Sets the Expires header as the client sent it (the SDK's input is a Date, which would reformat it). */
function withExpires<C extends CommandWithHeaders>(command: C, headers: Record<string, string>): C {
  const expires = headers['expires'];
  if (expires === undefined) return command;
  // The three commands' stacks differ only in their input/output types, which this middleware does not touch.
  const stack = command.middlewareStack as PutObjectCommand['middlewareStack'];
  stack.add(
    (next) => async (args) => {
      const request = args.request as { headers?: Record<string, string> };
      if (request.headers) request.headers['expires'] = expires;
      return next(args);
    },
    { step: 'build', name: 'sealgateExpires' },
  );
  return command;
}

/** CopyObject of exactly the version `ifMatch` of `source`, with `metadata` replacing the source's. */
function copyCommand(
  source: { bucket: string; key: string },
  ifMatch: string | undefined,
  bucket: string,
  key: string,
  metadata: ObjectMetadata,
): CopyObjectCommand {
  return withExpires(
    new CopyObjectCommand({
      Bucket: bucket,
      Key: key,
      CopySource: `${source.bucket}/${source.key.split('/').map(encodeURIComponent).join('/')}`,
      CopySourceIfMatch: ifMatch,
      MetadataDirective: 'REPLACE',
      Metadata: toS3Metadata(metadata),
      ...toS3Headers(metadata.headers),
    }),
    metadata.headers,
  );
}

function storedHeaders(out: HeadObjectCommandOutput | GetObjectCommandOutput): Record<string, string> {
  const headers: Record<string, string> = {};
  const set = (name: string, value: string | undefined) => {
    if (value !== undefined) headers[name] = value;
  };
  set('content-type', out.ContentType);
  set('cache-control', out.CacheControl);
  set('content-disposition', out.ContentDisposition);
  set('content-encoding', out.ContentEncoding);
  set('content-language', out.ContentLanguage);
  set('expires', out.ExpiresString ?? out.Expires?.toUTCString());
  return headers;
}

function objectInfo(
  key: string,
  out: HeadObjectCommandOutput | GetObjectCommandOutput,
  size: number | undefined,
): ObjectInfo {
  const etag = out.ETag ?? '';
  const info: ObjectInfo = {
    key,
    size: size ?? 0,
    etag,
    lastModified: out.LastModified ?? new Date(0),
    metadata: { headers: storedHeaders(out), ...fromS3Metadata(out.Metadata) },
  };
  const partsCount = out.PartsCount ?? partsCountOf(etag);
  if (partsCount) info.partsCount = partsCount;
  return info;
}

/** A multipart object's ETag ends in `-<number of parts>`. */
function partsCountOf(etag: string): number | undefined {
  const match = /-(\d+)"?$/.exec(etag);
  return match ? Number(match[1]) : undefined;
}

// --- bodies, ranges, keys ---

function parseContentRange(
  value: string | undefined,
): { start: number; end: number; total: number } | undefined {
  const match = value === undefined ? null : CONTENT_RANGE.exec(value);
  return match ? { start: Number(match[1]), end: Number(match[2]), total: Number(match[3]) } : undefined;
}

function responseBody(out: GetObjectCommandOutput): Body {
  const body = out.Body as unknown;
  if (body === undefined) return emptyBody();
  if (typeof (body as Partial<AsyncIterable<Uint8Array>>)[Symbol.asyncIterator] === 'function') {
    return body as AsyncIterable<Uint8Array>;
  }
  throw new Error('the S3 response body is not a stream');
}

function destroyBody(out: GetObjectCommandOutput): void {
  (out.Body as { destroy?: () => void } | undefined)?.destroy?.();
}

async function* emptyBody(): AsyncGenerator<Uint8Array> {}

/** Keys and prefixes of a listing asked for with `encoding-type=url` (S3 writes a space as '+'). */
function urlDecode(value: string): string {
  return decodeURIComponent(value.replace(/\+/g, ' '));
}

function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

// --- errors ---

function errorName(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}

function httpStatus(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}

/** The core's S3Error for the conditions S3 names; anything else unchanged. */
function translate(error: unknown, context: ErrorContext): unknown {
  if (error instanceof S3Error) return error;
  switch (errorName(error)) {
    case 'NoSuchBucket':
      return errors.noSuchBucket(context.bucket);
    case 'NoSuchKey':
      return errors.noSuchKey(context.key ?? '');
    case 'NoSuchUpload':
      return errors.noSuchUpload(context.uploadId ?? '');
    case 'BucketNotEmpty':
      return errors.bucketNotEmpty(context.bucket);
    case 'BucketAlreadyOwnedByYou':
      return errors.bucketAlreadyOwnedByYou(context.bucket);
    case 'BucketAlreadyExists':
      return errors.bucketAlreadyExists(context.bucket);
    case 'InvalidPart':
      return errors.invalidPart();
    case 'InvalidPartOrder':
      return errors.invalidPartOrder();
    case 'EntityTooSmall':
      return errors.entityTooSmall();
    case 'InvalidPartNumber':
      return errors.invalidPartNumber();
    default:
      return error;
  }
}
