import type { Credential, Grant } from '../auth/credentials.js';
import { isValidBucketName } from '../s3/names.js';
import { ConfigError } from './config-error.js';
import { checkKeyIds, parseEncryption, type EncryptionConfig } from './encryption-config.js';
import { Fields, HTTP_URL } from './fields.js';

export type { EncryptionConfig, EncryptionMode, KmsEndpointConfig, ProxyKey } from './encryption-config.js';

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
