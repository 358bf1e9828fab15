/**
 * The local server's {@link ConfigStore}: the YAML file the operator edits is the current config, and a
 * private state folder keeps what the file cannot: the numbered versions, bucket settings and the
 * fingerprint key.
 *
 * ```
 * <stateDir>/config-history/0000000042.json   one per kept version (the newest HISTORY_KEPT)
 * <stateDir>/buckets.json                     {settingsRevision, buckets: {name: settings}}
 * <stateDir>/fingerprint.key                  32 random bytes
 * <stateDir>/jobs/j-20261203130000-0a1b2c3d.json   one per job (JobRecord)
 * ```
 *
 * Every distinct text of the file is a version. An admin's apply writes the file and records the version
 * in one step; an operator's edit is noticed on the next look and recorded as a new version applied by
 * `file`. Telling the two apart is a sha-256 of the file's text, kept in each version's record.
 *
 * This store serves ONE server process: applies and recordings are serialized by an in-process lock
 * (shared by every instance over the same state folder), not by a lock two processes could share. Two
 * processes writing the same state folder could number two versions alike; the second to record one then
 * fails rather than overwrite it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';

import YAML from 'yaml';

import { ConfigError } from '../core/config/config-error.js';
import { readConfigYaml } from '../core/config/config-text.js';
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
} from '../core/control/config-store.js';
import {
  BucketBusyError,
  JobConflictError,
  NoSuchJobError,
  isJobId,
  type JobRecord,
  type JobSettingsChange,
  type JobStore,
} from '../core/jobs/job-record.js';
import { changedSettings, withGate } from '../core/jobs/gate-settings.js';
import { createFileExclusively, writeFileAtomically, type WrittenFile } from './atomic-files.js';
import { hasCode } from './filesystem/errno.js';

export interface FileConfigStoreOptions {
  /** The YAML config file the operator edits (the local server's `--config`); it may not exist yet. */
  file: string;
  /** A folder private to the store (the local server passes `<data>/.sealgate`); created when missing. */
  stateDir: string;
}

/** A kept version as recorded: the stored config and the sha-256 (hex) of the file text it came from. */
interface VersionRecord extends StoredConfig {
  sha256: string;
}

/** What the config file holds, as of one look at it. */
interface FileState {
  /** The highest version recorded so far (0: none). */
  latest: number;
  /** The version the file's text is; undefined when the file is missing or does not parse. */
  current?: VersionRecord;
  /** Why the file's text is not a version: it does not parse. */
  error?: ConfigError;
}

/** `buckets.json` as read: a Map, so a bucket named like an Object property (`constructor`) is a bucket. */
interface SettingsFile {
  settingsRevision: number;
  buckets: Map<string, Omit<BucketSettings, 'bucket'>>;
}

const DIR_MODE = 0o700;
const FILE_MODE = 0o600;
const KEY_BYTES = 32;
const VERSION_FILE = /^(\d{10})\.json$/;

/** Tails of the in-process locks, by resolved state folder: every store instance over one folder shares one. */
const lockTails = new Map<string, Promise<void>>();

export class FileConfigStore implements ConfigStore, JobStore {
  readonly kind = 'file' as const;
  private readonly file: string;
  private readonly historyDir: string;
  private readonly settingsPath: string;
  private readonly keyPath: string;
  private readonly jobsDir: string;
  private readonly lockKey: string;
  private prepared: Promise<void> | undefined;
  /** The config file's state, and the stat it was read at: while the stat is the same, so is the state. */
  private seenFile: { stat: string; state: FileState } | undefined;
  private seenSettings: { stat: string; settings: SettingsFile } | undefined;
  private key: Buffer | undefined;

  constructor(options: FileConfigStoreOptions) {
    this.file = options.file;
    this.historyDir = join(options.stateDir, 'config-history');
    this.settingsPath = join(options.stateDir, 'buckets.json');
    this.keyPath = join(options.stateDir, 'fingerprint.key');
    this.jobsDir = join(options.stateDir, 'jobs');
    this.lockKey = resolve(options.stateDir);
  }

