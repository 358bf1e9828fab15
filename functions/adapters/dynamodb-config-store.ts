/**
 * The {@link ConfigStore} on one DynamoDB table (key schema: `pk` S, `sk` S; see dynamodb-config-table.ts):
 *
 * ```
 * pk 'config'   sk 'head'           configVersion N, settingsRevision N, fingerprintKey B (32 bytes)
 * pk 'config'   sk 'v#0000000042'   version N, document S (the JSON text), appliedAt, appliedBy, comment
 * pk 'buckets'  sk '<bucket name>'  revision N, updatedAt, updatedBy, route M {backend, backendBucket},
 *                                   encryption M {algorithm, kmsKeyId, bucketKeyEnabled}, gate M {jobId, since},
 *                                   listing S ('plain' | 'marked')
 * pk 'jobs'     sk '<job id>'       revision N, record S (the JobRecord as JSON)
 * ```
 *
 * Version sort keys are zero-padded so that their string order is their numeric order; job ids start with
 * their creation time, so the `jobs` partition lists newest first when read backwards.
 *
 * Every write is one TransactWriteItems that also moves a number on the head, so the head is all an
 * instance reads once per reload interval. A transaction cancelled by its condition becomes the domain's
 * conflict error; every other SDK error passes through unchanged.
 */
import { randomBytes } from 'node:crypto';

import { DynamoDBClient, type TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type QueryCommandInput,
  type TransactWriteItem,
} from '@aws-sdk/lib-dynamodb';

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
import type { BucketEncryption } from '../core/encryption/write-target.js';
import { changedSettings, withGate } from '../core/jobs/gate-settings.js';
import {
  BucketBusyError,
  JobConflictError,
  NoSuchJobError,
  type JobRecord,
  type JobSettingsChange,
  type JobStore,
} from '../core/jobs/job-record.js';

export interface DynamoConfigStoreOptions {
  tableName: string;
  /** A client to share; when absent the store makes its own from the options below (and `close()` ends it). */
  client?: DynamoDBClient;
  /** A DynamoDB-compatible endpoint (local setups, tests); AWS's regional endpoint when absent. */
  endpoint?: string;
  region?: string;
  /** The SDK's default credential chain when absent. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

/** DynamoDB's item size limit (attribute names and values, in bytes). */
export const MAX_ITEM_BYTES = 400 * 1024;

type Item = Record<string, unknown>;

const CONFIG_PK = 'config';
const BUCKETS_PK = 'buckets';
const JOBS_PK = 'jobs';
const HEAD = { pk: CONFIG_PK, sk: 'head' };
const VERSION_PREFIX = 'v#';
const KEY_BYTES = 32;
/** Tries of a transaction that another transaction on the same item cancelled. */
const TRANSACTION_ATTEMPTS = 4;
/** BatchWriteItem's limit of requests per call. */
const BATCH_WRITE_MAX = 25;

export class DynamoConfigStore implements ConfigStore, JobStore {
  readonly kind = 'dynamodb' as const;
  private readonly tableName: string;
  private readonly client: DynamoDBClient;
  private readonly ownsClient: boolean;
  private readonly documents: DynamoDBDocumentClient;
  private key: Buffer | undefined;

  constructor(options: DynamoConfigStoreOptions) {
    this.tableName = options.tableName;
    this.ownsClient = options.client === undefined;
    this.client =
      options.client ??
      new DynamoDBClient({
        ...(options.endpoint !== undefined && { endpoint: options.endpoint }),
        ...(options.region !== undefined && { region: options.region }),
        ...(options.credentials !== undefined && { credentials: options.credentials }),
      });
    this.documents = DynamoDBDocumentClient.from(this.client);
  }

  /** Ends the client the store made itself; a client passed in stays open for its owner. */
  close(): void {
    if (this.ownsClient) this.client.destroy();
  }

