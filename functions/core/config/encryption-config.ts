/**
 * A backend's `encryption:` block (docs/CONFIG-ENCRYPTION.md): which mode, which keys, and the rules that
 * hold across backends (one key id names one key everywhere).
 */
import type { BackendConfig } from './schema.js';
import { ConfigError } from './config-error.js';
import { Fields, HTTP_URL } from './fields.js';

/** Who encrypts a backend's objects (docs/CONFIG-ENCRYPTION.md). */
export type EncryptionMode = 'none' | 'aes256-gcm-proxy' | 'aws-kms-envelope' | 'sse-kms' | 'sse-s3';
const ENCRYPTION_MODES: EncryptionMode[] = [
  'none',
  'aes256-gcm-proxy',
  'aws-kms-envelope',
  'sse-kms',
  'sse-s3',
];

/** A key the gateway holds itself (aes256-gcm-proxy's key, or the legacy decrypt-only key). */
export interface ProxyKey {
  id: string;
  /** 32 bytes. */
  key: Buffer;
}

/** Where the gateway reaches KMS (aws-kms-envelope). Both default to AWS's regional endpoint. */
export interface KmsEndpointConfig {
  endpoint?: string;
  region: string;
}

export interface EncryptionConfig {
  mode: EncryptionMode;
  /** aes256-gcm-proxy: the key new objects are wrapped under (`key` + `key_id`). */
  current?: ProxyKey;
  /** Any mode: one decrypt-only key generation (`legacy_key` + `legacy_key_id`). */
  legacy?: ProxyKey;
  /** aws-kms-envelope (required) and sse-kms (optional: the AWS managed key `aws/s3` when absent). */
  kmsKeyId?: string;
  /** sse-kms only. */
  bucketKeyEnabled?: boolean;
  /** aws-kms-envelope: `kms_endpoint` / `kms_region` (region defaults to an S3 backend's region). */
  kms?: KmsEndpointConfig;
}

const ENCRYPTION_FIELDS = [
  'mode',
  'key',
  'key_id',
  'legacy_key',
  'legacy_key_id',
  'kms_key_id',
  'bucket_key_enabled',
  'kms_endpoint',
  'kms_region',
];

/** The fields each mode takes besides `mode` and the legacy pair, which every mode takes. */
const MODE_FIELDS: Record<EncryptionMode, string[]> = {
  none: [],
  'aes256-gcm-proxy': ['key', 'key_id'],
  'aws-kms-envelope': ['kms_key_id'],
  'sse-kms': ['kms_key_id', 'bucket_key_enabled'],
  'sse-s3': [],
};

/** Modes where the backend (AWS S3) encrypts, asked to by headers the gateway sends. */
const NATIVE_MODES: EncryptionMode[] = ['sse-kms', 'sse-s3'];

// Key ids are stored in clear on every object the key wraps (docs/FORMAT.md), so they are short and plain.
const KEY_ID = /^[A-Za-z0-9._:/-]{1,64}$/;
const KEY_HEX_LENGTH = 64;
const GENERATE_KEY_HINT = 'generate one with `openssl rand -hex 32`';

/** What the encryption block needs to know of the backend it belongs to. */
export interface BackendFacts {
  type: BackendConfig['type'];
  /** An S3 backend's region: the default of `kms_region`. */
  region?: string;
}

function present(f: Fields, name: string): boolean {
  const value = f.raw(name);
  return value !== undefined && value !== null;
}

/**
 * A 32-byte key written as 64 hex characters. Messages say what is wrong with the value and never
 * include it: it is a secret, and errors reach logs.
 */
function keyBytes(f: Fields, name: string): Buffer {
  const value = f.string(name);
  if (value.length !== KEY_HEX_LENGTH) {
    throw new ConfigError(
      f.at(name),
      `must be ${KEY_HEX_LENGTH} hex characters (32 bytes), got ${value.length} characters; ${GENERATE_KEY_HINT}`,
    );
  }
  if (!/^[0-9A-Fa-f]+$/.test(value)) {
    throw new ConfigError(
      f.at(name),
      `must be hex: ${KEY_HEX_LENGTH} characters of 0-9 and a-f (32 bytes); ${GENERATE_KEY_HINT}`,
    );
  }
  return Buffer.from(value, 'hex');
}

function keyId(f: Fields, name: string): string {
  const value = f.string(name);
  if (!KEY_ID.test(value)) {
    throw new ConfigError(
      f.at(name),
      'must be 1-64 characters of A-Z, a-z, 0-9, ".", "_", ":", "/" or "-" (it is stored with every object it encrypts)',
    );
  }
  return value;
}

/** The legacy (decrypt-only) key: both fields or neither. */
function legacyKey(f: Fields): ProxyKey | undefined {
  const hasKey = present(f, 'legacy_key');
  const hasId = present(f, 'legacy_key_id');
  if (!hasKey && !hasId) return undefined;
  if (!hasId) {
    throw new ConfigError(
      f.at('legacy_key_id'),
      'is required when legacy_key is given: the id the objects written under that key carry',
    );
  }
  if (!hasKey) {
    throw new ConfigError(f.at('legacy_key'), 'is required when legacy_key_id is given: the key of that id');
  }
  const key = keyBytes(f, 'legacy_key');
  return { id: keyId(f, 'legacy_key_id'), key };
}

