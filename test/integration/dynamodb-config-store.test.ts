/**
 * What only the DynamoDB config store shows, on moto: the items it writes, read raw with the SDK; the
 * requests it sends; the size limit; and how it treats errors that are not conflicts.
 */
import {
  DynamoDBClient,
  GetItemCommand,
  ScanCommand,
  TransactionCanceledException,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { DynamoConfigStore, MAX_ITEM_BYTES } from '../../functions/adapters/dynamodb-config-store.js';
import { createConfigTable } from '../../functions/adapters/dynamodb-config-table.js';
import { ConfigConflictError, HISTORY_KEPT } from '../../functions/core/control/config-store.js';
import { useMoto } from '../support/moto.js';

const moto = useMoto();
const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };

/** One request the store sent: the DynamoDB operation and its input as the SDK sends it. */
interface Sent {
  command: string;
  input: Record<string, unknown>;
}

let client: DynamoDBClient;
let sent: Sent[] = [];
/** When set, the next request whose command is named here fails with what it returns. */
let failNext: { command: string; error: () => Error; times: number } | undefined;

beforeAll(() => {
  client = new DynamoDBClient({ endpoint: moto.endpoint, region: 'us-east-1', credentials });
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const command = context.commandName ?? '?';
      sent.push({ command, input: args.input as Record<string, unknown> });
      if (failNext?.command === command && failNext.times > 0) {
        failNext.times--;
        throw failNext.error();
      }
      return next(args);
    },
    { step: 'initialize', name: 'recordRequests' },
  );
});
afterEach(() => {
  failNext = undefined;
});
afterAll(() => {
  client?.destroy();
});

let tableCount = 0;
async function freshStore(): Promise<{ store: DynamoConfigStore; tableName: string }> {
  const tableName = `sealgate-config-raw-${++tableCount}`;
  await createConfigTable(client, tableName);
  sent = [];
  return { store: new DynamoConfigStore({ tableName, client }), tableName };
}

async function rawItems(tableName: string): Promise<Record<string, AttributeValue>[]> {
  const raw = new DynamoDBClient({ endpoint: moto.endpoint, region: 'us-east-1', credentials });
  try {
    return (await raw.send(new ScanCommand({ TableName: tableName }))).Items ?? [];
  } finally {
    raw.destroy();
  }
}

function transactionCancelled(...codes: string[]): () => Error {
  return () =>
    new TransactionCanceledException({
      message: 'Transaction cancelled',
      $metadata: {},
      CancellationReasons: codes.map((Code) => ({ Code })),
    });
}

