/**
 * A backend's `encryption:` block (docs/CONFIG-ENCRYPTION.md): which mode, which keys, and the rules that
 * hold across backends (one key id names one key everywhere).
 */
import type { BackendConfig } from './schema.js';
import { Fields, HTTP_URL, type ProblemSink } from './fields.js';

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

/**
 * Where the gateway reaches KMS (aws-kms-envelope), and how long it keeps the data keys KMS opened. Endpoint
 * and region default to AWS's regional endpoint.
 */
export interface KmsEndpointConfig {
  endpoint?: string;
  region: string;
  /**
   * `kms_cache_seconds` / `kms_cache_entries` (core/encryption/data-key-cache.ts): absent unless
   * `kms_cache_seconds` is set above 0, so that by default every read is a KMS Decrypt (CloudTrail audits
   * each read, docs/CONFIG-ENCRYPTION.md).
   */
  dataKeyCache?: { maxAgeMs: number; maxEntries: number };
}

/** Envelope data keys are not cached unless `kms_cache_seconds` says so; then at most this many. */
const DEFAULT_KMS_CACHE_SECONDS = 0;
const DEFAULT_KMS_CACHE_ENTRIES = 1000;
const MAX_KMS_CACHE_SECONDS = 3600;
const MAX_KMS_CACHE_ENTRIES = 1_000_000;

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
  /** What a request's (or a bucket default's) `x-amz-server-side-encryption` may choose (`on_request`). */
  onRequest?: RequestableEncryption;
}

/**
 * How the backend honours the encryption a request asks for (`on_request`, docs/CONFIG-ENCRYPTION.md):
 * `AES256` by the gateway under the backend's `key` (the managed key) or by native SSE-S3, `aws:kms` by
 * envelope encryption or native SSE-KMS. Absent: that algorithm is refused. Each defaults to the backend's
 * own mode when the mode is one of them.
 */
export interface RequestableEncryption {
  aes256?: 'aes256-gcm-proxy' | 'sse-s3';
  awsKms?: 'aws-kms-envelope' | 'sse-kms';
  /** The KMS keys a request may name besides `kms_key_id` (as requests name them: ARN, id or alias). */
  kmsKeyIds: string[];
}

/** The deploy-only list of earlier KMS keys the function's role may still Decrypt with. */
const LEGACY_KMS_KEY_IDS = 'legacy_kms_key_ids';

const ENCRYPTION_FIELDS = [
  LEGACY_KMS_KEY_IDS,
  'mode',
  'key',
  'key_id',
  'legacy_key',
  'legacy_key_id',
  'kms_key_id',
  'bucket_key_enabled',
  'kms_endpoint',
  'kms_region',
  'kms_cache_seconds',
  'kms_cache_entries',
  'on_request',
];

const ON_REQUEST_FIELDS = ['aes256', 'aws_kms', 'kms_key_ids'];
const AES256_HANDLERS = ['aes256-gcm-proxy', 'sse-s3'] as const;
const AWS_KMS_HANDLERS = ['aws-kms-envelope', 'sse-kms'] as const;

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
  /** `undefined` when the backend's own type is wrong: the checks that depend on it are left out. */
  type?: BackendConfig['type'];
  /** An S3 backend's region: the default of `kms_region`. */
  region?: string;
}

function isMode(mode: string): mode is EncryptionMode {
  return (ENCRYPTION_MODES as string[]).includes(mode);
}

/**
 * A 32-byte key written as 64 hex characters. Messages say what is wrong with the value and never
 * include it: it is a secret, and errors reach logs.
 */
