/**
 * Whether an object is stored as its backend is configured now, from its markers alone: what posture
 * counts and what a re-encrypt job rewrites.
 */
import { requestableEncryption } from '../config/encryption-config.js';
import type { EncryptionConfig } from '../config/schema.js';
import { MARKER, storedEncryption } from '../encryption/markers.js';

/**
 * - `current`: as the backend writes now, in its mode or in a form a write may ask for (`on_request`), with
 *   the current key (for mode `none`: in clear);
 * - `plaintext`: in clear on a backend that encrypts;
 * - `legacy-key`: under the backend's legacy proxy key;
 * - `other-key`: gateway-encrypted under a key or mode the backend does not write with now;
 * - `native`: natively encrypted by another mode than the backend's;
 * - `sse-c`: under a customer's key (no job can rewrite it: the gateway holds no key).
 */
export type ObjectState = 'current' | 'plaintext' | 'legacy-key' | 'other-key' | 'native' | 'sse-c';

/** True when a stored KMS key id (an ARN) names the configured key (an ARN, a key id or an alias). */
export function sameKmsKey(stored: string, configured: string | undefined): boolean {
  if (configured === undefined) return false;
  return stored === configured || stored.endsWith(`:key/${configured}`) || stored.endsWith(`/${configured}`);
}

/**
 * @throws Error for an encryption marker this version does not know.
 */
export function objectState(internal: Record<string, string>, e: EncryptionConfig): ObjectState {
  const encryption = storedEncryption(internal);
  const keyId = internal[MARKER.keyId];
  const can = requestableEncryption(e);
  const writes = (mode: EncryptionConfig['mode']) =>
    e.mode === mode || can.aes256 === mode || can.awsKms === mode;
  if (encryption === 'sse-c') return 'sse-c';
  if (encryption === 'plain') return e.mode === 'none' ? 'current' : 'plaintext';
  if (encryption === 'sse-kms' || encryption === 'sse-s3') return writes(encryption) ? 'current' : 'native';
  if (keyId !== undefined && keyId === e.legacy?.id && encryption === 'aes256-gcm-proxy') return 'legacy-key';
  if (!writes(encryption) || keyId === undefined) return 'other-key';
  if (encryption === 'aes256-gcm-proxy') return keyId === e.current?.id ? 'current' : 'other-key';
  const keys = [e.kmsKeyId, ...can.kmsKeyIds];
  return keys.some((k) => sameKmsKey(keyId, k)) ? 'current' : 'other-key';
}
