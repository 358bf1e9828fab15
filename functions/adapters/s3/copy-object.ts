/**
 * CopyObject for the S3 backend: server-side copies with new metadata, and the copy of an object onto
 * itself that is S3's only way to change an object's metadata. Each copy takes exactly the version it was
 * meant to (CopySourceIfMatch). CopyObject copies at most 5 GiB; a larger source is copied by a multipart
 * upload of UploadPartCopy ranges (S3's way), which gives the copy a multipart ETag of its own.
 *
 * A copy carries the native encryption it is given: S3's CopyObject does not keep the source's, it encrypts
 * the copy as its own request (or the bucket's default) says.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  UploadPartCopyCommand,
  type S3Client,
} from '@aws-sdk/client-s3';

import type { NativeEncryption, ObjectInfo, ObjectMetadata } from '../../core/backend.js';
import { errors, S3Error } from '../../core/errors.js';
import { nativeInput, nativeOf, withNative } from './native-encryption.js';
import { metadataInput, partsCountOf, withExpires } from './object-metadata.js';
import { sendHeadObject } from './object-reads.js';
import type { RecordedLayout } from './recorded-layout.js';
import { sdkErrorName, withS3Errors } from './sdk-errors.js';

/** CopyObject's limit. */
export const MAX_COPY_BYTES = 5 * 1024 ** 3;

/** Where a copy switches to UploadPartCopy, and the size of the ranges it copies then (tests lower both). */
export interface CopyLimits {
  maxCopyBytes: number;
  partBytes: number;
}

export const DEFAULT_COPY_LIMITS: CopyLimits = { maxCopyBytes: MAX_COPY_BYTES, partBytes: 1024 ** 3 };

/** S3 allows 10,000 parts: a copy's ranges grow past `partBytes` for sources above 10,000 of them. */
const MAX_PARTS = 10_000;

/** What a copy stores: the metadata, the backend's own layout markers, the native encryption to ask for. */
export interface CopyTarget {
  metadata: ObjectMetadata;
  layout?: RecordedLayout;
  native?: NativeEncryption;
}