  /** One strongly consistent GetItem of the head, projected to its two numbers. */
  async stamp(): Promise<StoreStamp> {
    const { Item } = await this.documents.send(
      new GetCommand({
        TableName: this.tableName,
        Key: HEAD,
        ConsistentRead: true,
        ProjectionExpression: 'configVersion, settingsRevision',
      }),
    );
    return {
      configVersion: numberOr0(Item?.configVersion),
      settingsRevision: numberOr0(Item?.settingsRevision),
    };
  }

  /** The newest version item: one Query, newest first, limit 1 (the head moves in the same transaction). */
  async current(): Promise<StoredConfig | undefined> {
    const [newest] = await this.versions(1);
    return newest;
  }

  async version(version: number): Promise<StoredConfig | undefined> {
    if (!Number.isSafeInteger(version) || version < 1) return undefined;
    const { Item } = await this.documents.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: CONFIG_PK, sk: versionKey(version) },
        ConsistentRead: true,
      }),
    );
    return Item && toStored(Item);
  }

  async history(limit?: number): Promise<StoredConfig[]> {
    return this.versions(limit);
  }

  /**
   * Puts the version item and moves the head's `configVersion` from `baseVersion` in one transaction, then
   * prunes versions older than the newest {@link HISTORY_KEPT} (best effort).
   *
   * @throws ConfigConflictError when the head is no longer at `baseVersion`
   * @throws Error when the document is too big for one DynamoDB item (nothing is written)
   */
  async apply(document: ConfigDocument, options: ApplyOptions): Promise<StoredConfig> {
    const stored: StoredConfig = {
      version: options.baseVersion + 1,
      document,
      appliedAt: new Date().toISOString(),
      appliedBy: options.appliedBy,
      ...(options.comment !== undefined && { comment: options.comment }),
    };
    const item = {
      pk: CONFIG_PK,
      sk: versionKey(stored.version),
      version: stored.version,
      document: JSON.stringify(document),
      appliedAt: stored.appliedAt,
      appliedBy: stored.appliedBy,
      ...(stored.comment !== undefined && { comment: stored.comment }),
    };
    const bytes = itemBytes(item);
    if (bytes > MAX_ITEM_BYTES) {
      throw new Error(
        `the config document is too big for the DynamoDB config store: its version item would be ${bytes} ` +
          `bytes, and DynamoDB keeps at most ${MAX_ITEM_BYTES} bytes (400 KB) per item`,
      );
    }
    try {
      await this.transact(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: { TableName: this.tableName, Item: item, ConditionExpression: 'attribute_not_exists(pk)' },
            },
            {
              Update: {
                TableName: this.tableName,
                Key: HEAD,
                UpdateExpression: 'SET configVersion = :next',
                ConditionExpression:
                  options.baseVersion === 0 ? 'attribute_not_exists(configVersion)' : 'configVersion = :base',
                ExpressionAttributeValues: {
                  ':next': stored.version,
                  ...(options.baseVersion !== 0 && { ':base': options.baseVersion }),
                },
              },
            },
          ],
        }),
      );
    } catch (error) {
      if (!cancelledByCondition(error)) throw error;
      let currentVersion = (await this.stamp()).configVersion;
      // A head still at baseVersion means the Put's condition failed: version baseVersion + 1 exists, and the
      // head's move to it is not visible yet (moto applies a transaction's items one at a time).
      if (currentVersion === options.baseVersion) currentVersion++;
      throw new ConfigConflictError(options.baseVersion, currentVersion);
    }
    await this.prune(stored.version).catch(() => {
      // Best effort: every prune removes all versions below the kept window, so the next apply's prune
      // removes what this one left.
    });
    return structuredClone(stored);
  }

  async bucketSettings(bucket: string): Promise<BucketSettings | undefined> {
    const { Item } = await this.documents.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: BUCKETS_PK, sk: bucket },
        ConsistentRead: true,
      }),
    );
    return Item && toBucketSettings(Item);
  }

  /** One Query on the `buckets` partition (paginated); DynamoDB returns it in sort key order, by name. */
  async listBucketSettings(): Promise<BucketSettings[]> {
    const items = await this.queryAll({
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': BUCKETS_PK },
      ConsistentRead: true,
    });
    return items.map(toBucketSettings);
  }

  /**
   * Updates (not replaces) the bucket's item, so attributes a later version of the gateway adds to it (a
   * write gate) survive a route change written by this one.
   */
  async putBucketSettings(
    bucket: string,
    settings: BucketSettingsInput,
    expectedRevision: number,
    updatedBy: string,
  ): Promise<BucketSettings> {
    const written: BucketSettings = {
      bucket,
      revision: expectedRevision + 1,
      updatedAt: new Date().toISOString(),
      updatedBy,
      ...(settings.route && {
        route: { backend: settings.route.backend, backendBucket: settings.route.backendBucket },
      }),
      ...(settings.encryption && { encryption: encryptionItem(settings.encryption) }),
      ...(settings.listing && { listing: settings.listing }),
    };
    await this.changeBucket(bucket, expectedRevision, {
      Update: {
        TableName: this.tableName,
        Key: { pk: BUCKETS_PK, sk: bucket },
        UpdateExpression:
          'SET #revision = :next, updatedAt = :at, updatedBy = :by' +
          (written.route ? ', #route = :route' : '') +
          (written.encryption ? ', #encryption = :encryption' : '') +
          (written.listing ? ', #listing = :listing' : '') +
          removed([
            [written.route, '#route'],
            [written.encryption, '#encryption'],
            [written.listing, '#listing'],
          ]),
        ...revisionCondition(expectedRevision),
        ExpressionAttributeNames: {
          '#revision': 'revision',
          '#route': 'route',
          '#encryption': 'encryption',
          '#listing': 'listing',
        },
        ExpressionAttributeValues: {
          ':next': written.revision,
          ':at': written.updatedAt,
          ':by': written.updatedBy,
          ...(written.route && { ':route': written.route }),
          ...(written.encryption && { ':encryption': written.encryption }),
          ...(written.listing && { ':listing': written.listing }),
          ...(expectedRevision !== 0 && { ':expected': expectedRevision }),
        },
      },
    });
    return written;
  }

  async deleteBucketSettings(bucket: string, expectedRevision: number): Promise<void> {
    await this.changeBucket(bucket, expectedRevision, {
      Delete: {
        TableName: this.tableName,
        Key: { pk: BUCKETS_PK, sk: bucket },
        ...revisionCondition(expectedRevision),
        ExpressionAttributeNames: { '#revision': 'revision' },
        ...(expectedRevision !== 0 && { ExpressionAttributeValues: { ':expected': expectedRevision } }),
      },
    });
  }

  /** Read from the head, or set there with `if_not_exists` so instances starting at once agree. */
  async fingerprintKey(): Promise<Buffer> {
    if (this.key) return this.key;
    const { Item } = await this.documents.send(
      new GetCommand({
        TableName: this.tableName,
        Key: HEAD,
        ConsistentRead: true,
        ProjectionExpression: 'fingerprintKey',
      }),
    );
    let value: unknown = Item?.fingerprintKey;
    if (value === undefined) {
      const { Attributes } = await this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: HEAD,
          UpdateExpression: 'SET fingerprintKey = if_not_exists(fingerprintKey, :fresh)',
          ExpressionAttributeValues: { ':fresh': randomBytes(KEY_BYTES) },
          ReturnValues: 'ALL_NEW',
        }),
      );
      value = Attributes?.fingerprintKey as unknown;
    }
    if (!(value instanceof Uint8Array) || value.length !== KEY_BYTES) {
      throw new Error(`the config table's head holds no ${KEY_BYTES}-byte fingerprintKey`);
    }
    this.key = Buffer.from(value);
    return this.key;
  }

  // --- jobs ---

  async createJob(job: JobRecord): Promise<JobRecord> {
    await this.writeJobAndBucket(job, undefined, (existing) => {
      if (existing?.gate) throw new BucketBusyError(job.bucket, existing.gate.jobId);
      return withGate(job, existing);
    });
    return structuredClone(job);
  }

  async job(id: string): Promise<JobRecord | undefined> {
    const { Item } = await this.documents.send(
      new GetCommand({ TableName: this.tableName, Key: { pk: JOBS_PK, sk: id }, ConsistentRead: true }),
    );
    return Item && toJob(Item);
  }

  async listJobs(limit?: number): Promise<JobRecord[]> {
    const items = await this.queryAll(
      {
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': JOBS_PK },
        ScanIndexForward: false,
        ConsistentRead: true,
        ...(limit !== undefined && { Limit: limit }),
      },
      limit,
    );
    return items.map(toJob);
  }

  async commitJob(next: JobRecord, expectedRevision: number, change?: JobSettingsChange): Promise<JobRecord> {
    await this.writeJobAndBucket(
      next,
      expectedRevision,
      change && ((existing) => changedSettings(existing, next, change)),
    );
    return structuredClone(next);
  }

  /**
   * One transaction: the job item (new, or at `expectedRevision`), and when `settings` is given the bucket
   * item it computes from the bucket's current settings (conditional on their revision) with the head's
   * `settingsRevision`. A bucket item that moved in between is read again and the change recomputed.
   */
  private async writeJobAndBucket(
    job: JobRecord,
    expectedRevision: number | undefined,
    settings?: (existing: BucketSettings | undefined) => BucketSettings,
  ): Promise<void> {
    const record = JSON.stringify(job);
    if (itemBytes({ record }) > MAX_ITEM_BYTES - 1024) {
      throw new Error(`job ${job.id}'s record is too big for one DynamoDB item`);
    }
    for (let attempt = 1; ; attempt++) {
      const existing = settings && (await this.bucketSettings(job.bucket));
      const bucket = settings?.(existing);
      const items: TransactWriteItem[] = [
        {
          Put: {
            TableName: this.tableName,
            Item: { pk: JOBS_PK, sk: job.id, revision: job.revision, record },
            ...(expectedRevision === undefined
              ? { ConditionExpression: 'attribute_not_exists(pk)' }
              : {
                  ConditionExpression: '#revision = :expected',
                  ExpressionAttributeNames: { '#revision': 'revision' },
                  ExpressionAttributeValues: { ':expected': expectedRevision },
                }),
          },
        },
      ];
      if (bucket) {
        const previous = existing?.revision ?? 0;
        items.push(
          {
            Put: {
              TableName: this.tableName,
              Item: { pk: BUCKETS_PK, sk: job.bucket, ...bucketItem(bucket) },
              ...revisionCondition(previous),
              ExpressionAttributeNames: { '#revision': 'revision' },
              ...(previous !== 0 && { ExpressionAttributeValues: { ':expected': previous } }),
            },
          },
          {
            Update: {
              TableName: this.tableName,
              Key: HEAD,
              UpdateExpression: 'ADD settingsRevision :one',
              ExpressionAttributeValues: { ':one': 1 },
            },
          },
        );
      }
      try {
        await this.transact(new TransactWriteCommand({ TransactItems: items }));
        return;
      } catch (error) {
        const codes = cancellationCodes(error);
        if (codes?.[0] === 'ConditionalCheckFailed') {
          if (expectedRevision === undefined) throw new Error(`job ${job.id} exists`);
          const current = await this.job(job.id);
          if (!current) throw new NoSuchJobError(job.id);
          throw new JobConflictError(job.id, expectedRevision, current.revision);
        }
        if (codes?.[1] !== 'ConditionalCheckFailed' || attempt >= TRANSACTION_ATTEMPTS) throw error;
      }
    }
  }

  // --- internals ---

  /** The newest `limit` version items (all when undefined), newest first. */
  private async versions(limit?: number): Promise<StoredConfig[]> {
    if (limit !== undefined && limit < 1) return [];
    const items = await this.queryAll(
      {
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': CONFIG_PK, ':prefix': VERSION_PREFIX },
        ScanIndexForward: false,
        ConsistentRead: true,
        ...(limit !== undefined && { Limit: limit }),
      },
      limit,
    );
    return items.map(toStored);
  }

  /** Deletes every version item below the newest HISTORY_KEPT (usually one). */
  private async prune(newest: number): Promise<void> {
    const oldestKept = newest - HISTORY_KEPT + 1;
    if (oldestKept <= 1) return;
    const stale = await this.queryAll({
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :low AND :high',
      ExpressionAttributeValues: {
        ':pk': CONFIG_PK,
        ':low': versionKey(0),
        ':high': versionKey(oldestKept - 1),
      },
      ProjectionExpression: 'pk, sk',
    });
    for (let start = 0; start < stale.length; start += BATCH_WRITE_MAX) {
      // Unprocessed deletes are left to the next prune.
      await this.documents.send(
        new BatchWriteCommand({
          RequestItems: {
            [this.tableName]: stale
              .slice(start, start + BATCH_WRITE_MAX)
              .map((key) => ({ DeleteRequest: { Key: { pk: key.pk, sk: key.sk } } })),
          },
        }),
      );
    }
  }

  /** One bucket item write and the head's `settingsRevision` + 1, in one transaction. */
  private async changeBucket(
    bucket: string,
    expectedRevision: number,
    write: TransactWriteItem,
  ): Promise<void> {
    try {
      await this.transact(
        new TransactWriteCommand({
          TransactItems: [
            write,
            {
              Update: {
                TableName: this.tableName,
                Key: HEAD,
                UpdateExpression: 'ADD settingsRevision :one',
                ExpressionAttributeValues: { ':one': 1 },
              },
            },
          ],
        }),
      );
    } catch (error) {
      if (!cancelledByCondition(error)) throw error;
      const current = await this.bucketSettings(bucket);
      throw new BucketSettingsConflictError(bucket, expectedRevision, current?.revision ?? 0);
    }
  }

  /**
   * Sends a transaction, again after a short pause when DynamoDB cancelled it only because another
   * transaction was writing the same item (the head is shared by applies and settings writes): the
   * conditions are checked afresh each time, so a retry never overrides a conflict.
   */
  private async transact(command: TransactWriteCommand): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.documents.send(command);
        return;
      } catch (error) {
        if (attempt >= TRANSACTION_ATTEMPTS || !cancelledByOtherTransaction(error)) throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, attempt * 25 + Math.random() * 50));
    }
  }

  /** Every item of a Query, following LastEvaluatedKey, stopping once `limit` items were collected. */
  private async queryAll(input: QueryCommandInput, limit?: number): Promise<Item[]> {
    const items: Item[] = [];
    let start: Item | undefined;
    do {
      const page = await this.documents.send(new QueryCommand({ ...input, ExclusiveStartKey: start }));
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start !== undefined && (limit === undefined || items.length < limit));
    return limit === undefined ? items : items.slice(0, limit);
  }
}