describe('the DynamoDB config store', () => {
  it('keeps the items of the documented layout', async () => {
    const { store, tableName } = await freshStore();
    const document = { backends: [{ name: 'moto', type: 's3' }], note: 'grüß' };
    await store.apply({ first: true }, { baseVersion: 0, appliedBy: 'AKIAADMIN', comment: 'seed' });
    await store.apply(document, { baseVersion: 1, appliedBy: 'AKIAOTHER' });
    await store.putBucketSettings(
      'photos',
      { route: { backend: 'moto', backendBucket: 'photos-2' } },
      0,
      'job',
    );
    await store.putBucketSettings('plain', {}, 0, 'admin');
    const key = await store.fingerprintKey();

    const items = await rawItems(tableName);
    const byKey = new Map(items.map((item) => [`${item.pk?.S}/${item.sk?.S}`, item]));
    expect([...byKey.keys()].sort()).toEqual([
      'buckets/photos',
      'buckets/plain',
      'config/head',
      'config/v#0000000001',
      'config/v#0000000002',
    ]);
    const head = byKey.get('config/head')!;
    expect(head.configVersion).toEqual({ N: '2' });
    expect(head.settingsRevision).toEqual({ N: '2' });
    expect(Buffer.from(head.fingerprintKey.B!)).toEqual(key);

    expect(byKey.get('config/v#0000000001')).toMatchObject({
      version: { N: '1' },
      document: { S: '{"first":true}' },
      appliedBy: { S: 'AKIAADMIN' },
      comment: { S: 'seed' },
    });
    const second = byKey.get('config/v#0000000002')!;
    expect(second.document).toEqual({ S: JSON.stringify(document) });
    expect(second).not.toHaveProperty('comment');
    expect(Date.parse(second.appliedAt.S!)).not.toBeNaN();

    expect(byKey.get('buckets/photos')).toMatchObject({
      revision: { N: '1' },
      updatedBy: { S: 'job' },
      route: { M: { backend: { S: 'moto' }, backendBucket: { S: 'photos-2' } } },
    });
    expect(byKey.get('buckets/plain')).not.toHaveProperty('route');
  });

  it('checks the stamp with one consistent GetItem of the head, projected to its two numbers', async () => {
    const { store, tableName } = await freshStore();
    await store.apply({ a: 1 }, { baseVersion: 0, appliedBy: 'admin' });
    sent = [];
    expect(await store.stamp()).toEqual({ configVersion: 1, settingsRevision: 0 });
    expect(sent).toEqual([
      {
        command: 'GetItemCommand',
        input: expect.objectContaining({
          TableName: tableName,
          Key: { pk: 'config', sk: 'head' },
          ConsistentRead: true,
          ProjectionExpression: 'configVersion, settingsRevision',
        }) as unknown,
      },
    ]);
  });

  it('applies with one TransactWriteItems: the version item and the head, both conditional', async () => {
    const { store } = await freshStore();
    await store.apply({ a: 1 }, { baseVersion: 0, appliedBy: 'admin' });
    expect(sent.map((s) => s.command)).toEqual(['TransactWriteItemsCommand']);
    const items = sent[0].input.TransactItems as {
      Put?: { ConditionExpression: string };
      Update?: unknown;
    }[];
    expect(items).toHaveLength(2);
    expect(items[0].Put?.ConditionExpression).toBe('attribute_not_exists(pk)');
    expect(items[1].Update).toMatchObject({ ConditionExpression: 'attribute_not_exists(configVersion)' });
  });

  it('refuses a document above the 400 KB item limit before any write', async () => {
    const { store, tableName } = await freshStore();
    const document = { padding: 'x'.repeat(MAX_ITEM_BYTES) };
    await expect(store.apply(document, { baseVersion: 0, appliedBy: 'admin' })).rejects.toThrow(
      /too big for the DynamoDB config store.*400 KB/,
    );
    expect(sent).toEqual([]);
    expect(await rawItems(tableName)).toEqual([]);
    // The limit counts UTF-8 bytes, not characters.
    const wide = { padding: 'é'.repeat(MAX_ITEM_BYTES / 2 + 10) };
    await expect(store.apply(wide, { baseVersion: 0, appliedBy: 'admin' })).rejects.toThrow(/400 KB/);
    expect(sent).toEqual([]);
    // A document of 390 KB is kept whole (moto's own limit, 405,000 bytes, is a little under DynamoDB's).
    const fits = { padding: 'y'.repeat(390 * 1024) };
    await store.apply(fits, { baseVersion: 0, appliedBy: 'admin' });
    expect((await store.current())?.document).toEqual(fits);
  });

  it('lets an error other than a failed condition through unchanged', async () => {
    const store = new DynamoConfigStore({ tableName: 'no-such-table', client });
    const error = await store
      .apply({ a: 1 }, { baseVersion: 0, appliedBy: 'admin' })
      .catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(ConfigConflictError);
    expect((error as Error).name).toBe('ResourceNotFoundException');
    await expect(store.putBucketSettings('photos', {}, 0, 'admin')).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
  });

  it('sends a transaction again when another transaction held the head, and gives up after a few tries', async () => {
    const { store } = await freshStore();
    failNext = {
      command: 'TransactWriteItemsCommand',
      error: transactionCancelled('None', 'TransactionConflict'),
      times: 2,
    };
    expect(await store.apply({ a: 1 }, { baseVersion: 0, appliedBy: 'admin' })).toMatchObject({ version: 1 });
    expect(sent.filter((s) => s.command === 'TransactWriteItemsCommand')).toHaveLength(3);

    failNext = {
      command: 'TransactWriteItemsCommand',
      error: transactionCancelled('None', 'TransactionConflict'),
      times: 99,
    };
    await expect(store.putBucketSettings('photos', {}, 0, 'admin')).rejects.toBeInstanceOf(
      TransactionCanceledException,
    );
    expect(await store.stamp()).toEqual({ configVersion: 1, settingsRevision: 0 });
  });

  it('keeps an apply whose prune failed, and prunes what it left on the next apply', async () => {
    const { store, tableName } = await freshStore();
    const versionItems = async () =>
      (await rawItems(tableName)).filter((item) => item.sk?.S?.startsWith('v#')).map((item) => item.sk.S!);
    for (let n = 1; n <= HISTORY_KEPT; n++)
      await store.apply({ n }, { baseVersion: n - 1, appliedBy: 'admin' });

    failNext = { command: 'BatchWriteItemCommand', error: () => new Error('throttled'), times: 1 };
    const kept = await store.apply(
      { n: HISTORY_KEPT + 1 },
      { baseVersion: HISTORY_KEPT, appliedBy: 'admin' },
    );
    expect(kept.version).toBe(HISTORY_KEPT + 1);
    expect(await versionItems()).toHaveLength(HISTORY_KEPT + 1);

    await store.apply({ n: HISTORY_KEPT + 2 }, { baseVersion: HISTORY_KEPT + 1, appliedBy: 'admin' });
    const left = (await versionItems()).sort();
    expect(left).toHaveLength(HISTORY_KEPT);
    expect(left[0]).toBe('v#0000000003');
  });

  it('reads a consistent GetItem for one bucket, and the head once for the fingerprint key', async () => {
    const { store, tableName } = await freshStore();
    await store.putBucketSettings('photos', {}, 0, 'admin');
    sent = [];
    await store.bucketSettings('photos');
    expect(sent).toEqual([
      {
        command: 'GetItemCommand',
        input: expect.objectContaining({
          Key: { pk: 'buckets', sk: 'photos' },
          ConsistentRead: true,
        }) as unknown,
      },
    ]);
    const key = await store.fingerprintKey();
    sent = [];
    expect(await store.fingerprintKey()).toBe(key);
    expect(sent).toEqual([]);
    const raw = new DynamoDBClient({ endpoint: moto.endpoint, region: 'us-east-1', credentials });
    const head = await raw.send(
      new GetItemCommand({ TableName: tableName, Key: { pk: { S: 'config' }, sk: { S: 'head' } } }),
    );
    raw.destroy();
    expect(head.Item?.fingerprintKey?.B).toHaveLength(32);
  });

  it('makes its own client from an endpoint, region and credentials, and close() ends it', async () => {
    const { tableName } = await freshStore();
    const store = new DynamoConfigStore({
      tableName,
      endpoint: moto.endpoint,
      region: 'us-east-1',
      credentials,
    });
    await store.putBucketSettings('photos', {}, 0, 'admin');
    expect(await store.stamp()).toEqual({ configVersion: 0, settingsRevision: 1 });
    expect(sent).toEqual([]);
    store.close();
  });
});
