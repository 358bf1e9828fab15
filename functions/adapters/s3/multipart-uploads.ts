/**
 * Multipart uploads for the S3 backend, one S3 multipart upload each. The upload's metadata (and the native
 * encryption asked for) is given to CreateMultipartUpload and lives in S3, so any gateway instance can serve
 * any request of an upload. Parts are encrypted as their upload says: UploadPart carries no SSE settings.
 *
 * Markers known only at completion (`late`) cannot ride on CompleteMultipartUpload, which takes no metadata:
 * the completed object is copied onto itself with them (s3/copy-object.ts), and since that copy makes it a
 * single-part object to S3, its multipart ETag and part sizes are recorded beside them
 * (s3/recorded-layout.ts). Between the two requests the object is visible without those markers; if the copy
 * fails, the object stays so and the completion reports the failure.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';

import type {
  Body,
  CompletedPart,
  NativeEncryption,
  ObjectChecksum,
  ObjectInfo,
  ObjectMetadata,
  PartChecksumInput,
  PartInfo,
  UploadInfo,
} from '../../core/backend.js';
import { errors, S3Error } from '../../core/errors.js';
import type { MultipartChecksum } from '../../core/integrity/multipart-checksum.js';
import {
  checksumAlgorithmInput,
  checksumInput,
  multipartChecksumInput,
  partChecksumOf,
} from './checksum-fields.js';
import { MAX_COPY_BYTES, replaceMetadata } from './copy-object.js';
import { compareKeys } from './listing.js';
import { nativeInput, nativeOf, withNative } from './native-encryption.js';
import { metadataBytes, metadataInput, objectInfo, storedObject, withExpires } from './object-metadata.js';
import { sendHeadObject } from './object-reads.js';
import { layoutMarkers, type RecordedLayout } from './recorded-layout.js';
import { httpStatus, sdkErrorName, withS3Errors } from './sdk-errors.js';
import { sendStreaming } from './upload-stream.js';

/** S3's limit on an object's user metadata: the UTF-8 bytes of every name and value (without `x-amz-meta-`). */
const MAX_METADATA_BYTES = 2048;

/**
 * CreateMultipartUpload with the metadata the completed object will have, encrypted by S3 as `native` asks;
 * returns the upload id.
 */
export async function createMultipartUpload(
  client: S3Client,
  bucket: string,
  key: string,
  metadata: ObjectMetadata,
  native?: NativeEncryption,
  checksum?: MultipartChecksum,
): Promise<string> {
  const out = await withS3Errors({ bucket, key }, () =>
    client.send(
      withExpires(
        new CreateMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          ...metadataInput(metadata),
          ...nativeInput(native),
          ...multipartChecksumInput(checksum),
        }),
        metadata.headers,
      ),
    ),
  );
  if (!out.UploadId) throw new Error('the S3 backend returned no UploadId');
  return out.UploadId;
}

/** UploadPart of exactly `size` bytes from `body` (see {@link sendStreaming}). */
export async function uploadPart(
  client: S3Client,
  bucket: string,
  key: string,
  uploadId: string,
  partNumber: number,
  body: Body,
  size: number,
  checksum?: PartChecksumInput,
): Promise<PartInfo> {
  try {
    const out = await sendStreaming({ bucket, key, uploadId }, body, size, (stream, abortSignal) =>
      client.send(
        new UploadPartCommand({
          Bucket: bucket,
          Key: key,
          UploadId: uploadId,
          PartNumber: partNumber,
          Body: stream,
          ContentLength: size,
          // S3 keeps the part's checksum: given, when the request's header had it, or else computed by the
          // SDK over the stream and sent as a trailer.
          ...(checksum &&
            (checksum.value !== undefined
              ? checksumInput(checksum.algorithm, checksum.value)
              : { ChecksumAlgorithm: checksumAlgorithmInput(checksum.algorithm) })),
        }),
        { abortSignal },
      ),
    );
    // UploadPart does not return S3's Last-Modified: this process's clock stands in.
    const part: PartInfo = { partNumber, etag: out.ETag ?? '', size, lastModified: new Date() };
    if (checksum)
      part.checksum = { algorithm: checksum.algorithm, value: checksum.value ?? checksum.computed() };
    return withNative(part, out);
  } catch (error) {
    // Some stores answer a part for an unknown upload with a bare 5xx (moto does): name it if that is why.
    if ((httpStatus(error) ?? 0) >= 500 && !(await uploadExists(client, bucket, key, uploadId))) {
      throw errors.noSuchUpload(uploadId);
    }
    throw error;
  }
}

