import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { assertKeyLength, DATA_KEY_LENGTH } from './chunk-cipher.js';
import { FormatError } from './format-error.js';
import { FORMAT_VERSION, TAG_LENGTH } from './segment-layout.js';

const WRAP_LABEL = Buffer.from('sealgate/v1/wrap', 'ascii');
const WRAP_NONCE_LENGTH = 12;
/** version (1) || nonce (12) || encrypted data key (32) || tag (16). */
export const WRAPPED_KEY_LENGTH = 1 + WRAP_NONCE_LENGTH + DATA_KEY_LENGTH + TAG_LENGTH;

/**
 * What a wrapped data key is bound to. Unwrapping under any other value fails, so a body and its metadata
 * copied to another bucket or key do not decrypt there (the body itself names neither: a copy is a byte
 * copy plus a re-wrap), and a key stamped for one mode or key id is not accepted as another.
 */
export interface KeyBinding {
  /** The encryption mode that wrapped the key, e.g. `aes256-gcm-proxy`. */
  mode: string;
  /** The wrapping key's id (for SSE-C, an id derived from the customer key, such as its MD5). */
  keyId: string;
  bucket: string;
  key: string;
}

/** AAD = "sealgate/v1/wrap" || for mode, keyId, bucket, key: uint32 BE UTF-8 byte length || UTF-8 bytes. */
function bindingAad(binding: KeyBinding): Buffer {
  const fields = [binding.mode, binding.keyId, binding.bucket, binding.key].map((field) => {
    const bytes = Buffer.from(field, 'utf8');
    const prefixed = Buffer.alloc(4 + bytes.length);
    prefixed.writeUInt32BE(bytes.length);
    bytes.copy(prefixed, 4);
    return prefixed;
  });
  return Buffer.concat([WRAP_LABEL, ...fields]);
}

/**
 * Wraps a 32-byte data key under a 32-byte key-encryption key: version || 12-byte random nonce ||
 * AES-256-GCM(kek, nonce, dk, AAD = the binding) || tag, 61 bytes. The result goes into the object's
 * metadata, so rotating the wrapping key rewrites metadata only.
 *
 * A random 96-bit nonce keeps the chance of a repeat below 2^-32 for the first 2^32 wraps under one KEK
 * (NIST SP 800-38D's limit for random nonces); rotating the KEK resets the count.
 *
 * @param options.nonce a fixed nonce, for known-answer tests only: a repeated nonce under one KEK breaks GCM.
 * @throws RangeError when a key or the nonce has the wrong size.
 */
export function wrapDataKey(
  kek: Uint8Array,
  dataKey: Uint8Array,
  binding: KeyBinding,
  options: { nonce?: Uint8Array } = {},
): Uint8Array {
  assertKeyLength(kek, 'a key-encryption key');
  assertKeyLength(dataKey, 'a data key');
  const nonce = options.nonce ?? randomBytes(WRAP_NONCE_LENGTH);
  if (nonce.byteLength !== WRAP_NONCE_LENGTH) {
    throw new RangeError(`a wrap nonce must be ${WRAP_NONCE_LENGTH} bytes`);
  }
  const cipher = createCipheriv('aes-256-gcm', kek, nonce, { authTagLength: TAG_LENGTH });
  cipher.setAAD(bindingAad(binding));
  const wrapped = Buffer.alloc(WRAPPED_KEY_LENGTH);
  wrapped[0] = FORMAT_VERSION;
  wrapped.set(nonce, 1);
  const offset = 1 + WRAP_NONCE_LENGTH;
  cipher.update(dataKey).copy(wrapped, offset);
  cipher.final();
  cipher.getAuthTag().copy(wrapped, offset + DATA_KEY_LENGTH);
  return wrapped;
}

/**
 * Opens a wrapped data key. The caller owns the returned key and wipes it (`fill(0)`) when done.
 *
 * @throws FormatError `bad-wrapped-key` for a value that is not 61 bytes, `unsupported-version` for an unknown
 *   version, `unwrap-failed` when the KEK or any field of the binding differs from the ones it was wrapped with.
 * @throws RangeError when the KEK is not 32 bytes.
 */
export function unwrapDataKey(kek: Uint8Array, wrapped: Uint8Array, binding: KeyBinding): Uint8Array {
  assertKeyLength(kek, 'a key-encryption key');
  if (wrapped.byteLength !== WRAPPED_KEY_LENGTH) {
    throw new FormatError(
      'bad-wrapped-key',
      `a wrapped data key is ${WRAPPED_KEY_LENGTH} bytes, got ${wrapped.byteLength}`,
    );
  }
  if (wrapped[0] !== FORMAT_VERSION) {
    throw new FormatError('unsupported-version', `wrapped key version ${wrapped[0]} is not supported`);
  }
  const offset = 1 + WRAP_NONCE_LENGTH;
  const decipher = createDecipheriv('aes-256-gcm', kek, wrapped.subarray(1, offset), {
    authTagLength: TAG_LENGTH,
  });
  decipher.setAAD(bindingAad(binding));
  decipher.setAuthTag(wrapped.subarray(offset + DATA_KEY_LENGTH));
  const dataKey = decipher.update(wrapped.subarray(offset, offset + DATA_KEY_LENGTH));
  try {
    decipher.final();
  } catch {
    dataKey.fill(0);
    throw new FormatError(
      'unwrap-failed',
      'the data key did not unwrap: another wrapping key, mode, key id, bucket or key',
    );
  }
  return dataKey;
}
