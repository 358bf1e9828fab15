/**
 * What aws-kms-envelope mode needs of AWS KMS, as an interface the core can hold without importing the
 * AWS SDK (functions/adapters/kms-key-service.ts implements it). Every call carries an encryption context;
 * KMS binds the ciphertext to it, so a blob decrypts only under the same context.
 *
 * Implementations throw the core's `S3Error`s for what KMS refuses:
 * - AccessDeniedException → 403 `AccessDenied`, message naming the KMS key and the operation;
 * - NotFoundException / DisabledException / KMSInvalidStateException → 400 `KMS.NotFoundException` /
 *   `KMS.DisabledException` / `KMS.KMSInvalidStateException` (S3's codes for SSE-KMS failures);
 * - InvalidCiphertextException / IncorrectKeyException → {@link KmsIntegrityError} (the core reports a
 *   tampered or moved object);
 * - anything else (throttling, network) passes through unchanged and becomes a 500.
 */
export interface KeyService {
  /** KMS GenerateDataKey (AES_256): a fresh 32-byte data key and its ciphertext blob. */
  generateDataKey(
    keyId: string,
    context: Record<string, string>,
  ): Promise<{ plaintext: Uint8Array; ciphertext: Uint8Array; keyId: string }>;
  /** KMS Decrypt of a blob made by generateDataKey/encrypt under the same context. `keyId` is KMS's key ARN. */
  decrypt(
    ciphertext: Uint8Array,
    context: Record<string, string>,
  ): Promise<{ plaintext: Uint8Array; keyId: string }>;
  /** KMS Encrypt of a data key we already hold (re-wrapping under another context or key on copy). */
  encrypt(
    keyId: string,
    plaintext: Uint8Array,
    context: Record<string, string>,
  ): Promise<{ ciphertext: Uint8Array; keyId: string }>;
}

/** KMS refused a ciphertext blob as not its own or not under this context: tampering or a moved object. */
export class KmsIntegrityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KmsIntegrityError';
  }
}
