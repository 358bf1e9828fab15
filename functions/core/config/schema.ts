import type { Credential, Grant } from '../auth/credentials.js';
import { isValidBucketName } from '../s3/names.js';
import { ConfigError } from './config-error.js';

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

interface BackendCommon {
  name: string;
  encryption: EncryptionConfig;
}

export interface FilesystemBackendConfig extends BackendCommon {
  type: 'filesystem';
  path: string;
}

export interface S3BackendConfig extends BackendCommon {
  type: 's3';
  endpoint?: string;
  region: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  forcePathStyle: boolean;
}

export type BackendConfig = FilesystemBackendConfig | S3BackendConfig;

/** An explicit bucket route: the gateway bucket `name` lives on `backend`, as `backendBucket` there. */
export interface BucketRoute {
  name: string;
  backend: string;
  backendBucket: string;
}

export interface GatewayConfig {
  backends: BackendConfig[];
  defaultBackend: string;
  buckets: BucketRoute[];
  credentials: Credential[];
  /**
   * Host names under which `<bucket>.<domain>` addresses a bucket virtual-hosted style, besides
   * `localhost`, which is always one.
   */
  domains: string[];
}

type Json = Record<string, unknown>;

const HTTP_URL = /^https?:\/\/[^/]+/;

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Reads fields off one config object, naming the path of anything wrong. */
class Fields {
  constructor(
    private readonly node: Json,
    private readonly path: string,
  ) {}

  static of(value: unknown, path: string): Fields {
    if (!isObject(value)) throw new ConfigError(path, 'must be a mapping');
    return new Fields(value, path);
  }

  at(name: string): string {
    return this.path ? `${this.path}.${name}` : name;
  }

  only(allowed: string[]): void {
    for (const name of Object.keys(this.node)) {
      if (!allowed.includes(name)) {
        throw new ConfigError(this.at(name), `unknown field (expected one of: ${allowed.join(', ')})`);
      }
    }
  }

  string(name: string): string;
  string(name: string, optional: true): string | undefined;
  string(name: string, optional = false): string | undefined {
    const value = this.node[name];
    if (value === undefined || value === null) {
      if (optional) return undefined;
      throw new ConfigError(this.at(name), 'is required');
    }
    if (typeof value !== 'string' || value === '')
      throw new ConfigError(this.at(name), 'must be a non-empty string');
    return value;
  }