function keyBytes(f: Fields, name: string): Buffer | undefined {
  if (typeof f.raw(name) === 'number') {
    // YAML reads an unquoted key of digits (and `e`) as a number; say so rather than "must be a string".
    f.error(
      name,
      `must be a string: quote the key (an unquoted key of digits reads as a number); ${GENERATE_KEY_HINT}`,
    );
    return undefined;
  }
  const value = f.string(name);
  if (value === undefined) return undefined;
  if (value.length !== KEY_HEX_LENGTH) {
    f.error(
      name,
      `must be ${KEY_HEX_LENGTH} hex characters (32 bytes), got ${value.length} characters; ${GENERATE_KEY_HINT}`,
    );
    return undefined;
  }
  if (!/^[0-9A-Fa-f]+$/.test(value)) {
    f.error(
      name,
      `must be hex: ${KEY_HEX_LENGTH} characters of 0-9 and a-f (32 bytes); ${GENERATE_KEY_HINT}`,
    );
    return undefined;
  }
  return Buffer.from(value, 'hex');
}

function keyId(f: Fields, name: string): string | undefined {
  const value = f.string(name);
  if (value === undefined) return undefined;
  if (!KEY_ID.test(value)) {
    f.error(
      name,
      'must be 1-64 characters of A-Z, a-z, 0-9, ".", "_", ":", "/" or "-" (it is stored with every object it encrypts)',
    );
    return undefined;
  }
  return value;
}

/** The legacy (decrypt-only) key: both fields or neither. */
function legacyKey(f: Fields): ProxyKey | undefined {
  const hasKey = f.has('legacy_key');
  const hasId = f.has('legacy_key_id');
  if (!hasKey && !hasId) return undefined;
  if (!hasId) {
    f.error(
      'legacy_key_id',
      'is required when legacy_key is given: the id the objects written under that key carry',
    );
  }
  if (!hasKey) f.error('legacy_key', 'is required when legacy_key_id is given: the key of that id');
  const key = hasKey ? keyBytes(f, 'legacy_key') : undefined;
  const id = hasId ? keyId(f, 'legacy_key_id') : undefined;
  return key !== undefined && id !== undefined ? { id, key } : undefined;
}

/** A field given with a mode that does not use it: say which modes do. */
function misplacedField(f: Fields, name: string, mode: EncryptionMode): void {
  const modes = ENCRYPTION_MODES.filter((m) => MODE_FIELDS[m].includes(name));
  let problem = `is only for mode${modes.length > 1 ? 's' : ''} ${modes.join(' and ')}, not "${mode}"`;
  if (name === 'key' || name === 'key_id') {
    problem += '; for a decrypt-only key of an earlier generation, use legacy_key and legacy_key_id';
  }
  f.error(name, problem);
}

/**
 * Reads an `encryption:` block, recording every problem in `sink`. Gives `undefined` when the block
 * cannot be read at all (not a mapping, or no known mode: which fields belong depends on the mode).
 */