/** Every stored part, ascending by part number. */
export async function listParts(
  client: S3Client,
  bucket: string,
  key: string,
  uploadId: string,
): Promise<PartInfo[]> {
  const parts: PartInfo[] = [];
  let marker: string | undefined;
  for (;;) {
    const out = await withS3Errors({ bucket, key, uploadId }, () =>
      client.send(
        new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumberMarker: marker }),
      ),
    );
    for (const part of out.Parts ?? []) {
      const info: PartInfo = {
        partNumber: part.PartNumber ?? 0,
        etag: part.ETag ?? '',
        size: part.Size ?? 0,
        lastModified: part.LastModified ?? new Date(0),
      };
      const checksum = partChecksumOf(part);
      if (checksum) info.checksum = checksum;
      parts.push(info);
    }
    marker = out.NextPartNumberMarker;
    if (!out.IsTruncated || !marker) break;
  }
  return parts.sort((a, b) => a.partNumber - b.partNumber);
}

/**
 * CompleteMultipartUpload of the named parts, then the completed object as a HEAD describes it; with `late`
 * markers, followed by the copy the module describes. A `checksum` is S3's to keep: the parts' checksums
 * and the type go to S3, which computes the same object checksum from them.
 */
export async function completeMultipartUpload(
  client: S3Client,
  bucket: string,
  key: string,
  uploadId: string,
  parts: CompletedPart[],
  late?: Record<string, string>,
  checksum?: ObjectChecksum,
): Promise<ObjectInfo> {
  if (late && Object.keys(late).length > 0) {
    if (checksum) throw new Error('a completion with late markers keeps its checksum among them');
    return completeWithLateMarkers(client, bucket, key, uploadId, parts, late);
  }
  await sendComplete(client, bucket, key, uploadId, parts, checksum);
  // CompleteMultipartUpload returns neither the size nor the metadata.
  const head = await sendHeadObject(client, bucket, key);
  return objectInfo(key, head, head.ContentLength);
}

async function completeWithLateMarkers(
  client: S3Client,
  bucket: string,
  key: string,
  uploadId: string,
  parts: { partNumber: number; etag: string }[],
  late: Record<string, string>,
): Promise<ObjectInfo> {
  // Everything that would make the copy fail is checked first, while the upload can still be completed
  // another way (or aborted): once completed, a failed copy leaves an object without its markers.
  const partSizes = await namedPartSizes(client, bucket, key, uploadId, parts);
  const size = partSizes.reduce((sum, partSize) => sum + partSize, 0);
  if (size > MAX_COPY_BYTES) {
    throw errors.entityTooLarge(
      `This backend stores the markers known only at completion by copying the object onto itself, and S3's ` +
        `CopyObject copies at most 5368709120 bytes (5 GiB); this object would be ${size} bytes.`,
    );
  }
  const placeholder: RecordedLayout = { etag: `"${'0'.repeat(32)}-${parts.length}"`, partSizes };
  const markers = { ...late, ...layoutMarkers(placeholder) };
  if (metadataBytes({ headers: {}, user: {}, internal: markers }) > MAX_METADATA_BYTES) {
    throw new S3Error(
      'MetadataTooLarge',
      400,
      `The markers this object needs at completion exceed S3's ${MAX_METADATA_BYTES} bytes of metadata.`,
    );
  }

  const done = await sendComplete(client, bucket, key, uploadId, parts);
  const layout: RecordedLayout = { etag: done.ETag ?? '', partSizes };
  // The upload's metadata and encryption live in S3 only: the completed object's HEAD tells them.
  let head;
  try {
    head = await sendHeadObject(client, bucket, key);
  } catch (error) {
    if (!(error instanceof S3Error && error.code === 'NoSuchKey')) throw error;
  }
  if (!head || head.ETag !== layout.etag) {
    // Replaced or deleted since: that later write wins, and what the upload held is no longer known.
    const metadata: ObjectMetadata = { headers: {}, user: {}, internal: { ...late } };
    return { key, size, etag: layout.etag, lastModified: new Date(), metadata, partsCount: parts.length };
  }
  const { info } = storedObject(key, head, head.ContentLength);
  const metadata: ObjectMetadata = { ...info.metadata, internal: { ...info.metadata.internal, ...late } };
  const native = nativeOf(head);
  const copied = await replaceMetadata(client, bucket, key, layout.etag, { metadata, layout, native });
  const result: ObjectInfo = {
    key,
    size,
    etag: layout.etag,
    lastModified: copied.lastModified,
    metadata,
    partsCount: parts.length,
  };
  const reported = copied.native ?? native;
  if (reported) result.native = reported;
  return result;
}

