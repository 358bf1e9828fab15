/**
 * Small assertions and fixtures shared by the S3 integration tests.
 */
import {
  GetObjectCommand,
  ListObjectsV2Command,
  S3ServiceException,
  type S3Client,
} from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { expect } from 'vitest';

/** A bucket name no other test uses (tests share one moto per file). */
export function uniqueBucket(prefix = 'sg'): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

/** Deterministic bytes of a given size (a recognisable pattern, so offsets show in a diff). */
export function patternBytes(size: number, seed = 0): Buffer {
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return out;
}

/**
 * `data` as a stream body. The SDK sends a stream (as aws-cli and lib-storage do with files) `aws-chunked`
 * with a trailing checksum; a Buffer body it sends whole, with the checksum in a header.
 */
export function streamOf(data: Buffer, pieceSize = 16 * 1024): Readable {
  return Readable.from(
    (function* () {
      for (let offset = 0; offset < data.length; offset += pieceSize)
        yield data.subarray(offset, offset + pieceSize);
    })(),
  );
}

/** The rejection of `promise`, or a failed assertion if it resolved. */
export async function rejectionOf(promise: Promise<unknown>): Promise<S3ServiceException> {
  let error: unknown;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  expect(error, 'the request was expected to fail').toBeInstanceOf(S3ServiceException);
  return error as S3ServiceException;
}

/** Expects `promise` to fail with S3 error `code` and HTTP `status`. */
export async function expectS3Error(promise: Promise<unknown>, code: string, status: number): Promise<void> {
  const error = await rejectionOf(promise);
  expect({ code: error.name, status: error.$metadata.httpStatusCode }).toEqual({ code, status });
}

/** Expects `promise` to fail with HTTP `status` (for answers without an error document: 304, HEAD errors). */
export async function expectStatus(promise: Promise<unknown>, status: number): Promise<void> {
  const error = await rejectionOf(promise);
  expect(error.$metadata.httpStatusCode).toBe(status);
}

/** The object's bytes. */
export async function getBytes(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await res.Body!.transformToByteArray());
}

/** Every key in the bucket with its ETag and size: the observable state of a bucket's objects. */
export async function bucketState(
  s3: S3Client,
  bucket: string,
): Promise<{ key: string; etag: string; size: number }[]> {
  const out: { key: string; etag: string; size: number }[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const o of page.Contents ?? []) out.push({ key: o.Key!, etag: o.ETag!, size: o.Size! });
    token = page.NextContinuationToken;
  } while (token);
  return out;
}
