/** ListObjects for the S3 backend, on ListObjectsV2, and the key order S3 lists in. */
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';

import type { ListedObject, ListObjectsInput, ListObjectsOutput } from '../../core/backend.js';
import { withS3Errors } from './sdk-errors.js';

/** One page of up to `input.maxKeys` objects and common prefixes. */
export async function listObjects(
  client: S3Client,
  bucket: string,
  input: ListObjectsInput,
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
    if (!output.isTruncated || !token || wanted <= 0) return output;
  }
}

/** S3's key order: by the keys' UTF-8 bytes (not JavaScript's UTF-16 string order). */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Keys and prefixes of a listing asked for with `encoding-type=url` (S3 writes a space as '+'). */
function urlDecode(value: string): string {
  return decodeURIComponent(value.replace(/\+/g, ' '));
}
