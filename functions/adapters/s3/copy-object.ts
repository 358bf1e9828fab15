/**
 * CopyObject for the S3 backend: server-side copies with new metadata, and the copy of an object onto
 * itself that is S3's only way to change an object's metadata. Each copy takes exactly the version it was
 * meant to (CopySourceIfMatch). CopyObject copies at most 5 GiB; larger copies would need UploadPartCopy.
 *
 * A copy carries the native encryption it is given: S3's CopyObject does not keep the source's, it encrypts
 * the copy as its own request (or the bucket's default) says.
 */
import { CopyObjectCommand, type S3Client } from '@aws-sdk/client-s3';

import type { NativeEncryption, ObjectInfo, ObjectMetadata } from '../../core/backend.js';
import { errors, S3Error } from '../../core/errors.js';
import { nativeInput, nativeOf, withNative } from './native-encryption.js';
import { metadataInput, partsCountOf, withExpires } from './object-metadata.js';
import { sendHeadObject } from './object-reads.js';
import type { RecordedLayout } from './recorded-layout.js';
import { sdkErrorName, withS3Errors } from './sdk-errors.js';

/** CopyObject's limit. */
export const MAX_COPY_BYTES = 5 * 1024 ** 3;

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
      CopySource: `${source.bucket}/${source.key.split('/').map(encodeURIComponent).join('/')}`,
      CopySourceIfMatch: ifMatch,
      MetadataDirective: 'REPLACE',
      ...metadataInput(target.metadata, target.layout),
      ...nativeInput(target.native),
    }),
    target.metadata.headers,
  );
}
