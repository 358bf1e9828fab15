/**
 * The control plane on the local server with its file store: the admin API's routes, validation that
 * reports every problem, conditional applies, history and rollback, hot reload of a hand-edited file,
 * bad changes that never replace the running config, requests that finish under the config they started
 * with, per-bucket routes, posture and object inspection; and a scan of every answer and log line for
 * secrets.
 */
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalServer, type LocalServer } from '../../functions/handlers/local-server.js';
import { admin, answered, capturingLogger, eventually } from '../support/admin.js';
import { TEST_CREDENTIALS } from '../support/gateway.js';
import { signHeaders } from '../support/signed-request.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';

const KEY_A = '3c'.repeat(32);
const KEY_B = '5d'.repeat(32);
const READER = { accessKeyId: 'READER01', secretAccessKey: 'reader-secret-0123456789' };
const NEWCRED = { accessKeyId: 'NEWCRED01', secretAccessKey: 'new-secret-9876543210abc' };
const CUSTOMER_KEY = Buffer.alloc(32, 0x4b);
const SECRETS = [
  KEY_A,
  KEY_B,
  TEST_CREDENTIALS.secretAccessKey,
  READER.secretAccessKey,
  NEWCRED.secretAccessKey,
  CUSTOMER_KEY.toString('base64'),
  CUSTOMER_KEY.toString('hex'),
];

function configYaml(
  options: { key?: string; legacy?: boolean; extraCredential?: boolean; extra?: string } = {},
) {
  const key = options.key ?? 'KEY_A';
  const legacy = options.legacy ? `      legacy_key: "\${env:KEY_A}"\n      legacy_key_id: key-a\n` : '';
  const extraCredential = options.extraCredential
    ? `  - access_key_id: ${NEWCRED.accessKeyId}\n    secret_access_key: "\${env:NEW_SECRET}"\n    admin: true\n`
    : '';
  return (
    "# the operator's comment\n" +
    'backends:\n' +
    '  - name: main\n    type: filesystem\n    path: ./store\n' +
    `    encryption:\n      mode: aes256-gcm-proxy\n      key: "\${env:${key}}"\n      key_id: ${key === 'KEY_A' ? 'key-a' : 'key-b'}\n${legacy}` +
    '  - name: other\n    type: filesystem\n    path: ./other\n' +
    'default_backend: main\n' +
    'credentials:\n' +
    `  - access_key_id: ${TEST_CREDENTIALS.accessKeyId}\n    secret_access_key: "\${env:TEST_SECRET}"\n    admin: true\n` +
    `  - access_key_id: ${READER.accessKeyId}\n    secret_access_key: "\${env:READER_SECRET}"\n    grants: [{ bucket: '*', access: [read] }]\n` +
    extraCredential +
    (options.extra ?? '')
  );
}

/** The same config as a JSON document, as the CLI sends it. */
function configDocument(options: Parameters<typeof configYaml>[0] = {}) {
  const credentials: Record<string, unknown>[] = [
    { access_key_id: TEST_CREDENTIALS.accessKeyId, secret_access_key: '${env:TEST_SECRET}', admin: true },
    {
      access_key_id: READER.accessKeyId,
      secret_access_key: '${env:READER_SECRET}',
      grants: [{ bucket: '*', access: ['read'] }],
    },
  ];
  if (options.extraCredential) {
    credentials.push({
      access_key_id: NEWCRED.accessKeyId,
      secret_access_key: '${env:NEW_SECRET}',
      admin: true,
    });
  }
  const key = options.key ?? 'KEY_A';
  return {
    backends: [
      {
        name: 'main',
        type: 'filesystem',
        path: './store',
        encryption: {
          mode: 'aes256-gcm-proxy',
          key: `\${env:${key}}`,
          key_id: key === 'KEY_A' ? 'key-a' : 'key-b',
          ...(options.legacy && { legacy_key: '${env:KEY_A}', legacy_key_id: 'key-a' }),
        },
      },
      { name: 'other', type: 'filesystem', path: './other' },
    ],
    default_backend: 'main',
    credentials,
  };
}

