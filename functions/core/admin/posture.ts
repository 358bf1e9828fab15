/**
 * The encryption posture of every backend and bucket: what new writes get (mode, key id, KMS key), whether
 * a legacy key is still configured, and, when asked to count, how many of a bucket's objects are still
 * under the legacy key (or in clear, or under another key): what a re-encrypt job would have to rewrite.
 */
import type { BackendConfig } from '../config/schema.js';
import type { Runtime } from '../control/runtime.js';
import { MARKER, storedEncryption } from '../encryption/markers.js';
import { objectState } from '../jobs/object-state.js';

export interface BackendPosture {
  name: string;
  type: BackendConfig['type'];
  default: boolean;
  mode: string;
  key_id: string | null;
  legacy_key_id: string | null;
  legacy_active: boolean;
  kms_key_id: string | null;
  bucket_key_enabled: boolean | null;
}

/** How a bucket's objects are stored, from their markers. */
export interface ObjectCounts {
  counted: number;
  /** False when the count stopped at its limit. */
  complete: boolean;
  plaintext: number;
  /** Under the backend's current key (proxy key id, envelope KMS key) or its native mode. */
  current: number;
  legacy_key: number;
  /** Under keys the config no longer names, by key id. */
  other_keys: Record<string, number>;
  sse_c: number;
  native: number;
}

export interface BucketPosture {
  name: string;
  backend: string;
  backend_bucket: string;
  route: 'default' | 'config' | 'settings';
  mode: string;
  key_id: string | null;
  legacy_key_id: string | null;
  objects: ObjectCounts | null;
  error?: string;
}

export function backendPosture(runtime: Runtime): BackendPosture[] {
  return runtime.config.backends.map((b) => {
    const e = b.encryption;
    return {
      name: b.name,
      type: b.type,
      default: b.name === runtime.config.defaultBackend,
      mode: e.mode,
      key_id:
        e.current?.id ??
        (e.mode === 'aws-kms-envelope' || e.mode === 'sse-kms' ? (e.kmsKeyId ?? null) : null),
      legacy_key_id: e.legacy?.id ?? null,
      legacy_active: e.legacy !== undefined,
      kms_key_id: e.kmsKeyId ?? null,
      bucket_key_enabled: e.mode === 'sse-kms' ? (e.bucketKeyEnabled ?? false) : null,
    };
  });
}

async function countObjects(runtime: Runtime, bucket: string, limit: number): Promise<ObjectCounts> {
  const route = runtime.routes.resolve(bucket);
  const backend = runtime.config.backends.find((b) => b.name === route.backend.name)!;
  const e = backend.encryption;
  const counts: ObjectCounts = {
    counted: 0,
    complete: true,
    plaintext: 0,
    current: 0,
    legacy_key: 0,
    other_keys: {},
    sse_c: 0,
    native: 0,
  };
  let after: string | undefined;
  for (;;) {
    const page = await route.backend.listObjects(route.bucket, {
      prefix: '',
      after,
      maxKeys: Math.min(1000, limit - counts.counted),
      withMetadata: true,
    });
    for (const object of page.objects) {
      counts.counted++;
      const internal = object.metadata?.internal ?? {};
      const state = objectState(internal, e);
      if (state === 'plaintext') counts.plaintext++;
      else if (state === 'sse-c') counts.sse_c++;
      else if (state === 'native') counts.native++;
      else if (state === 'current') counts.current++;
      else if (state === 'legacy-key') counts.legacy_key++;
      else {
        const name = internal[MARKER.keyId] ?? storedEncryption(internal);
        counts.other_keys[name] = (counts.other_keys[name] ?? 0) + 1;
      }
    }
    if (!page.isTruncated || page.last === undefined) break;
    if (counts.counted >= limit) {
      counts.complete = false;
      break;
    }
    after = page.last;
  }
  return counts;
}

/**
 * Every bucket the gateway serves with the posture of its backend; with `countLimit`, each bucket's
 * objects are listed (up to that many) and counted by how they are stored.
 */
export async function bucketPosture(runtime: Runtime, countLimit?: number): Promise<BucketPosture[]> {
  const fromSettings = new Set(runtime.bucketSettings.filter((s) => s.route).map((s) => s.bucket));
  const fromConfig = new Set(runtime.stored ? documentRoutes(runtime.stored.document) : []);
  const buckets = await runtime.routes.list();
  const result: BucketPosture[] = [];
  for (const { name } of buckets) {
    const route = runtime.routes.resolve(name);
    const e = runtime.config.backends.find((b) => b.name === route.backend.name)!.encryption;
    const posture: BucketPosture = {
      name,
      backend: route.backend.name,
      backend_bucket: route.bucket,
      route: fromSettings.has(name) ? 'settings' : fromConfig.has(name) ? 'config' : 'default',
      mode: e.mode,
      key_id: e.current?.id ?? e.kmsKeyId ?? null,
      legacy_key_id: e.legacy?.id ?? null,
      objects: null,
    };
    if (countLimit !== undefined) {
      try {
        posture.objects = await countObjects(runtime, name, countLimit);
      } catch (error) {
        posture.error = `could not count objects: ${error instanceof Error ? error.message : String(error)}`;
      }
    }
    result.push(posture);
  }
  return result;
}

function documentRoutes(document: Record<string, unknown>): string[] {
  const buckets = document.buckets;
  if (!Array.isArray(buckets)) return [];
  return buckets.flatMap((b: unknown) =>
    b !== null && typeof b === 'object' && typeof (b as { name?: unknown }).name === 'string'
      ? [(b as { name: string }).name]
      : [],
  );
}
