/**
 * One object of a re-encrypt job: brought to the form its backend is configured for now, with the same
 * plaintext, stored headers, user metadata, checksums and the ETag clients saw. Rewriting an object that
 * is already current is a no-op, so re-running a page after a crash is harmless; the `job` marker on the
 * rewritten object lets the re-run count it as this job's rewrite rather than as skipped.
 *
 * How the bytes move, cheapest first:
 * - `rewrap`, gateway-encrypted to gateway-encrypted (proxy or envelope, any key): the data key is opened
 *   and wrapped again under the current key, and the object copied onto itself with the new markers on
 *   the backend (a server-side metadata rewrite: no data through the gateway);
 * - in clear or native to in clear or native: a server-side copy onto itself asking for the new form;
 * - everything else, and `full` between gateway forms: the plaintext streams through the gateway and is
 *   stored again under a new data key.
 */
import type { ObjectInfo, ObjectMetadata } from '../backend.js';
import type { ObjectName } from '../encryption/data-keys.js';
import { listedSize } from '../encryption/listed-object.js';
import { MARKER, withoutEncryptionMarkers } from '../encryption/markers.js';
import { sealValues } from '../encryption/sealed-values.js';
import { knownMd5, storeObject } from '../encryption/store-object.js';
import { CHECKSUM_MARKER, openObject, readObject, type OpenedObject } from '../encryption/stored-object.js';
import { nativeMarkers, writeTarget } from '../encryption/write-target.js';
import { S3Error } from '../errors.js';
import type { Route } from '../routes.js';
import type { ReencryptStrategy } from './job-record.js';
import { objectState } from './object-state.js';

export type RewriteOutcome =
  /** `earlier`: this job rewrote it already (a page run again after a crash). */
  | { outcome: 'rewritten'; bytes: number; how: 'rewrap' | 'copy' | 'full' | 'earlier' }
  | { outcome: 'skipped'; bytes: number; reason: 'current' | 'sse-c' | 'gone' }
  | { outcome: 'failed'; bytes: number; reason: string };

const NO_HEADERS = new Headers();

/**
 * Rewrites `name` (a key of the gateway bucket `name.bucket`, stored under `route`) if its markers do not
 * match the backend's configured encryption. Never throws for a problem of the object itself: that is a
 * `failed` outcome with its reason; errors of the backend or KMS as a whole (unreachable) propagate, so
 * the page is retried.
 */
export async function reencryptObject(
  route: Route,
  name: ObjectName,
  strategy: ReencryptStrategy,
  jobId: string,
): Promise<RewriteOutcome> {
  let stored: ObjectInfo;
  try {
    stored = await route.backend.headObject(route.bucket, name.key);
  } catch (error) {
    if (error instanceof S3Error && error.code === 'NoSuchKey')
      return { outcome: 'skipped', bytes: 0, reason: 'gone' };
    throw error;
  }
  const internal = stored.metadata.internal;
  let state;
  let bytes: number;
  try {
    state = objectState(internal, route.keys.config);
    bytes = listedSize(stored);
  } catch (error) {
    return { outcome: 'failed', bytes: stored.size, reason: messageOf(error) };
  }
  if (state === 'sse-c') return { outcome: 'skipped', bytes, reason: 'sse-c' };
  if (state === 'current') {
    return internal[MARKER.job] === jobId
      ? { outcome: 'rewritten', bytes, how: 'earlier' }
      : { outcome: 'skipped', bytes, reason: 'current' };
  }
  let opened: OpenedObject;
  try {
    opened = await openObject(route, name, stored, undefined);
  } catch (error) {
    if (error instanceof S3Error) return { outcome: 'failed', bytes, reason: error.message };
    throw error;
  }
  try {
    const how = await rewrite(route, name, opened, strategy, jobId);
    return { outcome: 'rewritten', bytes: opened.view.size, how };
  } catch (error) {
    if (error instanceof S3Error && error.status < 500) {
      return { outcome: 'failed', bytes: opened.view.size, reason: error.message };
    }
    throw error;
  } finally {
    opened.dataKey?.fill(0);
  }
}

