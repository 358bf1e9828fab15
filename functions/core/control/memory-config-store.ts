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
import {
  BucketBusyError,
  JobConflictError,
  NoSuchJobError,
  type JobRecord,
  type JobSettingsChange,
  type JobStore,
} from '../jobs/job-record.js';
import { changedSettings, withGate } from '../jobs/gate-settings.js';

/** A change refused because the store cannot keep it. */
export class ReadOnlyStoreError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'ReadOnlyStoreError';
  }
}

export class MemoryConfigStore implements ConfigStore, JobStore {
  readonly kind = 'file' as const;
  private versions: StoredConfig[] = [];
  private settings = new Map<string, BucketSettings>();
  private settingsRevision = 0;
  private jobs = new Map<string, JobRecord>();
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
    const gate = this.settings.get(bucket)?.gate;
    const written: BucketSettings = {
      bucket,
      revision: current + 1,
      updatedAt: new Date().toISOString(),
      updatedBy,
      ...(settings.route && { route: { ...settings.route } }),
      ...(settings.encryption && { encryption: { ...settings.encryption } }),
      ...(settings.listing && { listing: settings.listing }),
      ...(gate && { gate }),
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

  async createJob(job: JobRecord): Promise<JobRecord> {
    this.refuseIfReadOnly();
    const existing = this.settings.get(job.bucket);
    if (existing?.gate) throw new BucketBusyError(job.bucket, existing.gate.jobId);
    if (this.jobs.has(job.id)) throw new Error(`job ${job.id} exists`);
    this.jobs.set(job.id, structuredClone(job));
    this.settings.set(job.bucket, withGate(job, existing));
    this.settingsRevision++;
    return structuredClone(job);
  }

  async job(id: string): Promise<JobRecord | undefined> {
    const job = this.jobs.get(id);
    return job && structuredClone(job);
  }

  async listJobs(limit = Infinity): Promise<JobRecord[]> {
    return [...this.jobs.values()]
      .sort((a, b) => (a.id < b.id ? 1 : -1))
      .slice(0, limit)
      .map((job) => structuredClone(job));
  }

  async commitJob(next: JobRecord, expectedRevision: number, change?: JobSettingsChange): Promise<JobRecord> {
    this.refuseIfReadOnly();
    const current = this.jobs.get(next.id);
    if (!current) throw new NoSuchJobError(next.id);
    if (current.revision !== expectedRevision) {
      throw new JobConflictError(next.id, expectedRevision, current.revision);
    }
    this.jobs.set(next.id, structuredClone(next));
    if (change) {
      this.settings.set(next.bucket, changedSettings(this.settings.get(next.bucket), next, change));
      this.settingsRevision++;
    }
    return structuredClone(next);
  }

  private refuseIfReadOnly(): void {
    if (this.readOnly !== undefined) throw new ReadOnlyStoreError(this.readOnly);
  }
}
