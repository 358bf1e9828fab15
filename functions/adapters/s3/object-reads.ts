/**
 * HeadObject and GetObject for the S3 backend, including S3's `partNumber` reads. Where the store ignores
 * PartNumber (moto does for multipart objects), the part's byte range is worked out from the parts' lengths
 * and read as a range of the same version. For an object whose multipart layout the backend recorded
 * (s3/recorded-layout.ts: S3 no longer knows its parts), the range comes from the recorded sizes.
 */
import {
  GetObjectCommand,
  HeadObjectCommand,
  type GetObjectCommandOutput,
  type HeadObjectCommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';

import type { Body, ByteRange, ObjectInfo } from '../../core/backend.js';
import { errors, S3Error } from '../../core/errors.js';
import { bucketStatus } from './buckets.js';
import { objectInfo, storedObject, type StoredObject } from './object-metadata.js';
import { parseContentRange, partRangeByLengths } from './part-ranges.js';
import { recordedPartRange } from './recorded-layout.js';
import { destroyBody, emptyBody, responseBody } from './response-body.js';
import { httpStatus, sdkErrorName, translateSdkError } from './sdk-errors.js';

/** An object and where one of its parts lies (no range for an empty part). */
type LocatedPart = StoredObject & { part?: ByteRange };

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
  const { info, part } = await locatePart(client, bucket, key, partNumber);
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
  let out: GetObjectCommandOutput;
  try {
    out = await sendGetObject(client, bucket, key, {
      PartNumber: partNumber,
      Range: byteRange && `bytes=${byteRange.start}-${byteRange.end}`,
    });
  } catch (error) {
    if (partNumber === undefined || !isInvalidPartNumber(error)) throw error;
    return readPart(client, bucket, key, await recordedPartOrRefuse(client, bucket, key, partNumber, error));
  }
  const range = parseContentRange(out.ContentRange);
  const recorded = partNumber === undefined ? undefined : recordedPart(key, out, partNumber);
  if (recorded) {
    // S3 answered for the single part it now holds; the recorded part is what was asked for.
    const { part } = recorded;
    if (part && range && range.start === part.start && range.end === part.end) {
      return { info: recorded.info, body: responseBody(out), range: part };
    }
    destroyBody(out);
    return readPart(client, bucket, key, recorded);
  }
  if (select === undefined || range) {
    const info = objectInfo(key, out, range ? range.total : out.ContentLength);
    return { info, body: responseBody(out), range: range && { start: range.start, end: range.end } };
  }
  if (partNumber === undefined) {
    throw new Error('the S3 backend answered a ranged GET without Content-Range');
  }
  // The store ignored PartNumber and sent the whole object: drop it and ask for the part's bytes by range.
  destroyBody(out);
  return readPart(client, bucket, key, await locatePart(client, bucket, key, partNumber));
}

/** Where part `partNumber` of the object lies, asking S3 first and falling back as the module says. */
async function locatePart(
  client: S3Client,
  bucket: string,
  key: string,
  partNumber: number,
): Promise<LocatedPart> {
  let out: HeadObjectCommandOutput | undefined;
  try {
    out = await sendHeadObject(client, bucket, key, partNumber);
  } catch (error) {
    if (isInvalidPartNumber(error)) return recordedPartOrRefuse(client, bucket, key, partNumber, error);
    // A store without partNumber support may fail outright (moto answers 500 for a part it lacks).
    if ((httpStatus(error) ?? 0) < 500) throw error;
  }
  const recorded = out && recordedPart(key, out, partNumber);
  if (recorded) return recorded;
  const range = parseContentRange(out?.ContentRange);
  if (out && range) {
    return { ...storedObject(key, out, range.total), part: { start: range.start, end: range.end } };
  }
  // The store ignored PartNumber (moto does for multipart objects): find the part's range from the lengths.
  const whole = await sendHeadObject(client, bucket, key);
  const recordedWhole = recordedPart(key, whole, partNumber);
  if (recordedWhole) return recordedWhole;
  const stored = storedObject(key, whole, whole.ContentLength);
  const part = await partRangeByLengths(
    stored.info,
    partNumber,
    async (number) => (await sendHeadObject(client, bucket, key, number)).ContentLength ?? 0,
  );
  return { ...stored, part };
}

/** Part `partNumber` by the object's recorded layout; undefined when it has none. */
function recordedPart(
  key: string,
  out: HeadObjectCommandOutput | GetObjectCommandOutput,
  partNumber: number,
): LocatedPart | undefined {
  // `out` may describe one part only: the size is the recorded parts' sum.
  const stored = storedObject(key, out, undefined);
  if (!stored.layout) return undefined;
  return { ...stored, part: recordedPartRange(stored.layout, partNumber) };
}

/**
 * S3 refused the part number. After the copy that recorded a layout, S3 holds the object as one part and
 * refuses any number past 1 while the recorded layout still knows the parts: ask the recorded layout, and
 * pass S3's refusal on for an object without one.
 */
async function recordedPartOrRefuse(
  client: S3Client,
  bucket: string,
  key: string,
  partNumber: number,
  refusal: unknown,
): Promise<LocatedPart> {
  const recorded = recordedPart(key, await sendHeadObject(client, bucket, key), partNumber);
  if (!recorded) throw refusal;
  return recorded;
}

/** Reads a located part as a byte range of exactly the version located (If-Match on S3's own ETag). */
async function readPart(
  client: S3Client,
  bucket: string,
  key: string,
  located: LocatedPart,
): Promise<{ info: ObjectInfo; body: Body; range?: ByteRange }> {
  const { info, part, storedEtag } = located;
  if (!part) return { info, body: emptyBody() };
  const ranged = await sendGetObject(client, bucket, key, {
    Range: `bytes=${part.start}-${part.end}`,
    IfMatch: storedEtag,
  });
  return { info, body: responseBody(ranged), range: part };
}

function isInvalidPartNumber(error: unknown): boolean {
  return error instanceof S3Error && error.code === 'InvalidPartNumber';
}

/** HeadObject, with S3's bodiless 404 told apart into NoSuchBucket and NoSuchKey. */
export async function sendHeadObject(
  client: S3Client,
  bucket: string,
  key: string,
  partNumber?: number,
): Promise<HeadObjectCommandOutput> {
  try {
    // With checksum mode S3 reports the object's additional checksum (a HEAD has no body for the SDK to
    // check it against); a part's is not asked for.
    return await client.send(
      new HeadObjectCommand({
        Bucket: bucket,
        Key: key,
        PartNumber: partNumber,
        ChecksumMode: partNumber === undefined ? 'ENABLED' : undefined,
      }),
    );
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
