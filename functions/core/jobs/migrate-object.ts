/**
 * One object of a migrate job: copied from the bucket's source backend to its target (decrypted with the
 * source's keys, stored as the target is configured), then verified by content, then, after the flip and
 * only when asked, deleted from the source.
 *
 * An SSE-C object is copied as it is stored (the gateway holds no key to decrypt it; its format does not
 * depend on where it is stored, and its data key is bound to the gateway bucket and key, which do not
 * change), and verified by its stored bytes.
 */
import { createHash } from 'node:crypto';

import type { Body, ObjectInfo } from '../backend.js';
import type { ObjectName } from '../encryption/data-keys.js';
import { listedSize } from '../encryption/listed-object.js';
import { MARKER, storedEncryption } from '../encryption/markers.js';
import { openObject, readObject } from '../encryption/stored-object.js';
import { S3Error } from '../errors.js';
import type { Route } from '../routes.js';
import { storeAgain } from './rewrite-object.js';

export type MigrateOutcome =
  | { outcome: 'rewritten'; bytes: number; how: 'copy' | 'stored' | 'earlier' }
  | { outcome: 'skipped'; bytes: number; reason: 'gone' }
  | { outcome: 'failed'; bytes: number; reason: string };

/**
 * Copies `name` from `source` to `target`; a copy this job made already is left as it is, except with
 * `again` (the sweep: the source may have changed after the first copy).
 */
export async function migrateObject(
  source: Route,
  target: Route,
  name: ObjectName,
  jobId: string,
  options: { again?: boolean } = {},
): Promise<MigrateOutcome> {
  const stored = await headOrUndefined(source, name.key);
  if (!stored) return { outcome: 'skipped', bytes: 0, reason: 'gone' };
  let bytes: number;
  let encryption;
  try {
    bytes = listedSize(stored);
    encryption = storedEncryption(stored.metadata.internal);
  } catch (error) {
    // Markers this version cannot read: the object's own problem, not the page's.
    return {
      outcome: 'failed',
      bytes: stored.size,
      reason: error instanceof Error ? error.message : String(error),
    };
  }
  try {
    const copied = await headOrUndefined(target, name.key);
    // A copy this job made already is as good as a new one, unless the source may have changed since.
    if (!options.again && copied?.metadata.internal[MARKER.job] === jobId) {
      return { outcome: 'rewritten', bytes, how: 'earlier' };
    }
    if (encryption === 'sse-c') {
      const { body } = await source.backend.getObject(source.bucket, name.key);
      await target.backend.putObject(target.bucket, name.key, body, stored.size, {
        headers: stored.metadata.headers,
        user: stored.metadata.user,
        internal: { ...stored.metadata.internal, [MARKER.job]: jobId },
      });
      return { outcome: 'rewritten', bytes, how: 'copy' };
    }
    const opened = await openObject(source, name, stored, undefined);
    try {
      await storeAgain(source, opened, target, name, { [MARKER.job]: jobId });
    } finally {
      opened.dataKey?.fill(0);
    }
    return { outcome: 'rewritten', bytes, how: 'stored' };
  } catch (error) {
    if (error instanceof S3Error && error.status < 500)
      return { outcome: 'failed', bytes, reason: error.message };
    throw error;
  }
}

/**
 * Compares what clients would read from the source and from the target: size, ETag, stored headers, user
 * metadata and a SHA-256 of the plaintext (of the stored bytes, for SSE-C objects), each computed by the
 * gateway reading both sides. Undefined when they match, else what differs.
 */
export async function verifyObject(
  source: Route,
  target: Route,
  name: ObjectName,
): Promise<string | undefined> {
  const from = await headOrUndefined(source, name.key);
  if (!from) return undefined; // gone from the source (cannot happen under the gate): nothing to compare
  const to = await headOrUndefined(target, name.key);
  if (!to) return 'missing on the target';
  if (storedEncryption(from.metadata.internal) === 'sse-c') {
    const [a, b] = await Promise.all([
      digest((await source.backend.getObject(source.bucket, name.key)).body),
      digest((await target.backend.getObject(target.bucket, name.key)).body),
    ]);
    return a === b && from.metadata.internal[MARKER.dataKey] === to.metadata.internal[MARKER.dataKey]
      ? undefined
      : 'the stored SSE-C object differs';
  }
  const [a, b] = await Promise.all([
    openObject(source, name, from, undefined),
    openObject(target, name, to, undefined),
  ]);
  try {
    if (a.view.size !== b.view.size) return `size ${b.view.size} on the target, ${a.view.size} on the source`;
    if (a.view.etag !== b.view.etag) return `ETag ${b.view.etag} on the target, ${a.view.etag} on the source`;
    if (canonical(a.view.metadata) !== canonical(b.view.metadata)) {
      return 'stored headers, user metadata or checksums differ';
    }
    const [da, db] = await Promise.all([
      digest((await readObject(source, a)).body),
      digest((await readObject(target, b)).body),
    ]);
    return da === db ? undefined : 'the plaintext differs (SHA-256)';
  } finally {
    a.dataKey?.fill(0);
    b.dataKey?.fill(0);
  }
}

async function headOrUndefined(route: Route, key: string): Promise<ObjectInfo | undefined> {
  try {
    return await route.backend.headObject(route.bucket, key);
  } catch (error) {
    if (error instanceof S3Error && error.code === 'NoSuchKey') return undefined;
    throw error;
  }
}

async function digest(body: Body): Promise<string> {
  const hash = createHash('sha256');
  for await (const piece of body) hash.update(piece);
  return hash.digest('hex');
}

/** JSON with every object's keys sorted: equal for equal values whatever order they were built in. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}
