/**
 * One running config: everything a request needs, built once per config change and shared by the requests
 * that start while it is current. A request keeps the snapshot it started with, so a reload never changes
 * the config under an in-flight request.
 */
import { StaticCredentialStore, type Credential, type CredentialStore } from '../auth/credentials.js';
import type { Backend } from '../backend.js';
import type { ConfigProblem } from '../config/problems.js';
import type { BackendConfig, BucketRoute, GatewayConfig } from '../config/schema.js';
import { BackendKeys } from '../encryption/data-keys.js';
import type { KeyService } from '../encryption/kms.js';
import { BucketRoutes, type ListingRecords } from '../routes.js';
import type { WriteGate } from '../jobs/job-record.js';
import type { BucketSettings, StoreStamp, StoredConfig } from './config-store.js';

/** The backend adapters for a config's backends, made by the handler (the core makes no SDK clients). */
export interface BackendSet {
  backends: ReadonlyMap<string, Backend>;
  keyServices: ReadonlyMap<string, KeyService>;
}

export type BackendFactory = (configs: BackendConfig[]) => BackendSet;

export interface Runtime {
  /** The stored version this snapshot serves (0 for a config that is not from a store). */
  version: number;
  /** The store stamp it was built from. */
  stamp: StoreStamp;
  stored?: StoredConfig;
  /** The validated config, with any local credentials added. */
  config: GatewayConfig;
  routes: BucketRoutes;
  credentials: CredentialStore;
  /** `localhost` and the configured domains. */
  domains: string[];
  /** `fp:` fingerprints of the document's secrets, by path. */
  fingerprints: Record<string, string>;
  warnings: ConfigProblem[];
  bucketSettings: BucketSettings[];
  /** The write gates of the buckets whose jobs hold one, by gateway bucket name. */
  gates: ReadonlyMap<string, WriteGate>;
  secretsDigest: string;
  loadedAt: Date;
}

export interface RuntimeInput {
  config: GatewayConfig;
  version: number;
  stamp: StoreStamp;
  stored?: StoredConfig;
  fingerprints: Record<string, string>;
  warnings: ConfigProblem[];
  bucketSettings: BucketSettings[];
  secretsDigest: string;
  extraCredentials: Credential[];
  backends: BackendSet;
  /** The store's listing records (absent: no store, every listing reads its objects' metadata). */
  listings?: Omit<ListingRecords, 'known'>;
}

/**
 * The effective bucket routes: the document's `buckets:` with each bucket's stored route setting in its
 * place (a migrate job's flip writes one). A setting naming a backend the config lacks is left out and
 * reported, so a bad setting never takes the bucket somewhere undefined.
 */
export function effectiveRoutes(
  config: GatewayConfig,
  settings: BucketSettings[],
): { routes: BucketRoute[]; problems: ConfigProblem[] } {
  const names = new Set(config.backends.map((b) => b.name));
  const routes = new Map(config.buckets.map((r) => [r.name, r]));
  const problems: ConfigProblem[] = [];
  for (const s of settings) {
    if (!s.route) continue;
    if (!names.has(s.route.backend)) {
      problems.push({
        severity: 'warning',
        path: `bucket-settings.${s.bucket}.route.backend`,
        message: `names backend "${s.route.backend}", which the running config does not have: the bucket's route from the config applies`,
      });
      continue;
    }
    routes.set(s.bucket, { name: s.bucket, backend: s.route.backend, backendBucket: s.route.backendBucket });
  }
  return { routes: [...routes.values()], problems };
}

export function buildRuntime(input: RuntimeInput): Runtime {
  const { config: base, backends } = input;
  const { routes: buckets, problems } = effectiveRoutes(base, input.bucketSettings);
  const config: GatewayConfig = {
    ...base,
    buckets,
    credentials: [...base.credentials, ...input.extraCredentials],
  };
  const listings = new Map(input.bucketSettings.map((s) => [s.bucket, s.listing]));
  const keys = new Map(
    config.backends.map((b) => [
      b.name,
      new BackendKeys(b.name, b.encryption, backends.keyServices.get(b.name)),
    ]),
  );
  return {
    version: input.version,
    stamp: input.stamp,
    stored: input.stored,
    config,
    routes: new BucketRoutes(
      config,
      backends.backends,
      keys,
      new Map(input.bucketSettings.flatMap((s) => (s.encryption ? [[s.bucket, s.encryption] as const] : []))),
      input.listings && { ...input.listings, known: (bucket) => listings.get(bucket) },
    ),
    credentials: new StaticCredentialStore(config.credentials),
    domains: ['localhost', ...config.domains],
    fingerprints: input.fingerprints,
    warnings: [...input.warnings, ...problems],
    bucketSettings: input.bucketSettings,
    gates: new Map(input.bucketSettings.flatMap((s) => (s.gate ? [[s.bucket, s.gate] as const] : []))),
    secretsDigest: input.secretsDigest,
    loadedAt: new Date(),
  };
}

/**
 * Reuses backend adapters across reloads while a backend's config is unchanged (its SDK clients keep their
 * connections), and makes new ones for backends that changed.
 */
export function cachingBackendFactory(make: BackendFactory): BackendFactory {
  let cache = new Map<string, { backend: Backend; keyService?: KeyService }>();
  return (configs) => {
    const next = new Map<string, { backend: Backend; keyService?: KeyService }>();
    const fresh = configs.filter((c) => !cache.has(JSON.stringify(c)));
    const made = make(fresh);
    for (const c of configs) {
      const id = JSON.stringify(c);
      next.set(
        id,
        cache.get(id) ?? { backend: made.backends.get(c.name)!, keyService: made.keyServices.get(c.name) },
      );
    }
    cache = next;
    const backends = new Map<string, Backend>();
    const keyServices = new Map<string, KeyService>();
    for (const c of configs) {
      const entry = next.get(JSON.stringify(c))!;
      backends.set(c.name, entry.backend);
      if (entry.keyService) keyServices.set(c.name, entry.keyService);
    }
    return { backends, keyServices };
  };
}