/** The stored sizes of the named parts, in order, from ListParts. */
async function namedPartSizes(
  client: S3Client,
  bucket: string,
  key: string,
  uploadId: string,
  parts: { partNumber: number; etag: string }[],
): Promise<number[]> {
  const stored = new Map(
    (await listParts(client, bucket, key, uploadId)).map((part) => [part.partNumber, part]),
  );
  return parts.map((part) => {
    const found = stored.get(part.partNumber);
    // What CompleteMultipartUpload itself would answer; a size taken from another version of the part would
    // record a wrong layout.
    if (!found || bareEtag(found.etag) !== bareEtag(part.etag)) throw errors.invalidPart();
    return found.size;
  });
}

async function sendComplete(
  client: S3Client,
  bucket: string,
  key: string,
  uploadId: string,
  parts: CompletedPart[],
  checksum?: ObjectChecksum,
) {
  return withS3Errors({ bucket, key, uploadId }, () =>
    client.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId: uploadId,
        ...(checksum && { ChecksumType: checksum.type }),
        MultipartUpload: {
          Parts: parts.map((part) => ({
            PartNumber: part.partNumber,
            ETag: part.etag,
            ...(checksum && part.checksum !== undefined && checksumInput(checksum.algorithm, part.checksum)),
          })),
        },
      }),
    ),
  );
}

function bareEtag(etag: string): string {
  return etag.replace(/^"|"$/g, '').toLowerCase();
}

/** AbortMultipartUpload: S3 drops the upload's parts. */
export async function abortMultipartUpload(
  client: S3Client,
  bucket: string,
  key: string,
  uploadId: string,
): Promise<void> {
  await withS3Errors({ bucket, key, uploadId }, () =>
    client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId })),
  );
}

/** Uploads in progress under `prefix`, ordered by key then initiation. */
export async function listMultipartUploads(
  client: S3Client,
  bucket: string,
  prefix: string,
): Promise<UploadInfo[]> {
  const uploads: UploadInfo[] = [];
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  for (;;) {
    const out = await withS3Errors({ bucket }, () =>
      client.send(
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
  // The Backend promises this order (by UTF-8 bytes), whatever order the store lists in.
  return uploads.sort((a, b) => compareKeys(a.key, b.key) || a.initiated.getTime() - b.initiated.getTime());
}

async function uploadExists(
  client: S3Client,
  bucket: string,
  key: string,
  uploadId: string,
): Promise<boolean> {
  try {
    await client.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MaxParts: 1 }));
    return true;
  } catch (error) {
    if (sdkErrorName(error) === 'NoSuchUpload') return false;
    throw error;
  }
}
