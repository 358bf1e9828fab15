/**
 * The control plane of one gateway instance: it loads the config from the store, keeps the running
 * snapshot, and reloads it when the store changes or a secret's cache time runs out.
 *
 * Reload bound: the store's stamp (one small read) is checked at most once per `reloadIntervalMs`, on the
 * first request after the interval (a Lambda instance is frozen between invocations, so a timer would not
 * run there); the local server also reloads at once on a file change or SIGHUP. A change is therefore
 * served by every instance from its first request more than one interval after the change landed.
 *
 * A bad change never replaces a good running config: the running snapshot stays, and the reason is logged
 * and kept for the admin API's health and config routes.
 */
import type { Credential } from '../auth/credentials.js';
import { BucketBusyError } from '../jobs/job-record.js';
import type { ConfigProblem } from '../config/problems.js';
import { formatProblem } from '../config/problems.js';
import type { GatewayConfig } from '../config/schema.js';
import type { SecretResolver } from '../config/secret-resolver.js';
import type { Logger } from '../logger.js';
import type { BucketEncryption } from '../encryption/write-target.js';
import {
  BucketSettingsConflictError,
  ConfigConflictError,
  type ApplyOptions,
  type BucketSettings,
  type BucketSettingsInput,
  type ConfigDocument,
  type ConfigStore,
  type StoreStamp,
  type StoredConfig,
} from './config-store.js';
import { loadConfig, type LoadedConfig } from './load-config.js';
import { ReadOnlyStoreError } from './memory-config-store.js';
import { buildRuntime, cachingBackendFactory, type BackendFactory, type Runtime } from './runtime.js';

/** How many times a settings change that races another is read and written again. */
const SETTINGS_ATTEMPTS = 3;

/** How often an instance checks the store, by default (docs: the reload bound). */
export const DEFAULT_RELOAD_INTERVAL_MS = 5_000;

export interface ControlPlaneOptions {
  store: ConfigStore;
  resolver: SecretResolver;
  backendFactory: BackendFactory;
  logger: Logger;
  reloadIntervalMs?: number;
  /** Relative filesystem backend paths are relative to this folder. */
  baseDir?: string;
  /** Credentials the local server adds to every config it runs (from its environment, or generated). */
  extraCredentials?: (config: GatewayConfig) => Credential[];
  /** Applied as version 1 when the store is empty at start (a fresh deployment's first instance). */
  initialDocument?: ConfigDocument;
  /** Rules of this kind of instance beyond the schema's (Lambda: at least one credential). */
  check?: (config: GatewayConfig) => ConfigProblem[];
  /** The initial document's text as written (the file store keeps its comments). */
  initialText?: string;
  now?: () => number;
}

/** A config that did not load: when, which version, and every problem. */
export interface ReloadFailure {
  at: string;
  version: number;
  problems: ConfigProblem[];
}

/** A document refused by validation: nothing was applied. */
export class InvalidConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    const errors = problems.filter((p) => p.severity === 'error');
    super(
      `the config has ${errors.length} error${errors.length === 1 ? '' : 's'}:\n` +
        errors.map(formatProblem).join('\n'),
    );
    this.name = 'InvalidConfigError';
  }
}

export interface Health {
  status: 'ok' | 'degraded';
  store: ConfigStore['kind'];
  runningVersion: number;
  storeStamp: StoreStamp;
  lastReloadError: ReloadFailure | null;
  reloadIntervalMs: number;
  secretsTtlMs: number;
  loadedAt: string;
}

export class ControlPlane {
  private running!: Runtime;
  private lastCheck = 0;
  private checking: Promise<void> | undefined;
  private lastFailure: ReloadFailure | null = null;
  /** The stamp whose config failed to load, so it is not re-read and re-logged every interval. */
  private failedStamp: StoreStamp | undefined;
  private latestStamp: StoreStamp = { configVersion: 0, settingsRevision: 0 };
  private readonly backendFactory: BackendFactory;
  private readonly now: () => number;
  readonly reloadIntervalMs: number;

  private constructor(private readonly options: ControlPlaneOptions) {
    this.backendFactory = cachingBackendFactory(options.backendFactory);
    this.now = options.now ?? Date.now;
    this.reloadIntervalMs = options.reloadIntervalMs ?? DEFAULT_RELOAD_INTERVAL_MS;
  }

