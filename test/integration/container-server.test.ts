/**
 * The container data plane's server (functions/handlers/container-server.ts) and its entry point
 * (functions/handlers/container.ts), on DynamoDB, Secrets Manager and Step Functions in moto, as a task runs
 * them: the config table seeded from SEALGATE_INITIAL_CONFIG, jobs on the named state machine, the load
 * balancer's health check and forwarded headers.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateStateMachineCommand, SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEALTH_CHECK_PATH, IDLE_TIMEOUT_SECONDS } from '../../functions/adapters/load-balancer.js';
import { createConfigTable } from '../../functions/adapters/dynamodb-config-table.js';
import { jsonLogger } from '../../functions/core/logger.js';
import { jobStateMachineDefinition } from '../../functions/core/jobs/state-machine.js';
import { startContainerServer, type ContainerServer } from '../../functions/handlers/container-server.js';
import { admin } from '../support/admin.js';
import { createMotoSecrets, useMoto } from '../support/moto.js';
import { rawRequest, signHeaders } from '../support/signed-request.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';

const AWS = { region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
const ADMIN = { accessKeyId: 'SGCONTAINERADMIN', secretAccessKey: 'container-admin-secret-in-secrets-01' };
const ROOT = resolve(import.meta.dirname, '../..');

function initialConfig(dataDir: string) {
  return {
    backends: [{ name: 'main', type: 'filesystem', path: resolve(dataDir, 'main') }],
    credentials: [
      {
        access_key_id: ADMIN.accessKeyId,
        secret_access_key: '${secretsmanager:sealgate/container-admin}',
        admin: true,
      },
    ],
  };
}

/** Customer-key headers for SSE-C, which S3 accepts only over HTTPS. */
function customerKey(): Record<string, string> {
  const key = randomBytes(32);
  return {
    'x-amz-server-side-encryption-customer-algorithm': 'AES256',
    'x-amz-server-side-encryption-customer-key': key.toString('base64'),
    'x-amz-server-side-encryption-customer-key-md5': createHash('md5').update(key).digest('base64'),
  };
}

