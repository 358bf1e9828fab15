/**
 * Values derived from an encrypted object's plaintext (its MD5, which is the ETag clients compare, and the
 * checksums the client sent) must not be stored in clear beside the ciphertext. They are sealed under a
 * key derived from the object's data key and stored as one marker:
 *
 *   S = HKDF(ikm = DK, salt = empty, info = "sealgate/v1/sealed", 32)
 *   marker = base64( 0x01 || nonce (12 random bytes) || AES-256-GCM(S, nonce, JSON, AAD = "sealgate/v1/sealed") || tag )
 *
 * The data key is already bound to the object (its wrap names bucket and key), so the sealed values open
 * only where the data key does, and a server-side copy that keeps the data key keeps them valid.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

export interface SealedValues {
  /** Hex MD5 of the plaintext (single-part objects). */
  md5?: string;
  /** Checksums the client sent, verified over the plaintext: algorithm → base64 value. */
  checksums?: Record<string, string>;
  /**
   * A multipart object's checksum type (its one entry in `checksums`, made at completion from the parts'
   * checksums); absent, the checksums are of the whole object as one request sent it.
   */
  checksumType?: 'COMPOSITE' | 'FULL_OBJECT';
  /** The ETag clients see, quoted, when it is not the MD5 (a multipart object a job rewrote). */
  etag?: string;
}

const INFO = 'sealgate/v1/sealed';
const VERSION = 0x01;

function sealingKey(dataKey: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', dataKey, Buffer.alloc(0), INFO, 32));
}

export function sealValues(dataKey: Uint8Array, values: SealedValues): string {
  const key = sealingKey(dataKey);
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, nonce).setAAD(Buffer.from(INFO));
  const body = Buffer.concat([cipher.update(JSON.stringify(values), 'utf8'), cipher.final()]);
  key.fill(0);
  return Buffer.concat([Buffer.from([VERSION]), nonce, body, cipher.getAuthTag()]).toString('base64');
}

/** Opens a sealed marker; throws when it was altered or belongs to another data key. */
export function openValues(dataKey: Uint8Array, marker: string): SealedValues {
  const bytes = Buffer.from(marker, 'base64');
  if (bytes.length < 1 + 12 + 16 || bytes[0] !== VERSION) throw new Error('malformed sealed values');
  const key = sealingKey(dataKey);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(1, 13)).setAAD(Buffer.from(INFO));
    decipher.setAuthTag(bytes.subarray(bytes.length - 16));
    const json = Buffer.concat([decipher.update(bytes.subarray(13, bytes.length - 16)), decipher.final()]);
    const parsed = JSON.parse(json.toString('utf8')) as unknown;
    if (parsed === null || typeof parsed !== 'object') throw new Error('malformed sealed values');
    return parsed;
  } finally {
    key.fill(0);
  }
}
