/**
 * One object as the gateway stores it: its markers (wrapped keys and sealed values only by presence and
 * length, never their bytes), the ciphertext format version read from the segment header, the key id, and
 * its plaintext and stored sizes. Nothing here opens a key.
 */
import type { Runtime } from '../control/runtime.js';
import { listedSize } from '../encryption/listed-object.js';
import { MARKER, isGatewayEncryption, storedEncryption } from '../encryption/markers.js';
import { decodeLayout } from '../encryption/layout-marker.js';

/** A segment header: "SGE", a version byte, a u32 part number, a 16-byte salt (docs/FORMAT.md). */
const SEGMENT_HEADER_BYTES = 24;
const MAGIC = 'SGE';

export interface ObjectInspection {
  bucket: string;
  key: string;
  backend: string;
  backend_bucket: string;
  encryption: string;
  key_id: string | null;
  format: { version: number | null; first_part_number: number | null } | null;
  plaintext_size: number;
  stored_size: number;
  parts: number | null;
  backend_etag: string;
  last_modified: string;
  content_type: string | null;
  user_metadata_names: string[];
  /** Each marker with what may be shown of it: key ids and layouts as written, key material by length. */
  markers: Record<string, string>;
  native: { algorithm: string; kms_key_id: string | null } | null;
}

const SHOWN_AS_WRITTEN: readonly string[] = [MARKER.encryption, MARKER.keyId, MARKER.layout];

function describeMarker(name: string, value: string): string {
  if (SHOWN_AS_WRITTEN.includes(name)) return value;
  return `(${Buffer.from(value, 'base64').length} bytes)`;
}

async function readFormat(runtime: Runtime, bucket: string, key: string, size: number) {
  if (size < SEGMENT_HEADER_BYTES) return { version: null, first_part_number: null };
  const route = runtime.routes.resolve(bucket);
  const { body } = await route.backend.getObject(route.bucket, key, {
    start: 0,
    end: SEGMENT_HEADER_BYTES - 1,
  });
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.from(chunk));
  const header = Buffer.concat(chunks);
  if (header.length < 8 || header.subarray(0, 3).toString('latin1') !== MAGIC) {
    return { version: null, first_part_number: null };
  }
  return { version: header[3], first_part_number: header.readUInt32BE(4) };
}

export async function inspectObject(
  runtime: Runtime,
  bucket: string,
  key: string,
): Promise<ObjectInspection> {
  const route = runtime.routes.resolve(bucket);
  const stored = await route.backend.headObject(route.bucket, key);
  const internal = stored.metadata.internal;
  const encryption = storedEncryption(internal);
  const layout = internal[MARKER.layout];
  return {
    bucket,
    key,
    backend: route.backend.name,
    backend_bucket: route.bucket,
    encryption,
    key_id: internal[MARKER.keyId] ?? null,
    format: isGatewayEncryption(encryption) ? await readFormat(runtime, bucket, key, stored.size) : null,
    plaintext_size: listedSize(stored),
    stored_size: stored.size,
    parts: layout !== undefined ? decodeLayout(layout).lengths.length : (stored.partsCount ?? null),
    backend_etag: stored.etag,
    last_modified: stored.lastModified.toISOString(),
    content_type: stored.metadata.headers['content-type'] ?? null,
    user_metadata_names: Object.keys(stored.metadata.user).sort(),
    markers: Object.fromEntries(
      Object.entries(internal)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([name, value]) => [name, describeMarker(name, value)]),
    ),
    native: stored.native
      ? { algorithm: stored.native.algorithm, kms_key_id: stored.native.kmsKeyId ?? null }
      : null,
  };
}