describe('the container data plane server', () => {
  const moto = useMoto();
  let dir: TempDir;
  let dynamo: DynamoDBClient;
  let sfn: SFNClient;
  let server: ContainerServer;
  let environment: Record<string, string>;
  const tableName = 'sealgate-container-test';

  beforeAll(async () => {
    dir = await makeTempDir();
    dynamo = new DynamoDBClient({ endpoint: moto.endpoint, ...AWS });
    await createConfigTable(dynamo, tableName);
    await createMotoSecrets(moto, { 'sealgate/container-admin': ADMIN.secretAccessKey });
    sfn = new SFNClient({ endpoint: moto.endpoint, ...AWS });
    const machine = await sfn.send(
      new CreateStateMachineCommand({
        name: 'sealgate-container-jobs',
        definition: JSON.stringify(
          jobStateMachineDefinition({ taskFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:t' }),
        ),
        roleArn: 'arn:aws:iam::123456789012:role/sealgate-jobs',
        type: 'STANDARD',
      }),
    );
    environment = {
      SEALGATE_CONFIG_TABLE: tableName,
      SEALGATE_INITIAL_CONFIG: JSON.stringify(initialConfig(dir.path)),
      SEALGATE_JOB_STATE_MACHINE: machine.stateMachineArn!,
      SEALGATE_AWS_ENDPOINT: moto.endpoint,
      SEALGATE_REQUEST_TIMEOUT_MS: String(14 * 60_000),
      SEALGATE_LOG_LEVEL: 'silent',
      AWS_REGION: 'us-east-1',
      // The SDK's default credential chain reads these, as a task's role would provide them.
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
    };
    process.env.AWS_ACCESS_KEY_ID ??= 'testing';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'testing';
    server = await startContainerServer({
      env: environment,
      logger: jsonLogger('silent'),
      host: '127.0.0.1',
      port: 0,
    });
  });

  afterAll(async () => {
    await server?.close();
    dynamo?.destroy();
    sfn?.destroy();
    await dir?.cleanup();
  });

  it("answers the load balancer's health check unsigned, with 200 and nothing else", async () => {
    for (const method of ['GET', 'HEAD']) {
      const got = await rawRequest(server.endpoint, { method, path: HEALTH_CHECK_PATH });
      expect(got.status).toBe(200);
      expect(got.body.length).toBe(0);
      expect(got.headers['x-amz-request-id']).toBeUndefined();
    }
  });

  it('refuses anonymous requests anywhere else, and other methods on the health path', async () => {
    const put = await rawRequest(server.endpoint, { method: 'PUT', path: HEALTH_CHECK_PATH, body: 'x' });
    expect(put.status).toBe(403);
    const list = await rawRequest(server.endpoint, { method: 'GET', path: '/' });
    expect({ status: list.status, code: list.code }).toEqual({ status: 403, code: 'AccessDenied' });
  });

  it('serves the config it seeded into the table from SEALGATE_INITIAL_CONFIG', async () => {
    const config = await admin(server.endpoint, 'GET', 'config', undefined, { credentials: ADMIN });
    expect(config.json).toMatchObject({ version: 1, store: 'dynamodb', applied_by: 'initial-config' });
    const s3 = new S3Client({
      endpoint: server.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: ADMIN,
      maxAttempts: 1,
    });
    try {
      await s3.send(new CreateBucketCommand({ Bucket: 'container-data' }));
      const body = randomBytes(6 * 1024 * 1024 + 17);
      await s3.send(new PutObjectCommand({ Bucket: 'container-data', Key: 'big/part', Body: body }));
      const got = await s3.send(new GetObjectCommand({ Bucket: 'container-data', Key: 'big/part' }));
      expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
    } finally {
      s3.destroy();
    }
  });

  it('takes the scheme and the client address from the headers the load balancer adds', async () => {
    await admin(server.endpoint, 'GET', 'health', undefined, { credentials: ADMIN });
    const send = async (proto: string) => {
      const request = {
        method: 'PUT',
        path: `/container-data/ssec-${proto}`,
        body: 'secret',
        headers: customerKey(),
      };
      const signed = await signHeaders(server.endpoint, request, { credentials: ADMIN });
      return rawRequest(server.endpoint, {
        ...request,
        headers: { ...signed, 'x-forwarded-proto': proto, 'x-forwarded-for': '203.0.113.9' },
      });
    };
    // A client on the far side of the load balancer: SSE-C is refused over HTTP, as S3 refuses it.
    const plain = await send('http');
    expect({ status: plain.status, code: plain.code }).toEqual({ status: 400, code: 'InvalidRequest' });
    expect((await send('https')).status).toBe(200);
  });

  it('starts jobs as executions of the state machine SEALGATE_JOB_STATE_MACHINE names', async () => {
    const started = await admin(
      server.endpoint,
      'POST',
      'jobs/reencrypt',
      { buckets: ['container-data'] },
      { credentials: ADMIN },
    );
    expect(started.status).toBe(202);
    const [job] = started.json!.jobs as { execution: string | null }[];
    expect(job.execution).toContain(':execution:sealgate-container-jobs:');
  });

  it('bounds how long a request may take to arrive by SEALGATE_REQUEST_TIMEOUT_MS', () => {
    expect(server.server.requestTimeout).toBe(14 * 60_000);
  });

  it('keeps idle connections longer than the load balancer does, so it never closes one under a request', () => {
    expect(server.server.keepAliveTimeout).toBeGreaterThan(IDLE_TIMEOUT_SECONDS * 1000);
  });

  describe('its entry point, functions/handlers/container.ts', () => {
    /** Runs the entry point with `env` and resolves with its exit code and log once it has exited. */
    function run(env: Record<string, string>, onLine: (entry: Record<string, unknown>) => void) {
      const child = spawn(process.execPath, ['--import', 'tsx', 'functions/handlers/container.ts'], {
        cwd: ROOT,
        env: { PATH: process.env.PATH, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const log: Record<string, unknown>[] = [];
      // Powertools writes log records and EMF metric records as JSON lines: errors on stderr, the rest on
      // stdout. Node's own warnings (the AWS SDK's about the Node version) are not log lines.
      for (const stream of [child.stdout, child.stderr]) {
        let pending = '';
        stream.on('data', (chunk: Buffer) => {
          pending += chunk.toString('utf8');
          const lines = pending.split('\n');
          pending = lines.pop()!;
          for (const line of lines.filter((l) => l.startsWith('{'))) {
            const entry = JSON.parse(line) as Record<string, unknown>;
            log.push(entry);
            onLine(entry);
          }
        });
      }
      const exited = new Promise<{ code: number | null; log: Record<string, unknown>[] }>((done) =>
        child.on('exit', (code) => done({ code, log })),
      );
      return { child, exited };
    }

    it('serves on 0.0.0.0:SEALGATE_PORT and stops cleanly on SIGTERM', async () => {
      let endpoint: (value: string) => void;
      const serving = new Promise<string>((resolve) => (endpoint = resolve));
      const { child, exited } = run(
        { ...environment, SEALGATE_LOG_LEVEL: 'info', SEALGATE_PORT: '0', SEALGATE_METRICS: 'emf' },
        (entry) => {
          if (entry.message === 'serving') endpoint(entry.endpoint as string);
        },
      );
      const address = await serving;
      expect(address).toMatch(/^http:\/\/0\.0\.0\.0:\d+$/);
      const health = await rawRequest(address.replace('0.0.0.0', '127.0.0.1'), {
        method: 'GET',
        path: HEALTH_CHECK_PATH,
      });
      expect(health.status).toBe(200);
      // An unsigned S3 request: refused, and counted.
      const refused = await rawRequest(address.replace('0.0.0.0', '127.0.0.1'), { method: 'GET', path: '/' });
      expect(refused.status).toBe(403);
      child.kill('SIGTERM');
      const { code, log } = await exited;
      expect(code).toBe(0);
      expect(log.map((entry) => entry.message)).toEqual(expect.arrayContaining(['stopping', 'stopped']));
      expect(log.find((entry) => entry.message === 'request')).toMatchObject({ status: 403, level: 'INFO' });
      // The metrics still held go out as the server stops (they are flushed every minute while it runs).
      const emf = log.filter((entry) => '_aws' in entry && entry.Errors4xx !== undefined);
      expect(emf).toEqual([
        expect.objectContaining({ service: 'sealgate-gateway', Errors4xx: 1, Requests: 1 }),
      ]);
    });

    it('exits with status 1 and says why when it cannot start', async () => {
      const { exited } = run({ SEALGATE_LOG_LEVEL: 'info' }, () => undefined);
      const { code, log } = await exited;
      expect(code).toBe(1);
      const failed = log.find((entry) => entry.message === 'start failed');
      expect(failed?.error).toContain('SEALGATE_CONFIG_TABLE');
    });
  });
});