async function rewrite(
  route: Route,
  name: ObjectName,
  opened: OpenedObject,
  strategy: ReencryptStrategy,
  jobId: string,
): Promise<'rewrap' | 'copy' | 'full'> {
  const target = writeTarget(route.keys, NO_HEADERS, undefined, route.encryption);
  const { view, stored } = opened;
  const self = { bucket: route.bucket, key: name.key };
  // What survives any rewrite: stored headers, user metadata, markers that say nothing of the encryption.
  const kept = {
    headers: view.metadata.headers,
    user: view.metadata.user,
    internal: withoutEncryptionMarkers(stored.metadata.internal),
  };

  if (strategy === 'rewrap' && opened.dataKey !== undefined && target.kind === 'gateway') {
    const markers = await route.keys.wrap(opened.dataKey, name, target);
    const internal: Record<string, string> = { ...kept.internal, ...markers, [MARKER.job]: jobId };
    for (const marker of [MARKER.layout, MARKER.layoutTag]) {
      const value = stored.metadata.internal[marker];
      if (value !== undefined) internal[marker] = value;
    }
    // The backend's copy gets a new ETag of its own: the one clients saw is sealed with the data key.
    internal[MARKER.sealed] = sealValues(opened.dataKey, { ...opened.sealed, etag: view.etag });
    await route.backend.copyObject(self, route.bucket, name.key, { ...kept, internal });
    return 'rewrap';
  }

  if (opened.dataKey === undefined && target.kind !== 'gateway') {
    const internal: Record<string, string> = {
      ...kept.internal,
      [MARKER.job]: jobId,
      [MARKER.etag]: view.etag,
    };
    if (target.kind === 'native') Object.assign(internal, nativeMarkers(target));
    const native = target.kind === 'native' ? target.native : undefined;
    await route.backend.copyObject(self, route.bucket, name.key, { ...kept, internal }, { native });
    return 'copy';
  }

  await storeAgain(route, opened, route, name, { [MARKER.job]: jobId });
  return 'full';
}

/**
 * Stores an opened object's plaintext again, as `to`'s backend is configured now: a new data key for a
 * gateway-encrypted result. Stored headers, user metadata, checksums and the ETag clients see stay as
 * they were; `markers` are added (the job's own). Shared by re-encrypt (`from` = `to`) and migrate.
 */
export async function storeAgain(
  from: Route,
  opened: OpenedObject,
  to: Route,
  name: ObjectName,
  markers: Record<string, string>,
): Promise<void> {
  const target = writeTarget(to.keys, NO_HEADERS, undefined, to.encryption);
  const { view, stored } = opened;
  const kept = withoutEncryptionMarkers(stored.metadata.internal);
  const read = await readObject(from, opened);
  const metadata: ObjectMetadata = {
    headers: view.metadata.headers,
    user: view.metadata.user,
    internal: { ...kept, ...view.metadata.internal, ...fullObjectChecksum(view), ...markers },
  };
  // The ETag clients saw is kept where it is not the plaintext MD5 (a multipart or native object's, or
  // one a job kept before): sealed for a gateway-encrypted result, a marker for one stored in clear or
  // natively. The MD5, where known, is checked against the bytes as they pass.
  const md5 = knownMd5(opened);
  const keepEtag = md5 === undefined || view.etag !== `"${md5}"`;
  if (keepEtag && target.kind !== 'gateway') metadata.internal[MARKER.etag] = view.etag;
  await storeObject(to, name, {
    body: read.body,
    size: view.size,
    metadata,
    target,
    ...(md5 !== undefined && { md5 }),
    ...(keepEtag && target.kind === 'gateway' && { etag: view.etag }),
  });
}

/**
 * A multipart object's FULL_OBJECT checksum is its whole plaintext's, and so stays true of the single-part
 * object a full rewrite stores: kept, as a checksum marker. A COMPOSITE one is made of part checksums and
 * means nothing once the parts are gone: it is dropped.
 */
function fullObjectChecksum(view: ObjectInfo): Record<string, string> {
  const checksum = view.checksum;
  return checksum?.type === 'FULL_OBJECT' ? { [CHECKSUM_MARKER + checksum.algorithm]: checksum.value } : {};
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
