/**
 * HeadObject and GetObject for the S3 backend, including S3's `partNumber` reads. Where the store ignores
 * PartNumber (moto does for multipart objects), the part's byte range is worked out from the parts' lengths
 * and read as a range of the same version.
 */
import {
  GetObjectCommand,
  HeadObjectCommand,
  type GetObjectCommandOutput,
  type HeadObjectCommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';

import type { Body, ByteRange, ObjectInfo } from '../../core/backend.js';
import { errors } from '../../core/errors.js';
import { bucketStatus } from './buckets.js';
import { objectInfo } from './object-metadata.js';
import { parseContentRange, partRangeByLengths } from './part-ranges.js';
import { destroyBody, emptyBody, responseBody } from './response-body.js';
import { httpStatus, sdkErrorName, translateSdkError } from './sdk-errors.js';

/** The Backend's headObject: the object's info and, with `partNumber`, that part's byte range. */
export async function describeObject(
  client: S3Client,
  bucket: string,
  key: string,
  partNumber?: number,
): Promise<ObjectInfo & { part?: ByteRange }> {
  if (partNumber === undefined) {
    const out = await sendHeadObject(client, bucket, key);
    return objectInfo(key, out, out.ContentLength);
  }
  let out: HeadObjectCommandOutput | undefined;
  try {
    out = await sendHeadObject(client, bucket, key, partNumber);
  } catch (error) {
    // A store without partNumber support may fail outright (moto answers 500 for a part it lacks).
    if ((httpStatus(error) ?? 0) < 500) throw error;
  }
  const range = parseContentRange(out?.ContentRange);
  if (out && range) {
    return { ...objectInfo(key, out, range.total), part: { start: range.start, end: range.end } };
  }
  // The store ignored PartNumber (moto does for multipart objects): find the part's range from the lengths.
  const whole = await sendHeadObject(client, bucket, key);
  const info = objectInfo(key, whole, whole.ContentLength);
  const part = await partRangeByLengths(
    info,
    partNumber,
    async (number) => (await sendHeadObject(client, bucket, key, number)).ContentLength ?? 0,
  );
  return part ? { ...info, part } : info;
}

/** The Backend's getObject: the whole object, a byte range (already validated) or one part by number. */
export async function readObject(
  client: S3Client,
  bucket: string,
  key: string,
  select?: ByteRange | { partNumber: number },
): Promise<{ info: ObjectInfo; body: Body; range?: ByteRange }> {
  const partNumber = select && 'partNumber' in select ? select.partNumber : undefined;
  const byteRange = select && !('partNumber' in select) ? select : undefined;
  const out = await sendGetObject(client, bucket, key, {
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
  const { part, ...info } = await describeObject(client, bucket, key, partNumber);
  if (!part) return { info, body: emptyBody() };
  const ranged = await sendGetObject(client, bucket, key, {
    Range: `bytes=${part.start}-${part.end}`,
    IfMatch: info.etag,
  });
  return { info, body: responseBody(ranged), range: part };
}

/** HeadObject, with S3's bodiless 404 told apart into NoSuchBucket and NoSuchKey. */
export async function sendHeadObject(
  client: S3Client,
  bucket: string,
  key: string,
  partNumber?: number,
): Promise<HeadObjectCommandOutput> {
  try {
    return await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key, PartNumber: partNumber }));
  } catch (error) {
    const status = httpStatus(error);
    if (status === 404) {
      if ((await bucketStatus(client, bucket)) === 'missing') throw errors.noSuchBucket(bucket);
      throw errors.noSuchKey(key);
    }
    if (status === 416 && partNumber !== undefined) throw errors.invalidPartNumber();
    throw translateSdkError(error, { bucket, key });
  }
}

/** GetObject, with a part past the last and an unsatisfiable range as the core's errors. */
async function sendGetObject(
  client: S3Client,
  bucket: string,
  key: string,
  options: { PartNumber?: number; Range?: string; IfMatch?: string },
): Promise<GetObjectCommandOutput> {
  try {
    return await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...options }));
  } catch (error) {
    if (httpStatus(error) === 416 && options.PartNumber !== undefined) throw errors.invalidPartNumber();
    if (sdkErrorName(error) === 'InvalidRange') {
      throw errors.invalidRange(Number((error as { ActualObjectSize?: unknown }).ActualObjectSize) || 0);
    }
    throw translateSdkError(error, { bucket, key });
  }
}