/** The Backend's copyObject: `source`'s bytes under `bucket`/`key` with `metadata` instead of the source's. */
export async function copyObject(
  client: S3Client,
  source: { bucket: string; key: string },
  bucket: string,
  key: string,
  metadata: ObjectMetadata,
  native?: NativeEncryption,
  limits: CopyLimits = DEFAULT_COPY_LIMITS,
): Promise<ObjectInfo> {
  // The source's size comes from a HEAD; If-Match on that ETag makes the copy take exactly that version.
  for (let attempt = 0; ; attempt++) {
    const head = await sendHeadObject(client, source.bucket, source.key);
    const size = head.ContentLength ?? 0;
    try {
      if (size > limits.maxCopyBytes) {
        return await multipartCopy(
          client,
          source,
          head.ETag,
          size,
          bucket,
          key,
          { metadata, native },
          limits,
        );
      }
      const out = await withS3Errors({ bucket, key }, () =>
        client.send(copyCommand(source, head.ETag, bucket, key, { metadata, native })),
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
      return withNative(info, out);
    } catch (error) {
      // The source changed between the HEAD and the copy: take the new version.
      if (sdkErrorName(error) === 'PreconditionFailed' && attempt < 2) continue;
      if (error instanceof S3Error && error.code === 'NoSuchKey') throw errors.noSuchKey(source.key);
      throw error;
    }
  }
}

/**
 * Gives the object just written `target.metadata` by copying it onto itself, encrypted as `target.native`
 * asks (the same settings it was written with, or S3 would encrypt the copy by the bucket's default only).
 * If-Match on the ETag the write returned: if another write replaced or deleted the object in between, that
 * write is the later one and keeps its own metadata.
 */
export async function replaceMetadata(
  client: S3Client,
  bucket: string,
  key: string,
  etag: string,
  target: CopyTarget,
): Promise<{ etag: string; lastModified: Date; native?: NativeEncryption }> {
  try {
    const out = await withS3Errors({ bucket, key }, () =>
      client.send(copyCommand({ bucket, key }, etag, bucket, key, target)),
    );
    const native = nativeOf(out);
    return {
      etag: out.CopyObjectResult?.ETag ?? etag,
      lastModified: out.CopyObjectResult?.LastModified ?? new Date(),
      ...(native && { native }),
    };
  } catch (error) {
    const superseded =
      sdkErrorName(error) === 'PreconditionFailed' ||
      (error instanceof S3Error && error.code === 'NoSuchKey');
    if (superseded) return { etag, lastModified: new Date() };
    throw error;
  }
}

/** CopyObject of exactly the version `ifMatch` of `source`, with `target`'s metadata replacing the source's. */
function copyCommand(
  source: { bucket: string; key: string },
  ifMatch: string | undefined,
  bucket: string,
  key: string,
  target: CopyTarget,
): CopyObjectCommand {
  return withExpires(
    new CopyObjectCommand({
      Bucket: bucket,
      Key: key,
      // CopySource is `<bucket>/<key>` URL-encoded; the slashes between key segments stay as they are.
      CopySource: copySourceOf(source),
      CopySourceIfMatch: ifMatch,
      MetadataDirective: 'REPLACE',
      ...metadataInput(target.metadata, target.layout),
      ...nativeInput(target.native),
    }),
    target.metadata.headers,
  );
}

/**
 * A copy above CopyObject's limit: CreateMultipartUpload with the target's metadata and encryption, one
 * UploadPartCopy per range (each conditional on the source's ETag), CompleteMultipartUpload. Any failure
 * aborts the upload, so nothing half-copied is left.
 */
async function multipartCopy(
  client: S3Client,
  source: { bucket: string; key: string },
  ifMatch: string | undefined,
  size: number,
  bucket: string,
  key: string,
  target: CopyTarget,
  limits: CopyLimits,
): Promise<ObjectInfo> {
  const created = await withS3Errors({ bucket, key }, () =>
    client.send(
      withExpires(
        new CreateMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          ...metadataInput(target.metadata, target.layout),
          ...nativeInput(target.native),
        }),
        target.metadata.headers,
      ),
    ),
  );
  const uploadId = created.UploadId!;
  try {
    const partBytes = Math.max(limits.partBytes, Math.ceil(size / MAX_PARTS));
    const parts: { PartNumber: number; ETag: string }[] = [];
    for (let start = 0, number = 1; start < size; start += partBytes, number++) {
      const end = Math.min(size, start + partBytes) - 1;
      const out = await withS3Errors({ bucket, key }, () =>
        client.send(
          new UploadPartCopyCommand({
            Bucket: bucket,
            Key: key,
            UploadId: uploadId,
            PartNumber: number,
            CopySource: copySourceOf(source),
            CopySourceIfMatch: ifMatch,
            CopySourceRange: `bytes=${start}-${end}`,
          }),
        ),
      );
      parts.push({ PartNumber: number, ETag: out.CopyPartResult?.ETag ?? '' });
    }
    const done = await withS3Errors({ bucket, key }, () =>
      client.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
        }),
      ),
    );
    const etag = done.ETag ?? '';
    const info: ObjectInfo = { key, size, etag, lastModified: new Date(), metadata: target.metadata };
    info.partsCount = parts.length;
    const native = nativeOf(created);
    return native ? { ...info, native } : info;
  } catch (error) {
    await client
      .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }))
      .catch(() => undefined);
    throw error;
  }
}

/** `<bucket>/<key>` URL-encoded, the slashes between key segments kept. */
function copySourceOf(source: { bucket: string; key: string }): string {
  return `${source.bucket}/${source.key.split('/').map(encodeURIComponent).join('/')}`;
}