  /**
   * Loads the store's current config (seeding an empty store with `initialDocument`).
   *
   * @throws InvalidConfigError when the stored config does not load: an instance never starts without a
   *   good config.
   */
  static async start(options: ControlPlaneOptions): Promise<ControlPlane> {
    const plane = new ControlPlane(options);
    const { store } = options;
    let stamp = await store.stamp();
    if (stamp.configVersion === 0 && options.initialDocument !== undefined) {
      await plane.seed(options.initialDocument);
      stamp = await store.stamp();
    }
    const stored = await store.current();
    if (stored === undefined) {
      throw new InvalidConfigError([
        { severity: 'error', path: '', message: `the ${store.kind} config store holds no config yet` },
      ]);
    }
    const runtime = await plane.build(stored, stamp);
    if (!('config' in runtime)) throw new InvalidConfigError(runtime.problems);
    plane.running = runtime;
    plane.latestStamp = stamp;
    plane.lastCheck = plane.now();
    return plane;
  }

  get store(): ConfigStore {
    return this.options.store;
  }

  get secretsTtlMs(): number {
    return this.options.resolver.ttlMs;
  }

  /** The snapshot a new request runs under, after checking the store when the interval has passed. */
  async current(): Promise<Runtime> {
    if (this.now() - this.lastCheck >= this.reloadIntervalMs) await this.check(false);
    return this.running;
  }

  /**
   * The running snapshot, checked against the store first if the last check is older than `maxAgeMs`:
   * for a request the snapshot would refuse (a write to a gated bucket), whose answer may have changed
   * since (the job just ended). One small read at most per `maxAgeMs`.
   */
  async fresher(maxAgeMs: number): Promise<Runtime> {
    if (this.now() - this.lastCheck >= maxAgeMs) await this.check(false);
    return this.running;
  }

  /** Checks the store now (file change, SIGHUP, an apply on this instance). */
  async reload(): Promise<void> {
    await this.check(true);
  }

  /** The snapshot serving now, without checking the store. */
  get runtime(): Runtime {
    return this.running;
  }

  health(): Health {
    const degraded =
      this.lastFailure !== null &&
      this.lastFailure.version >= this.running.version &&
      this.failedStamp !== undefined;
    return {
      status: degraded ? 'degraded' : 'ok',
      store: this.options.store.kind,
      runningVersion: this.running.version,
      storeStamp: this.latestStamp,
      lastReloadError: this.lastFailure,
      reloadIntervalMs: this.reloadIntervalMs,
      secretsTtlMs: this.options.resolver.ttlMs,
      loadedAt: this.running.loadedAt.toISOString(),
    };
  }

  /** Validates a candidate document as this instance would load it: every error and warning. */
  async validate(document: ConfigDocument): Promise<LoadedConfig> {
    const loaded = await loadConfig(document, {
      resolver: this.options.resolver,
      store: this.options.store.kind,
      baseDir: this.options.baseDir,
      fingerprintKey: await this.options.store.fingerprintKey(),
    });
    const more = loaded.config && this.options.check ? this.options.check(loaded.config) : [];
    if (!more.some((p) => p.severity === 'error'))
      return { ...loaded, problems: [...loaded.problems, ...more] };
    return { ...loaded, config: undefined, problems: [...loaded.problems, ...more] };
  }

  /**
   * Validates, then applies `document` as `baseVersion + 1`, then serves it on this instance at once
   * (other instances follow within the reload interval).
   *
   * @throws InvalidConfigError when the document has an error (nothing applied)
   * @throws ConfigConflictError when another apply landed on `baseVersion` first
   */
  async apply(
    document: ConfigDocument,
    options: ApplyOptions,
  ): Promise<{ stored: StoredConfig; problems: ConfigProblem[] }> {
    const loaded = await this.validate(document);
    if (loaded.config === undefined) throw new InvalidConfigError(loaded.problems);
    const stored = await this.options.store.apply(document, options);
    await this.check(true);
    return { stored, problems: loaded.problems };
  }

  /** Writes one bucket's settings, then serves them on this instance at once. */
  async putBucketSettings(
    bucket: string,
    settings: Parameters<ConfigStore['putBucketSettings']>[1],
    expectedRevision: number,
    updatedBy: string,
  ): Promise<BucketSettings> {
    const route = settings.route;
    if (route && !this.running.config.backends.some((b) => b.name === route.backend)) {
      throw new InvalidConfigError([
        {
          severity: 'error',
          path: 'route.backend',
          message: `names no configured backend (have: ${this.running.config.backends.map((b) => b.name).join(', ')})`,
        },
      ]);
    }
    await this.refuseWhileGated(bucket);
    const written = await this.options.store.putBucketSettings(bucket, settings, expectedRevision, updatedBy);
    await this.check(true);
    return written;
  }