  boolean(name: string, fallback: boolean): boolean {
    const value = this.node[name];
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'boolean') throw new ConfigError(this.at(name), 'must be true or false');
    return value;
  }

  list(name: string): unknown[] {
    const value = this.node[name];
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) throw new ConfigError(this.at(name), 'must be a list');
    return value;
  }

  raw(name: string): unknown {
    return this.node[name];
  }
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
interface BackendFacts {
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

function parseEncryption(value: unknown, path: string, backend: BackendFacts): EncryptionConfig {
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
function checkKeyIds(backends: BackendConfig[]): void {
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

function parseBackend(value: unknown, path: string): BackendConfig {
  const f = Fields.of(value, path);
  const name = f.string('name');
  const type = f.string('type');
  if (type === 'filesystem') {
    f.only(['name', 'type', 'path', 'encryption']);
    const backendPath = f.string('path');
    const encryption = parseEncryption(f.raw('encryption'), f.at('encryption'), { type });
    return { name, type, path: backendPath, encryption };
  }
  if (type === 's3') {
    f.only([
      'name',
      'type',
      'endpoint',
      'region',
      'access_key_id',
      'secret_access_key',
      'force_path_style',
      'encryption',
    ]);
    const endpoint = f.string('endpoint', true);
    if (endpoint !== undefined && !HTTP_URL.test(endpoint)) {
      throw new ConfigError(f.at('endpoint'), 'must be an http:// or https:// URL');
    }
    const accessKeyId = f.string('access_key_id', true);
    const secretAccessKey = f.string('secret_access_key', true);
    if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
      throw new ConfigError(
        path,
        'access_key_id and secret_access_key must be given together (or both left out)',
      );
    }
    const region = f.string('region', true) ?? 'us-east-1';
    return {
      name,
      type,
      endpoint,
      region,
      accessKeyId,
      secretAccessKey,
      forcePathStyle: f.boolean('force_path_style', endpoint !== undefined),
      encryption: parseEncryption(f.raw('encryption'), f.at('encryption'), { type, region }),
    };
  }
  throw new ConfigError(f.at('type'), `unknown backend type "${type}" (expected filesystem or s3)`);
}

function parseGrant(value: unknown, path: string): Grant {
  const f = Fields.of(value, path);
  f.only(['bucket', 'access']);
  const bucket = f.string('bucket');
  const access = f.list('access').map((a, i) => {
    if (a !== 'read' && a !== 'write')
      throw new ConfigError(`${f.at('access')}[${i}]`, 'must be read or write');
    return a;
  });
  if (access.length === 0) throw new ConfigError(f.at('access'), 'must name read, write or both');
  return { bucket, access };
}

function parseCredential(value: unknown, path: string): Credential {
  const f = Fields.of(value, path);
  f.only(['access_key_id', 'secret_access_key', 'admin', 'grants']);
  const accessKeyId = f.string('access_key_id');
  if (!/^[A-Za-z0-9._-]{3,128}$/.test(accessKeyId)) {
    throw new ConfigError(
      f.at('access_key_id'),
      'must be 3-128 characters of A-Z, a-z, 0-9, ".", "_" or "-"',
    );
  }
  const secretAccessKey = f.string('secret_access_key');
  if (secretAccessKey.length < 8)
    throw new ConfigError(f.at('secret_access_key'), 'must be at least 8 characters');
  return {
    accessKeyId,
    secretAccessKey,
    admin: f.boolean('admin', false),
    grants: f.list('grants').map((g, i) => parseGrant(g, `${f.at('grants')}[${i}]`)),
  };
}

function unique<T>(items: T[], key: (item: T) => string, path: (i: number) => string, what: string): void {
  const seen = new Set<string>();
  items.forEach((item, i) => {
    const k = key(item);
    if (seen.has(k)) throw new ConfigError(path(i), `duplicate ${what} "${k}"`);
    seen.add(k);
  });
}

/**
 * Validates a parsed (and already interpolated) config document. Every error names the field
 * (`backends[0].type`) and says what is wrong.
 */
export function parseConfig(document: unknown): GatewayConfig {
  const f = Fields.of(document ?? {}, '');
  f.only(['backends', 'default_backend', 'buckets', 'credentials', 'domains']);
  const backends = f.list('backends').map((b, i) => parseBackend(b, `backends[${i}]`));
  if (backends.length === 0) throw new ConfigError('backends', 'at least one backend is required');
  unique(
    backends,
    (b) => b.name,
    (i) => `backends[${i}].name`,
    'backend name',
  );
  checkKeyIds(backends);
  const names = backends.map((b) => b.name);

  const defaultBackend = f.string('default_backend', true) ?? backends[0].name;
  if (!names.includes(defaultBackend)) {
    throw new ConfigError('default_backend', `names no configured backend (have: ${names.join(', ')})`);
  }

  const buckets = f.list('buckets').map((value, i): BucketRoute => {
    const r = Fields.of(value, `buckets[${i}]`);
    r.only(['name', 'backend', 'backend_bucket']);
    const name = r.string('name');
    if (!isValidBucketName(name))
      throw new ConfigError(r.at('name'), `"${name}" is not a valid S3 bucket name`);
    const backend = r.string('backend');
    if (!names.includes(backend)) {
      throw new ConfigError(r.at('backend'), `names no configured backend (have: ${names.join(', ')})`);
    }
    return { name, backend, backendBucket: r.string('backend_bucket', true) ?? name };
  });
  unique(
    buckets,
    (b) => b.name,
    (i) => `buckets[${i}].name`,
    'bucket route',
  );

  const credentials = f.list('credentials').map((c, i) => parseCredential(c, `credentials[${i}]`));
  unique(
    credentials,
    (c) => c.accessKeyId,
    (i) => `credentials[${i}].access_key_id`,
    'access key id',
  );

  const domains = f.list('domains').map((d, i) => {
    if (
      typeof d !== 'string' ||
      !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(d)
    ) {
      throw new ConfigError(`domains[${i}]`, 'must be a lower-case host name, like s3.example.test');
    }
    return d;
  });

  return { backends, defaultBackend, buckets, credentials, domains };
}