  /**
   * A stat of the config file and of `buckets.json`; each is read again only when its stat changed. While
   * the file holds an edit that does not parse, the config version stays on the last one recorded (the
   * edit is no version yet); current() throws the reason.
   */
  async stamp(): Promise<StoreStamp> {
    const [state, settings] = await Promise.all([this.fileState(), this.settings()]);
    const configVersion = state.current?.version ?? (state.error ? state.latest : 0);
    return { configVersion, settingsRevision: settings.settingsRevision };
  }

  /** @throws ConfigError naming the file when its text is not a YAML mapping. */
  async current(): Promise<StoredConfig | undefined> {
    const state = await this.fileState();
    if (state.error) throw state.error;
    return state.current && toStored(state.current);
  }

  async version(version: number): Promise<StoredConfig | undefined> {
    if (!Number.isSafeInteger(version) || version < 1) return undefined;
    const record = await this.readVersion(version);
    return record && toStored(record);
  }

  async history(limit?: number): Promise<StoredConfig[]> {
    const versions = (await this.keptVersions()).reverse().slice(0, limit);
    const records = await Promise.all(versions.map((v) => this.readVersion(v)));
    return records.filter((r) => r !== undefined).map(toStored);
  }

  /**
   * Writes `options.text` (or the document as YAML) over the file, atomically, and records it as the next
   * version. A hand edit not yet recorded is recorded first, so an apply based on the version before it
   * conflicts rather than overwrites the edit.
   *
   * @throws ConfigConflictError when the file's version is no longer `baseVersion`
   * @throws ConfigError when the file holds an edit that does not parse (fix or revert it first)
   */
  async apply(document: ConfigDocument, options: ApplyOptions): Promise<StoredConfig> {
    return this.locked(async () => {
      const state = await this.observeFile();
      if (state.error) throw state.error;
      const currentVersion = state.current?.version ?? 0;
      if (currentVersion !== options.baseVersion) {
        throw new ConfigConflictError(options.baseVersion, currentVersion);
      }
      const text = Buffer.from(options.text ?? YAML.stringify(document), 'utf8');
      // After the file was deleted the store is empty again, but numbers are never reused.
      const record: VersionRecord = {
        version: state.latest + 1,
        document: structuredClone(document),
        appliedAt: new Date().toISOString(),
        appliedBy: options.appliedBy,
        ...(options.comment !== undefined && { comment: options.comment }),
        sha256: sha256(text),
      };
      // A crash between these two leaves a file newer than its record: the next look records it as an
      // edit by `file`, with the right content.
      const written = await writeFileAtomically(this.file, text, await this.configFileMode());
      await this.record(record);
      this.seenFile = { stat: statKey(written), state: { latest: record.version, current: record } };
      return toStored(record);
    });
  }

  async bucketSettings(bucket: string): Promise<BucketSettings | undefined> {
    const entry = (await this.settings()).buckets.get(bucket);
    return entry && structuredClone({ bucket, ...entry });
  }

  async listBucketSettings(): Promise<BucketSettings[]> {
    const { buckets } = await this.settings();
    return [...buckets]
      .map(([bucket, entry]) => structuredClone({ bucket, ...entry }))
      .sort((a, b) => (a.bucket < b.bucket ? -1 : 1));
  }

  async putBucketSettings(
    bucket: string,
    settings: BucketSettingsInput,
    expectedRevision: number,
    updatedBy: string,
  ): Promise<BucketSettings> {
    return this.changeSettings(bucket, expectedRevision, (file) => {
      const gate = file.buckets.get(bucket)?.gate;
      const entry = {
        revision: expectedRevision + 1,
        updatedAt: new Date().toISOString(),
        updatedBy,
        ...(settings.route && { route: { ...settings.route } }),
        ...(settings.encryption && { encryption: { ...settings.encryption } }),
        ...(settings.listing && { listing: settings.listing }),
        ...(gate && { gate }),
      };
      file.buckets.set(bucket, entry);
      return { bucket, ...entry };
    });
  }

  async deleteBucketSettings(bucket: string, expectedRevision: number): Promise<void> {
    await this.changeSettings(bucket, expectedRevision, (file) => {
      file.buckets.delete(bucket);
    });
  }

