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

/**
 * HeadBucket: whether the bucket exists. A bucket the backend's credentials may not use (403) is an
 * operator's configuration problem, reported as AccessDenied rather than passed off as missing.
 */
export async function bucketExists(client: S3Client, bucket: string): Promise<boolean> {
  const status = await bucketStatus(client, bucket);
  if (status === 'forbidden') {
    throw errors.accessDenied(`The backend refused this gateway access to its bucket ${bucket}`);
  }
  return status === 'exists';
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
