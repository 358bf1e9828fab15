/**
 * Data keys for one backend: making a fresh one for a new object (in the backend's mode, or under an SSE-C
 * customer key), wrapping an existing one for another object name (a copy keeps the body and re-wraps),
 * and opening an object's data key from its markers, which decide how, whatever the backend's mode is now.
 */
import { randomBytes } from 'node:crypto';
import type { EncryptionConfig, ProxyKey } from '../config/schema.js';
import {
  DATA_KEY_LENGTH,
  FormatError,
  unwrapDataKey,
  wrapDataKey,
  type KeyBinding,
} from '../crypto/index.js';
import { S3Error, errors } from '../errors.js';
import type { CustomerKey } from './customer-key.js';
import { KmsIntegrityError, type KeyService } from './kms.js';
import { MARKER, type GatewayEncryption } from './markers.js';

/** An object's name as clients see it: gateway bucket and key. Wrapped keys are bound to it. */
export interface ObjectName {
  bucket: string;
  key: string;
}

/** A data key and the markers that store it wrapped. */
export interface DataKey {
  dataKey: Buffer;
  markers: Record<string, string>;
}

/** The key a customer key wraps under carries no id: the wrap's tag is what tells a wrong key. */
const CUSTOMER_KEY_ID = 'customer';

function kmsContext(name: ObjectName): Record<string, string> {
  return { 'sealgate:bucket': name.bucket, 'sealgate:key': name.key };
}

function binding(mode: GatewayEncryption, keyId: string, name: ObjectName): KeyBinding {
  return { mode, keyId, bucket: name.bucket, key: name.key };
}

export class BackendKeys {
  constructor(
    /** The backend's name, for error messages. */
    readonly backend: string,
    readonly config: EncryptionConfig,
    private readonly kms?: KeyService,
  ) {}

  /** How a new write without SSE-C is stored: by the gateway, by the backend natively, or as plaintext. */
  get writeMode(): EncryptionConfig['mode'] {
    return this.config.mode;
  }

  /** A fresh data key for a new object: under the customer's key when given, else the backend's mode. */
  async create(name: ObjectName, customer?: CustomerKey): Promise<DataKey> {
    const mode = customer ? 'sse-c' : this.config.mode;
    if (mode === 'aws-kms-envelope') {
      const generated = await this.keyService().generateDataKey(this.config.kmsKeyId!, kmsContext(name));
      return {
        dataKey: Buffer.from(generated.plaintext),
        markers: {
          [MARKER.encryption]: mode,
          [MARKER.keyId]: generated.keyId,
          [MARKER.dataKey]: Buffer.from(generated.ciphertext).toString('base64'),
        },
      };
    }
    const dataKey = randomBytes(DATA_KEY_LENGTH);
    return { dataKey, markers: await this.wrap(dataKey, name, customer) };
  }

  /**
   * Wraps a data key the gateway holds for `name`: under the customer key when given, else under the
   * backend's mode (proxy key or KMS). Only for the gateway-side modes.
   */
  async wrap(dataKey: Buffer, name: ObjectName, customer?: CustomerKey): Promise<Record<string, string>> {
    if (customer) {
      const wrapped = wrapDataKey(customer.key, dataKey, binding('sse-c', CUSTOMER_KEY_ID, name));
      return { [MARKER.encryption]: 'sse-c', [MARKER.dataKey]: Buffer.from(wrapped).toString('base64') };
    }
    const mode = this.config.mode;
    if (mode === 'aes256-gcm-proxy') {
      const current = this.config.current!;
      const wrapped = wrapDataKey(current.key, dataKey, binding(mode, current.id, name));
      return {
        [MARKER.encryption]: mode,
        [MARKER.keyId]: current.id,
        [MARKER.dataKey]: Buffer.from(wrapped).toString('base64'),
      };
    }
    if (mode === 'aws-kms-envelope') {
      const out = await this.keyService().encrypt(this.config.kmsKeyId!, dataKey, kmsContext(name));
      return {
        [MARKER.encryption]: mode,
        [MARKER.keyId]: out.keyId,
        [MARKER.dataKey]: Buffer.from(out.ciphertext).toString('base64'),
      };
    }
    throw new Error(`mode ${mode} does not wrap data keys`);
  }

  /**
   * Opens the data key of a gateway-encrypted object from its markers. A proxy object needs its key id to
   * be this backend's current or legacy one (a clear error otherwise); an SSE-C object needs the customer's
   * key (403 when it is the wrong one); an envelope object is opened by KMS (every read is a Decrypt).
   */
  async open(
    mode: GatewayEncryption,
    internal: Record<string, string>,
    name: ObjectName,
    customer?: CustomerKey,
  ): Promise<Buffer> {
    const wrapped = Buffer.from(internal[MARKER.dataKey] ?? '', 'base64');
    if (mode === 'sse-c') {
      if (!customer) throw errors.ssecRequired();
      return unwrapOr(customer.key, wrapped, binding(mode, CUSTOMER_KEY_ID, name), () =>
        errors.ssecWrongKey(),
      );
    }
    if (customer) throw errors.ssecNotApplicable();
    if (mode === 'aes256-gcm-proxy') {
      const keyId = internal[MARKER.keyId] ?? '';
      const key = this.proxyKey(keyId);
      return unwrapOr(key.key, wrapped, binding(mode, keyId, name), () =>
        errors.objectIntegrity(`its data key does not open under key id "${keyId}" for this bucket and key`),
      );
    }
    try {
      const out = await this.keyService().decrypt(wrapped, kmsContext(name));
      return Buffer.from(out.plaintext);
    } catch (error) {
      if (error instanceof KmsIntegrityError) {
        throw errors.objectIntegrity(`KMS refused its data key for this bucket and key: ${error.message}`);
      }
      throw error;
    }
  }

  private proxyKey(keyId: string): ProxyKey {
    const { current, legacy } = this.config;
    if (current?.id === keyId) return current;
    if (legacy?.id === keyId) return legacy;
    const held = [
      ...(current ? [`key id "${current.id}"`] : []),
      ...(legacy ? [`legacy key id "${legacy.id}"`] : []),
    ];
    throw errors.keyIdMismatch(keyId, this.backend, held);
  }

  private keyService(): KeyService {
    if (!this.kms) {
      throw new S3Error(
        'KMS.NotConfigured',
        400,
        `Backend "${this.backend}" has no KMS access configured, which objects under aws-kms-envelope need.`,
      );
    }
    return this.kms;
  }
}

function unwrapOr(kek: Buffer, wrapped: Buffer, bound: KeyBinding, failure: () => S3Error): Buffer {
  try {
    return Buffer.from(unwrapDataKey(kek, wrapped, bound));
  } catch (error) {
    if (error instanceof FormatError) throw failure();
    throw error;
  }
}
