import type { Access, Credential, Grant } from '../auth/credentials.js';
import { isValidBucketName } from '../s3/names.js';
import { ConfigErrors } from './config-error.js';
import { checkKeyIds, parseEncryption, type EncryptionConfig } from './encryption-config.js';
import { Fields, HTTP_URL, isObject, ProblemSink } from './fields.js';

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

const TOP_FIELDS = ['backends', 'default_backend', 'buckets', 'credentials', 'domains'];
const FILESYSTEM_FIELDS = ['name', 'type', 'path', 'encryption'];
const S3_FIELDS = [
  'name',
  'type',
  'endpoint',
  'region',
  'access_key_id',
  'secret_access_key',
  'force_path_style',
  'encryption',
];
/** A lower-case DNS host name: dot-separated labels of a-z, 0-9 and inner hyphens. */
const HOST_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;

/*
 * How the readers below go on after a problem: each records what is wrong and still builds what it can,
 * so later fields and the checks across items (duplicate names, routes naming a backend) still run. A
 * reader gives `undefined` only when a field it needs to build its item is missing or of the wrong type.
 * A value built around a recorded error (a fallback, a bad URL kept) never reaches a gateway: the config
 * is given only when nothing at all was recorded as an error.
 */

function parseBackend(value: unknown, path: string, sink: ProblemSink): BackendConfig | undefined {
  const f = Fields.of(value, path, sink);
  if (f === undefined) return undefined;
  const name = f.string('name');
  const type = f.string('type');
  if (type === 'filesystem') return filesystemBackend(f, name);
  if (type === 's3') return s3Backend(f, name);
  if (type !== undefined) f.error('type', `unknown backend type "${type}" (expected filesystem or s3)`);
  // Without its type, a backend's fields are checked against every type's, and its encryption block
  // without the rules that depend on the type.
  f.only([...new Set([...FILESYSTEM_FIELDS, ...S3_FIELDS])]);
  parseEncryption(f.raw('encryption'), f.at('encryption'), {}, sink);
  return undefined;
}

function filesystemBackend(f: Fields, name: string | undefined): FilesystemBackendConfig | undefined {
  f.only(FILESYSTEM_FIELDS);
  const path = f.string('path');
  const encryption = parseEncryption(f.raw('encryption'), f.at('encryption'), { type: 'filesystem' }, f.sink);
  if (name === undefined || path === undefined || encryption === undefined) return undefined;
  return { name, type: 'filesystem', path, encryption };
}

function s3Backend(f: Fields, name: string | undefined): S3BackendConfig | undefined {
  f.only(S3_FIELDS);
  const endpoint = f.string('endpoint', true);
  if (endpoint !== undefined && !HTTP_URL.test(endpoint)) {
    f.error('endpoint', 'must be an http:// or https:// URL');
  }
  const accessKeyId = f.string('access_key_id', true);
  const secretAccessKey = f.string('secret_access_key', true);
  if (f.has('access_key_id') !== f.has('secret_access_key')) {
    f.sink.error(f.path, 'access_key_id and secret_access_key must be given together (or both left out)');
  }
  const region = f.string('region', true) ?? 'us-east-1';
  const forcePathStyle = f.boolean('force_path_style', endpoint !== undefined);
  const encryption = parseEncryption(f.raw('encryption'), f.at('encryption'), { type: 's3', region }, f.sink);
  if (name === undefined || encryption === undefined) return undefined;
  return { name, type: 's3', endpoint, region, accessKeyId, secretAccessKey, forcePathStyle, encryption };
}

function parseGrant(value: unknown, path: string, sink: ProblemSink): Grant | undefined {
  const f = Fields.of(value, path, sink);
  if (f === undefined) return undefined;
  f.only(['bucket', 'access']);
  const bucket = f.string('bucket');
  const values = f.list('access');
  const access = (values ?? []).filter((a, i): a is Access => {
    if (a === 'read' || a === 'write') return true;
    sink.error(`${f.at('access')}[${i}]`, 'must be read or write');
    return false;
  });
  if (values?.length === 0) f.error('access', 'must name read, write or both');
  return bucket === undefined ? undefined : { bucket, access };
}

function parseCredential(value: unknown, path: string, sink: ProblemSink): Credential | undefined {
  const f = Fields.of(value, path, sink);
  if (f === undefined) return undefined;
  f.only(['access_key_id', 'secret_access_key', 'admin', 'grants']);
  const accessKeyId = f.string('access_key_id');
  if (accessKeyId !== undefined && !/^[A-Za-z0-9._-]{3,128}$/.test(accessKeyId)) {
    f.error('access_key_id', 'must be 3-128 characters of A-Z, a-z, 0-9, ".", "_" or "-"');
  }
  const secretAccessKey = f.string('secret_access_key');
  if (secretAccessKey !== undefined && secretAccessKey.length < 8) {
    f.error('secret_access_key', 'must be at least 8 characters');
  }
  const admin = f.boolean('admin', false);
  const values = f.list('grants');
  const grants = (values ?? []).flatMap((g, i) => parseGrant(g, `${f.at('grants')}[${i}]`, sink) ?? []);
  if (!admin && values?.length === 0) {
    sink.warn(path, 'can sign requests but may do nothing: give it grants, or admin: true');
  }
  if (accessKeyId === undefined || secretAccessKey === undefined) return undefined;
  return { accessKeyId, secretAccessKey, admin, grants };
}

