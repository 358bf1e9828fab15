/**
 * The control plane on DynamoDB (moto on loopback), as the AWS deployment runs it: two gateway instances
 * share one config table and one data folder. An apply on one is served by the other within the reload
 * interval; conflicting applies lose clearly; a bad apply is refused with every error and changes nothing;
 * secrets are references into Secrets Manager and SSM, never in the table, and a rotated secret is picked up
 * within the cache TTL; a bucket's route flips with one conditional write.
 */
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import {
  CreateSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConfigTable } from '../../functions/adapters/dynamodb-config-table.js';
import { startLocalServer, type LocalServer } from '../../functions/handlers/local-server.js';
import { admin, answered, capturingLogger } from '../support/admin.js';
import { startFunctionUrlEmulator, type FunctionUrlEmulator } from '../support/function-url-emulator.js';
import { createMotoSecrets, useMoto } from '../support/moto.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';

const AWS = { region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
const RELOAD_MS = 400;
const TTL_MS = 1_000;
const ADMIN = { accessKeyId: 'SGDYNAMOADMIN', secretAccessKey: 'admin-secret-in-secrets-manager-01' };
const SECOND = { accessKeyId: 'SGSECOND01', secretAccessKey: 'second-secret-before-rotation-01' };
const ROTATED = 'second-secret-after-rotation-0002';
const PROXY_KEY = '7e'.repeat(32);
const SECRETS = [ADMIN.secretAccessKey, SECOND.secretAccessKey, ROTATED, PROXY_KEY];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function document(dataDir: string, options: { second?: boolean; extraBackend?: boolean } = {}) {
  const credentials: Record<string, unknown>[] = [
    { access_key_id: ADMIN.accessKeyId, secret_access_key: '${secretsmanager:sealgate/admin}', admin: true },
  ];
  if (options.second) {
    credentials.push({
      access_key_id: SECOND.accessKeyId,
      secret_access_key: '${secretsmanager:sealgate/second}',
      grants: [{ bucket: '*', access: ['read', 'write'] }],
    });
  }
  return {
    backends: [
      {
        name: 'main',
        type: 'filesystem',
        path: join(dataDir, 'main'),
        encryption: { mode: 'aes256-gcm-proxy', key: '${ssm:/sealgate/proxy-key}', key_id: 'ssm-2026' },
      },
      { name: 'spare', type: 'filesystem', path: join(dataDir, 'spare') },
    ],
    credentials,
  };
}

describe('control plane on DynamoDB, two instances', () => {
  const moto = useMoto();
  let dir: TempDir;
  let a: LocalServer;
  let b: LocalServer;
  let dynamo: DynamoDBClient;
  let secrets: SecretsManagerClient;
  const tableName = 'sealgate-config-test';
  const logA = capturingLogger();
  const logB = capturingLogger();
  const clients: S3Client[] = [];

  function s3(server: LocalServer, credentials = ADMIN): S3Client {
    const client = new S3Client({
      endpoint: server.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials,
      maxAttempts: 1,
    });
    clients.push(client);
    return client;
  }

  async function start(
    logger: ReturnType<typeof capturingLogger>['logger'],
    seed?: string,
  ): Promise<LocalServer> {
    return startLocalServer({
      host: '127.0.0.1',
      port: 0,
      dataDir: join(dir.path, `instance-${Math.random().toString(36).slice(2, 8)}`),
      configTable: tableName,
      configFile: seed,
      aws: { endpoint: moto.endpoint, ...AWS },
      reloadIntervalMs: RELOAD_MS,
      env: { SEALGATE_SECRETS_TTL_MS: String(TTL_MS) },
      logger,
    });
  }

  beforeAll(async () => {
    dir = await makeTempDir();
    dynamo = new DynamoDBClient({ endpoint: moto.endpoint, ...AWS });
    await createConfigTable(dynamo, tableName);
    secrets = new SecretsManagerClient({ endpoint: moto.endpoint, ...AWS });
    await secrets.send(
      new CreateSecretCommand({ Name: 'sealgate/admin', SecretString: ADMIN.secretAccessKey }),
    );
    await secrets.send(
      new CreateSecretCommand({ Name: 'sealgate/second', SecretString: SECOND.secretAccessKey }),
    );
    const ssm = new SSMClient({ endpoint: moto.endpoint, ...AWS });
    await ssm.send(
      new PutParameterCommand({ Name: '/sealgate/proxy-key', Value: PROXY_KEY, Type: 'SecureString' }),
    );
    ssm.destroy();
    const seed = join(dir.path, 'seed.json');
    writeFileSync(seed, JSON.stringify(document(dir.path)));
    a = await start(logA.logger, seed);
    b = await start(logB.logger);
    await s3(a).send(new CreateBucketCommand({ Bucket: 'shared' }));
  });

  afterAll(async () => {
    for (const c of clients) c.destroy();
    await a?.close();
    await b?.close();
    dynamo?.destroy();
    secrets?.destroy();
    await dir?.cleanup();
  });

  it('seeds the empty table from the first instance and serves it on both', async () => {
    for (const server of [a, b]) {
      const { json } = await admin(server.endpoint, 'GET', 'config', undefined, { credentials: ADMIN });
      expect(json).toMatchObject({ version: 1, store: 'dynamodb', applied_by: 'initial-config' });
    }
    await s3(a).send(new PutObjectCommand({ Bucket: 'shared', Key: 'one', Body: 'from a' }));
    const got = await s3(b).send(new GetObjectCommand({ Bucket: 'shared', Key: 'one' }));
    expect(await got.Body!.transformToString()).toBe('from a');
    const inspected = await admin(b.endpoint, 'GET', 'objects/shared/one', undefined, { credentials: ADMIN });
    expect(inspected.json).toMatchObject({ encryption: 'aes256-gcm-proxy', key_id: 'ssm-2026' });
  });

  it('serves an apply made on one instance from the other one reload interval later', async () => {
    const applied = await admin(
      a.endpoint,
      'POST',
      'config/apply',
      { config: document(dir.path, { second: true }), base_version: 1 },
      { credentials: ADMIN },
    );
    expect(applied.status).toBe(200);
    expect(applied.json!.version).toBe(2);
    // A serves it at once; B checks the table on its first request after the interval.
    await s3(a, SECOND).send(new GetObjectCommand({ Bucket: 'shared', Key: 'one' }));
    await sleep(RELOAD_MS + 100);
    const got = await s3(b, SECOND).send(new GetObjectCommand({ Bucket: 'shared', Key: 'one' }));
    expect(await got.Body!.transformToString()).toBe('from a');
    const health = await admin(b.endpoint, 'GET', 'health', undefined, { credentials: ADMIN });
    expect(health.json).toMatchObject({
      status: 'ok',
      store: 'dynamodb',
      running_version: 2,
      store_version: 2,
    });
  });

  it('refuses an apply based on a version another instance replaced, naming both versions', async () => {
    // Both admins read version 2; A's apply lands first, B's (still based on 2) loses. (Truly simultaneous
    // applies are the store contract suite's: moto's transaction rollback makes racing them here flaky.)
    const fromA = await admin(a.endpoint, 'GET', 'config', undefined, { credentials: ADMIN });
    const fromB = await admin(b.endpoint, 'GET', 'config', undefined, { credentials: ADMIN });
    expect([fromA.json!.version, fromB.json!.version]).toEqual([2, 2]);
    const won = await admin(
      a.endpoint,
      'POST',
      'config/apply',
      { config: document(dir.path, { second: true }), base_version: 2 },
      { credentials: ADMIN },
    );
    expect(won.status).toBe(200);
    const lost = await admin(
      b.endpoint,
      'POST',
      'config/apply',
      { config: document(dir.path, { second: true }), base_version: 2 },
      { credentials: ADMIN },
    );
    expect(lost.status).toBe(409);
    expect(lost.json!.error).toMatchObject({ code: 'Conflict', base_version: 2, current_version: 3 });
  });

  it('refuses a bad apply with every error, on either instance, and changes nothing', async () => {
    const bad = document(dir.path, { second: true }) as Record<string, unknown>;
    (bad.credentials as Record<string, unknown>[])[1].secret_access_key = 'written-inline-secret-value';
    (bad.backends as Record<string, unknown>[])[1].type = 'tape';
    bad.default_backend = 'missing';
    const refused = await admin(
      b.endpoint,
      'POST',
      'config/apply',
      { config: bad, base_version: 3 },
      { credentials: ADMIN },
    );
    expect(refused.status).toBe(422);
    const problems = (
      refused.json!.error as { problems: { severity: string; path: string; message: string }[] }
    ).problems;
    expect(problems.filter((p) => p.severity === 'error').map((p) => p.path)).toEqual(
      expect.arrayContaining(['credentials[1].secret_access_key', 'backends[1].type', 'default_backend']),
    );
    expect(JSON.stringify(problems)).not.toContain('written-inline-secret-value');
    for (const server of [a, b]) {
      await sleep(RELOAD_MS + 50);
      const { json } = await admin(server.endpoint, 'GET', 'config', undefined, { credentials: ADMIN });
      expect(json!.version).toBe(3);
    }
  });

  it('picks up a secret rotated in Secrets Manager within the cache TTL, without a deploy', async () => {
    await secrets.send(new PutSecretValueCommand({ SecretId: 'sealgate/second', SecretString: ROTATED }));
    await sleep(TTL_MS + RELOAD_MS + 200);
    for (const server of [a, b]) {
      // The first request after the interval reloads; the one after it runs under the rotated secret.
      await admin(server.endpoint, 'GET', 'health', undefined, { credentials: ADMIN });
      const got = await s3(server, { accessKeyId: SECOND.accessKeyId, secretAccessKey: ROTATED }).send(
        new GetObjectCommand({ Bucket: 'shared', Key: 'one' }),
      );
      expect(await got.Body!.transformToString()).toBe('from a');
      const old = await s3(server, SECOND)
        .send(new GetObjectCommand({ Bucket: 'shared', Key: 'one' }))
        .catch((e: Error) => e);
      expect((old as Error).name).toBe('SignatureDoesNotMatch');
    }
  });

  it('flips one bucket to another backend with one conditional write, on every instance', async () => {
    const put = await admin(
      a.endpoint,
      'PUT',
      'buckets/flipped/settings',
      { route: { backend: 'spare' }, revision: 0 },
      { credentials: ADMIN },
    );
    expect(put.status).toBe(200);
    await sleep(RELOAD_MS + 100);
    await s3(b).send(new CreateBucketCommand({ Bucket: 'flipped' }));
    await s3(b).send(new PutObjectCommand({ Bucket: 'flipped', Key: 'k', Body: 'spare' }));
    expect(existsSync(join(dir.path, 'spare', 'flipped'))).toBe(true);
    const again = await admin(
      b.endpoint,
      'PUT',
      'buckets/flipped/settings',
      { route: { backend: 'main' }, revision: 0 },
      { credentials: ADMIN },
    );
    expect(again.status).toBe(409);
  });

  it('keeps no secret in the table, the answers or the logs', async () => {
    const items = await dynamo.send(new ScanCommand({ TableName: tableName }));
    const table = JSON.stringify(items.Items);
    expect(table).toContain('${secretsmanager:sealgate/admin}');
    const everything = [table, ...answered, ...logA.lines, ...logB.lines].join('\n');
    for (const secret of SECRETS) expect(everything).not.toContain(secret);
  });
});

describe('the Lambda handler on a config table (through the function URL emulator)', () => {
  const moto = useMoto();
  let dir: TempDir;
  let emulator: FunctionUrlEmulator;
  let dynamo: DynamoDBClient;
  const tableName = 'sealgate-lambda-config';

  beforeAll(async () => {
    dir = await makeTempDir();
    dynamo = new DynamoDBClient({ endpoint: moto.endpoint, ...AWS });
    await createConfigTable(dynamo, tableName);
    await createMotoSecrets(moto, {
      'sealgate/admin': ADMIN.secretAccessKey,
      'sealgate/second': SECOND.secretAccessKey,
    });
    const ssm = new SSMClient({ endpoint: moto.endpoint, ...AWS });
    await ssm.send(
      new PutParameterCommand({ Name: '/sealgate/proxy-key', Value: PROXY_KEY, Type: 'SecureString' }),
    );
    ssm.destroy();
    // The SDK's default credential chain reads these, as a function's role would provide them.
    process.env.AWS_ACCESS_KEY_ID ??= 'testing';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'testing';
    emulator = await startFunctionUrlEmulator({
      environment: {
        SEALGATE_CONFIG_TABLE: tableName,
        SEALGATE_INITIAL_CONFIG: JSON.stringify(document(dir.path)),
        SEALGATE_AWS_ENDPOINT: moto.endpoint,
        AWS_REGION: 'us-east-1',
        SEALGATE_RELOAD_INTERVAL_MS: String(RELOAD_MS),
        SEALGATE_LOG_LEVEL: 'silent',
      },
      contentLength: 'kept',
    });
  });

  afterAll(async () => {
    await emulator?.close();
    dynamo?.destroy();
    await dir?.cleanup();
  });

  it('seeds the table on its first start, takes an apply and serves it from every container', async () => {
    const before = await admin(emulator.endpoint, 'GET', 'config', undefined, { credentials: ADMIN });
    expect(before.json).toMatchObject({ version: 1, store: 'dynamodb', applied_by: 'initial-config' });
    const applied = await admin(
      emulator.endpoint,
      'POST',
      'config/apply',
      { config: document(dir.path, { second: true }), base_version: 1 },
      { credentials: ADMIN },
    );
    expect(applied.status).toBe(200);
    await sleep(RELOAD_MS + 100);
    // Concurrent requests start more containers, each of which serves version 2.
    const answers = await Promise.all(
      [1, 2, 3].map(() => admin(emulator.endpoint, 'GET', 'health', undefined, { credentials: SECOND })),
    );
    // Each container knows SECOND (added by the apply): it signs validly and is refused only as no admin.
    for (const answer of answers) {
      expect(answer.status).toBe(403);
      expect((answer.json!.error as { message: string }).message).toContain('is not an admin');
    }
    const health = await admin(emulator.endpoint, 'GET', 'health', undefined, { credentials: ADMIN });
    expect(health.json).toMatchObject({ running_version: 2, store_version: 2 });
  });
});