function versionKey(version: number): string {
  return `${VERSION_PREFIX}${String(version).padStart(10, '0')}`;
}

/** The condition on a bucket item's revision: `expected`, or none yet when 0. */
function revisionCondition(expectedRevision: number): { ConditionExpression: string } {
  return {
    ConditionExpression: expectedRevision === 0 ? 'attribute_not_exists(#revision)' : '#revision = :expected',
  };
}

/** The reason codes of a cancelled transaction, in the order of its items; undefined for another error. */
function cancellationCodes(error: unknown): (string | undefined)[] | undefined {
  if (!(error instanceof Error) || error.name !== 'TransactionCanceledException') return undefined;
  return ((error as TransactionCanceledException).CancellationReasons ?? []).map((reason) => reason.Code);
}

/** Whether a transaction was cancelled because one of its conditions failed. */
function cancelledByCondition(error: unknown): boolean {
  return cancellationCodes(error)?.includes('ConditionalCheckFailed') ?? false;
}

/** Whether a transaction was cancelled only because another one held one of its items. */
function cancelledByOtherTransaction(error: unknown): boolean {
  const codes = cancellationCodes(error);
  return (
    codes !== undefined && codes.includes('TransactionConflict') && !codes.includes('ConditionalCheckFailed')
  );
}

