/**
 * The control plane's store: the gateway config document (versioned, with history), and per-bucket
 * settings (a bucket's route now; its default encryption and write gate later), addressable one bucket
 * at a time. Two adapters implement it: a local file (functions/adapters/file-config-store.ts) and a
 * DynamoDB table (functions/adapters/dynamodb-config-store.ts). The core never sees either.
 *
 * Every change is a conditional write on the version or revision it was based on, so two admins (or an
 * admin and a job) never overwrite each other silently.
 */

import type { BucketEncryption } from '../encryption/write-target.js';
import type { WriteGate } from '../jobs/job-record.js';

/**
 * A config document as the operator wrote it (the YAML/JSON tree), secret references (`${env:...}`,
 * `${secretsmanager:...}`, `${ssm:...}`) left unresolved. This is what the store keeps: never a resolved
 * secret.
 */
export type ConfigDocument = Record<string, unknown>;

/** One applied version of the config document. */
export interface StoredConfig {
  /** 1, 2, 3, ...: each apply adds one. */
  version: number;
  document: ConfigDocument;
  /** ISO 8601. */
  appliedAt: string;
  /** The access key id of the admin who applied it, or `file` for an edit of the local file. */
  appliedBy: string;
  comment?: string;
}

/**
 * The cheap read an instance makes once per reload interval: when either number moved, it reads the rest.
 * `settingsRevision` moves on every per-bucket settings write.
 */
export interface StoreStamp {
  /** 0 while the store holds no config yet. */
  configVersion: number;
  settingsRevision: number;
}

/** Where a bucket lives: a backend of the config, and the bucket's name there. */
export interface BucketRouteSetting {
  backend: string;
  backendBucket: string;
}

/**
 * One bucket's settings, kept beside the config document. A route here overrides the document's
 * `buckets:` entry for the same bucket (that is what a migrate job's flip writes).
 */
export interface BucketSettings {
  bucket: string;
  /** 1, 2, 3, ...: each write of this bucket's settings adds one. */
  revision: number;
  /** ISO 8601. */
  updatedAt: string;
  updatedBy: string;
  route?: BucketRouteSetting;
  /** The bucket's default encryption (PutBucketEncryption), for writes that ask for none. */
  encryption?: BucketEncryption;
  /** Set while a job works on the bucket: its writes get 503 SlowDown (see jobs/job-record.ts). */
  gate?: WriteGate;
  /** Whether its listings must read objects' markers (see {@link BucketListing}); absent: unknown, they must. */
  listing?: BucketListing;
}

/**
 * What the gateway knows of a bucket's objects, for its listings (docs: "Listing cost"). `plain`: the
 * gateway created the bucket empty and nothing it stored there since carries markers a listing shows
 * (gateway-encrypted objects, kept ETags), so a listing can show what the backend lists. `marked`: such an
 * object may be there; set before the first one is stored, and never taken back (an instance that knows it
 * writes without asking the store again). A bucket without a record lists as `marked` would.
 */
export type BucketListing = 'plain' | 'marked';

/**
 * What a settings write carries (the store fills revision and time). A write gate is never written
 * this way: only a job's own commits arm and lift it, and a route write keeps it.
 */
export interface BucketSettingsInput {
  route?: BucketRouteSetting;
  encryption?: BucketEncryption;
  listing?: BucketListing;
}

export interface ApplyOptions {
  /** The version the change was based on; 0 when the store is empty. */
  baseVersion: number;
  appliedBy: string;
  comment?: string;
  /**
   * The document's text as the operator wrote it (YAML with comments). The file store writes it as is;
   * without it, it writes the document as YAML.
   */
  text?: string;
}

export interface ConfigStore {
  /** `file` or `dynamodb`, for health and history output. */
  readonly kind: 'file' | 'dynamodb';
  /** One small read: the current config version and settings revision. */
  stamp(): Promise<StoreStamp>;
  /** The current version, or undefined while the store is empty. */
  current(): Promise<StoredConfig | undefined>;
  /** One kept version, or undefined when it was never applied or is no longer kept. */
  version(version: number): Promise<StoredConfig | undefined>;
  /** The kept versions, newest first, at most `limit` (default all kept: at least the last {@link HISTORY_KEPT}). */
  history(limit?: number): Promise<StoredConfig[]>;
  /**
   * Stores `document` as version `baseVersion + 1`, if the current version is still `baseVersion`.
   * The caller validated it first; the store only keeps it.
   *
   * @throws ConfigConflictError when another apply landed first.
   */
  apply(document: ConfigDocument, options: ApplyOptions): Promise<StoredConfig>;
  bucketSettings(bucket: string): Promise<BucketSettings | undefined>;
  /** Every bucket that has settings, sorted by name. */
  listBucketSettings(): Promise<BucketSettings[]>;
  /**
   * Writes one bucket's settings, if its revision is still `expectedRevision` (0: it has none yet), and
   * moves the store's `settingsRevision` in the same atomic write.
   *
   * @throws BucketSettingsConflictError when the bucket's revision moved.
   */
  putBucketSettings(
    bucket: string,
    settings: BucketSettingsInput,
    expectedRevision: number,
    updatedBy: string,
  ): Promise<BucketSettings>;
  /** Removes one bucket's settings, if its revision is still `expectedRevision`. */
  deleteBucketSettings(bucket: string, expectedRevision: number): Promise<void>;
  /**
   * A random 32-byte key, made once per store and kept in it, that keys the fingerprints of secrets
   * (`fp:...`): every instance sharing the store computes the same fingerprint for the same secret.
   */
  fingerprintKey(): Promise<Buffer>;
}

/** How many applied versions a store keeps at least (older ones are pruned). */
export const HISTORY_KEPT = 20;

/** An apply based on a version that is no longer current: it names both. */
export class ConfigConflictError extends Error {
  constructor(
    readonly baseVersion: number,
    readonly currentVersion: number,
  ) {
    super(
      `config conflict: the change was based on version ${baseVersion}, but the current version is ` +
        `${currentVersion} (another apply landed first): review version ${currentVersion} and apply again on top of it`,
    );
    this.name = 'ConfigConflictError';
  }
}

/** A bucket settings write based on a revision that is no longer current. */
export class BucketSettingsConflictError extends Error {
  constructor(
    readonly bucket: string,
    readonly expectedRevision: number,
    readonly currentRevision: number,
  ) {
    super(
      `bucket settings conflict for ${bucket}: the change expected revision ${expectedRevision}, but the ` +
        `current revision is ${currentRevision}`,
    );
    this.name = 'BucketSettingsConflictError';
  }
}