describe('control plane on the local server (file store)', () => {
  let dir: TempDir;
  let server: LocalServer;
  let configFile: string;
  const log = capturingLogger();
  const clients: S3Client[] = [];

  function s3(credentials = TEST_CREDENTIALS): S3Client {
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

  async function version(): Promise<number> {
    const { json } = await admin(server.endpoint, 'GET', 'config');
    return json!.version as number;
  }

  beforeAll(async () => {
    dir = await makeTempDir();
    configFile = join(dir.path, 'sealgate.yaml');
    writeFileSync(configFile, configYaml());
    server = await startLocalServer({
      host: '127.0.0.1',
      port: 0,
      dataDir: join(dir.path, 'data'),
      configFile,
      env: {
        TEST_SECRET: TEST_CREDENTIALS.secretAccessKey,
        READER_SECRET: READER.secretAccessKey,
        NEW_SECRET: NEWCRED.secretAccessKey,
        KEY_A,
        KEY_B,
      },
      reloadIntervalMs: 200,
      logger: log.logger,
    });
    await s3().send(new CreateBucketCommand({ Bucket: 'files' }));
  });

  afterAll(async () => {
    for (const c of clients) c.destroy();
    await server?.close();
    await dir?.cleanup();
  });

  it('shows the running config with references as written and fingerprints of the secrets', async () => {
    const { status, json, text } = await admin(server.endpoint, 'GET', 'config');
    expect(status).toBe(200);
    expect(json!.version).toBe(1);
    expect(json!.store).toBe('file');
    const config = json!.config as { credentials: { secret_access_key: string }[] };
    expect(config.credentials[0].secret_access_key).toBe('${env:TEST_SECRET}');
    const fingerprints = json!.fingerprints as Record<string, string>;
    expect(Object.keys(fingerprints).sort()).toEqual([
      'backends[0].encryption.key',
      'credentials[0].secret_access_key',
      'credentials[1].secret_access_key',
    ]);
    for (const fp of Object.values(fingerprints)) expect(fp).toMatch(/^fp:[0-9a-f]{16}$/);
    for (const secret of SECRETS) expect(text).not.toContain(secret);
  });

  it('refuses a credential without admin rights with 403, and an unsigned request', async () => {
    const denied = await admin(server.endpoint, 'GET', 'config', undefined, { credentials: READER });
    expect(denied.status).toBe(403);
    expect((denied.json!.error as { code: string }).code).toBe('AccessDenied');
    const anonymous = await fetch(`${server.endpoint}/_sealgate/admin/health`);
    expect(anonymous.status).toBe(403);
    expect(((await anonymous.json()) as { error: { code: string } }).error.code).toBe('AccessDenied');
  });

  it('answers bad JSON with 400 and the reason, unknown routes with 404, wrong methods with 405', async () => {
    const bad = await admin(server.endpoint, 'POST', 'config/validate', undefined, {
      rawBody: '{"config": ',
    });
    expect(bad.status).toBe(400);
    expect((bad.json!.error as { message: string }).message).toMatch(/not valid JSON/);
    const missing = await admin(server.endpoint, 'POST', 'config/validate', { other: 1 });
    expect(missing.status).toBe(400);
    expect((missing.json!.error as { message: string }).message).toContain('"config"');
    expect((await admin(server.endpoint, 'GET', 'nothing-here')).status).toBe(404);
    const method = await admin(server.endpoint, 'DELETE', 'config');
    expect(method.status).toBe(405);
  });

  it('validates a candidate with every error at once and applies nothing', async () => {
    const candidate = configDocument();
    (candidate.backends[0] as Record<string, unknown>).type = 'ftp';
    candidate.credentials[1].secret_access_key = 'short';
    (candidate as Record<string, unknown>).colour = 'blue';
    const { status, json } = await admin(server.endpoint, 'POST', 'config/validate', { config: candidate });
    expect(status).toBe(200);
    expect(json!.valid).toBe(false);
    const problems = json!.problems as { severity: string; path: string }[];
    const paths = problems.filter((p) => p.severity === 'error').map((p) => p.path);
    expect(paths).toEqual(
      expect.arrayContaining(['backends[0].type', 'credentials[1].secret_access_key', 'colour']),
    );
    expect(await version()).toBe(1);
  });

  it('refuses a bad apply with every error, keeping the running config', async () => {
    const candidate = configDocument();
    candidate.default_backend = 'nowhere';
    (candidate.backends[0].encryption as Record<string, unknown>).key = '${env:NOT_SET_ANYWHERE}';
    const { status, json } = await admin(server.endpoint, 'POST', 'config/apply', {
      config: candidate,
      base_version: 1,
    });
    expect(status).toBe(422);
    const error = json!.error as { code: string; problems: { path: string }[] };
    expect(error.code).toBe('InvalidConfig');
    expect(error.problems.map((p) => p.path)).toEqual(
      expect.arrayContaining(['default_backend', 'backends[0].encryption.key']),
    );
    expect(await version()).toBe(1);
    await s3().send(new PutObjectCommand({ Bucket: 'files', Key: 'still-works', Body: 'yes' }));
  });

  it('applies on the version it was based on, serves it at once, and refuses a stale base naming both versions', async () => {
    const before = await s3(NEWCRED)
      .send(new GetObjectCommand({ Bucket: 'files', Key: 'still-works' }))
      .catch((e: Error) => e);
    expect(before).toBeInstanceOf(Error);
    const applied = await admin(server.endpoint, 'POST', 'config/apply', {
      config: configDocument({ extraCredential: true }),
      base_version: 1,
      comment: 'add NEWCRED',
      text: configYaml({ extraCredential: true }),
    });
    expect(applied.status).toBe(200);
    expect(applied.json!.version).toBe(2);
    const got = await s3(NEWCRED).send(new GetObjectCommand({ Bucket: 'files', Key: 'still-works' }));
    expect(await got.Body!.transformToString()).toBe('yes');
    // The file is the text as sent: the operator's comment survives.
    expect(readFileSync(configFile, 'utf8')).toContain("# the operator's comment");

    const stale = await admin(server.endpoint, 'POST', 'config/apply', {
      config: configDocument(),
      base_version: 1,
    });
    expect(stale.status).toBe(409);
    const error = stale.json!.error as {
      code: string;
      message: string;
      base_version: number;
      current_version: number;
    };
    expect(error).toMatchObject({ code: 'Conflict', base_version: 1, current_version: 2 });
    expect(error.message).toMatch(/version 1.*version 2/);
    expect(await version()).toBe(2);
  });

  it('keeps a history and rolls back to a kept version', async () => {
    const history = await admin(server.endpoint, 'GET', 'config/history');
    const versions = history.json!.versions as {
      version: number;
      applied_by: string;
      comment: string | null;
      digest: string;
    }[];
    expect(versions.map((v) => v.version)).toEqual([2, 1]);
    expect(versions[0]).toMatchObject({ applied_by: TEST_CREDENTIALS.accessKeyId, comment: 'add NEWCRED' });
    expect(versions[0].digest).not.toBe(versions[1].digest);
    const one = await admin(server.endpoint, 'GET', 'config/versions/1');
    expect((one.json!.config as { credentials: unknown[] }).credentials).toHaveLength(2);

    const rolled = await admin(server.endpoint, 'POST', 'config/rollback', { version: 1, base_version: 2 });
    expect(rolled.status).toBe(200);
    expect(rolled.json).toMatchObject({ version: 3, rolled_back_to: 1 });
    const refused = await s3(NEWCRED)
      .send(new GetObjectCommand({ Bucket: 'files', Key: 'still-works' }))
      .catch((e: Error) => e);
    expect((refused as Error).name).toBe('InvalidAccessKeyId');
  });

  it('picks up a hand edit of the file without a restart', async () => {
    writeFileSync(configFile, configYaml({ extraCredential: true }));
    await eventually(async () => {
      const got = await s3(NEWCRED).send(new GetObjectCommand({ Bucket: 'files', Key: 'still-works' }));
      expect(await got.Body!.transformToString()).toBe('yes');
    });
    const history = await admin(server.endpoint, 'GET', 'config/history', undefined, {
      query: { limit: '1' },
    });
    expect(history.json!.versions).toEqual([expect.objectContaining({ version: 4, applied_by: 'file' })]);
  });

  it('keeps the running config when a hand edit is bad, and reports why', async () => {
    writeFileSync(
      configFile,
      configYaml({
        extraCredential: true,
        extra: 'colour: blue\nbuckets: [{ name: "Bad_Name", backend: main }]\n',
      }),
    );
    await server.reload();
    const health = await eventually(async () => {
      const { json } = await admin(server.endpoint, 'GET', 'health');
      expect(json!.status).toBe('degraded');
      return json!;
    });
    expect(health.running_version).toBe(4);
    const failure = health.last_reload_error as { version: number; problems: { path: string }[] };
    expect(failure.version).toBe(5);
    expect(failure.problems.map((p) => p.path)).toEqual(
      expect.arrayContaining(['colour', 'buckets[0].name']),
    );
    expect(log.lines.some((l) => l.includes('config reload refused') && l.includes('colour'))).toBe(true);
    // Still served under version 4: NEWCRED works.
    await s3(NEWCRED).send(new GetObjectCommand({ Bucket: 'files', Key: 'still-works' }));

    writeFileSync(configFile, configYaml({ extraCredential: true, extra: '# fixed\n' }));
    await server.reload();
    const { json } = await admin(server.endpoint, 'GET', 'health');
    expect(json).toMatchObject({ status: 'ok', running_version: 6, last_reload_error: null });
  });

  it('finishes an in-flight upload under the config it started with', async () => {
    const body = Buffer.alloc(256 * 1024, 7);
    const path = '/files/in-flight';
    const headers = await signHeaders(
      server.endpoint,
      { method: 'PUT', path, headers: { 'content-length': String(body.length) } },
      { payloadHash: 'UNSIGNED-PAYLOAD' },
    );
    const { port } = new URL(server.endpoint);
    const done = new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, method: 'PUT', path, headers }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      });
      req.on('error', reject);
      req.write(body.subarray(0, 1024));
      // Rotate to key B while the body is half sent, then finish it.
      void (async () => {
        const base = await version();
        const applied = await admin(server.endpoint, 'POST', 'config/apply', {
          config: configDocument({ key: 'KEY_B', legacy: true, extraCredential: true }),
          base_version: base,
        });
        expect(applied.status).toBe(200);
        req.end(body.subarray(1024));
      })().catch(reject);
    });
    expect(await done).toBe(200);
    const inspected = await admin(server.endpoint, 'GET', 'objects/files/in-flight');
    expect(inspected.json).toMatchObject({ encryption: 'aes256-gcm-proxy', key_id: 'key-a' });
    // Written now, an object gets key B; the one from before still reads through the legacy slot.
    await s3().send(new PutObjectCommand({ Bucket: 'files', Key: 'after', Body: 'new' }));
    expect((await admin(server.endpoint, 'GET', 'objects/files/after')).json!.key_id).toBe('key-b');
    const got = await s3().send(new GetObjectCommand({ Bucket: 'files', Key: 'in-flight' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
  });

  it('inspects an object: markers, format, key id and sizes, never key material', async () => {
    const { status, json, text } = await admin(server.endpoint, 'GET', 'objects/files/after');
    expect(status).toBe(200);
    expect(json).toMatchObject({
      bucket: 'files',
      key: 'after',
      backend: 'main',
      encryption: 'aes256-gcm-proxy',
      key_id: 'key-b',
      format: { version: 1, first_part_number: 0 }, // 0: a single-part object's one segment
      plaintext_size: 3,
    });
    expect(json!.stored_size as number).toBeGreaterThan(3);
    const markers = json!.markers as Record<string, string>;
    expect(markers.dk).toMatch(/^\(\d+ bytes\)$/);
    expect(text).not.toMatch(/"dk": "[A-Za-z0-9+/=]{20,}"/);
    const missing = await admin(server.endpoint, 'GET', 'objects/files/no-such-key');
    expect(missing.status).toBe(404);
  });

  it('shows the posture of backends and buckets, counting objects under the legacy key', async () => {
    const { json } = await admin(server.endpoint, 'GET', 'posture', undefined, { query: { count: 'true' } });
    const backends = json!.backends as Record<string, unknown>[];
    expect(backends[0]).toMatchObject({
      name: 'main',
      mode: 'aes256-gcm-proxy',
      key_id: 'key-b',
      legacy_key_id: 'key-a',
      legacy_active: true,
      default: true,
    });
    expect(backends[1]).toMatchObject({ name: 'other', mode: 'none', legacy_active: false });
    const files = (json!.buckets as Record<string, unknown>[]).find((b) => b.name === 'files')!;
    expect(files).toMatchObject({ backend: 'main', route: 'default', key_id: 'key-b' });
    // still-works and in-flight under key A (legacy), after under key B.
    expect(files.objects).toMatchObject({
      counted: 3,
      complete: true,
      legacy_key: 2,
      current: 1,
      plaintext: 0,
    });
  });

  it('routes one bucket by its stored settings, with conditional revisions', async () => {
    const put = await admin(server.endpoint, 'PUT', 'buckets/moved/settings', {
      route: { backend: 'other', backend_bucket: 'moved-here' },
      revision: 0,
    });
    expect(put.status).toBe(200);
    expect(put.json).toMatchObject({
      bucket: 'moved',
      revision: 1,
      route: { backend: 'other', backend_bucket: 'moved-here' },
    });
    await s3().send(new CreateBucketCommand({ Bucket: 'moved' }));
    await s3().send(new PutObjectCommand({ Bucket: 'moved', Key: 'a.txt', Body: 'on other' }));
    expect(existsSync(join(dir.path, 'other', 'moved-here'))).toBe(true);
    // CreateBucket found the new bucket empty and recorded it as listing plainly: one more revision.
    const stale = await admin(server.endpoint, 'PUT', 'buckets/moved/settings', {
      route: { backend: 'main' },
      revision: 0,
    });
    expect(stale.status).toBe(409);
    expect(stale.json!.error).toMatchObject({ code: 'Conflict', expected_revision: 0, current_revision: 2 });
    const unknown = await admin(server.endpoint, 'PUT', 'buckets/moved/settings', {
      route: { backend: 'nope' },
      revision: 2,
    });
    expect(unknown.status).toBe(422);
    const listed = await admin(server.endpoint, 'GET', 'buckets');
    // 'files' took gateway-encrypted objects: its listings read their markers.
    expect(listed.json!.buckets).toEqual([
      expect.objectContaining({ bucket: 'files', listing: 'marked', route: null }),
      expect.objectContaining({ bucket: 'moved', revision: 2, listing: 'plain' }),
    ]);
    const { json } = await admin(server.endpoint, 'GET', 'posture');
    expect((json!.buckets as Record<string, unknown>[]).find((b) => b.name === 'moved')).toMatchObject({
      backend: 'other',
      backend_bucket: 'moved-here',
      route: 'settings',
    });
    const removed = await admin(server.endpoint, 'DELETE', 'buckets/moved/settings', undefined, {
      query: { revision: '2' },
    });
    expect(removed.status).toBe(204);
  });

  it('inspects an SSE-C object without the customer key, and shows nothing of it', async () => {
    await s3().send(
      new PutObjectCommand({
        Bucket: 'files',
        Key: 'customer',
        Body: 'theirs',
        SSECustomerAlgorithm: 'AES256',
        SSECustomerKey: CUSTOMER_KEY.toString('base64'),
      }),
    );
    const { json } = await admin(server.endpoint, 'GET', 'objects/files/customer');
    expect(json).toMatchObject({ encryption: 'sse-c', plaintext_size: 6, format: { version: 1 } });
  });

  it('never answered or logged a secret', () => {
    expect(answered.length).toBeGreaterThan(20);
    const everything = [...answered, ...log.lines].join('\n');
    for (const secret of SECRETS) expect(everything).not.toContain(secret);
  });
});