/** A field given with a mode that does not use it: say which modes do. */
function misplacedField(f: Fields, name: string, mode: EncryptionMode): ConfigError {
  const modes = ENCRYPTION_MODES.filter((m) => MODE_FIELDS[m].includes(name));
  let problem = `is only for mode${modes.length > 1 ? 's' : ''} ${modes.join(' and ')}, not "${mode}"`;
  if (name === 'key' || name === 'key_id') {
    problem += '; for a decrypt-only key of an earlier generation, use legacy_key and legacy_key_id';
  }
  return new ConfigError(f.at(name), problem);
}

export function parseEncryption(value: unknown, path: string, backend: BackendFacts): EncryptionConfig {
  if (value === undefined || value === null) return { mode: 'none' };
  const f = Fields.of(value, path);
  const mode = f.string('mode') as EncryptionMode;
  if (!ENCRYPTION_MODES.includes(mode)) {
    throw new ConfigError(
      f.at('mode'),
      `unknown mode "${mode}" (expected one of: ${ENCRYPTION_MODES.join(', ')})`,
    );
  }
  f.only(ENCRYPTION_FIELDS);
  if (NATIVE_MODES.includes(mode) && backend.type !== 's3') {
    throw new ConfigError(
      f.at('mode'),
      `"${mode}" is encryption done by AWS S3 itself: native modes need an S3 backend, not ${backend.type} ` +
        '(use aes256-gcm-proxy or aws-kms-envelope to have the gateway encrypt)',
    );
  }
  const allowed = ['mode', 'legacy_key', 'legacy_key_id', 'kms_endpoint', 'kms_region', ...MODE_FIELDS[mode]];
  for (const name of ENCRYPTION_FIELDS) {
    if (present(f, name) && !allowed.includes(name)) throw misplacedField(f, name, mode);
  }

  const config: EncryptionConfig = { mode };
  if (mode === 'aes256-gcm-proxy') {
    const key = keyBytes(f, 'key');
    config.current = { id: keyId(f, 'key_id'), key };
  }
  const legacy = legacyKey(f);
  if (legacy !== undefined) {
    if (legacy.id === config.current?.id) {
      throw new ConfigError(
        f.at('legacy_key_id'),
        `must differ from key_id "${legacy.id}": objects name their key by id, so each key needs its own`,
      );
    }
    config.legacy = legacy;
  }
  if (mode === 'aws-kms-envelope' || mode === 'sse-kms') {
    // sse-kms without a key uses the AWS managed key aws/s3; the envelope needs one to call GenerateDataKey with.
    const kmsKeyId = mode === 'sse-kms' ? f.string('kms_key_id', true) : f.string('kms_key_id');
    if (kmsKeyId !== undefined && /\s/.test(kmsKeyId)) {
      throw new ConfigError(f.at('kms_key_id'), 'must be a KMS key id, key ARN or alias, without spaces');
    }
    if (kmsKeyId !== undefined) config.kmsKeyId = kmsKeyId;
  }
  if (mode === 'sse-kms' && present(f, 'bucket_key_enabled')) {
    config.bucketKeyEnabled = f.boolean('bucket_key_enabled', false);
  }
  {
    // Every mode: reads dispatch on each object's markers, so a backend that has left aws-kms-envelope
    // still opens its envelope history through KMS.
    const endpoint = f.string('kms_endpoint', true);
    if (endpoint !== undefined && !HTTP_URL.test(endpoint)) {
      throw new ConfigError(f.at('kms_endpoint'), 'must be an http:// or https:// URL');
    }
    const region = f.string('kms_region', true);
    if (region !== undefined && !/^[a-z0-9-]+$/.test(region)) {
      throw new ConfigError(f.at('kms_region'), 'must be an AWS region name, like eu-west-1');
    }
    if (mode === 'aws-kms-envelope' || endpoint !== undefined || region !== undefined) {
      config.kms = { region: region ?? backend.region ?? 'us-east-1' };
      if (endpoint !== undefined) config.kms.endpoint = endpoint;
    }
  }
  return config;
}

/**
 * A key id must name one key everywhere: objects record only the id, so one id with two keys would make
 * a backend try the wrong key on another's objects (after a migration, say). The same key on two
 * backends under one id is fine.
 */
export function checkKeyIds(backends: BackendConfig[]): void {
  const seen = new Map<string, { key: Buffer; path: string }>();
  backends.forEach((backend, i) => {
    const slots: [ProxyKey | undefined, string][] = [
      [backend.encryption.current, 'key_id'],
      [backend.encryption.legacy, 'legacy_key_id'],
    ];
    for (const [slot, field] of slots) {
      if (slot === undefined) continue;
      const path = `backends[${i}].encryption.${field}`;
      const earlier = seen.get(slot.id);
      if (earlier === undefined) seen.set(slot.id, { key: slot.key, path });
      else if (!earlier.key.equals(slot.key)) {
        throw new ConfigError(
          path,
          `key id "${slot.id}" is already used at ${earlier.path} for a different key: ` +
            'a key id must name the same key on every backend (give this key its own id)',
        );
      }
    }
  });
}