  async fingerprintKey(): Promise<Buffer> {
    if (this.key) return this.key;
    await this.prepare();
    const fresh = randomBytes(KEY_BYTES);
    // Two instances starting at once both try; the one whose file landed first wins, the other reads it.
    const key = (await createFileExclusively(this.keyPath, fresh, FILE_MODE))
      ? fresh
      : await readFile(this.keyPath);
    if (key.length !== KEY_BYTES) {
      throw new Error(`${this.keyPath} holds ${key.length} bytes, not a ${KEY_BYTES}-byte fingerprint key`);
    }
    this.key = key;
    return key;
  }

  // --- jobs ---

  /** The job file first, then the gate in `buckets.json`, under the lock (a job file without its gate re-arms it on its first task). */
  async createJob(job: JobRecord): Promise<JobRecord> {
    return this.locked(async () => {
      const file = await this.readSettings();
      const existing = file.buckets.get(job.bucket);
      if (existing?.gate) throw new BucketBusyError(job.bucket, existing.gate.jobId);
      await mkdir(this.jobsDir, { recursive: true, mode: DIR_MODE });
      const data = Buffer.from(JSON.stringify(job, null, 2) + '\n', 'utf8');
      if (!(await createFileExclusively(this.jobPath(job.id), data, FILE_MODE))) {
        throw new Error(`job ${job.id} exists`);
      }
      file.buckets.set(job.bucket, entryOf(withGate(job, existing && { bucket: job.bucket, ...existing })));
      await this.writeSettings(file);
      return structuredClone(job);
    });
  }

  async job(id: string): Promise<JobRecord | undefined> {
    if (!isJobId(id)) return undefined;
    try {
      return parseJson(await readFile(this.jobPath(id), 'utf8'), this.jobPath(id)) as JobRecord;
    } catch (error) {
      if (hasCode(error, 'ENOENT')) return undefined;
      throw error;
    }
  }

  async listJobs(limit = Infinity): Promise<JobRecord[]> {
    let names: string[];
    try {
      names = await readdir(this.jobsDir);
    } catch (error) {
      if (hasCode(error, 'ENOENT')) return [];
      throw error;
    }
    const ids = names
      .filter((name) => name.endsWith('.json') && isJobId(name.slice(0, -5)))
      .map((name) => name.slice(0, -5))
      .sort()
      .reverse()
      .slice(0, limit);
    const jobs = await Promise.all(ids.map((id) => this.job(id)));
    return jobs.filter((job): job is JobRecord => job !== undefined);
  }

  async commitJob(next: JobRecord, expectedRevision: number, change?: JobSettingsChange): Promise<JobRecord> {
    return this.locked(async () => {
      const current = await this.job(next.id);
      if (!current) throw new NoSuchJobError(next.id);
      if (current.revision !== expectedRevision) {
        throw new JobConflictError(next.id, expectedRevision, current.revision);
      }
      // The bucket's settings first, then the record: a reader that sees the record's outcome (a flip, a
      // finished job) sees its settings too, and a crash in between leaves the record at its revision, so
      // the task commits again, and the settings change (a route set, a gate lifted) is the same again.
      if (change) {
        const file = await this.readSettings();
        const existing = file.buckets.get(next.bucket);
        const changed = changedSettings(existing && { bucket: next.bucket, ...existing }, next, change);
        file.buckets.set(next.bucket, entryOf(changed));
        await this.writeSettings(file);
      }
      const data = Buffer.from(JSON.stringify(next, null, 2) + '\n', 'utf8');
      await writeFileAtomically(this.jobPath(next.id), data, FILE_MODE);
      return structuredClone(next);
    });
  }

  private jobPath(id: string): string {
    return join(this.jobsDir, `${id}.json`);
  }

  // --- the config file ---

  /** The file's state: the cached one while its stat has not changed, else a fresh look under the lock. */
  private async fileState(): Promise<FileState> {
    const seen = this.seenFile;
    if (seen && seen.stat === statKey(await statOrUndefined(this.file))) return seen.state;
    return this.locked(() => this.observeFile());
  }