  /**
   * Sets (or, with `undefined`, removes) one bucket's default encryption, keeping its other settings, then
   * serves it on this instance at once.
   */
  async setBucketEncryption(
    bucket: string,
    encryption: BucketEncryption | undefined,
    updatedBy: string,
  ): Promise<void> {
    await this.changeBucket(bucket, updatedBy, (existing) => {
      if (existing?.gate) throw new BucketBusyError(bucket, existing.gate.jobId);
      return { ...kept(existing), encryption };
    });
  }

  /**
   * Records that the bucket may hold objects a listing must read, before one is stored (a no-op when the
   * store says so already). It stays recorded; this instance serves it at once, others within the reload
   * interval (until then their writes ask the store, as this one did).
   */
  async markListing(bucket: string, updatedBy: string): Promise<void> {
    try {
      await this.changeBucket(bucket, updatedBy, (existing) =>
        existing?.listing === 'marked' ? undefined : { ...kept(existing), listing: 'marked' },
      );
    } catch (error) {
      // A store no one writes (a deployed config) records no bucket as plain: there is nothing to arm.
      if (!(error instanceof ReadOnlyStoreError)) throw error;
    }
  }

  /**
   * Records a bucket the gateway just created as `plain` when `isEmpty` finds it empty and nothing marked it
   * meanwhile: the write is conditional on the revision read before the look, so a write that armed
   * `marked` in between (from any instance) wins.
   */
  async recordCreatedEmpty(
    bucket: string,
    isEmpty: () => Promise<boolean>,
    updatedBy: string,
  ): Promise<void> {
    const existing = await this.options.store.bucketSettings(bucket);
    if (existing?.listing !== undefined || existing?.gate || !(await isEmpty())) return;
    try {
      await this.options.store.putBucketSettings(
        bucket,
        { ...kept(existing), listing: 'plain' },
        existing?.revision ?? 0,
        updatedBy,
      );
    } catch (error) {
      if (error instanceof BucketSettingsConflictError) return; // changed meanwhile: it stays as it is
      throw error;
    }
    await this.check(true);
  }

  /** Whether the store (not this instance's snapshot, which may be older) records the bucket as `plain`. */
  async listsPlain(bucket: string): Promise<boolean> {
    return (await this.options.store.bucketSettings(bucket))?.listing === 'plain';
  }

