/**
 * CopyObject for the S3 backend: server-side copies with new metadata, and the copy of an object onto
 * itself that is S3's only way to change an object's metadata. Each copy takes exactly the version it was
 * meant to (CopySourceIfMatch). CopyObject copies at most 5 GiB; larger copies would need UploadPartCopy.
 */
import { CopyObjectCommand, type S3Client } from '@aws-sdk/client-s3';

import type { ObjectInfo, ObjectMetadata } from '../../core/backend.js';
import { errors, S3Error } from '../../core/errors.js';
import { metadataInput, partsCountOf, withExpires } from './object-metadata.js';
import { sendHeadObject } from './object-reads.js';
import { sdkErrorName, withS3Errors } from './sdk-errors.js';

/** CopyObject's limit. */
const MAX_COPY_BYTES = 5 * 1024 ** 3;

/** The Backend's copyObject: `source`'s bytes under `bucket`/`key` with `metadata` instead of the source's. */
export async function copyObject(
  client: S3Client,
  source: { bucket: string; key: string },
  bucket: string,
  key: string,
  metadata: ObjectMetadata,
): Promise<ObjectInfo> {
  // The source's size comes from a HEAD; If-Match on that ETag makes the copy take exactly that version.
  for (let attempt = 0; ; attempt++) {
    const head = await sendHeadObject(client, source.bucket, source.key);
    const size = head.ContentLength ?? 0;
    if (size > MAX_COPY_BYTES) {
      throw errors.invalidRequest(
        'The specified copy source is larger than the maximum allowable size for a copy source: 5368709120',
      );
    }
    try {
      const out = await withS3Errors({ bucket, key }, () =>
        client.send(copyCommand(source, head.ETag, bucket, key, metadata)),
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
      if (sdkErrorName(error) === 'PreconditionFailed' && attempt < 2) continue;
      if (error instanceof S3Error && error.code === 'NoSuchKey') throw errors.noSuchKey(source.key);
      throw error;
    }
  }
}

/**
 * Gives the object just written `metadata` by copying it onto itself. If-Match on the ETag the write
 * returned: if another write replaced or deleted the object in between, that write is the later one and
 * keeps its own metadata.
 */
export async function replaceMetadata(
  client: S3Client,
  bucket: string,
  key: string,
  etag: string,
  metadata: ObjectMetadata,
): Promise<{ etag: string; lastModified: Date }> {
  try {
    const out = await withS3Errors({ bucket, key }, () =>
      client.send(copyCommand({ bucket, key }, etag, bucket, key, metadata)),
    );
    return {
      etag: out.CopyObjectResult?.ETag ?? etag,
      lastModified: out.CopyObjectResult?.LastModified ?? new Date(),
    };
  } catch (error) {
    const superseded =
      sdkErrorName(error) === 'PreconditionFailed' ||
      (error instanceof S3Error && error.code === 'NoSuchKey');
    if (superseded) return { etag, lastModified: new Date() };
    throw error;
  }
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
      // CopySource is `<bucket>/<key>` URL-encoded; the slashes between key segments stay as they are.
      CopySource: `${source.bucket}/${source.key.split('/').map(encodeURIComponent).join('/')}`,
      CopySourceIfMatch: ifMatch,
      MetadataDirective: 'REPLACE',
      ...metadataInput(metadata),
    }),
    metadata.headers,
  );
}