  /** Reads the file (when its stat changed) and records a text not seen before as a version by `file`. */
  private async observeFile(): Promise<FileState> {
    const handle = await open(this.file, 'r').catch((error: unknown) => {
      if (hasCode(error, 'ENOENT')) return undefined;
      throw error;
    });
    if (!handle) {
      const state = { latest: (await this.keptVersions()).at(-1) ?? 0 };
      this.seenFile = { stat: statKey(undefined), state };
      return state;
    }
    let stat: string;
    let text: Buffer;
    try {
      stat = statKey(await handle.stat({ bigint: true }));
      if (this.seenFile?.stat === stat) return this.seenFile.state;
      text = await handle.readFile();
    } finally {
      await handle.close();
    }
    const latestVersion = (await this.keptVersions()).at(-1);
    const latest = latestVersion === undefined ? undefined : await this.readVersion(latestVersion);
    const digest = sha256(text);
    let state: FileState;
    if (latest?.sha256 === digest) {
      state = { latest: latest.version, current: latest };
    } else {
      const parsed = this.parse(text.toString('utf8'));
      const latestNumber = latestVersion ?? 0;
      if (parsed instanceof ConfigError) {
        state = { latest: latestNumber, error: parsed };
      } else {
        const record: VersionRecord = {
          version: latestNumber + 1,
          document: parsed,
          appliedAt: new Date().toISOString(),
          appliedBy: 'file',
          comment: 'edited in the file',
          sha256: digest,
        };
        await this.record(record);
        state = { latest: record.version, current: record };
      }
    }
    this.seenFile = { stat, state };
    return state;
  }

  private parse(text: string): ConfigDocument | ConfigError {
    let tree: unknown;
    try {
      tree = readConfigYaml(text, this.file);
    } catch (error) {
      if (error instanceof ConfigError) return error;
      throw error;
    }
    if (tree === null || typeof tree !== 'object' || Array.isArray(tree)) {
      return new ConfigError(this.file, 'the file must hold a YAML mapping (`key: value` lines) at its top');
    }
    return tree as ConfigDocument;
  }

  /** The mode for a rewrite: the file's own (the operator chose it), or owner-only for a new file. */
  private async configFileMode(): Promise<number> {
    const info = await statOrUndefined(this.file);
    return info ? Number(info.mode & 0o777n) : FILE_MODE;
  }

  // --- the kept versions ---

  private async record(record: VersionRecord): Promise<void> {
    await this.prepare();
    const data = Buffer.from(JSON.stringify(record, null, 2) + '\n', 'utf8');
    if (!(await createFileExclusively(this.versionPath(record.version), data, FILE_MODE))) {
      throw new Error(
        `config version ${record.version} is recorded already in ${this.historyDir}: ` +
          'is another server process using the same state folder?',
      );
    }
    await this.prune();
  }

  /** Removes all but the newest HISTORY_KEPT records. A failure is left for the next prune to retry. */
  private async prune(): Promise<void> {
    const versions = await this.keptVersions();
    for (const version of versions.slice(0, -HISTORY_KEPT)) {
      await rm(this.versionPath(version), { force: true }).catch(() => undefined);
    }
  }

  /** Every recorded version number, ascending. */
  private async keptVersions(): Promise<number[]> {
    const names = await readdir(this.historyDir).catch((error: unknown) => {
      if (hasCode(error, 'ENOENT')) return [];
      throw error;
    });
    return names
      .map((name) => VERSION_FILE.exec(name)?.[1])
      .filter((digits) => digits !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
  }

  private async readVersion(version: number): Promise<VersionRecord | undefined> {
    const path = this.versionPath(version);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      // Pruned between a listing and this read, or never recorded.
      if (hasCode(error, 'ENOENT')) return undefined;
      throw error;
    }
    const record = parseJson(text, path) as Partial<VersionRecord> | null;
    if (
      record?.version !== version ||
      typeof record.sha256 !== 'string' ||
      typeof record.document !== 'object'
    ) {
      throw new Error(`${path} is not a config version record`);
    }
    return record as VersionRecord;
  }