  /**
   * Reads one bucket's settings and writes what `change` makes of them (undefined: nothing to write; no
   * setting left: the entry goes), then serves them here at once. A concurrent settings write makes it
   * read and try again.
   */
  private async changeBucket(
    bucket: string,
    updatedBy: string,
    change: (existing: BucketSettings | undefined) => BucketSettingsInput | undefined,
  ): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const existing = await this.options.store.bucketSettings(bucket);
      const next = change(existing);
      if (next === undefined) return;
      const empty = !next.route && !next.encryption && !next.listing;
      if (!existing && empty) return;
      try {
        if (empty && !existing!.gate) {
          await this.options.store.deleteBucketSettings(bucket, existing!.revision);
        } else {
          await this.options.store.putBucketSettings(bucket, next, existing?.revision ?? 0, updatedBy);
        }
        break;
      } catch (error) {
        if (!(error instanceof BucketSettingsConflictError) || attempt >= SETTINGS_ATTEMPTS) throw error;
      }
    }
    await this.check(true);
  }

  /**
   * Removes one bucket's settings (admin API). A `marked` listing record stays: instances that know it
   * write without asking the store, which only holds while it is never taken back.
   */
  async deleteBucketSettings(bucket: string, expectedRevision: number, updatedBy: string): Promise<void> {
    const existing = await this.options.store.bucketSettings(bucket);
    if (existing?.gate) throw new BucketBusyError(bucket, existing.gate.jobId);
    if (existing?.listing === 'marked') {
      await this.options.store.putBucketSettings(bucket, { listing: 'marked' }, expectedRevision, updatedBy);
    } else {
      await this.options.store.deleteBucketSettings(bucket, expectedRevision);
    }
    await this.check(true);
  }

  /**
   * A bucket's settings do not change under a running job (a route moved mid-job would split its work).
   * The job's gate moves the bucket's revision, so a write based on the revision read here cannot slip in
   * after a gate armed since.
   */
  private async refuseWhileGated(bucket: string): Promise<void> {
    const gate = (await this.options.store.bucketSettings(bucket))?.gate;
    if (gate) throw new BucketBusyError(bucket, gate.jobId);
  }

  private async seed(document: ConfigDocument): Promise<void> {
    const loaded = await this.validate(document);
    if (loaded.config === undefined) throw new InvalidConfigError(loaded.problems);
    try {
      await this.options.store.apply(document, {
        baseVersion: 0,
        appliedBy: 'initial-config',
        comment: 'seeded from the initial config',
        text: this.options.initialText,
      });
      this.options.logger.info('config store seeded with the initial config', {
        store: this.options.store.kind,
      });
    } catch (error) {
      // Another instance seeded it first: its version is the one to load.
      if (!(error instanceof ConfigConflictError)) throw error;
    }
  }

  private check(force: boolean): Promise<void> {
    this.checking ??= this.checkOnce(force).finally(() => {
      this.checking = undefined;
    });
    return this.checking;
  }

  private async checkOnce(force: boolean): Promise<void> {
    this.lastCheck = this.now();
    let stamp: StoreStamp;
    try {
      stamp = await this.options.store.stamp();
    } catch (error) {
      // The store is unreachable: keep serving the running config, say why once per interval.
      this.options.logger.warn('config store check failed; the running config stays', {
        store: this.options.store.kind,
        error: error instanceof Error ? error.message : String(error),
      });
      return;
    }
    this.latestStamp = stamp;
    const moved = !sameStamp(stamp, this.running.stamp);
    const secretsStale = this.options.resolver.stale();
    if (!force && !secretsStale && (!moved || (this.failedStamp && sameStamp(stamp, this.failedStamp)))) {
      return;
    }
    let stored: StoredConfig | undefined;
    try {
      stored = await this.options.store.current();
    } catch (error) {
      this.fail(stamp, stamp.configVersion, [
        { severity: 'error', path: '', message: error instanceof Error ? error.message : String(error) },
      ]);
      return;
    }
    if (stored === undefined) return;
    const built = await this.build(stored, stamp);
    if (!('config' in built)) {
      this.fail(stamp, stored.version, built.problems);
      return;
    }
    const changed =
      built.version !== this.running.version ||
      built.secretsDigest !== this.running.secretsDigest ||
      !sameStamp(built.stamp, this.running.stamp);
    this.failedStamp = undefined;
    if (this.lastFailure && stored.version >= this.lastFailure.version) this.lastFailure = null;
    if (!changed) return;
    const previous = this.running;
    this.running = built;
    this.options.logger.info('config reloaded', {
      version: built.version,
      previousVersion: previous.version,
      settingsRevision: stamp.settingsRevision,
      secretsRotated: built.version === previous.version && built.secretsDigest !== previous.secretsDigest,
      warnings: built.warnings.length,
    });
  }

  private fail(stamp: StoreStamp, version: number, problems: ConfigProblem[]): void {
    this.failedStamp = stamp;
    this.lastFailure = { at: new Date(this.now()).toISOString(), version, problems };
    this.options.logger.warn('config reload refused; the running config stays', {
      runningVersion: this.running.version,
      refusedVersion: version,
      problems: problems.map(formatProblem),
    });
  }

  private async build(
    stored: StoredConfig,
    stamp: StoreStamp,
  ): Promise<Runtime | { problems: ConfigProblem[] }> {
    const loaded = await this.validate(stored.document);
    if (loaded.config === undefined) return { problems: loaded.problems };
    let bucketSettings: BucketSettings[];
    try {
      bucketSettings = await this.options.store.listBucketSettings();
    } catch (error) {
      return {
        problems: [
          {
            severity: 'error',
            path: '',
            message: `cannot read bucket settings: ${String(error instanceof Error ? error.message : error)}`,
          },
        ],
      };
    }
    const config = loaded.config;
    return buildRuntime({
      config,
      version: stored.version,
      stamp,
      stored,
      fingerprints: loaded.fingerprints,
      warnings: loaded.problems.filter((p) => p.severity === 'warning'),
      bucketSettings,
      secretsDigest: loaded.secretsDigest,
      extraCredentials: this.options.extraCredentials?.(config) ?? [],
      backends: this.backendFactory(config.backends),
      listings: {
        listsPlain: (bucket) => this.listsPlain(bucket),
        mark: (bucket) => this.markListing(bucket, 'gateway (a write that listings must read)'),
      },
    });
  }
}

/** The settings a write keeps when it changes one of them (the gate is the store's to keep). */
function kept(existing: BucketSettings | undefined): BucketSettingsInput {
  return {
    ...(existing?.route && { route: existing.route }),
    ...(existing?.encryption && { encryption: existing.encryption }),
    ...(existing?.listing && { listing: existing.listing }),
  };
}

function sameStamp(a: StoreStamp, b: StoreStamp): boolean {
  return a.configVersion === b.configVersion && a.settingsRevision === b.settingsRevision;
}
