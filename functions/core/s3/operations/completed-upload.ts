/**
 * A CompleteMultipartUpload sent again after it succeeded (an SDK retries one whose response it lost): S3
 * answers 200 with the same ETag, though the upload is gone. The gateway keeps no record of finished
 * uploads; it recognises the object the upload became instead:
 * - a gateway-encrypted upload's data key is wrapped once, when the upload is created, and that wrapped key
 *   is in the upload id and in the completed object's markers, so an object carrying it, laid out in the
 *   part numbers the retry lists, is that upload's;
 * - a plain (or natively encrypted) upload's object has S3's multipart ETag, the MD5 of the parts' MD5s
 *   and their count, which the retry's part ETags give again.
 */
import { createHash } from 'node:crypto';

import type { ObjectInfo } from '../../backend.js';
import { decodeLayout } from '../../encryption/layout-marker.js';
import { MARKER } from '../../encryption/markers.js';
import type { UploadState } from '../../encryption/upload-state.js';
import { S3Error } from '../../errors.js';
import type { Route } from '../../routes.js';
import type { Operation } from '../operation.js';

/** The object at the request's key when the upload `state` (or a plain upload of `parts`) completed into it. */
export async function completedObject(
  op: Operation,
  route: Route,
  state: UploadState | undefined,
  parts: { partNumber: number; etag: string }[],
): Promise<ObjectInfo | undefined> {
  let stored: ObjectInfo;
  try {
    stored = await route.backend.headObject(route.bucket, op.key);
  } catch (error) {
    if (error instanceof S3Error && error.code === 'NoSuchKey') return undefined;
    throw error;
  }
  const internal = stored.metadata.internal;
  if (state) {
    const sameKey = Object.entries(state.markers).every(([name, value]) => internal[name] === value);
    const layout = internal[MARKER.layout];
    if (!sameKey || layout === undefined) return undefined;
    let numbers: number[];
    try {
      numbers = decodeLayout(layout).partNumbers;
    } catch {
      return undefined;
    }
    const same = numbers.length === parts.length && numbers.every((n, i) => n === parts[i].partNumber);
    return same ? stored : undefined;
  }
  if (!parts.every((part) => /^[0-9a-f]{32}$/.test(part.etag))) return undefined;
  const digests = Buffer.concat(parts.map((part) => Buffer.from(part.etag, 'hex')));
  const etag = `"${createHash('md5').update(digests).digest('hex')}-${parts.length}"`;
  return stored.etag === etag ? stored : undefined;
}