function numberOr0(value: unknown): number {
  return typeof value === 'number' ? value : 0;
}

function toStored(item: Item): StoredConfig {
  if (typeof item.version !== 'number' || typeof item.document !== 'string') {
    throw new Error(`config table item ${String(item.sk)} is not a config version`);
  }
  return {
    version: item.version,
    document: JSON.parse(item.document) as ConfigDocument,
    appliedAt: String(item.appliedAt),
    appliedBy: String(item.appliedBy),
    ...(typeof item.comment === 'string' && { comment: item.comment }),
  };
}

function toBucketSettings(item: Item): BucketSettings {
  const route = item.route as { backend?: unknown; backendBucket?: unknown } | undefined;
  const gate = item.gate as { jobId?: unknown; since?: unknown } | undefined;
  const encryption = item.encryption as
    { algorithm?: unknown; kmsKeyId?: unknown; bucketKeyEnabled?: unknown } | undefined;
  return {
    bucket: String(item.sk),
    revision: numberOr0(item.revision),
    updatedAt: String(item.updatedAt),
    updatedBy: String(item.updatedBy),
    ...(route && { route: { backend: String(route.backend), backendBucket: String(route.backendBucket) } }),
    ...(encryption && {
      encryption: {
        algorithm: encryption.algorithm === 'aws:kms' ? 'aws:kms' : 'AES256',
        ...(typeof encryption.kmsKeyId === 'string' && { kmsKeyId: encryption.kmsKeyId }),
        ...(typeof encryption.bucketKeyEnabled === 'boolean' && {
          bucketKeyEnabled: encryption.bucketKeyEnabled,
        }),
      },
    }),
    ...(gate && { gate: { jobId: String(gate.jobId), since: String(gate.since) } }),
    ...((item.listing === 'plain' || item.listing === 'marked') && { listing: item.listing }),
  };
}

