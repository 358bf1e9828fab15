/**
 * The internal markers (ObjectMetadata.internal) that say how an object's data is stored. Backends keep
 * them beside the object (an S3 backend as `x-amz-meta-sealgate-*`); clients can never set or see them.
 *
 * | marker       | value                                                                           |
 * | ------------ | ------------------------------------------------------------------------------- |
 * | `enc`        | `aes256-gcm-proxy`, `aws-kms-envelope`, `sse-c`, `sse-kms` or `sse-s3`; absent = plaintext |
 * | `key-id`     | the wrapping key's id (proxy), or the KMS key ARN (envelope)                     |
 * | `dk`         | the wrapped data key, base64 (61 bytes, or a KMS ciphertext blob)                |
 * | `sealed`     | plaintext-derived values (MD5 ETag, checksums) sealed under the data key, base64 |
 * | `layout`     | a multipart object's parts: `first[-last]:plaintextLength`, comma-separated runs |
 * | `layout-tag` | the layout's tag under the data key's layout key, base64                        |
 * | `etag`       | the ETag clients see, where the stored form would show another (objects a job rewrote; in clear only on objects stored in clear or natively) |
 * | `job`        | the id of the re-encrypt job that last rewrote the object (a re-run of its page counts it once) |
 * | `kms-context` | an envelope object's encryption context as the writer asked for it (base64 JSON; KMS binds the data key to it with the gateway's own) |
 * | `bucket-key` | `true` on an envelope object written with `x-amz-server-side-encryption-bucket-key-enabled: true` (echoed as S3 does) |
 */
export const MARKER = {
  encryption: 'enc',
  keyId: 'key-id',
  dataKey: 'dk',
  sealed: 'sealed',
  layout: 'layout',
  layoutTag: 'layout-tag',
  etag: 'etag',
  job: 'job',
  kmsContext: 'kms-context',
  bucketKey: 'bucket-key',
} as const;

/** What the gateway encrypts itself, in the ciphertext format of docs/FORMAT.md. */
export type GatewayEncryption = 'aes256-gcm-proxy' | 'aws-kms-envelope' | 'sse-c';
/** What the backend encrypts (the gateway never sees key material). */
export type NativeEncryptionMode = 'sse-kms' | 'sse-s3';
export type StoredEncryption = GatewayEncryption | NativeEncryptionMode;

const GATEWAY: readonly string[] = ['aes256-gcm-proxy', 'aws-kms-envelope', 'sse-c'];
const NATIVE: readonly string[] = ['sse-kms', 'sse-s3'];

/** How an object is stored, from its markers: 'plain' when it carries none. */
export function storedEncryption(internal: Record<string, string>): StoredEncryption | 'plain' {
  const value = internal[MARKER.encryption];
  if (value === undefined) return 'plain';
  if (GATEWAY.includes(value) || NATIVE.includes(value)) return value as StoredEncryption;
  // A marker this version does not know: never serve such an object as if it were plaintext.
  throw new Error(`object carries an unknown encryption marker "${value}"`);
}

export function isGatewayEncryption(mode: StoredEncryption | 'plain'): mode is GatewayEncryption {
  return GATEWAY.includes(mode);
}

/** The markers that describe the stored bytes (dropped when an object is rewritten in another form). */
export const ENCRYPTION_MARKERS: readonly string[] = Object.values(MARKER);

/** `internal` without the encryption markers (what survives a decrypt-and-rewrite). */
export function withoutEncryptionMarkers(internal: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(internal).filter(([name]) => !ENCRYPTION_MARKERS.includes(name)));
}
