/**
 * ListObjects for the S3 backend, on ListObjectsV2, and the key order S3 lists in. S3's listing carries no
 * metadata: asked for it, the backend heads every listed object, a bounded number at a time (or, for
 * client listings, describes the versions it headed before from s3/described-cache.ts).
 */
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';

import type { ListedObject, ListObjectsInput, ListObjectsOutput } from '../../core/backend.js';
import { S3Error } from '../../core/errors.js';
import type { DescribedCache } from './described-cache.js';
import { describeObject } from './object-reads.js';
import { withS3Errors } from './sdk-errors.js';

/** HeadObject requests in flight at once for a listing with metadata. */
const MAX_HEADS_IN_FLIGHT = 16;

/** One page of up to `input.maxKeys` objects and common prefixes. */
export async function listObjects(
  client: S3Client,
  bucket: string,
  input: ListObjectsInput,
  described?: DescribedCache,
): Promise<ListObjectsOutput> {
  const output: ListObjectsOutput = { objects: [], commonPrefixes: [], isTruncated: false };
  let token: string | undefined;
  // S3 returns at most 1000 entries a page: page on until maxKeys are collected.
  for (let wanted = input.maxKeys; ;) {
    const out = await withS3Errors({ bucket }, () =>
      client.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: input.prefix || undefined,
          Delimiter: input.delimiter || undefined,
          StartAfter: token ? undefined : input.after,
          ContinuationToken: token,
          MaxKeys: wanted,
          // Keys may hold characters XML 1.0 cannot carry; URL encoding brings them through.
          EncodingType: 'url',
        }),
      ),
    );
    const objects: ListedObject[] = (out.Contents ?? []).map((object) => ({
      key: urlDecode(object.Key ?? ''),
      size: object.Size ?? 0,
      etag: object.ETag ?? '',
      lastModified: object.LastModified ?? new Date(0),
    }));
    const prefixes = (out.CommonPrefixes ?? []).map((prefix) => urlDecode(prefix.Prefix ?? ''));
    output.objects.push(...objects);
    output.commonPrefixes.push(...prefixes);
    for (const last of [objects.at(-1)?.key, prefixes.at(-1)]) {
      if (last !== undefined && (output.last === undefined || compareKeys(last, output.last) > 0)) {
        output.last = last;
      }
    }
    wanted -= objects.length + prefixes.length;
    output.isTruncated = out.IsTruncated === true;
    token = out.NextContinuationToken;
    if (!output.isTruncated || !token || wanted <= 0) break;
  }
  // `last` stays the listing's: resuming after a key deleted since is still resuming at the right place.
  if (input.withMetadata) {
    const cache = input.reuseDescriptions ? described : undefined;
    output.objects = await withMetadata(client, bucket, output.objects, cache);
  }
  return output;
}

/**
 * The listed objects as their HEADs describe them (size, ETag and date too, so every field is of one
 * version); an object deleted since it was listed is dropped. With a cache, a version described before
 * is not headed again.
 */
async function withMetadata(
  client: S3Client,
  bucket: string,
  objects: ListedObject[],
  cache: DescribedCache | undefined,
): Promise<ListedObject[]> {
  const described = await mapBounded(objects, MAX_HEADS_IN_FLIGHT, async (object) => {
    const known = cache?.get(bucket, object);
    if (known) return known;
    try {
      const { key, size, etag, lastModified, metadata, partsCount } = await describeObject(
        client,
        bucket,
        object.key,
      );
      const listed: ListedObject = { key, size, etag, lastModified, metadata };
      if (partsCount !== undefined) listed.partsCount = partsCount;
      cache?.set(bucket, object, listed);
      return listed;
    } catch (error) {
      if (error instanceof S3Error && error.code === 'NoSuchKey') return undefined;
      throw error;
    }
  });
  return described.filter((object): object is ListedObject => object !== undefined);
}

/** `map` over `items` with at most `limit` calls of `fn` running at once; results in the items' order. */
async function mapBounded<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  let next = 0;
  let failed = false;
  const worker = async () => {
    // After a failure the others finish the call they are in and start no more.
    while (!failed && next < items.length) {
      const index = next++;
      try {
        results[index] = await fn(items[index]);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** S3's key order: by the keys' UTF-8 bytes (not JavaScript's UTF-16 string order). */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Keys and prefixes of a listing asked for with `encoding-type=url` (S3 writes a space as '+'). */
function urlDecode(value: string): string {
  return decodeURIComponent(value.replace(/\+/g, ' '));
}