export function parseEncryption(
  value: unknown,
  path: string,
  backend: BackendFacts,
  sink: ProblemSink,
): EncryptionConfig | undefined {
  if (value === undefined || value === null) return { mode: 'none' };
  const f = Fields.of(value, path, sink);
  if (f === undefined) return undefined;
  const mode = f.string('mode');
  if (mode !== undefined && !isMode(mode)) {
    f.error('mode', `unknown mode "${mode}" (expected one of: ${ENCRYPTION_MODES.join(', ')})`);
  }
  f.only(ENCRYPTION_FIELDS);
  if (mode === undefined || !isMode(mode)) return undefined;
  if (NATIVE_MODES.includes(mode) && backend.type !== undefined && backend.type !== 's3') {
    f.error(
      'mode',
      `"${mode}" is encryption done by AWS S3 itself: native modes need an S3 backend, not ${backend.type} ` +
        '(use aes256-gcm-proxy or aws-kms-envelope to have the gateway encrypt)',
    );
  }
  const onRequest = parseOnRequest(f, mode, backend);
  const allowed = [
    'mode',
    'legacy_key',
    'legacy_key_id',
    'kms_endpoint',
    'kms_region',
    'kms_cache_seconds',
    'kms_cache_entries',
    'on_request',
    LEGACY_KMS_KEY_IDS,
    ...MODE_FIELDS[mode],
    ...(onRequest.aes256 === 'aes256-gcm-proxy' ? MODE_FIELDS['aes256-gcm-proxy'] : []),
    ...(onRequest.awsKms !== undefined ? MODE_FIELDS[onRequest.awsKms] : []),
  ];
  // A misplaced field is not read below (only its own mode reads it), so it gets this one problem.
  for (const name of ENCRYPTION_FIELDS) {
    if (f.has(name) && !allowed.includes(name)) misplacedField(f, name, mode);
  }

  // Deploy-only (lib/kms-grants.ts: the role's Decrypt grants on earlier KMS keys): accepted here so the file
  // that was deployed can also be applied; the gateway itself reads such objects by their own markers.
  if (f.has(LEGACY_KMS_KEY_IDS)) {
    const ids = f.raw(LEGACY_KMS_KEY_IDS);
    if (!Array.isArray(ids) || ids.some((id) => typeof id !== 'string' || id === '')) {
      f.error(LEGACY_KMS_KEY_IDS, 'must be a list of KMS key ARNs');
    }
  }

  // Without an on_request block, what requests may ask follows from the mode (requestableEncryption).
  const config: EncryptionConfig = { mode, ...(f.has('on_request') && { onRequest }) };
  if (mode === 'aes256-gcm-proxy' || onRequest.aes256 === 'aes256-gcm-proxy') {
    const key = keyBytes(f, 'key');
    const id = keyId(f, 'key_id');
    if (key !== undefined && id !== undefined) config.current = { id, key };
  }
  const legacy = legacyKey(f);
  if (legacy !== undefined) {
    if (legacy.id === config.current?.id) {
      f.error(
        'legacy_key_id',
        `must differ from key_id "${legacy.id}": objects name their key by id, so each key needs its own`,
      );
    } else {
      if (config.current?.key.equals(legacy.key)) {
        sink.warn(
          f.at('legacy_key'),
          'is the same key as key, under another id: a rotation to it changed only the id, not the key',
        );
      }
      config.legacy = legacy;
    }
  }
  const kmsUsed = mode === 'aws-kms-envelope' || mode === 'sse-kms' || onRequest.awsKms !== undefined;
  if (kmsUsed) {
    // sse-kms without a key uses the AWS managed key aws/s3; the envelope mode needs one to call
    // GenerateDataKey with. For aws:kms requests only, it is the key of those that name none.
    const kmsKeyId = f.string('kms_key_id', mode !== 'aws-kms-envelope');
    if (kmsKeyId !== undefined && /\s/.test(kmsKeyId)) {
      f.error('kms_key_id', 'must be a KMS key id, key ARN or alias, without spaces');
    }
    if (kmsKeyId !== undefined) config.kmsKeyId = kmsKeyId;
  }
  if ((mode === 'sse-kms' || onRequest.awsKms === 'sse-kms') && f.has('bucket_key_enabled')) {
    config.bucketKeyEnabled = f.boolean('bucket_key_enabled', false);
  }
  {
    // Every mode: reads dispatch on each object's markers, so a backend that has left aws-kms-envelope
    // still opens its envelope history through KMS.
    const endpoint = f.string('kms_endpoint', true);
    if (endpoint !== undefined && !HTTP_URL.test(endpoint)) {
      f.error('kms_endpoint', 'must be an http:// or https:// URL');
    }
    const region = f.string('kms_region', true);
    if (region !== undefined && !/^[a-z0-9-]+$/.test(region)) {
      f.error('kms_region', 'must be an AWS region name, like eu-west-1');
    }
    const seconds = f.wholeNumber('kms_cache_seconds', DEFAULT_KMS_CACHE_SECONDS, 0, MAX_KMS_CACHE_SECONDS);
    const entries = f.wholeNumber('kms_cache_entries', DEFAULT_KMS_CACHE_ENTRIES, 1, MAX_KMS_CACHE_ENTRIES);
    const envelope = mode === 'aws-kms-envelope' || onRequest.awsKms === 'aws-kms-envelope';
    const cacheSet = f.has('kms_cache_seconds') || f.has('kms_cache_entries');
    if (envelope || endpoint !== undefined || region !== undefined || cacheSet) {
      config.kms = { region: region ?? backend.region ?? 'us-east-1' };
      if (endpoint !== undefined) config.kms.endpoint = endpoint;
      if (seconds > 0) config.kms.dataKeyCache = { maxAgeMs: seconds * 1000, maxEntries: entries };
    }
  }
  return config;
}