function parseRoute(
  value: unknown,
  path: string,
  sink: ProblemSink,
  checkBackend: (path: string, name: string) => void,
): BucketRoute | undefined {
  const r = Fields.of(value, path, sink);
  if (r === undefined) return undefined;
  r.only(['name', 'backend', 'backend_bucket']);
  const name = r.string('name');
  if (name !== undefined && !isValidBucketName(name)) {
    r.error('name', `"${name}" is not a valid S3 bucket name`);
  }
  const backend = r.string('backend');
  if (backend !== undefined) checkBackend(r.at('backend'), backend);
  const backendBucket = r.string('backend_bucket', true) ?? name;
  if (name === undefined || backend === undefined || backendBucket === undefined) return undefined;
  return { name, backend, backendBucket };
}

/** Two routes to one bucket of one backend show the same objects under two names: rarely meant. */
function warnSharedBackendBuckets(buckets: (BucketRoute | undefined)[], sink: ProblemSink): void {
  const seen = new Map<string, number>();
  buckets.forEach((route, i) => {
    if (route === undefined) return;
    const where = JSON.stringify([route.backend, route.backendBucket]);
    const earlier = seen.get(where);
    if (earlier === undefined) seen.set(where, i);
    else {
      sink.warn(
        `buckets[${i}]`,
        `routes to bucket "${route.backendBucket}" on backend "${route.backend}", as buckets[${earlier}] does: ` +
          'both names show the same objects',
      );
    }
  });
}

function unique<T>(
  items: (T | undefined)[],
  key: (item: T) => string,
  path: (i: number) => string,
  what: string,
  sink: ProblemSink,
): void {
  const seen = new Set<string>();
  items.forEach((item, i) => {
    if (item === undefined) return;
    const k = key(item);
    if (seen.has(k)) sink.error(path(i), `duplicate ${what} "${k}"`);
    seen.add(k);
  });
}

/**
 * The names the backends were given, read off the list itself so that a backend with a problem elsewhere
 * still counts as configured for `default_backend` and routes (one mistake, one problem).
 */
function backendNames(values: unknown[]): string[] {
  return values.flatMap((b) => (isObject(b) && typeof b.name === 'string' && b.name !== '' ? [b.name] : []));
}

/**
 * Reads a parsed (and already interpolated) config document, recording every problem in `sink`: errors
 * and the warnings the schema itself can tell (a credential with no rights, two routes to one bucket).
 * Gives the config only when no error was recorded.
 */
export function readConfig(document: unknown, sink: ProblemSink): GatewayConfig | undefined {
  const errorsBefore = sink.errorCount;
  const f = Fields.of(document ?? {}, '', sink);
  if (f === undefined) return undefined;
  f.only(TOP_FIELDS);
  const backendValues = f.list('backends');
  const backends = (backendValues ?? []).map((b, i) => parseBackend(b, `backends[${i}]`, sink));
  if (backendValues?.length === 0) sink.error('backends', 'at least one backend is required');
  unique(
    backends,
    (b) => b.name,
    (i) => `backends[${i}].name`,
    'backend name',
    sink,
  );
  checkKeyIds(backends, sink);

  // With no backend to name (none given, or the list unreadable), naming one is not a problem of its own.
  const names = backendNames(backendValues ?? []);
  const checkBackend = (path: string, name: string): void => {
    if (names.length > 0 && !names.includes(name)) {
      sink.error(path, `names no configured backend (have: ${names.join(', ')})`);
    }
  };
  const defaultBackend = f.string('default_backend', true);
  if (defaultBackend !== undefined) checkBackend('default_backend', defaultBackend);

  const buckets = (f.list('buckets') ?? []).map((r, i) => parseRoute(r, `buckets[${i}]`, sink, checkBackend));
  unique(
    buckets,
    (b) => b.name,
    (i) => `buckets[${i}].name`,
    'bucket route',
    sink,
  );
  warnSharedBackendBuckets(buckets, sink);

  const credentials = (f.list('credentials') ?? []).map((c, i) =>
    parseCredential(c, `credentials[${i}]`, sink),
  );
  unique(
    credentials,
    (c) => c.accessKeyId,
    (i) => `credentials[${i}].access_key_id`,
    'access key id',
    sink,
  );

  const domains = (f.list('domains') ?? []).filter((d, i): d is string => {
    if (typeof d === 'string' && HOST_NAME.test(d)) return true;
    sink.error(`domains[${i}]`, 'must be a lower-case host name, like s3.example.test');
    return false;
  });

  if (sink.errorCount > errorsBefore) return undefined;
  return {
    backends: backends.filter((b) => b !== undefined),
    defaultBackend: defaultBackend ?? names[0],
    buckets: buckets.filter((b) => b !== undefined),
    credentials: credentials.filter((c) => c !== undefined),
    domains,
  };
}

/**
 * Validates a parsed (and already interpolated) config document and gives the config, or throws a
 * `ConfigErrors` naming every error (`backends[0].type`) and saying what is wrong; its `path` is the
 * first error's. Warnings do not stop it and are not reported here: `validateConfig` gives them.
 */
export function parseConfig(document: unknown): GatewayConfig {
  const sink = new ProblemSink();
  const config = readConfig(document, sink);
  if (config === undefined) throw new ConfigErrors(sink.problems);
  return config;
}
