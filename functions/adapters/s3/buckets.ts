/**
 * The bucket operations of the S3 backend. A bucket's creation date comes from ListBuckets, since HeadBucket
 * does not return it; it is looked up on every call rather than cached, so it can never be stale: another
 * gateway instance or anyone with access to the account may delete a bucket and create it again.
 */
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  HeadBucketCommand,
  ListBucketsCommand,
  type BucketLocationConstraint,
  type S3Client,
} from '@aws-sdk/client-s3';

import { errors } from '../../core/errors.js';
import { httpStatus, withS3Errors } from './sdk-errors.js';

/** Whether a bucket exists, as HeadBucket tells: 403 means it exists but belongs to someone who denies us. */
export type BucketStatus = 'exists' | 'missing' | 'forbidden';

/** Every bucket the credentials own, with its creation date. */
export async function listBuckets(client: S3Client): Promise<{ name: string; created: Date }[]> {
  const buckets: { name: string; created: Date }[] = [];
  let token: string | undefined;
  do {
    const out = await client.send(new ListBucketsCommand({ ContinuationToken: token }));
    for (const bucket of out.Buckets ?? []) {
      if (bucket.Name === undefined) continue;
      buckets.push({ name: bucket.Name, created: bucket.CreationDate ?? new Date(0) });
    }
    token = out.ContinuationToken;
  } while (token);
  return buckets;
}

/** CreateBucket in the client's region, failing as S3 does in every region for a name already taken. */
export async function createBucket(client: S3Client, region: string, bucket: string): Promise<void> {
  // In us-east-1 S3 answers 200 to creating a bucket you already own, so ask first to answer as elsewhere.
  const status = await bucketStatus(client, bucket);
  if (status === 'exists') throw errors.bucketAlreadyOwnedByYou(bucket);
  if (status === 'forbidden') throw errors.bucketAlreadyExists(bucket);
  // us-east-1 is S3's default location, which CreateBucket refuses to be given explicitly.
  const location = region === 'us-east-1' ? undefined : (region as BucketLocationConstraint);
  await withS3Errors({ bucket }, () =>
    client.send(
      new CreateBucketCommand({
        Bucket: bucket,
        CreateBucketConfiguration: location ? { LocationConstraint: location } : undefined,
      }),
    ),
  );
}

/** DeleteBucket; S3 itself refuses a bucket that is not empty (BucketNotEmpty). */
export async function deleteBucket(client: S3Client, bucket: string): Promise<void> {
  await withS3Errors({ bucket }, () => client.send(new DeleteBucketCommand({ Bucket: bucket })));
}

/** The bucket's creation date, or undefined when it does not exist. */
export async function headBucket(client: S3Client, bucket: string): Promise<{ created: Date } | undefined> {
  // Both requests go out at once, so the answer costs one round trip; the listing is wasted only when the
  // bucket is missing, and its failure is then of no interest (it is awaited only if the bucket exists).
  const created = creationDate(client, bucket);
  void created.catch(() => undefined);
  if ((await bucketStatus(client, bucket)) === 'missing') return undefined;
  return { created: await created };
}

/** HeadBucket's answer; S3's 404 and 403 come without a body, so the status code is all there is. */
export async function bucketStatus(client: S3Client, bucket: string): Promise<BucketStatus> {
  try {
    await client.send(new HeadBucketCommand({ Bucket: bucket }));
    return 'exists';
  } catch (error) {
    const status = httpStatus(error);
    if (status === 404) return 'missing';
    if (status === 403) return 'forbidden';
    throw error;
  }
}

async function creationDate(client: S3Client, bucket: string): Promise<Date> {
  let token: string | undefined;
  do {
    // Prefix narrows the listing where the store supports it; the exact match is checked either way.
    const out = await client.send(new ListBucketsCommand({ Prefix: bucket, ContinuationToken: token }));
    const found = out.Buckets?.find((entry) => entry.Name === bucket);
    if (found) return found.CreationDate ?? new Date(0);
    token = out.ContinuationToken;
  } while (token);
  return new Date(0); // a bucket another account owns but lets us use: S3 does not tell when it was made
}
