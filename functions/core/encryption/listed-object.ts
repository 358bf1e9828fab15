/**
 * What a listing shows for an object, from the markers the backend lists with it: plaintext sizes always,
 * and the plaintext MD5 ETag where it can be opened without a remote call.
 */
import type { ListedObject, ObjectInfo } from '../backend.js';
import { segmentPlaintextLength } from '../crypto/index.js';
import type { Route } from '../routes.js';
import { decodeLayout } from './layout-marker.js';
import { MARKER, isGatewayEncryption, storedEncryption } from './markers.js';
import { openValues } from './sealed-values.js';

/** The plaintext size and the ETag a listing shows for an object, without opening anything remote. */
export function listedSize(stored: Pick<ObjectInfo, 'size' | 'metadata'>): number {
  const encryption = storedEncryption(stored.metadata.internal);
  if (!isGatewayEncryption(encryption)) return stored.size;
  const marker = stored.metadata.internal[MARKER.layout];
  if (marker !== undefined) return decodeLayout(marker).lengths.reduce((a, b) => a + b, 0);
  return segmentPlaintextLength(stored.size);
}

/**
 * Whether a listing must read an object stored with these markers to show it as {@link listedView} does:
 * gateway-encrypted objects (plaintext sizes, sealed ETags) and objects with a kept ETag. Any other object
 * shows what the backend lists.
 */
export function listingReads(internal: Record<string, string>): boolean {
  if (internal[MARKER.etag] !== undefined) return true;
  try {
    return isGatewayEncryption(storedEncryption(internal));
  } catch {
    return true; // a marker this version does not know
  }
}

/**
 * The size and ETag a listing shows for an object. Sizes are always the plaintext's (from the stored
 * length or the layout marker: no key needed). The ETag of a single-part proxy object is its sealed MD5,
 * opened with the backend's own key; envelope and SSE-C objects would need a KMS call or the customer's key
 * per listed object, so their listing shows the backend's ETag, as S3 does for SSE-KMS and SSE-C objects.
 * A listing never fails for one object it cannot open: that object shows its stored values.
 */
export async function listedView(
  route: Route,
  bucket: string,
  listed: ListedObject,
): Promise<{ size: number; etag: string }> {
  const metadata = listed.metadata;
  if (metadata === undefined) return { size: listed.size, etag: listed.etag };
  // The plaintext size needs no key: it stays right when the ETag cannot be opened (a key id this backend
  // no longer holds), so size-comparing clients (aws s3 sync) are not misled.
  let size = listed.size;
  try {
    const encryption = storedEncryption(metadata.internal);
    if (!isGatewayEncryption(encryption)) {
      return { size: listed.size, etag: metadata.internal[MARKER.etag] ?? listed.etag };
    }
    size = listedSize({ size: listed.size, metadata });
    const sealed = metadata.internal[MARKER.sealed];
    if (encryption !== 'aes256-gcm-proxy' || sealed === undefined) return { size, etag: listed.etag };
    const dataKey = await route.keys.open(encryption, metadata.internal, { bucket, key: listed.key });
    try {
      const values = openValues(dataKey, sealed);
      const multipart = metadata.internal[MARKER.layout] !== undefined;
      const md5 = multipart ? undefined : values.md5;
      return { size, etag: values.etag ?? (md5 === undefined ? listed.etag : `"${md5}"`) };
    } finally {
      dataKey.fill(0);
    }
  } catch {
    return { size, etag: listed.etag };
  }
}
