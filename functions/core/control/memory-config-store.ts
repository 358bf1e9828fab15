/**
 * A config store in one process's memory. The Lambda handler uses it read-only for a config given whole
 * in `SEALGATE_CONFIG` (no table: each container would keep its own copy, so changes are refused rather
 * than applied to one container); tests use it writable.
 */
import { randomBytes } from 'node:crypto';
import {
  BucketSettingsConflictError,
  ConfigConflictError,
  HISTORY_KEPT,
  type ApplyOptions,
  type BucketSettings,
  type BucketSettingsInput,
  type ConfigDocument,
  type ConfigStore,
  type StoreStamp,
  type StoredConfig,
} from './config-store.js';

/** A change refused because the store cannot keep it. */
export class ReadOnlyStoreError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'ReadOnlyStoreError';
  }
}

export class MemoryConfigStore implements ConfigStore {
  readonly kind = 'file' as const;
  private versions: StoredConfig[] = [];
  private settings = new Map<string, BucketSettings>();
  private settingsRevision = 0;
  private readonly key = randomBytes(32);

  /** `readOnly`: the reason every change is refused, or undefined for a writable store. */
  constructor(
    initial?: ConfigDocument,
    private readonly readOnly?: string,
  ) {
    if (initial !== undefined) {
      this.versions.push({
        version: 1,
        document: initial,
        appliedAt: new Date().toISOString(),
        appliedBy: 'initial-config',
      });
    }
  }

  async stamp(): Promise<StoreStamp> {
    return { configVersion: this.versions.at(-1)?.version ?? 0, settingsRevision: this.settingsRevision };
  }

  async current(): Promise<StoredConfig | undefined> {
    return this.versions.at(-1);
  }

  async version(version: number): Promise<StoredConfig | undefined> {
    return this.versions.find((v) => v.version === version);
  }

  async history(limit = HISTORY_KEPT): Promise<StoredConfig[]> {
    return this.versions.slice().reverse().slice(0, limit);
  }

  async apply(document: ConfigDocument, options: ApplyOptions): Promise<StoredConfig> {
    this.refuseIfReadOnly();
    const current = this.versions.at(-1)?.version ?? 0;
    if (current !== options.baseVersion) throw new ConfigConflictError(options.baseVersion, current);
    const stored: StoredConfig = {
      version: current + 1,
      document: structuredClone(document),
      appliedAt: new Date().toISOString(),
      appliedBy: options.appliedBy,
      ...(options.comment !== undefined && { comment: options.comment }),
    };
    this.versions = [...this.versions, stored].slice(-HISTORY_KEPT);
    return stored;
  }

  async bucketSettings(bucket: string): Promise<BucketSettings | undefined> {
    return this.settings.get(bucket);
  }

  async listBucketSettings(): Promise<BucketSettings[]> {
    return [...this.settings.values()].sort((a, b) => (a.bucket < b.bucket ? -1 : 1));
  }

  async putBucketSettings(
    bucket: string,
    settings: BucketSettingsInput,
    expectedRevision: number,
    updatedBy: string,
  ): Promise<BucketSettings> {
    this.refuseIfReadOnly();
    const current = this.settings.get(bucket)?.revision ?? 0;
    if (current !== expectedRevision)
      throw new BucketSettingsConflictError(bucket, expectedRevision, current);
    const written: BucketSettings = {
      bucket,
      revision: current + 1,
      updatedAt: new Date().toISOString(),
      updatedBy,
      ...settings,
    };
    this.settings.set(bucket, written);
    this.settingsRevision++;
    return written;
  }

  async deleteBucketSettings(bucket: string, expectedRevision: number): Promise<void> {
    this.refuseIfReadOnly();
    const current = this.settings.get(bucket)?.revision ?? 0;
    if (current !== expectedRevision)
      throw new BucketSettingsConflictError(bucket, expectedRevision, current);
    this.settings.delete(bucket);
    this.settingsRevision++;
  }

  async fingerprintKey(): Promise<Buffer> {
    return this.key;
  }

  private refuseIfReadOnly(): void {
    if (this.readOnly !== undefined) throw new ReadOnlyStoreError(this.readOnly);
  }
}
