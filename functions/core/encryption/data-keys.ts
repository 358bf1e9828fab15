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

/** The KMS key (and what the writer asked for with it) of an envelope write. */
export interface KmsChoice {
  keyId: string;
  /** The writer's encryption context (`x-amz-server-side-encryption-context`), bound besides the gateway's. */
  context?: Record<string, string>;
  bucketKeyEnabled?: boolean;
}

/** Which gateway-side form a new data key is for: the mode, and its customer key or KMS key. */
export interface DataKeyTarget {
  mode: GatewayEncryption;
  customer?: CustomerKey;
  /** aws-kms-envelope: the key (and context). */
  kms?: KmsChoice;
}

/** The key a customer key wraps under carries no id: the wrap's tag is what tells a wrong key. */
const CUSTOMER_KEY_ID = 'customer';

/** The KMS encryption context of an object's data key: the writer's, and the object's name. */
function kmsContext(name: ObjectName, writer?: Record<string, string>): Record<string, string> {
  return { ...writer, 'sealgate:bucket': name.bucket, 'sealgate:key': name.key };
}

/** A context as S3 echoes and the `kms-context` marker keeps it: base64 of its JSON, keys sorted. */
export function contextHeaderOf(context: Record<string, string>): string {
  const sorted = Object.fromEntries(Object.entries(context).sort(([a], [b]) => (a < b ? -1 : 1)));
  return Buffer.from(JSON.stringify(sorted), 'utf8').toString('base64');
}

/** The markers that record what an envelope write asked for besides its key. */
function kmsChoiceMarkers(choice: KmsChoice): Record<string, string> {
  const markers: Record<string, string> = {};
  if (choice.context !== undefined) markers[MARKER.kmsContext] = contextHeaderOf(choice.context);
  if (choice.bucketKeyEnabled) markers[MARKER.bucketKey] = 'true';
  return markers;
}

/** The writer's context an envelope object's markers recorded (none for most objects). */
function recordedContext(internal: Record<string, string>): Record<string, string> | undefined {
  const marker = internal[MARKER.kmsContext];
  if (marker === undefined) return undefined;
  try {
    return JSON.parse(Buffer.from(marker, 'base64').toString('utf8')) as Record<string, string>;
  } catch {
    throw errors.objectIntegrity('its recorded KMS encryption context is not valid');
  }
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

  /** How a new write that asks for nothing is stored: by the gateway, by the backend natively, or as plaintext. */
  get writeMode(): EncryptionConfig['mode'] {
    return this.config.mode;
  }

  /** A fresh data key for a new object in the gateway-side form `target` names. */
  async create(name: ObjectName, target: DataKeyTarget): Promise<DataKey> {
    if (target.mode === 'aws-kms-envelope') {
      const choice = this.kmsChoice(target);
      const generated = await this.keyService().generateDataKey(
        choice.keyId,
        kmsContext(name, choice.context),
      );
      return {
        dataKey: Buffer.from(generated.plaintext),
        markers: {
          [MARKER.encryption]: target.mode,
          [MARKER.keyId]: generated.keyId,
          [MARKER.dataKey]: Buffer.from(generated.ciphertext).toString('base64'),
          ...kmsChoiceMarkers(choice),
        },
      };
    }
    const dataKey = randomBytes(DATA_KEY_LENGTH);
    return { dataKey, markers: await this.wrap(dataKey, name, target) };
  }

  /**
   * Wraps a data key the gateway holds for `name`, in the gateway-side form `target` names: under the
   * customer key, the backend's proxy key, or a KMS key.
   */
  async wrap(dataKey: Buffer, name: ObjectName, target: DataKeyTarget): Promise<Record<string, string>> {
    const mode = target.mode;
    if (mode === 'sse-c') {
      const customer = target.customer!;
      const wrapped = wrapDataKey(customer.key, dataKey, binding('sse-c', CUSTOMER_KEY_ID, name));
      return { [MARKER.encryption]: 'sse-c', [MARKER.dataKey]: Buffer.from(wrapped).toString('base64') };
    }
    if (mode === 'aes256-gcm-proxy') {
      const current = this.config.current;
      if (!current) throw new Error(`backend ${this.backend} has no proxy key to wrap with`);
      const wrapped = wrapDataKey(current.key, dataKey, binding(mode, current.id, name));
      return {
        [MARKER.encryption]: mode,
        [MARKER.keyId]: current.id,
        [MARKER.dataKey]: Buffer.from(wrapped).toString('base64'),
      };
    }
    const choice = this.kmsChoice(target);
    const out = await this.keyService().encrypt(choice.keyId, dataKey, kmsContext(name, choice.context));
    return {
      [MARKER.encryption]: mode,
      [MARKER.keyId]: out.keyId,
      [MARKER.dataKey]: Buffer.from(out.ciphertext).toString('base64'),
      ...kmsChoiceMarkers(choice),
    };
  }

  private kmsChoice(target: DataKeyTarget): KmsChoice {
    const choice =
      target.kms ?? (this.config.kmsKeyId === undefined ? undefined : { keyId: this.config.kmsKeyId });
    if (!choice) throw new Error(`backend ${this.backend} has no KMS key for envelope encryption`);
    return choice;
  }

  /**
   * Opens the data key of a gateway-encrypted object from its markers. A proxy object needs its key id to
   * be this backend's current or legacy one (a clear error otherwise); an SSE-C object needs the customer's
   * key (403 when it is the wrong one); an envelope object is opened by KMS (a Decrypt, unless the backend
   * turned on the key service's data-key cache: data-key-cache.ts).
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
      const out = await this.keyService().decrypt(wrapped, kmsContext(name, recordedContext(internal)));
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