/** What requests may ask of a backend: its `on_request`, or what its mode alone answers. */
export function requestableEncryption(
  config: Pick<EncryptionConfig, 'mode' | 'onRequest'>,
): RequestableEncryption {
  if (config.onRequest) return config.onRequest;
  const mode = config.mode;
  const onRequest: RequestableEncryption = { kmsKeyIds: [] };
  if (mode === 'aes256-gcm-proxy' || mode === 'sse-s3') onRequest.aes256 = mode;
  if (mode === 'aws-kms-envelope' || mode === 'sse-kms') onRequest.awsKms = mode;
  return onRequest;
}

/**
 * The `on_request` block: which mode honours each algorithm a request may ask for. Each defaults to the
 * backend's mode when that mode is one of its handlers; a native handler needs an S3 backend.
 */
function parseOnRequest(f: Fields, mode: EncryptionMode, backend: BackendFacts): RequestableEncryption {
  const onRequest = requestableEncryption({ mode });
  if (!f.has('on_request')) return onRequest;
  const block = Fields.of(f.raw('on_request'), f.at('on_request'), f.sink);
  if (block === undefined) return onRequest;
  block.only(ON_REQUEST_FIELDS);
  const handler = <T extends string>(name: string, handlers: readonly T[]): T | undefined => {
    const value = block.string(name, true);
    if (value === undefined) return undefined;
    if (!(handlers as readonly string[]).includes(value)) {
      block.error(name, `must be one of: ${handlers.join(', ')} (leave it out to refuse such requests)`);
      return undefined;
    }
    if (
      NATIVE_MODES.includes(value as EncryptionMode) &&
      backend.type !== undefined &&
      backend.type !== 's3'
    ) {
      block.error(
        name,
        `"${value}" is encryption done by AWS S3 itself: it needs an S3 backend, not ${backend.type}`,
      );
      return undefined;
    }
    return value as T;
  };
  const aes256 = handler('aes256', AES256_HANDLERS);
  const awsKms = handler('aws_kms', AWS_KMS_HANDLERS);
  if (aes256 !== undefined) onRequest.aes256 = aes256;
  if (awsKms !== undefined) onRequest.awsKms = awsKms;
  const ids = block.list('kms_key_ids') ?? [];
  for (const [i, id] of ids.entries()) {
    if (typeof id !== 'string' || id === '' || /\s/.test(id)) {
      block.sink.error(
        `${block.at('kms_key_ids')}[${i}]`,
        'must be a KMS key ARN, key id or alias, without spaces',
      );
    } else onRequest.kmsKeyIds.push(id);
  }
  if (onRequest.kmsKeyIds.length > 0 && onRequest.awsKms === undefined) {
    block.error(
      'kms_key_ids',
      'names keys for aws:kms requests, which this backend refuses: set aws_kms too',
    );
  }
  return onRequest;
}

/**
 * A key id must name one key everywhere: objects record only the id, so one id with two keys would make
 * a backend try the wrong key on another's objects (after a migration, say). The same key on two
 * backends under one id is fine. `backends` is in document order, `undefined` for a backend that could
 * not be read.
 */
export function checkKeyIds(backends: (BackendConfig | undefined)[], sink: ProblemSink): void {
  const seen = new Map<string, { key: Buffer; path: string }>();
  backends.forEach((backend, i) => {
    if (backend === undefined) return;
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
        sink.error(
          path,
          `key id "${slot.id}" is already used at ${earlier.path} for a different key: ` +
            'a key id must name the same key on every backend (give this key its own id)',
        );
      }
    }
  });
}
