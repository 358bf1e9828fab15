import { createHmac } from 'node:crypto';

/** Below this, fingerprints of short secrets could be found by trying candidates against a guessed key. */
const MIN_KEY_BYTES = 16;

/**
 * `'fp:'` + the first 16 hex chars of HMAC-SHA-256(key, value): lets two configs be compared without
 * showing the secret. Keyed, not a plain hash, so a fingerprint cannot be checked against guesses by
 * anyone without the key.
 */
export function fingerprint(key: Uint8Array, value: string): string {
  if (key.byteLength < MIN_KEY_BYTES) {
    throw new RangeError(`a fingerprint key must be at least ${MIN_KEY_BYTES} bytes`);
  }
  return `fp:${createHmac('sha256', key).update(value, 'utf8').digest('hex').slice(0, 16)}`;
}
