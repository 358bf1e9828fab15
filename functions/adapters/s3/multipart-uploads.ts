/**
 * Multipart uploads for the S3 backend, one S3 multipart upload each. The upload's metadata is given to
 * CreateMultipartUpload and lives in S3, so any gateway instance can serve any request of an upload.
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

import type { Body, ObjectInfo, ObjectMetadata, PartInfo, UploadInfo } from '../../core/backend.js';
import { errors } from '../../core/errors.js';
import { compareKeys } from './listing.js';
import { metadataInput, objectInfo, withExpires } from './object-metadata.js';
import { sendHeadObject } from './object-reads.js';
import { httpStatus, sdkErrorName, withS3Errors } from './sdk-errors.js';
import { sendStreaming } from './upload-stream.js';

/** CreateMultipartUpload with the metadata the completed object will have; returns the upload id. */
export async function createMultipartUpload(
  client: S3Client,
  bucket: string,
  key: string,
  metadata: ObjectMetadata,
): Promise<string> {
  const out = await withS3Errors({ bucket, key }, () =>
    client.send(
      withExpires(
        new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ...metadataInput(metadata) }),
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
        }),
        { abortSignal },
      ),
    );
    // UploadPart does not return S3's Last-Modified: this process's clock stands in.
    return { partNumber, etag: out.ETag ?? '', size, lastModified: new Date() };
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

/** CompleteMultipartUpload of the named parts, then the completed object as a HEAD describes it. */
export async function completeMultipartUpload(
  client: S3Client,
  bucket: string,
  key: string,
  uploadId: string,
  parts: { partNumber: number; etag: string }[],
): Promise<ObjectInfo> {
  await withS3Errors({ bucket, key, uploadId }, () =>
    client.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: { Parts: parts.map((part) => ({ PartNumber: part.partNumber, ETag: part.etag })) },
      }),
    ),
  );
  // CompleteMultipartUpload returns neither the size nor the metadata.
  const head = await sendHeadObject(client, bucket, key);
  return objectInfo(key, head, head.ContentLength);
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
