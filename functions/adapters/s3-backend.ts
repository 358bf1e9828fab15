/**
 * A {@link Backend} on AWS S3 or any S3-compatible store, through one SDK v3 client.
 *
 * - Bodies stream both ways: writes send the body as a Node stream with an explicit Content-Length
 *   (s3/upload-stream.ts), reads hand back the response stream (s3/response-body.ts). The SDK's own checksums
 *   are off unless an operation requires one: the gateway verifies integrity itself.
 * - Metadata is stored as s3/object-metadata.ts describes: user metadata as is, the gateway's markers as
 *   `x-amz-meta-sealgate-*`.
 * - SDK errors become the core's S3 errors at this boundary (s3/sdk-errors.ts); unknown ones pass through.
 * - Markers known only after the body (`putObject`'s `late`: a checksum that arrived in an aws-chunked
 *   trailer) cannot ride on the PutObject, whose metadata travels in headers before the body. When there are
 *   any, the PutObject is followed by one CopyObject of the object onto itself (MetadataDirective REPLACE,
 *   If-Match on the ETag just written) carrying the full metadata and the same native encryption settings:
 *   one extra request, only for uploads whose checksum arrives in a trailer. Between the two requests the
 *   object is visible without those markers; if the copy fails, the object stays so and the write reports
 *   the failure (a retried PUT replaces it). Markers known only at completion of a multipart upload take the
 *   same way, recording the multipart ETag and part sizes the copy makes S3 forget (s3/multipart-uploads.ts).
 * - Native encryption (`options.native`: SSE-KMS or SSE-S3) is asked for on PutObject, CopyObject and
 *   CreateMultipartUpload (s3/native-encryption.ts); every object the backend describes carries what S3
 *   reports of its encryption.
 * - Listing with metadata costs a HeadObject per listed object, up to 16 at a time (s3/listing.ts).
 * - No state is kept between requests: an upload's metadata lives in S3 (given to CreateMultipartUpload),
 *   and a bucket's creation date is asked of S3 each time, so any gateway instance can serve any request.
 *
 * Differences a caller may notice: S3 gives an object stored without Content-Type a default one
 * (`binary/octet-stream` or `application/octet-stream`); `lastModified` returned by a write is this
 * process's clock (PutObject and UploadPart do not return S3's); CopyObject copies at most 5 GiB, and so
 * does a multipart completion with late markers (refused with EntityTooLarge before completing). The ETag
 * of such a completion is the recorded multipart ETag: anyone reading the bucket directly sees S3's own,
 * that of a single-part object.
 */
import { DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';

import type {
  Backend,
  Body,
  ByteRange,
  CompletedPart,
  ListObjectsInput,
  ListObjectsOutput,
  ObjectChecksum,
  ObjectInfo,
  ObjectMetadata,
  PartChecksumInput,
  PartInfo,
  UploadInfo,
  WriteOptions,
} from '../core/backend.js';
import type { MultipartChecksum } from '../core/integrity/multipart-checksum.js';
import { bucketExists, createBucket, deleteBucket, listBuckets } from './s3/buckets.js';
import { copyObject, DEFAULT_COPY_LIMITS, replaceMetadata, type CopyLimits } from './s3/copy-object.js';
import { DescribedCache } from './s3/described-cache.js';
import { listObjects } from './s3/listing.js';
import {
  abortMultipartUpload,
  completeMultipartUpload,
  createMultipartUpload,
  listMultipartUploads,
  listParts,
  uploadPart,
} from './s3/multipart-uploads.js';
import { nativeInput, withNative } from './s3/native-encryption.js';
import { metadataInput, withExpires } from './s3/object-metadata.js';
import { describeObject, readObject } from './s3/object-reads.js';
import { withS3Errors } from './s3/sdk-errors.js';
import { sendStreaming } from './s3/upload-stream.js';

export interface S3BackendOptions {
  /** The backend's name from the config. */
  name: string;
  /** For S3-compatible stores; AWS's regional endpoint when absent. */
  endpoint?: string;
  region: string;
  /** The SDK's default credential chain when absent. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  forcePathStyle?: boolean;
  /** Where copies switch to UploadPartCopy (default: CopyObject's 5 GiB, in 1 GiB ranges); tests lower it. */
  copyLimits?: CopyLimits;
}

/** The Backend interface on one S3 client; each operation lives in its module under s3/. */
export class S3Backend implements Backend {
  readonly name: string;
  private readonly client: S3Client;
  private readonly region: string;
  private readonly copyLimits: CopyLimits;
  /** What listings learned from HEADs, for the next client listing of the same versions. */
  private readonly described = new DescribedCache();

  constructor(options: S3BackendOptions) {
    this.name = options.name;
    this.copyLimits = options.copyLimits ?? DEFAULT_COPY_LIMITS;
    this.region = options.region;
    this.client = new S3Client({
      region: options.region,
      endpoint: options.endpoint,
      forcePathStyle: options.forcePathStyle,
      credentials: options.credentials,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // No SDK logger: it would log every failed command, expected 404s included, at error level. Failures
      // that matter reach the gateway's log as errors of the operation that met them.
    });
  }

  /** Closes the client's connections (for tests and shutdown). */
  close(): void {
    this.client.destroy();
  }

  // --- buckets ---

  listBuckets(): Promise<{ name: string; created: Date }[]> {
    return listBuckets(this.client);
  }

  createBucket(bucket: string): Promise<void> {
    return createBucket(this.client, this.region, bucket);
  }

  deleteBucket(bucket: string): Promise<void> {
    return deleteBucket(this.client, bucket);
  }

  bucketExists(bucket: string): Promise<boolean> {
    return bucketExists(this.client, bucket);
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
    const { late, native } = options;
    const input = metadataInput(metadata); // first: refuses reserved metadata names before the body is read
    let markers: Record<string, string> = {};
    const out = await sendStreaming(
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
              ...input,
              ...nativeInput(native),
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
    if (Object.keys(markers).length === 0) {
      const info: ObjectInfo = { key, size, etag, lastModified: new Date(), metadata };
      return withNative(info, out);
    }
    const full: ObjectMetadata = { ...metadata, internal: { ...metadata.internal, ...markers } };
    const copied = await replaceMetadata(this.client, bucket, key, etag, { metadata: full, native });
    const info: ObjectInfo = {
      key,
      size,
      etag: copied.etag,
      lastModified: copied.lastModified,
      metadata: full,
    };
    return copied.native ? { ...info, native: copied.native } : withNative(info, out);
  }

  headObject(bucket: string, key: string, partNumber?: number): Promise<ObjectInfo & { part?: ByteRange }> {
    return describeObject(this.client, bucket, key, partNumber);
  }

  getObject(
    bucket: string,
    key: string,
    select?: ByteRange | { partNumber: number },
  ): Promise<{ info: ObjectInfo; body: Body; range?: ByteRange }> {
    return readObject(this.client, bucket, key, select);
  }

  async deleteObject(bucket: string, key: string): Promise<void> {
    await withS3Errors({ bucket, key }, () =>
      this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })),
    );
  }

  copyObject(
    source: { bucket: string; key: string },
    bucket: string,
    key: string,
    metadata: ObjectMetadata,
    options: Pick<WriteOptions, 'native'> = {},
  ): Promise<ObjectInfo> {
    return copyObject(this.client, source, bucket, key, metadata, options.native, this.copyLimits);
  }

  listObjects(bucket: string, input: ListObjectsInput): Promise<ListObjectsOutput> {
    return listObjects(this.client, bucket, input, this.described);
  }

  // --- multipart uploads ---

  createMultipartUpload(
    bucket: string,
    key: string,
    metadata: ObjectMetadata,
    options: Pick<WriteOptions, 'native'> & { checksum?: MultipartChecksum } = {},
  ): Promise<string> {
    return createMultipartUpload(this.client, bucket, key, metadata, options.native, options.checksum);
  }

  uploadPart(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    body: Body,
    size: number,
    options: { checksum?: PartChecksumInput } = {},
  ): Promise<PartInfo> {
    return uploadPart(this.client, bucket, key, uploadId, partNumber, body, size, options.checksum);
  }

  listParts(bucket: string, key: string, uploadId: string): Promise<PartInfo[]> {
    return listParts(this.client, bucket, key, uploadId);
  }

  completeMultipartUpload(
    bucket: string,
    key: string,
    uploadId: string,
    parts: CompletedPart[],
    late?: Record<string, string>,
    checksum?: ObjectChecksum,
  ): Promise<ObjectInfo> {
    return completeMultipartUpload(this.client, bucket, key, uploadId, parts, late, checksum);
  }

  abortMultipartUpload(bucket: string, key: string, uploadId: string): Promise<void> {
    return abortMultipartUpload(this.client, bucket, key, uploadId);
  }

  listMultipartUploads(bucket: string, prefix: string): Promise<UploadInfo[]> {
    return listMultipartUploads(this.client, bucket, prefix);
  }
}
