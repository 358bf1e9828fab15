/**
 * The {@link KeyService} of aws-kms-envelope mode on AWS KMS (or a KMS-compatible endpoint), through one SDK
 * v3 client.
 *
 * - GenerateDataKey asks for an AES_256 key; Encrypt wraps a key the gateway already holds. Both name the key
 *   (id, ARN or alias) and pass the object's encryption context.
 * - Decrypt passes the context but no KeyId: the ciphertext blob names its key, so an object written under an
 *   earlier or another backend's key still decrypts wherever KMS lets the caller use that key.
 * - `keyId` in every result is what KMS reports: the key's ARN, even when the call named an alias.
 * - KMS refusals become the core's errors at this boundary ({@link translateKmsError}); anything else
 *   (throttling, network) passes through unchanged.
 */
import { DecryptCommand, EncryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';

import { KmsIntegrityError, type KeyService } from '../core/encryption/kms.js';
import { errors, S3Error } from '../core/errors.js';
import { recordKmsCall } from '../core/metrics.js';

export interface KmsKeyServiceOptions {
  /** A KMS-compatible endpoint (local setups, tests); AWS's regional endpoint when absent. */
  endpoint?: string;
  region: string;
  /** The SDK's default credential chain when absent. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

type KmsOperation = 'GenerateDataKey' | 'Decrypt' | 'Encrypt';

const DATA_KEY_BYTES = 32;

/** What a message says of the key when the request named none (Decrypt: the blob names it). */
const KEY_OF_BLOB = "the KMS key named by the object's wrapped data key";

/**
 * The core's error for what KMS refused, as the {@link KeyService} contract lists; anything else unchanged.
 * Messages are composed here from the operation and the key the request named, not copied from KMS.
 */
export function translateKmsError(error: unknown, operation: KmsOperation, keyId?: string): unknown {
  if (!(error instanceof Error)) return error;
  const key = keyId === undefined ? KEY_OF_BLOB : `KMS key "${keyId}"`;
  switch (error.name) {
    case 'AccessDeniedException':
      return errors.accessDenied(`Access denied by KMS: ${operation} with ${key}`);
    // S3 answers SSE-KMS requests that meet these with the same codes, prefixed `KMS.`.
    case 'NotFoundException':
      return new S3Error(
        'KMS.NotFoundException',
        400,
        `${capitalized(key)} does not exist (KMS ${operation})`,
      );
    case 'DisabledException':
      return new S3Error('KMS.DisabledException', 400, `${capitalized(key)} is disabled (KMS ${operation})`);
    case 'KMSInvalidStateException':
      return new S3Error(
        'KMS.KMSInvalidStateException',
        400,
        `${capitalized(key)} is not in a state that allows ${operation} (pending deletion or import, say)`,
      );
    case 'InvalidCiphertextException':
    case 'IncorrectKeyException':
      return new KmsIntegrityError(
        `KMS ${operation} refused the ciphertext blob (${error.name}): it was changed, or it belongs to ` +
          'another object (its encryption context differs)',
      );
    default:
      return error;
  }
}

function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** A field KMS's response must have; its absence is a broken endpoint, not a client's problem. */
function required<T>(value: T | undefined, field: string, operation: KmsOperation): T {
  if (value === undefined) throw new Error(`KMS ${operation} returned no ${field}`);
  return value;
}

/** The KeyService contract on one KMS client. */
export class KmsKeyService implements KeyService {
  private client?: KMSClient;

  /** Makes no client yet: every backend has a key service, and most never call KMS. */
  constructor(private readonly options: KmsKeyServiceOptions) {}

  /** The KMS client, made on first use, so backends that never meet an envelope object cost no init time. */
  private kms(): KMSClient {
    this.client ??= new KMSClient({
      region: this.options.region,
      endpoint: this.options.endpoint,
      credentials: this.options.credentials,
      // No SDK logger, as for the S3 client: failures reach the gateway's log through the operation that met them.
    });
    return this.client;
  }

  /** Closes the client's connections (for tests and shutdown). */
  close(): void {
    this.client?.destroy();
  }

  async generateDataKey(
    keyId: string,
    context: Record<string, string>,
  ): Promise<{ plaintext: Uint8Array; ciphertext: Uint8Array; keyId: string }> {
    const out = await this.call('GenerateDataKey', keyId, () =>
      this.kms().send(
        new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256', EncryptionContext: context }),
      ),
    );
    const plaintext = required(out.Plaintext, 'Plaintext', 'GenerateDataKey');
    if (plaintext.length !== DATA_KEY_BYTES) {
      plaintext.fill(0);
      throw new Error(
        `KMS GenerateDataKey returned a ${plaintext.length}-byte key, not ${DATA_KEY_BYTES} bytes`,
      );
    }
    return {
      plaintext,
      ciphertext: required(out.CiphertextBlob, 'CiphertextBlob', 'GenerateDataKey'),
      keyId: required(out.KeyId, 'KeyId', 'GenerateDataKey'),
    };
  }

  async decrypt(
    ciphertext: Uint8Array,
    context: Record<string, string>,
  ): Promise<{ plaintext: Uint8Array; keyId: string }> {
    const out = await this.call('Decrypt', undefined, () =>
      this.kms().send(new DecryptCommand({ CiphertextBlob: ciphertext, EncryptionContext: context })),
    );
    return {
      plaintext: required(out.Plaintext, 'Plaintext', 'Decrypt'),
      keyId: required(out.KeyId, 'KeyId', 'Decrypt'),
    };
  }

  async encrypt(
    keyId: string,
    plaintext: Uint8Array,
    context: Record<string, string>,
  ): Promise<{ ciphertext: Uint8Array; keyId: string }> {
    const out = await this.call('Encrypt', keyId, () =>
      this.kms().send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext, EncryptionContext: context })),
    );
    return {
      ciphertext: required(out.CiphertextBlob, 'CiphertextBlob', 'Encrypt'),
      keyId: required(out.KeyId, 'KeyId', 'Encrypt'),
    };
  }

  private async call<T>(
    operation: KmsOperation,
    keyId: string | undefined,
    run: () => Promise<T>,
  ): Promise<T> {
    try {
      const out = await run();
      recordKmsCall(operation, false);
      return out;
    } catch (error) {
      recordKmsCall(operation, true);
      throw translateKmsError(error, operation, keyId);
    }
  }
}