  private versionPath(version: number): string {
    return join(this.historyDir, `${String(version).padStart(10, '0')}.json`);
  }

  // --- bucket settings ---

  private async settings(): Promise<SettingsFile> {
    const stat = statKey(await statOrUndefined(this.settingsPath));
    if (this.seenSettings?.stat === stat) return this.seenSettings.settings;
    const settings = await this.readSettings();
    // Stored under the stat taken before the read: a write in between makes the next look read again.
    this.seenSettings = { stat, settings };
    return settings;
  }

  private async changeSettings<T>(
    bucket: string,
    expectedRevision: number,
    change: (file: SettingsFile) => T,
  ): Promise<T> {
    return this.locked(async () => {
      const file = await this.readSettings();
      const currentRevision = file.buckets.get(bucket)?.revision ?? 0;
      if (currentRevision !== expectedRevision) {
        throw new BucketSettingsConflictError(bucket, expectedRevision, currentRevision);
      }
      const result = change(file);
      await this.writeSettings(file);
      return result;
    });
  }

  /** Writes `buckets.json` with the revision moved on (the caller holds the lock). */
  private async writeSettings(file: SettingsFile): Promise<void> {
    file.settingsRevision++;
    await this.prepare();
    const json = { settingsRevision: file.settingsRevision, buckets: Object.fromEntries(file.buckets) };
    const data = Buffer.from(JSON.stringify(json, null, 2) + '\n', 'utf8');
    const written = await writeFileAtomically(this.settingsPath, data, FILE_MODE);
    this.seenSettings = { stat: statKey(written), settings: file };
  }

  private async readSettings(): Promise<SettingsFile> {
    let text: string;
    try {
      text = await readFile(this.settingsPath, 'utf8');
    } catch (error) {
      if (hasCode(error, 'ENOENT')) return { settingsRevision: 0, buckets: new Map() };
      throw error;
    }
    const json = parseJson(text, this.settingsPath) as {
      settingsRevision?: unknown;
      buckets?: unknown;
    } | null;
    if (
      typeof json?.settingsRevision !== 'number' ||
      typeof json.buckets !== 'object' ||
      json.buckets === null
    ) {
      throw new Error(`${this.settingsPath} is not a bucket settings file`);
    }
    return {
      settingsRevision: json.settingsRevision,
      buckets: new Map(Object.entries(json.buckets as Record<string, Omit<BucketSettings, 'bucket'>>)),
    };
  }

  // --- plumbing ---

  /** Creates the state folders, owner-only, once. */
  private prepare(): Promise<void> {
    this.prepared ??= mkdir(this.historyDir, { recursive: true, mode: DIR_MODE }).then(
      () => undefined,
      (error: unknown) => {
        this.prepared = undefined;
        throw error;
      },
    );
    return this.prepared;
  }

  /** Runs `task` after every earlier locked task of any instance over the same state folder. */
  private locked<T>(task: () => Promise<T>): Promise<T> {
    const run = (lockTails.get(this.lockKey) ?? Promise.resolve()).then(task);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    lockTails.set(this.lockKey, tail);
    void tail.then(() => {
      if (lockTails.get(this.lockKey) === tail) lockTails.delete(this.lockKey);
    });
    return run;
  }
}

/** A bucket's settings as `buckets.json` keeps them, under its name. */
function entryOf(settings: BucketSettings): Omit<BucketSettings, 'bucket'> {
  const entry: Partial<BucketSettings> = { ...settings };
  delete entry.bucket;
  return entry as Omit<BucketSettings, 'bucket'>;
}

function toStored({ sha256: _digest, ...stored }: VersionRecord): StoredConfig {
  return structuredClone(stored);
}

function parseJson(text: string, path: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${path} is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** What identifies one content of a file without reading it: a new inode, size or mtime means a write. */
function statKey(info: WrittenFile | undefined): string {
  return info ? `${info.ino}:${info.size}:${info.mtimeNs}` : 'missing';
}

async function statOrUndefined(path: string) {
  try {
    return await stat(path, { bigint: true });
  } catch (error) {
    if (hasCode(error, 'ENOENT')) return undefined;
    throw error;
  }
}