/** A bucket's default encryption as an item attribute (no undefined members: the marshaller refuses them). */
function encryptionItem(encryption: BucketEncryption): BucketEncryption {
  return {
    algorithm: encryption.algorithm,
    ...(encryption.kmsKeyId !== undefined && { kmsKeyId: encryption.kmsKeyId }),
    ...(encryption.bucketKeyEnabled !== undefined && { bucketKeyEnabled: encryption.bucketKeyEnabled }),
  };
}

/** ` REMOVE a, b` for the attributes whose value is absent ('' when none is). */
function removed(attributes: [unknown, string][]): string {
  const names = attributes.filter(([value]) => value === undefined).map(([, name]) => name);
  return names.length > 0 ? ` REMOVE ${names.join(', ')}` : '';
}

/** A bucket item's attributes (without its key). */
function bucketItem(settings: BucketSettings): Item {
  return {
    revision: settings.revision,
    updatedAt: settings.updatedAt,
    updatedBy: settings.updatedBy,
    ...(settings.route && { route: { ...settings.route } }),
    ...(settings.encryption && { encryption: encryptionItem(settings.encryption) }),
    ...(settings.gate && { gate: { ...settings.gate } }),
    ...(settings.listing && { listing: settings.listing }),
  };
}

function toJob(item: Item): JobRecord {
  if (typeof item.record !== 'string')
    throw new Error(`config table item jobs/${String(item.sk)} is not a job`);
  return JSON.parse(item.record) as JobRecord;
}

/**
 * An item's size as DynamoDB counts it against the 400 KB limit: each attribute's name plus its value,
 * strings in UTF-8, numbers at most 21 bytes (about one byte per two significant digits, plus one).
 */
function itemBytes(item: Record<string, string | number>): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(item)) {
    bytes += Buffer.byteLength(name, 'utf8');
    bytes += typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : 21;
  }
  return bytes;
}
